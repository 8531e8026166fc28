import type { CatalogSize } from '../../../common/api/history.js';
import type { Sql, SqlValue } from '../db/catalog.js';

const FINAL = "('FINISHED','FINISHED_WITH_WARNINGS','FAILED','CANCELLED')";
const UNFINISHED = "('QUEUED','RUNNING')";

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

  /** "Some row refers to `alias`.id", over the references (FALSE without any). */
  static referenced(alias: string, refs: readonly Reference[]): string {
    if (refs.length === 0) return 'FALSE';
    return `(${refs.map((r, i) => `EXISTS (SELECT 1 FROM ${name(r.table)} ${alias}_ref${i} WHERE ${alias}_ref${i}.${name(r.column)} = ${alias}.id)`).join(' OR ')})`;
  }

  /**
   * The next tasks (by id, after `afterId`) that still have log lines: a loose scan of the log's
   * (task_id, id) index, so tasks whose lines are gone cost nothing. With their state, creation
   * and finish times, to tell which lines may go.
   */
  async tasksWithLogs(afterId: number, limit: number): Promise<{ id: number; state: string; created_at: Date; finished_at: Date | null }[]> {
    return this.sql.query(
      `SELECT t.id, t.state, t.created_at, t.finished_at
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

  /**
   * Finished workflows that ended before `cutoff`, oldest first after `after`: none with a step
   * still queued or running, or with a step or itself that something else refers to.
   */
  async oldWorkflows(cutoff: Date, after: AfterKey | null, limit: number, refs: Map<string, Reference[]>): Promise<{ id: number; finished_at: Date }[]> {
    const [where, params] = afterKey('w.finished_at', 'w.id', after);
    return this.sql.query(
      `SELECT w.id, w.finished_at FROM workflows w FORCE INDEX (ix_workflows_finished)
        WHERE w.finished_at < ? ${where} AND w.state IN ${FINAL}
          AND NOT EXISTS (SELECT 1 FROM tasks s WHERE s.workflow_id = w.id AND (s.state IN ${UNFINISHED} OR ${HistoryRepository.referenced('s', refs.get('tasks') ?? [])}))
          AND NOT ${HistoryRepository.referenced('w', refs.get('workflows') ?? [])}
        ORDER BY w.finished_at, w.id LIMIT ?`,
      [cutoff, ...params, limit],
    );
  }

  /** The steps of these workflows (ids), to remove their logs and then them. */
  async workflowTaskIds(workflowIds: readonly number[]): Promise<number[]> {
    if (workflowIds.length === 0) return [];
    return (await this.sql.query<{ id: number }>(`SELECT id FROM tasks WHERE workflow_id IN (${marks(workflowIds)})`, [...workflowIds])).map((r) => r.id);
  }

  /** Finished tasks outside any workflow that ended before `cutoff`, oldest first after `after`, that nothing refers to. */
  async oldStandaloneTasks(cutoff: Date, after: AfterKey | null, limit: number, refs: Map<string, Reference[]>): Promise<{ id: number; finished_at: Date }[]> {
    const [where, params] = afterKey('t.finished_at', 't.id', after);
    return this.sql.query(
      `SELECT t.id, t.finished_at FROM tasks t FORCE INDEX (ix_tasks_workflow_finished)
        WHERE t.workflow_id IS NULL AND t.finished_at < ? ${where} AND t.state IN ${FINAL}
          AND NOT ${HistoryRepository.referenced('t', refs.get('tasks') ?? [])}
        ORDER BY t.finished_at, t.id LIMIT ?`,
      [cutoff, ...params, limit],
    );
  }

  /** Policy runs (not running) started before `cutoff`, oldest first after `after`, that nothing (a workflow of theirs) refers to. */
  async oldPolicyRuns(cutoff: Date, after: AfterKey | null, limit: number, refs: Map<string, Reference[]>): Promise<{ id: number; created_at: Date }[]> {
    const [where, params] = afterKey('r.created_at', 'r.id', after);
    return this.sql.query(
      `SELECT r.id, r.created_at FROM policy_runs r FORCE INDEX (ix_policy_runs_created)
        WHERE r.created_at < ? ${where} AND r.state <> 'running'
          AND NOT ${HistoryRepository.referenced('r', refs.get('policy_runs') ?? [])}
        ORDER BY r.created_at, r.id LIMIT ?`,
      [cutoff, ...params, limit],
    );
  }

  async oldAuditEntries(cutoff: Date, after: AfterKey | null, limit: number): Promise<{ id: number; at: Date }[]> {
    const [where, params] = afterKey('a.at', 'a.id', after);
    return this.sql.query(`SELECT a.id, a.at FROM audit_log a FORCE INDEX (ix_audit_at) WHERE a.at < ? ${where} ORDER BY a.at, a.id LIMIT ?`, [cutoff, ...params, limit]);
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
