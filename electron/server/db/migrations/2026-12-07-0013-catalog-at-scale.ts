import type { Migration } from './migration.js';

/**
 * A catalog that stays fast at a year of backups of 1,000 VMs (issue 17):
 * - the backup list reads each filter backwards from an index on (filter, created_at), which
 *   serves the newest-first order, its keyset pages and a date range (InnoDB keeps the id
 *   after an index's columns); by VM and by date had theirs already. A search finds the notes
 *   through the few rows that have any, and a backup id by its beginning;
 * - each VM's backup summary (last available backup, counts, protected) is a row kept up to
 *   date by every write of its backups, instead of three subqueries over its backups for each
 *   VM of every VMs list and dashboard;
 * - the dashboard counts a month of backup workflows from an index holding what it reads, and
 *   finds the tasks that failed in the last day by (state, finished_at).
 */
export const migration: Migration = {
  id: '2026-12-07-0013-catalog-at-scale',
  statements: [
    `CREATE INDEX IF NOT EXISTS ix_backups_destination_created ON backups (destination_id, created_at)`,
    `CREATE INDEX IF NOT EXISTS ix_backups_status_created ON backups (status, created_at)`,
    `CREATE INDEX IF NOT EXISTS ix_backups_protected_created ON backups (protected, created_at)`,
    `CREATE INDEX IF NOT EXISTS ix_backups_notes ON backups (notes(32))`,
    `CREATE INDEX IF NOT EXISTS ix_backups_repo_backup_id ON backups (repo_backup_id)`,
    `CREATE TABLE IF NOT EXISTS vm_backup_summaries (
      vm VARCHAR(255) NOT NULL PRIMARY KEY COMMENT 'backups.vm: the VM''s UUID (or a re-imported backup''s group)',
      vm_name VARCHAR(255) NULL COMMENT 'the VM''s name in its newest backup',
      backups INT NOT NULL DEFAULT 0 COMMENT 'available backups',
      damaged INT NOT NULL DEFAULT 0,
      protected INT NOT NULL DEFAULT 0,
      last_backup_id BIGINT UNSIGNED NULL COMMENT 'the newest available backup',
      last_backup_at DATETIME(3) NULL,
      last_backup_type ENUM('full','incremental') NULL,
      KEY ix_vm_backup_summaries_name (vm_name)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`,
    // What backups/vm-summaries.ts keeps up to date from here on, for the backups there are.
    `INSERT IGNORE INTO vm_backup_summaries (vm, vm_name, backups, damaged, protected, last_backup_id, last_backup_at, last_backup_type)
     SELECT s.vm,
            (SELECT JSON_VALUE(n.source, '$.vm.name') FROM backups n WHERE n.vm = s.vm ORDER BY n.created_at DESC, n.id DESC LIMIT 1),
            s.available, s.damaged, s.protected, l.id, l.created_at, l.type
       FROM (SELECT vm, SUM(status = 'available') AS available, SUM(status = 'damaged') AS damaged, SUM(protected) AS protected FROM backups GROUP BY vm) s
       LEFT JOIN backups l ON l.id = (SELECT a.id FROM backups a WHERE a.vm = s.vm AND a.status = 'available' ORDER BY a.created_at DESC, a.id DESC LIMIT 1)`,
    `CREATE INDEX IF NOT EXISTS ix_workflows_type_created_state ON workflows (type, created_at, state, finished_at)`,
    `CREATE INDEX IF NOT EXISTS ix_tasks_state_finished ON tasks (state, finished_at)`,
  ],
};
