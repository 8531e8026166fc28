import type { CatalogSize } from '../../../common/api/history.js';
import type { Sql, SqlValue } from '../db/catalog.js';

const FINAL = "('FINISHED','FINISHED_WITH_WARNINGS','FAILED','CANCELLED')";

/** A row elsewhere that points at a row of a pruned table: while it does, that row stays. */
export interface Reference {
  table: string;
  column: string;
}

/**
 * Rows that point at tasks without a foreign key. A mount records the MOUNT task that holds
 * (or held) it open; a mount belongs to a backup's metadata, which is kept for ever.
 */
const UNDECLARED: Record<string, Reference[]> = { tasks: [{ table: 'mounts', column: 'task_id' }] };

/** The pairs pruning removes children first itself: a workflow's tasks, a task's log. */
const OWN_CHILDREN = new Set(['tasks.workflow_id', 'task_logs.task_id']);

const name = (identifier: string): string => `\`${identifier.replace(/`/g, '``')}\``;

/** One keyset position in (time, id) order, oldest first. */
export interface AfterKey {
  at: Date;
  id: number;
}

/**
 * The SQL of history pruning. Every step reads at most one batch of keys from an index,
 * oldest first, with a plain (non-locking) read, and then deletes those rows by primary key,
 * checking again in the DELETE that each is still finished: the only rows locked are the
 * ones removed, and only for one short statement. Each read names its index: what is old is
 * a small range of it, which the optimizer, counting the whole table, does not always see.
 * What may not go (a running step, a row something refers to) is asked apart, by id, from
 * the other tables' indexes: inside the read, MariaDB may answer it by scanning them whole.
 */
export class HistoryRepository {
  constructor(private readonly sql: Sql) {}

  /**
   * What points at tasks, workflows and policy runs besides what pruning removes itself: the
   * catalog's foreign keys (a later schema's included) and the references without one.
   */
  async references(): Promise<Map<string, Reference[]>> {
    const rows = await this.sql.query<{ table_name: string; column_name: string; referenced: string }>(
      `SELECT TABLE_NAME AS table_name, COLUMN_NAME AS column_name, REFERENCED_TABLE_NAME AS referenced
         FROM information_schema.KEY_COLUMN_USAGE
        WHERE TABLE_SCHEMA = DATABASE() AND REFERENCED_TABLE_NAME IN ('tasks', 'workflows', 'policy_runs', 'audit_log') AND REFERENCED_COLUMN_NAME = 'id'`,
    );
    const refs = new Map<string, Reference[]>(Object.entries(UNDECLARED).map(([table, list]) => [table, [...list]]));
    for (const r of rows) {
      if (OWN_CHILDREN.has(`${r.table_name}.${r.column_name}`)) continue;
      refs.set(r.referenced, [...(refs.get(r.referenced) ?? []), { table: r.table_name, column: r.column_name }]);
    }
    return refs;
  }

  /**
   * Which of these ids of `table` some row refers to (one lookup per reference, each on its
   * column's index: a foreign key always has one).
   */
  async referenced(table: string, ids: readonly number[], refs: Map<string, Reference[]>): Promise<Set<number>> {
    const found = new Set<number>();
    if (ids.length === 0) return found;
    for (const r of refs.get(table) ?? []) {
      const rows = await this.sql.query<{ id: number }>(`SELECT DISTINCT ${name(r.column)} AS id FROM ${name(r.table)} WHERE ${name(r.column)} IN (${marks(ids)})`, [...ids]);
      for (const row of rows) found.add(Number(row.id));
    }
    return found;
  }

  /**
   * The next tasks (by id, after `afterId`) that still have log lines, read from the log's
   * (task_id, id) index, so tasks whose lines are gone cost nothing. With their state and
   * finish time, to tell which lines may go.
   */
  async tasksWithLogs(afterId: number, limit: number): Promise<{ id: number; state: string; finished_at: Date | null }[]> {
    return this.sql.query(
      `SELECT t.id, t.state, t.finished_at
         FROM (SELECT DISTINCT task_id FROM task_logs WHERE task_id > ? ORDER BY task_id LIMIT ?) l
         JOIN tasks t ON t.id = l.task_id
        ORDER BY t.id`,
      [afterId, limit],
    );
  }

  /** Up to `limit` log lines of these (finished) tasks, removed by id. */
  async deleteLogsOf(taskIds: readonly number[], limit: number): Promise<number> {
    if (taskIds.length === 0) return 0;
    const ids = await this.sql.query<{ id: number }>(`SELECT id FROM task_logs WHERE task_id IN (${marks(taskIds)}) ORDER BY task_id, id LIMIT ?`, [...taskIds, limit]);
    return this.deleteIds('task_logs', ids.map((r) => r.id));
  }

  /** Finished workflows that ended before `cutoff`, oldest first after `after` (whether their steps let them go is asked apart). */
  async oldWorkflows(cutoff: Date, after: AfterKey | null, limit: number): Promise<{ id: number; finished_at: Date }[]> {
    const [where, params] = afterKey('finished_at', 'id', after);
    return this.sql.query(
      `SELECT id, finished_at FROM workflows FORCE INDEX (ix_workflows_finished)
        WHERE finished_at < ? ${where} AND state IN ${FINAL} ORDER BY finished_at, id LIMIT ?`,
      [cutoff, ...params, limit],
    );
  }

