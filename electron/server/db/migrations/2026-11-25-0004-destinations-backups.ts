import type { Migration } from './migration.js';

export const migration: Migration = {
  id: '2026-11-25-0004-destinations-backups',
  statements: [
    `CREATE TABLE IF NOT EXISTS destinations (
      id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
      name VARCHAR(64) NOT NULL,
      node_id BIGINT UNSIGNED NOT NULL,
      path VARCHAR(1024) NOT NULL,
      encrypted TINYINT(1) NOT NULL,
      status ENUM('ok','error','unknown') NOT NULL DEFAULT 'unknown',
      status_message VARCHAR(1000) NULL,
      backups INT NOT NULL DEFAULT 0,
      logical_bytes BIGINT UNSIGNED NOT NULL DEFAULT 0,
      stored_bytes BIGINT UNSIGNED NOT NULL DEFAULT 0,
      dedup_ratio DOUBLE NULL,
      compression_ratio DOUBLE NULL,
      free_bytes BIGINT UNSIGNED NULL,
      total_bytes BIGINT UNSIGNED NULL,
      last_checked_at DATETIME(3) NULL,
      created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
      updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
      UNIQUE KEY uq_destinations_name (name),
      CONSTRAINT fk_destinations_node FOREIGN KEY (node_id) REFERENCES nodes (id)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`,
    `CREATE TABLE IF NOT EXISTS destination_usage (
      id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
      destination_id BIGINT UNSIGNED NOT NULL,
      at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
      stored_bytes BIGINT UNSIGNED NOT NULL,
      logical_bytes BIGINT UNSIGNED NOT NULL,
      backups INT NOT NULL,
      KEY ix_usage_destination (destination_id, at),
      CONSTRAINT fk_usage_destination FOREIGN KEY (destination_id) REFERENCES destinations (id) ON DELETE CASCADE
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`,
    `CREATE TABLE IF NOT EXISTS backups (
      id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
      destination_id BIGINT UNSIGNED NOT NULL,
      repo_backup_id VARCHAR(128) NOT NULL,
      vm VARCHAR(255) NOT NULL,
      type ENUM('full','incremental') NULL,
      status ENUM('available','removed') NOT NULL DEFAULT 'available',
      created_at DATETIME(3) NOT NULL,
      logical_bytes BIGINT UNSIGNED NOT NULL DEFAULT 0,
      stored_bytes BIGINT UNSIGNED NULL,
      source JSON NULL,
      recorded_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
      UNIQUE KEY uq_backups_repo (destination_id, repo_backup_id),
      KEY ix_backups_vm (vm, created_at),
      CONSTRAINT fk_backups_destination FOREIGN KEY (destination_id) REFERENCES destinations (id) ON DELETE CASCADE
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`,
  ],
};
