import type { Migration } from './migration.js';

/**
 * Microsoft 365 tenants and their inventory. The tenant's client secret or private key is in
 * `secrets` (sealed, named m365-tenant:<id>), never in these rows. Users and document
 * libraries are protected objects: their catalog ids stay the same across syncs (unique per
 * tenant/site by Graph's id), and one that vanished from the tenant is kept, marked removed,
 * so its backups keep an owner.
 */
export const migration: Migration = {
  id: '2026-12-07-0015-m365-tenants',
  statements: [
    `CREATE TABLE IF NOT EXISTS m365_tenants (
      id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
      name VARCHAR(64) NOT NULL,
      tenant_id VARCHAR(255) NOT NULL COMMENT 'Directory (tenant) id or domain',
      client_id VARCHAR(64) NOT NULL,
      credential_kind ENUM('secret','certificate') NOT NULL,
      certificate_pem TEXT NULL,
      authority_host VARCHAR(255) NOT NULL DEFAULT 'https://login.microsoftonline.com',
      graph_url VARCHAR(255) NOT NULL DEFAULT 'https://graph.microsoft.com/v1.0',
      ca_pem MEDIUMTEXT NULL,
      node_id BIGINT UNSIGNED NOT NULL COMMENT 'runs its tasks',
      sync_state ENUM('never','ok','warning','failed') NOT NULL DEFAULT 'never',
      sync_message VARCHAR(1000) NULL,
      last_sync_at DATETIME(3) NULL,
      test_ok TINYINT(1) NULL,
      test_message VARCHAR(1000) NULL,
      test_missing JSON NULL COMMENT 'application permissions the last test found missing',
      tested_at DATETIME(3) NULL,
      created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
      UNIQUE KEY uq_m365_tenants_name (name),
      CONSTRAINT fk_m365_tenants_node FOREIGN KEY (node_id) REFERENCES nodes (id)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`,
    `CREATE TABLE IF NOT EXISTS m365_users (
      id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
      tenant_id BIGINT UNSIGNED NOT NULL,
      graph_id VARCHAR(64) NOT NULL,
      upn VARCHAR(255) NOT NULL,
      display_name VARCHAR(255) NOT NULL,
      mail VARCHAR(320) NULL,
      account_enabled TINYINT(1) NULL,
      drive_id VARCHAR(255) NULL COMMENT 'the OneDrive; NULL: the user has none',
      present TINYINT(1) NOT NULL DEFAULT 1,
      first_seen_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
      last_seen_at DATETIME(3) NOT NULL,
      removed_at DATETIME(3) NULL,
      UNIQUE KEY uq_m365_users_graph (tenant_id, graph_id),
      KEY ix_m365_users_upn (upn),
      CONSTRAINT fk_m365_users_tenant FOREIGN KEY (tenant_id) REFERENCES m365_tenants (id) ON DELETE CASCADE
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`,
    `CREATE TABLE IF NOT EXISTS m365_sites (
      id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
      tenant_id BIGINT UNSIGNED NOT NULL,
      graph_id VARCHAR(255) NOT NULL COMMENT 'host,site guid,web guid',
      name VARCHAR(255) NOT NULL,
      display_name VARCHAR(255) NOT NULL,
      web_url VARCHAR(2048) NULL,
      present TINYINT(1) NOT NULL DEFAULT 1,
      first_seen_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
      last_seen_at DATETIME(3) NOT NULL,
      removed_at DATETIME(3) NULL,
      UNIQUE KEY uq_m365_sites_graph (tenant_id, graph_id),
      CONSTRAINT fk_m365_sites_tenant FOREIGN KEY (tenant_id) REFERENCES m365_tenants (id) ON DELETE CASCADE
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`,
    `CREATE TABLE IF NOT EXISTS m365_libraries (
      id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
      site_id BIGINT UNSIGNED NOT NULL,
      drive_id VARCHAR(255) NOT NULL,
      name VARCHAR(255) NOT NULL,
      web_url VARCHAR(2048) NULL,
      present TINYINT(1) NOT NULL DEFAULT 1,
      first_seen_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
      last_seen_at DATETIME(3) NOT NULL,
      removed_at DATETIME(3) NULL,
      UNIQUE KEY uq_m365_libraries_drive (site_id, drive_id),
      CONSTRAINT fk_m365_libraries_site FOREIGN KEY (site_id) REFERENCES m365_sites (id) ON DELETE CASCADE
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`,
  ],
};
