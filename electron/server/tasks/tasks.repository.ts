import { encodeTimeCursor, pageOf } from '../../../common/api/paging.js';
import type { Task, TaskListQuery, TaskLogLine, TaskLogPage, TaskPage, TaskState, TaskType } from '../../../common/api/tasks.js';
import type { Sql } from '../db/catalog.js';
import { KeysetWhere } from '../db/keyset.js';
import { subjectInfo } from '../../../common/api/task-subject.js';
import { progressView } from './progress-tracker.js';

export interface TaskRow {
  id: number;
  workflow_id: number | null;
  seq: number;
  depends_on: number | null;
  type: TaskType;
  state: TaskState;
  priority: number;
  node_id: number | null;
  node_name?: string | null;
  /** The VM and time of the backup a "backup:<id>" subject names (SELECT joins them). */
  subject_backup_vm?: string | null;
  subject_backup_at?: Date | null;
  required_node_id: number | null;
  subject: string | null;
  params: string | Record<string, unknown>;
  result: string | Record<string, unknown> | null;
  error: string | null;
  warnings: string | string[] | null;
  bytes_done: number;
  bytes_total: number | null;
  rate: number | null;
  progress_message: string | null;
  attempt: number;
  max_attempts: number;
  not_before: Date | null;
  cancel_requested: number;
  created_by: string | null;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
}

export interface NewTask {
  type: TaskType;
  params: Record<string, unknown>;
  priority?: number;
  subject?: string | null;
  requiredNodeId?: number | null;
  maxAttempts?: number;
  createdBy?: string | null;
  workflowId?: number | null;
  seq?: number;
  dependsOn?: number | null;
}

const json = <T>(v: string | T | null): T | null => (typeof v === 'string' ? (JSON.parse(v) as T) : v);
const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

export function toTask(r: TaskRow): Task {
  return {
    id: r.id,
    type: r.type,
    state: r.state,
    priority: r.priority,
    workflowId: r.workflow_id,
    dependsOn: r.depends_on,
    nodeId: r.node_id,
    node: r.node_name ?? null,
    subject: r.subject,
    subjectInfo: subjectInfo(r.subject, r.subject_backup_vm && r.subject_backup_at ? { vmName: r.subject_backup_vm, createdAt: r.subject_backup_at.toISOString() } : null),
    params: json<Record<string, unknown>>(r.params) ?? {},
    progress: progressView({ bytesDone: Number(r.bytes_done), bytesTotal: r.bytes_total === null ? null : Number(r.bytes_total), rate: r.rate, message: r.progress_message }, r.state),
    attempt: r.attempt,
    maxAttempts: r.max_attempts,
    cancelRequested: r.cancel_requested === 1,
    error: r.error,
    warnings: json<string[]>(r.warnings) ?? [],
    result: json<Record<string, unknown>>(r.result),
    createdBy: r.created_by,
    createdAt: r.created_at.toISOString(),
    startedAt: iso(r.started_at),
    finishedAt: iso(r.finished_at),
  };
}

/** A "backup:<id>" (or "m365-backup:<id>") subject's backup: its VM's name as the backup recorded it, and its time. */
export const SUBJECT_BACKUP_JOIN = (alias: string): string =>
  `LEFT JOIN backups sb ON ${alias}.subject LIKE 'backup:%' AND sb.id = CAST(SUBSTRING(${alias}.subject, 8) AS UNSIGNED)
   LEFT JOIN m365_backups smb ON ${alias}.subject LIKE 'm365-backup:%' AND smb.id = CAST(SUBSTRING(${alias}.subject, 13) AS UNSIGNED)`;
/** A Microsoft 365 backup ("m365-backup:<id>") is named by its user or site the same way. */
export const SUBJECT_BACKUP_COLUMNS =
  "COALESCE(JSON_VALUE(sb.source, '$.vm.name'), sb.vm, smb.subject_name) AS subject_backup_vm, COALESCE(sb.created_at, smb.created_at) AS subject_backup_at";

/** A task row with its node's name and its backup subject; `from` names tasks as t. */
const SELECT_FROM = (from: string): string => `SELECT t.*, n.name AS node_name, ${SUBJECT_BACKUP_COLUMNS} FROM ${from} LEFT JOIN nodes n ON n.id = t.node_id ${SUBJECT_BACKUP_JOIN('t')}`;
const SELECT = SELECT_FROM('tasks t');

export class TasksRepository {
  constructor(private readonly sql: Sql) {}

