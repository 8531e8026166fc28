import type { Logger } from 'pino';
import type { Catalog } from './catalog.js';
import type { Migration } from './migrations/migration.js';

const LOCK_NAME = 'vplus.schema_migrations';
const LOCK_TIMEOUT_S = 120;

export class MigrationError extends Error {
  readonly code = 'MIGRATION_FAILED';
}

/**
 * Applies pending migrations at start. A named MariaDB lock (GET_LOCK) held on
 * one connection for the whole run makes a second server wait instead of
 * migrating at the same time; after the wait it sees the work already done.
 */
export class Migrator {
  constructor(
    private readonly catalog: Catalog,
    private readonly migrations: readonly Migration[],
    private readonly logger: Logger,
  ) {
    const ids = migrations.map((m) => m.id);
    const sorted = [...ids].sort();
    if (ids.some((id, i) => id !== sorted[i]) || new Set(ids).size !== ids.length) {
      throw new MigrationError('migration ids must be unique and listed in date order');
    }
  }

  /** Returns the ids applied by this call. */
  async migrate(): Promise<string[]> {
    return this.catalog.withConnection(async (conn) => {
      const [lock] = await conn.query<{ got: number | null }[]>('SELECT GET_LOCK(?, ?) AS got', [LOCK_NAME, LOCK_TIMEOUT_S]);
      if (lock?.got !== 1) {
        throw new MigrationError(`another server has held the migration lock for ${LOCK_TIMEOUT_S}s; is a migration stuck?`);
      }
      try {
        await conn.query(
          `CREATE TABLE IF NOT EXISTS schema_migrations (
            id VARCHAR(191) NOT NULL PRIMARY KEY,
            applied_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)
          ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`,
        );
        const rows = await conn.query<{ id: string }[]>('SELECT id FROM schema_migrations');
        const done = new Set(rows.map((r) => r.id));
        const applied: string[] = [];
        for (const m of this.migrations) {
          if (done.has(m.id)) continue;
          this.logger.info({ migration: m.id }, 'applying migration');
          for (const statement of m.statements) {
            try {
              await conn.query(statement);
            } catch (err) {
              throw new MigrationError(`migration ${m.id} failed: ${(err as Error).message}`);
            }
          }
          await conn.query('INSERT INTO schema_migrations (id) VALUES (?)', [m.id]);
          applied.push(m.id);
        }
        return applied;
      } finally {
        // Should this fail, the lock stays until its connection closes, and no other server migrates until then.
        await conn
          .query('SELECT RELEASE_LOCK(?)', [LOCK_NAME])
          .catch((err: unknown) => this.logger.warn({ err, lock: LOCK_NAME }, 'could not release the migration lock'));
      }
    });
  }

  async applied(): Promise<string[]> {
    const rows = await this.catalog.query<{ id: string }>('SELECT id FROM schema_migrations ORDER BY id');
    return rows.map((r) => r.id);
  }
}
