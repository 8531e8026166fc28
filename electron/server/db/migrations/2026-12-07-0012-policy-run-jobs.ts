import type { Migration } from './migration.js';

/** A task's bytes read, stored and warnings, summed as the jobs' summary (tasks/job-summary.ts) sums them. */
const TOTALS = `SELECT w.policy_run_id AS run_id,
        SUM(JSON_VALUE(t.result, '$.bytesRead')) AS bytes_read,
        SUM(JSON_VALUE(t.result, '$.backup.storedBytes')) AS bytes_stored,
        SUM(COALESCE(JSON_LENGTH(t.warnings), 0)) AS warnings
   FROM workflows w JOIN tasks t ON t.workflow_id = w.id
  WHERE w.policy_run_id IS NOT NULL
  GROUP BY w.policy_run_id`;

/**
 * A policy run is one job (issue 12): each workflow knows the run that started it, and a run
 * keeps what its workflows read, stored and warned about once it ended. The jobs list pages by
 * (created_at, id) from indexes: top-level workflows (no run), a run's workflows, by type, by
 * state, by subject; policy runs by state; standalone tasks by type.
 */
export const migration: Migration = {
  id: '2026-12-07-0012-policy-run-jobs',
  statements: [
    `ALTER TABLE workflows ADD COLUMN IF NOT EXISTS policy_run_id BIGINT UNSIGNED NULL`,
    // Runs recorded their workflow ids as JSON; the workflow's type must fit the run's purpose.
    // (Before the indexes: a year of workflows is updated without maintaining them.)
    `UPDATE workflows w
       JOIN (SELECT r.id AS run_id, r.purpose, j.workflow_id
               FROM policy_runs r, JSON_TABLE(r.workflows, '$[*]' COLUMNS (workflow_id BIGINT UNSIGNED PATH '$')) j) x ON x.workflow_id = w.id
        SET w.policy_run_id = x.run_id
      WHERE w.policy_run_id IS NULL
        AND ((x.purpose = 'run' AND w.type IN ('BACKUP', 'SNAPSHOT')) OR (x.purpose = 'retention' AND w.type = 'RETENTION') OR (x.purpose = 'verify' AND w.type = 'VERIFY'))`,
    `CREATE INDEX IF NOT EXISTS ix_workflows_run_created ON workflows (policy_run_id, created_at)`,
    `CREATE INDEX IF NOT EXISTS ix_workflows_type_run_created ON workflows (type, policy_run_id, created_at)`,
    `CREATE INDEX IF NOT EXISTS ix_workflows_state_run_created ON workflows (state, policy_run_id, created_at)`,
    `CREATE INDEX IF NOT EXISTS ix_workflows_subject_created ON workflows (subject, created_at)`,
    `CREATE INDEX IF NOT EXISTS ix_workflows_created ON workflows (created_at)`,
    // A deleted policy takes its runs along; their workflows stay, as jobs of their own again.
    // The ids were set from the runs just above, so the key is added without copying the table.
    `SET SESSION foreign_key_checks = 0`,
    `ALTER TABLE workflows ADD CONSTRAINT fk_workflows_policy_run FOREIGN KEY IF NOT EXISTS (policy_run_id) REFERENCES policy_runs (id) ON DELETE SET NULL`,
    `SET SESSION foreign_key_checks = 1`,
    `ALTER TABLE policy_runs ADD COLUMN IF NOT EXISTS bytes_read BIGINT UNSIGNED NULL`,
    `ALTER TABLE policy_runs ADD COLUMN IF NOT EXISTS bytes_stored BIGINT UNSIGNED NULL`,
    `ALTER TABLE policy_runs ADD COLUMN IF NOT EXISTS warnings INT NULL`,
    `ALTER TABLE policy_runs ADD COLUMN IF NOT EXISTS totals_recorded TINYINT(1) NOT NULL DEFAULT 0`,
    `UPDATE policy_runs r LEFT JOIN (${TOTALS}) x ON x.run_id = r.id
        SET r.bytes_read = x.bytes_read, r.bytes_stored = x.bytes_stored, r.warnings = COALESCE(x.warnings, 0), r.totals_recorded = 1
      WHERE r.state NOT IN ('running', 'missed') AND r.totals_recorded = 0`,
    `CREATE INDEX IF NOT EXISTS ix_policy_runs_state_created ON policy_runs (state, created_at)`,
    `CREATE INDEX IF NOT EXISTS ix_tasks_standalone ON tasks (workflow_id, type, created_at)`,
  ],
};
