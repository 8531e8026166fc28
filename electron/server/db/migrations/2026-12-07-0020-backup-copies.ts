import type { Migration } from './migration.js';

/**
 * Copies of backups on other destinations (issue 19): one row per backup and destination,
 * written when a COPY task starts (copying) and ends (ok or failed), or when a re-import finds
 * on a destination a backup the catalog has on another one. A backup policy can copy each new
 * backup to a second destination, keeping there what its own retention says.
 */
export const migration: Migration = {
  id: '2026-12-07-0020-backup-copies',
  statements: [
    `CREATE TABLE IF NOT EXISTS backup_copies (
      id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
      backup_id BIGINT UNSIGNED NOT NULL,
      destination_id BIGINT UNSIGNED NOT NULL,
      state ENUM('copying','ok','failed') NOT NULL,
      task_id BIGINT UNSIGNED NULL,
      stored_bytes BIGINT UNSIGNED NULL,
      created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
      finished_at DATETIME(3) NULL,
      error VARCHAR(2000) NULL,
      UNIQUE KEY uq_backup_copies (backup_id, destination_id),
      KEY ix_backup_copies_destination (destination_id, state),
      KEY ix_backup_copies_task (task_id),
      CONSTRAINT fk_backup_copies_backup FOREIGN KEY (backup_id) REFERENCES backups (id) ON DELETE CASCADE,
      CONSTRAINT fk_backup_copies_destination FOREIGN KEY (destination_id) REFERENCES destinations (id) ON DELETE CASCADE
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`,
    `ALTER TABLE policies ADD COLUMN IF NOT EXISTS copy_destination_id BIGINT UNSIGNED NULL`,
    `ALTER TABLE policies ADD COLUMN IF NOT EXISTS copy_retention JSON NULL`,
    `ALTER TABLE policies ADD CONSTRAINT fk_policies_copy_destination FOREIGN KEY IF NOT EXISTS (copy_destination_id) REFERENCES destinations (id) ON DELETE SET NULL`,
  ],
};
