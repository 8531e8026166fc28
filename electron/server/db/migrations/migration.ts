/**
 * A dated schema change. Ids sort chronologically (YYYY-MM-DD-NNNN-what) and
 * are never renamed once released. MariaDB commits DDL implicitly, so each
 * statement should be safe to re-run (IF NOT EXISTS) in case a migration was
 * interrupted half way.
 */
export interface Migration {
  id: string;
  statements: string[];
}
