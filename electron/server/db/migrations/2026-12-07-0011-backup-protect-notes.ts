import type { Migration } from './migration.js';

/**
 * The backup browser: a backup can be protected (retention never removes it, and it cannot be
 * deleted until unprotected) and carry an admin's note; what its run read and how long it
 * took are kept with it (unknown for re-imported backups).
 */
export const migration: Migration = {
  id: '2026-12-07-0011-backup-protect-notes',
  statements: [
    `ALTER TABLE backups ADD COLUMN IF NOT EXISTS protected TINYINT(1) NOT NULL DEFAULT 0`,
    `ALTER TABLE backups ADD COLUMN IF NOT EXISTS notes VARCHAR(1000) NULL`,
    `ALTER TABLE backups ADD COLUMN IF NOT EXISTS read_bytes BIGINT UNSIGNED NULL`,
    `ALTER TABLE backups ADD COLUMN IF NOT EXISTS duration_seconds DOUBLE NULL`,
    `CREATE INDEX IF NOT EXISTS ix_backups_created ON backups (created_at)`,
  ],
};