  /** The steps of these workflows, with their states. */
  async stepsOf(workflowIds: readonly number[]): Promise<{ id: number; workflow_id: number; state: string }[]> {
    if (workflowIds.length === 0) return [];
    return this.sql.query(`SELECT id, workflow_id, state FROM tasks WHERE workflow_id IN (${marks(workflowIds)})`, [...workflowIds]);
  }

  /** Finished tasks outside any workflow that ended before `cutoff`, oldest first after `after`. */
  async oldStandaloneTasks(cutoff: Date, after: AfterKey | null, limit: number): Promise<{ id: number; finished_at: Date }[]> {
    const [where, params] = afterKey('finished_at', 'id', after);
    return this.sql.query(
      `SELECT id, finished_at FROM tasks FORCE INDEX (ix_tasks_workflow_finished)
        WHERE workflow_id IS NULL AND finished_at < ? ${where} AND state IN ${FINAL} ORDER BY finished_at, id LIMIT ?`,
      [cutoff, ...params, limit],
    );
  }

  /** Policy runs (not running) started before `cutoff`, oldest first after `after`. */
  async oldPolicyRuns(cutoff: Date, after: AfterKey | null, limit: number): Promise<{ id: number; created_at: Date }[]> {
    const [where, params] = afterKey('created_at', 'id', after);
    return this.sql.query(
      `SELECT id, created_at FROM policy_runs FORCE INDEX (ix_policy_runs_created)
        WHERE created_at < ? ${where} AND state <> 'running' ORDER BY created_at, id LIMIT ?`,
      [cutoff, ...params, limit],
    );
  }

  async oldAuditEntries(cutoff: Date, after: AfterKey | null, limit: number): Promise<{ id: number; at: Date }[]> {
    const [where, params] = afterKey('at', 'id', after);
    return this.sql.query(`SELECT id, at FROM audit_log FORCE INDEX (ix_audit_at) WHERE at < ? ${where} ORDER BY at, id LIMIT ?`, [cutoff, ...params, limit]);
  }

  /** Tasks removed by id, each only if it is still finished (a retry may have queued it again). */
  deleteTasks(ids: readonly number[]): Promise<number> {
    return this.deleteIds('tasks', ids, `state IN ${FINAL}`);
  }

  /** Workflows removed by id, each only if it is still finished and has no step left. */
  deleteWorkflows(ids: readonly number[]): Promise<number> {
    return this.deleteIds('workflows', ids, `state IN ${FINAL} AND NOT EXISTS (SELECT 1 FROM tasks s WHERE s.workflow_id = workflows.id)`);
  }

  deletePolicyRuns(ids: readonly number[]): Promise<number> {
    return this.deleteIds('policy_runs', ids, "state <> 'running'");
  }

  deleteAuditEntries(ids: readonly number[]): Promise<number> {
    return this.deleteIds('audit_log', ids);
  }

  private async deleteIds(table: string, ids: readonly number[], still?: string): Promise<number> {
    if (ids.length === 0) return 0;
    const res = await this.sql.execute(`DELETE FROM ${name(table)} WHERE id IN (${marks(ids)})${still ? ` AND ${still}` : ''}`, [...ids]);
    return res.affectedRows;
  }

  /** Each table's data and index size as MariaDB reports them (cheap: from its statistics), largest first. */
  async size(): Promise<CatalogSize> {
    const rows = await this.sql.query<{ name: string; rows: number | null; data: number | null; indexes: number | null; free: number | null }>(
      `SELECT TABLE_NAME AS name, TABLE_ROWS AS \`rows\`, DATA_LENGTH AS data, INDEX_LENGTH AS indexes, DATA_FREE AS free
         FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE'`,
    );
    const tables = rows
      .map((r) => ({ name: r.name, rows: Number(r.rows ?? 0), dataBytes: Number(r.data ?? 0), indexBytes: Number(r.indexes ?? 0), freeBytes: Number(r.free ?? 0) }))
      .sort((a, b) => b.dataBytes + b.indexBytes - (a.dataBytes + a.indexBytes) || a.name.localeCompare(b.name));
    const sum = (of: (t: (typeof tables)[number]) => number): number => tables.reduce((total, t) => total + of(t), 0);
    return { totalBytes: sum((t) => t.dataBytes + t.indexBytes), freeBytes: sum((t) => t.freeBytes), tables };
  }
}

const marks = (values: readonly unknown[]): string => values.map(() => '?').join(',');

/** "After this key" in ascending (time, id) order, as a range on the time column an index reads from. */
function afterKey(timeColumn: string, idColumn: string, after: AfterKey | null): [string, SqlValue[]] {
  if (after === null) return ['', []];
  return [`AND ${timeColumn} >= ? AND (${timeColumn} > ? OR ${idColumn} > ?)`, [after.at, after.at, after.id]];
}
