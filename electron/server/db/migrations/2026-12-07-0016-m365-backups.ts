import type { Migration } from './migration.js';

/**
 * Microsoft 365 backups: one row per backup of a user or a site, with one backup point per
 * drive (`parts`, JSON: the drive's folder name, repository object and point id, counts).
 * The row is keyed by the run id the node writes into each point's manifest, so a re-import
 * from the destination alone finds the same backups again. The tenant, user and site may be
 * removed from the catalog while their backups stay: the subject is kept by Graph id and name.
 *
 * A mount is now of a VM backup or of a Microsoft 365 backup (exactly one of the two).
 */
export const migration: Migration = {
  id: '2026-12-07-0016-m365-backups',
  statements: [
    `CREATE TABLE IF NOT EXISTS m365_backups (
      id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
      destination_id BIGINT UNSIGNED NOT NULL,
      run_id VARCHAR(64) NOT NULL,
      tenant_id BIGINT UNSIGNED NULL,
      directory VARCHAR(255) NOT NULL COMMENT 'the tenant''s directory id or domain, as configured',
      subject_kind ENUM('user','site') NOT NULL,
      subject_graph_id VARCHAR(255) NOT NULL,
      subject_name VARCHAR(320) NOT NULL,
      user_id BIGINT UNSIGNED NULL,
      site_id BIGINT UNSIGNED NULL,
      kind ENUM('full','incremental') NOT NULL,
      created_at DATETIME(3) NOT NULL,
      items BIGINT UNSIGNED NOT NULL DEFAULT 0,
      files BIGINT UNSIGNED NOT NULL DEFAULT 0,
      bytes BIGINT UNSIGNED NOT NULL DEFAULT 0,
      stored_bytes BIGINT UNSIGNED NOT NULL DEFAULT 0,
      warnings JSON NULL,
      parts JSON NOT NULL,
      status ENUM('available','removed') NOT NULL DEFAULT 'available',
      task_id BIGINT UNSIGNED NULL,
      UNIQUE KEY uq_m365_backups_run (destination_id, run_id),
      KEY ix_m365_backups_created (created_at, id),
      KEY ix_m365_backups_user (user_id, created_at),
      KEY ix_m365_backups_site (site_id, created_at),
      CONSTRAINT fk_m365_backups_destination FOREIGN KEY (destination_id) REFERENCES destinations (id) ON DELETE CASCADE,
      CONSTRAINT fk_m365_backups_tenant FOREIGN KEY (tenant_id) REFERENCES m365_tenants (id) ON DELETE SET NULL,
      CONSTRAINT fk_m365_backups_user FOREIGN KEY (user_id) REFERENCES m365_users (id) ON DELETE SET NULL,
      CONSTRAINT fk_m365_backups_site FOREIGN KEY (site_id) REFERENCES m365_sites (id) ON DELETE SET NULL
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`,
    `ALTER TABLE mounts MODIFY backup_id BIGINT UNSIGNED NULL`,
    `ALTER TABLE mounts ADD COLUMN IF NOT EXISTS m365_backup_id BIGINT UNSIGNED NULL AFTER backup_id`,
    `ALTER TABLE mounts ADD CONSTRAINT fk_mounts_m365_backup FOREIGN KEY IF NOT EXISTS (m365_backup_id) REFERENCES m365_backups (id) ON DELETE CASCADE`,
  ],
};
