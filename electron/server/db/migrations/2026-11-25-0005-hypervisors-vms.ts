import type { Migration } from './migration.js';

export const migration: Migration = {
  id: '2026-11-25-0005-hypervisors-vms',
  statements: [
    `CREATE TABLE IF NOT EXISTS hypervisors (
      id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
      name VARCHAR(64) NOT NULL,
      node_id BIGINT UNSIGNED NOT NULL,
      uri VARCHAR(255) NOT NULL,
      status ENUM('ok','error','unknown') NOT NULL DEFAULT 'unknown',
      status_message VARCHAR(1000) NULL,
      last_sync_at DATETIME(3) NULL,
      created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
      UNIQUE KEY uq_hypervisors_name (name),
      CONSTRAINT fk_hypervisors_node FOREIGN KEY (node_id) REFERENCES nodes (id)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`,
    `CREATE TABLE IF NOT EXISTS vms (
      id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
      hypervisor_id BIGINT UNSIGNED NOT NULL,
      uuid CHAR(36) NOT NULL,
      name VARCHAR(255) NOT NULL,
      state VARCHAR(32) NOT NULL,
      present TINYINT(1) NOT NULL DEFAULT 1,
      vcpus INT NOT NULL DEFAULT 0,
      memory_bytes BIGINT UNSIGNED NOT NULL DEFAULT 0,
      disks JSON NOT NULL,
      excluded_disks JSON NOT NULL,
      updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
      UNIQUE KEY uq_vms_uuid (hypervisor_id, uuid),
      KEY ix_vms_name (name),
      CONSTRAINT fk_vms_hypervisor FOREIGN KEY (hypervisor_id) REFERENCES hypervisors (id) ON DELETE CASCADE
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`,
    // Where the next incremental of a VM to a destination starts from.
    `CREATE TABLE IF NOT EXISTS vm_chains (
      vm_id BIGINT UNSIGNED NOT NULL,
      destination_id BIGINT UNSIGNED NOT NULL,
      checkpoint VARCHAR(255) NOT NULL,
      repo_backup_id VARCHAR(128) NOT NULL,
      updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
      PRIMARY KEY (vm_id, destination_id),
      CONSTRAINT fk_chains_vm FOREIGN KEY (vm_id) REFERENCES vms (id) ON DELETE CASCADE,
      CONSTRAINT fk_chains_destination FOREIGN KEY (destination_id) REFERENCES destinations (id) ON DELETE CASCADE
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`,
  ],
};
