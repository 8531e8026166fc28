import type { Migration } from './migration.js';

/** Mount sessions: a backup opened for browsing or exported over iSCSI, held by a MOUNT task. */
export const migration: Migration = {
  id: '2026-12-07-0010-mounts',
  statements: [
    `CREATE TABLE IF NOT EXISTS mounts (
      id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
      kind ENUM('browse','iscsi') NOT NULL,
      backup_id BIGINT UNSIGNED NOT NULL,
      node_id BIGINT UNSIGNED NOT NULL,
      task_id BIGINT UNSIGNED NULL,
      state ENUM('MOUNTING','MOUNTED','CLOSING','CLOSED','FAILED') NOT NULL DEFAULT 'MOUNTING',
      disks JSON NULL,
      overlay TINYINT(1) NOT NULL DEFAULT 1,
      filesystems JSON NULL,
      iscsi JSON NULL,
      idle_seconds INT NOT NULL,
      last_used_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
      created_by VARCHAR(128) NOT NULL,
      created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
      closed_at DATETIME(3) NULL,
      error VARCHAR(4000) NULL,
      KEY ix_mounts_state (state),
      KEY ix_mounts_task (task_id),
      CONSTRAINT fk_mounts_backup FOREIGN KEY (backup_id) REFERENCES backups (id) ON DELETE CASCADE,
      CONSTRAINT fk_mounts_node FOREIGN KEY (node_id) REFERENCES nodes (id) ON DELETE CASCADE
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`,
  ],
};
