import type { Migration } from './migration.js';

export const migration: Migration = {
  id: '2026-11-25-0006-policies-scheduler',
  statements: [
    `CREATE TABLE IF NOT EXISTS policies (
      id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
      name VARCHAR(64) NOT NULL,
      kind ENUM('backup','snapshot') NOT NULL,
      destination_id BIGINT UNSIGNED NULL,
      priority INT NOT NULL DEFAULT 50,
      enabled TINYINT(1) NOT NULL DEFAULT 1,
      time_zone VARCHAR(64) NOT NULL,
      schedules JSON NOT NULL,
      retention JSON NULL,
      retention_schedule VARCHAR(200) NULL,
      assignment JSON NOT NULL,
      fail_run_above_percent INT NULL,
      -- Occurrences up to this instant were handled (started, caught up or recorded missed).
      evaluated_until DATETIME(3) NULL,
      created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
      updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
      UNIQUE KEY uq_policies_name (name),
      CONSTRAINT fk_policies_destination FOREIGN KEY (destination_id) REFERENCES destinations (id)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`,
    // A VM is in at most one policy of each kind (the primary key says so).
    `CREATE TABLE IF NOT EXISTS vm_policies (
      vm_id BIGINT UNSIGNED NOT NULL,
      kind ENUM('backup','snapshot') NOT NULL,
      policy_id BIGINT UNSIGNED NOT NULL,
      source ENUM('auto','manual') NOT NULL,
      assigned_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
      PRIMARY KEY (vm_id, kind),
      KEY ix_vm_policies_policy (policy_id),
      CONSTRAINT fk_vm_policies_vm FOREIGN KEY (vm_id) REFERENCES vms (id) ON DELETE CASCADE,
      CONSTRAINT fk_vm_policies_policy FOREIGN KEY (policy_id) REFERENCES policies (id) ON DELETE CASCADE
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`,
    `CREATE TABLE IF NOT EXISTS policy_runs (
      id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
      policy_id BIGINT UNSIGNED NOT NULL,
      purpose ENUM('run','retention') NOT NULL,
      \`trigger\` ENUM('schedule','catch-up','manual','retention') NOT NULL,
      backup_type ENUM('full','incremental') NULL,
      scheduled_for DATETIME(3) NULL,
      started_at DATETIME(3) NULL,
      finished_at DATETIME(3) NULL,
      state ENUM('running','finished','finished_with_warnings','failed','cancelled','missed') NOT NULL,
      vms INT NOT NULL DEFAULT 0,
      succeeded INT NOT NULL DEFAULT 0,
      failed INT NOT NULL DEFAULT 0,
      cancelled INT NOT NULL DEFAULT 0,
      message VARCHAR(2000) NULL,
      -- Workflow ids of this run's backups (or task ids of its snapshot/retention tasks).
      workflows JSON NOT NULL,
      created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
      -- One run per policy and occurrence, even with two servers racing (NULLs never collide).
      UNIQUE KEY uq_policy_runs_occurrence (policy_id, purpose, scheduled_for),
      KEY ix_policy_runs_state (state),
      KEY ix_policy_runs_created (created_at),
      CONSTRAINT fk_policy_runs_policy FOREIGN KEY (policy_id) REFERENCES policies (id) ON DELETE CASCADE
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`,
  ],
};