  async insert(t: NewTask, sql: Sql = this.sql): Promise<number> {
    const res = await sql.execute(
      `INSERT INTO tasks (type, params, priority, subject, required_node_id, max_attempts, created_by, workflow_id, seq, depends_on)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [
        t.type,
        JSON.stringify(t.params),
        t.priority ?? 50,
        t.subject ?? null,
        t.requiredNodeId ?? null,
        t.maxAttempts ?? 1,
        t.createdBy ?? null,
        t.workflowId ?? null,
        t.seq ?? 0,
        t.dependsOn ?? null,
      ],
    );
    return res.insertId;
  }

  async insertWorkflow(w: { type: string; subject: string | null; createdBy: string | null; policyRunId?: number | null }, sql: Sql = this.sql): Promise<number> {
    return (await sql.execute('INSERT INTO workflows (type, subject, created_by, policy_run_id) VALUES (?, ?, ?, ?)', [w.type, w.subject, w.createdBy, w.policyRunId ?? null])).insertId;
  }

  async get(id: number, sql: Sql = this.sql): Promise<TaskRow | undefined> {
    return (await sql.query<TaskRow>(`${SELECT} WHERE t.id = ?`, [id]))[0];
  }

  async lock(id: number, sql: Sql): Promise<TaskRow | undefined> {
    return (await sql.query<TaskRow>('SELECT * FROM tasks WHERE id = ? FOR UPDATE', [id]))[0];
  }

  /**
   * A page of tasks, newest first by (created_at, id), from the cursor on. The keys are found
   * first, each filter read backwards from its own (column, created_at) index, and only the
   * page's rows are then joined with their node and backup. `node` matches tasks that ran on
   * it, must run on it, or are about it (install, upgrade, remove): three indexes, one branch
   * each, merged.
   */
  async page(q: Omit<TaskListQuery, 'node'> & { node?: { id: number; name: string } }): Promise<TaskPage> {
    const w = new KeysetWhere('created_at').add('state = ?', q.state).add('type = ?', q.type).add('subject = ?', q.subject).range(q.from, q.to).before(q.cursor, 'id');
    const take = q.limit + 1;
    const branch = (...extra: string[]): string => `SELECT id, created_at FROM tasks ${w.sql(...extra)} ORDER BY created_at DESC, id DESC LIMIT ${take}`;
    const keys = q.node
      ? {
          sql: `SELECT id, created_at FROM ((${branch('node_id = ?')}) UNION (${branch('required_node_id = ?')}) UNION (${branch('subject = ?')})) u ORDER BY created_at DESC, id DESC LIMIT ${take}`,
          params: [q.node.id, ...w.params, q.node.id, ...w.params, `node:${q.node.name}`, ...w.params],
        }
      : { sql: branch(), params: w.params };
    const rows = await this.sql.query<TaskRow>(`${SELECT_FROM(`(${keys.sql}) k JOIN tasks t ON t.id = k.id`)} ORDER BY t.created_at DESC, t.id DESC`, keys.params);
    const page = pageOf(rows, q.limit, (r) => encodeTimeCursor({ at: r.created_at, id: r.id }));
    return { tasks: page.rows.map(toTask), nextCursor: page.nextCursor };
  }

  /**
   * Tasks ready to run, locked for this dispatcher; rows another dispatcher
   * holds are skipped, so no task is handed out twice.
   */
  async lockDispatchable(limit: number, sql: Sql): Promise<TaskRow[]> {
    return sql.query<TaskRow>(
      `SELECT t.* FROM tasks t
        WHERE t.state = 'QUEUED' AND t.cancel_requested = 0
          AND (t.not_before IS NULL OR t.not_before <= CURRENT_TIMESTAMP(3))
          AND (t.depends_on IS NULL OR EXISTS (
                SELECT 1 FROM tasks d WHERE d.id = t.depends_on AND d.state IN ('FINISHED','FINISHED_WITH_WARNINGS')))
        ORDER BY t.priority DESC, t.id ASC
        LIMIT ?
        FOR UPDATE SKIP LOCKED`,
      [limit],
    );
  }

  async runningCounts(sql: Sql = this.sql): Promise<Map<number, number>> {
    const rows = await sql.query<{ node_id: number; n: number }>(
      // A MOUNT task holds a mount open for hours, mostly idle: it takes no slot from backups.
      "SELECT node_id, COUNT(*) AS n FROM tasks WHERE state = 'RUNNING' AND node_id IS NOT NULL AND type <> 'MOUNT' GROUP BY node_id",
    );
    return new Map(rows.map((r) => [r.node_id, Number(r.n)]));
  }

  async markRunning(id: number, nodeId: number | null, sql: Sql): Promise<boolean> {
    const res = await sql.execute(
      `UPDATE tasks SET state = 'RUNNING', node_id = ?, started_at = CURRENT_TIMESTAMP(3), finished_at = NULL,
              attempt = attempt + 1, bytes_done = 0, bytes_total = NULL, rate = NULL, progress_message = NULL
        WHERE id = ? AND state = 'QUEUED'`,
      [nodeId, id],
    );
    if (res.affectedRows !== 1) return false;
    // Its workflow runs from its first step's start (the jobs list filters by the workflow's state).
    await sql.execute("UPDATE workflows w JOIN tasks t ON t.workflow_id = w.id SET w.state = 'RUNNING' WHERE t.id = ? AND w.state = 'QUEUED'", [id]);
    return true;
  }

  async requeue(id: number, delayMs: number, error: string | null, sql: Sql = this.sql): Promise<void> {
    await sql.execute(
      `UPDATE tasks SET state = 'QUEUED', node_id = NULL, error = ?, not_before = DATE_ADD(CURRENT_TIMESTAMP(3), INTERVAL ? MICROSECOND)
        WHERE id = ?`,
      [error, delayMs * 1000, id],
    );
  }

  async finish(
    id: number,
    f: { state: TaskState; error?: string | null; warnings?: string[]; result?: Record<string, unknown> | null },
    sql: Sql = this.sql,
  ): Promise<void> {
    await sql.execute(
      `UPDATE tasks SET state = ?, error = ?, warnings = ?, result = COALESCE(?, result), finished_at = CURRENT_TIMESTAMP(3)
        WHERE id = ?`,
      [f.state, f.error ?? null, f.warnings?.length ? JSON.stringify(f.warnings) : null, f.result ? JSON.stringify(f.result) : null, id],
    );
  }

  /** What the task was sent with (at dispatch), so the task shows what its node got. */
  async setParams(id: number, params: Record<string, unknown>, sql: Sql = this.sql): Promise<void> {
    await sql.execute('UPDATE tasks SET params = ? WHERE id = ?', [JSON.stringify(params), id]);
  }

  async saveProgress(id: number, p: { bytesDone: number; bytesTotal: number | null; rate: number | null; message: string | null }, sql: Sql = this.sql): Promise<void> {
    await sql.execute("UPDATE tasks SET bytes_done = ?, bytes_total = ?, rate = ?, progress_message = ? WHERE id = ? AND state = 'RUNNING'", [
      Math.round(p.bytesDone),
      p.bytesTotal === null ? null : Math.round(p.bytesTotal),
      p.rate,
      p.message?.slice(0, 500) ?? null,
      id,
    ]);
  }

  async requestCancel(id: number, sql: Sql = this.sql): Promise<void> {
    await sql.execute('UPDATE tasks SET cancel_requested = 1 WHERE id = ?', [id]);
  }

  async running(sql: Sql = this.sql): Promise<TaskRow[]> {
    return sql.query<TaskRow>("SELECT * FROM tasks WHERE state = 'RUNNING'");
  }

  async runningOnNode(nodeId: number, sql: Sql = this.sql): Promise<TaskRow[]> {
    return sql.query<TaskRow>("SELECT * FROM tasks WHERE state = 'RUNNING' AND node_id = ?", [nodeId]);
  }

  async workflowTasks(workflowId: number, sql: Sql = this.sql): Promise<TaskRow[]> {
    return sql.query<TaskRow>('SELECT * FROM tasks WHERE workflow_id = ? ORDER BY seq, id FOR UPDATE', [workflowId]);
  }

  async setWorkflowState(workflowId: number, state: TaskState, sql: Sql = this.sql): Promise<void> {
    const final = state !== 'QUEUED' && state !== 'RUNNING';
    await sql.execute(`UPDATE workflows SET state = ?, finished_at = ${final ? 'CURRENT_TIMESTAMP(3)' : 'NULL'} WHERE id = ?`, [state, workflowId]);
  }

  async setRequiredNode(id: number, nodeId: number, sql: Sql): Promise<void> {
    await sql.execute('UPDATE tasks SET required_node_id = ? WHERE id = ?', [nodeId, id]);
  }

  async appendLog(taskId: number, level: TaskLogLine['level'], message: string): Promise<TaskLogLine> {
    const res = await this.sql.execute('INSERT INTO task_logs (task_id, level, message) VALUES (?, ?, ?)', [taskId, level, message]);
    return { id: res.insertId, at: new Date().toISOString(), level, message };
  }

  /** The newest `limit` lines before the cursor (all lines without one), oldest first; the cursor pages on to earlier ones. */
  async log(taskId: number, q: { limit: number; cursor?: string | undefined }): Promise<TaskLogPage> {
    const before = q.cursor === undefined ? undefined : Number(q.cursor);
    const rows = await this.sql.query<{ id: number; at: Date; level: TaskLogLine['level']; message: string }>(
      `SELECT id, at, level, message FROM task_logs WHERE task_id = ?${before === undefined ? '' : ' AND id < ?'} ORDER BY id DESC LIMIT ?`,
      before === undefined ? [taskId, q.limit + 1] : [taskId, before, q.limit + 1],
    );
    const page = pageOf(rows, q.limit, (r) => String(r.id));
    return { lines: page.rows.reverse().map((r) => ({ id: r.id, at: r.at.toISOString(), level: r.level, message: r.message })), nextCursor: page.nextCursor };
  }

  async counts(): Promise<{ queued: number; running: number }> {
    const rows = await this.sql.query<{ state: string; n: number }>("SELECT state, COUNT(*) AS n FROM tasks WHERE state IN ('QUEUED','RUNNING') GROUP BY state");
    const get = (s: string): number => Number(rows.find((r) => r.state === s)?.n ?? 0);
    return { queued: get('QUEUED'), running: get('RUNNING') };
  }
}
