import type { Migration } from './migration.js';

/**
 * Keyset pages of tasks and audit entries, newest first by (time, id): each filter is read
 * backwards from an index on (filter column, time), which serves a date range as well (InnoDB
 * keeps the primary key after an index's columns, so the id orders rows of one millisecond).
 * A policy's runs page by id. Finish times let history pruning find what is old without a
 * scan: standalone tasks by (workflow_id IS NULL, finished_at), workflows by finished_at.
 */
export const migration: Migration = {
  id: '2026-12-07-0014-history-paging',
  statements: [
    `CREATE INDEX IF NOT EXISTS ix_tasks_created ON tasks (created_at)`,
    `CREATE INDEX IF NOT EXISTS ix_tasks_state_created ON tasks (state, created_at)`,
    `CREATE INDEX IF NOT EXISTS ix_tasks_type_created ON tasks (type, created_at)`,
    `CREATE INDEX IF NOT EXISTS ix_tasks_node_created ON tasks (node_id, created_at)`,
    `CREATE INDEX IF NOT EXISTS ix_tasks_required_node_created ON tasks (required_node_id, created_at)`,
    `CREATE INDEX IF NOT EXISTS ix_tasks_subject_created ON tasks (subject, created_at)`,
    `CREATE INDEX IF NOT EXISTS ix_tasks_workflow_finished ON tasks (workflow_id, finished_at)`,
    `CREATE INDEX IF NOT EXISTS ix_workflows_finished ON workflows (finished_at)`,
    `CREATE INDEX IF NOT EXISTS ix_audit_actor_at ON audit_log (actor, at)`,
    `CREATE INDEX IF NOT EXISTS ix_audit_action_at ON audit_log (action, at)`,
    // Prefixes of the two above.
    `DROP INDEX IF EXISTS ix_audit_actor ON audit_log`,
    `DROP INDEX IF EXISTS ix_audit_action ON audit_log`,
    `CREATE INDEX IF NOT EXISTS ix_policy_runs_policy_id ON policy_runs (policy_id, id)`,
  ],
};
