import { POLICY_RUN_KIND, type JobListQuery } from '../../../common/api/jobs.js';
import type { PolicyRun } from '../../../common/api/policies.js';
import type { PolicyRunRow } from '../policies/policies.repository.js';
import type { TaskState, TaskType } from '../../../common/api/tasks.js';
import type { Sql, SqlValue } from '../db/catalog.js';
import { decodeJobCursor, jobKeysetQuery, type JobRef, type JobSource } from './job-keyset.js';
import { SUBJECT_BACKUP_COLUMNS, SUBJECT_BACKUP_JOIN, type TaskRow } from './tasks.repository.js';

/** Task types that are a job of their own when started outside a workflow. */
export const STANDALONE_JOB_TYPES: readonly TaskType[] = ['MOUNT', 'FILE_RESTORE', 'SNAPSHOT', 'VERIFY'];

export interface JobWorkflowRow {
  id: number;
  type: string;
  subject: string | null;
  created_by: string | null;
  created_at: Date;
  policy_run_id: number | null;
  /** The name of the policy whose run started it. */
  run_policy: string | null;
  subject_backup_vm: string | null;
  subject_backup_at: Date | null;
}

/** A run as the policies module reads it, with when it was made and the totals it keeps once ended (migration 0012). */
export interface JobRunRow extends PolicyRunRow {
  created_at: Date;
  bytes_read: number | null;
  bytes_stored: number | null;
  warnings: number | null;
  totals_recorded: number;
}

/** What a run's workflows read, stored and warned about (summed as tasks/job-summary.ts sums one job). */
export interface RunTotals {
  bytesRead: number | null;
  bytesStored: number | null;
  warnings: number;
}

export interface JobLogRow {
  id: number;
  at: Date;
  level: 'debug' | 'info' | 'warn' | 'error';
  message: string;
  task_id: number;
  type: TaskType;
  subject: string | null;
}

/** A policy run's state as a job's; a missed run is no job (nothing ran). */
export const RUN_STATE_OF_JOB: Partial<Record<TaskState, PolicyRun['state']>> = {
  RUNNING: 'running',
  FINISHED: 'finished',
  FINISHED_WITH_WARNINGS: 'finished_with_warnings',
  FAILED: 'failed',
  CANCELLED: 'cancelled',
};

const TOTAL_COLUMNS = `SUM(JSON_VALUE(t.result, '$.bytesRead')) AS bytes_read,
  SUM(JSON_VALUE(t.result, '$.backup.storedBytes')) AS bytes_stored,
  SUM(COALESCE(JSON_LENGTH(t.warnings), 0)) AS warnings`;

const WORKFLOWS = `SELECT w.id, w.type, w.subject, w.created_by, w.created_at, w.policy_run_id, rp.name AS run_policy, ${SUBJECT_BACKUP_COLUMNS}
  FROM workflows w LEFT JOIN policy_runs wr ON wr.id = w.policy_run_id LEFT JOIN policies rp ON rp.id = wr.policy_id ${SUBJECT_BACKUP_JOIN('w')}`;
const RUNS = 'SELECT r.*, p.name AS policy_name FROM policy_runs r JOIN policies p ON p.id = r.policy_id';
const TASK_SELECT = `SELECT t.*, n.name AS node_name, ${SUBJECT_BACKUP_COLUMNS} FROM tasks t LEFT JOIN nodes n ON n.id = t.node_id ${SUBJECT_BACKUP_JOIN('t')}`;

const marks = (ids: readonly unknown[]): string => ids.map(() => '?').join(', ');
const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

/**
 * The jobs' SQL: which jobs a list page shows (keyset over workflows, standalone tasks and
 * policy runs, each read from an index), and what the jobs on it are made of, a fixed number
 * of queries per page.
 */
export class JobsRepository {
  constructor(private readonly sql: Sql) {}

  /** The page's jobs in list order, plus one more when another page follows. */
  async refs(q: JobListQuery): Promise<JobRef[]> {
    const query = jobListSql(q);
    if (query === undefined) return [];
    const { sql, params } = query;
    const rows = await this.sql.query<{ k: JobRef['k']; id: number; created_at: Date }>(sql, params);
    return rows.map((r) => ({ k: r.k, id: Number(r.id), createdAt: r.created_at }));
  }

  workflows(ids: readonly number[]): Promise<JobWorkflowRow[]> {
    return ids.length ? this.sql.query<JobWorkflowRow>(`${WORKFLOWS} WHERE w.id IN (${marks(ids)})`, [...ids]) : Promise.resolve([]);
  }

  /** A policy run's workflows, in the order the run started them. */
  runWorkflows(runId: number): Promise<JobWorkflowRow[]> {
    return this.sql.query<JobWorkflowRow>(`${WORKFLOWS} WHERE w.policy_run_id = ? ORDER BY w.id`, [runId]);
  }

  /** Tasks of these workflows (or these standalone tasks), in step order. */
  tasks(by: 'workflow' | 'id', ids: readonly number[]): Promise<TaskRow[]> {
    if (!ids.length) return Promise.resolve([]);
    return this.sql.query<TaskRow>(`${TASK_SELECT} WHERE t.${by === 'workflow' ? 'workflow_id' : 'id'} IN (${marks(ids)}) ORDER BY t.workflow_id, t.seq, t.id`, [...ids]);
  }

  standaloneTask(id: number): Promise<TaskRow[]> {
    return this.sql.query<TaskRow>(`${TASK_SELECT} WHERE t.id = ? AND t.workflow_id IS NULL AND t.type IN (${marks(STANDALONE_JOB_TYPES)})`, [id, ...STANDALONE_JOB_TYPES]);
  }

  /** Runs by id; a missed run (nothing ran) is no job. */
  runs(ids: readonly number[]): Promise<JobRunRow[]> {
    return ids.length ? this.sql.query<JobRunRow>(`${RUNS} WHERE r.id IN (${marks(ids)}) AND r.state <> 'missed'`, [...ids]) : Promise.resolve([]);
  }

  /** Totals of runs whose totals are not recorded yet (running ones), summed from their tasks now. */
  async liveTotals(runIds: readonly number[]): Promise<Map<number, RunTotals>> {
    if (!runIds.length) return new Map();
    const rows = await this.sql.query<{ run_id: number; bytes_read: unknown; bytes_stored: unknown; warnings: unknown }>(
      `SELECT w.policy_run_id AS run_id, ${TOTAL_COLUMNS} FROM workflows w JOIN tasks t ON t.workflow_id = w.id WHERE w.policy_run_id IN (${marks(runIds)}) GROUP BY w.policy_run_id`,
      [...runIds],
    );
    return new Map(rows.map((r) => [Number(r.run_id), { bytesRead: num(r.bytes_read), bytesStored: num(r.bytes_stored), warnings: num(r.warnings) ?? 0 }]));
  }

  /** Keeps what an ended run's workflows read, stored and warned about, so lists never sum their tasks again. */
  async recordRunTotals(runId: number): Promise<void> {
    await this.sql.execute(
      `UPDATE policy_runs r JOIN (SELECT ${TOTAL_COLUMNS} FROM workflows w JOIN tasks t ON t.workflow_id = w.id WHERE w.policy_run_id = ?) x
          SET r.bytes_read = x.bytes_read, r.bytes_stored = x.bytes_stored, r.warnings = COALESCE(x.warnings, 0), r.totals_recorded = 1
        WHERE r.id = ?`,
      [runId, runId],
    );
  }

  /** Log lines of a workflow's tasks, or of one task (debug left out), in order. */
  log(of: { workflowId: number } | { taskId: number }, limit: number): Promise<JobLogRow[]> {
    const [where, id] = 'workflowId' in of ? ['t.workflow_id = ?', of.workflowId] : ['t.id = ?', of.taskId];
    return this.sql.query<JobLogRow>(
      `SELECT l.id, l.at, l.level, l.message, l.task_id, t.type, t.subject FROM tasks t JOIN task_logs l ON l.task_id = t.id
        WHERE ${where} AND l.level <> 'debug' ORDER BY l.id LIMIT ?`,
      [id, limit],
    );
  }

  /** A run's warnings and errors: what its VMs' logs say went wrong, in order. */
  runLog(runId: number, limit: number): Promise<JobLogRow[]> {
    return this.sql.query<JobLogRow>(
      `SELECT l.id, l.at, l.level, l.message, l.task_id, t.type, w.subject FROM workflows w JOIN tasks t ON t.workflow_id = w.id JOIN task_logs l ON l.task_id = t.id
        WHERE w.policy_run_id = ? AND l.level IN ('warn', 'error') ORDER BY l.id LIMIT ?`,
      [runId, limit],
    );
  }
}

/** The SQL of a list page's refs (undefined: the filters leave no table to read). */
export function jobListSql(q: JobListQuery): { sql: string; params: SqlValue[] } | undefined {
  const sources = jobSources(q);
  return sources.length === 0 ? undefined : jobKeysetQuery(sources, q.cursor === undefined ? undefined : decodeJobCursor(q.cursor), q.limit);
}

/**
 * The tables a list reads and how each is filtered, every filter a prefix of one of its
 * indexes (migration 0012) before created_at: top-level workflows (policy_run_id IS NULL) by
 * type or state, all workflows by subject, policy runs by state, standalone tasks by type.
 */
function jobSources(q: JobListQuery): JobSource[] {
  const flat = q.flat === '1' || q.subject !== undefined;
  const sources: JobSource[] = [];
  if (q.kind !== POLICY_RUN_KIND) {
    const where: string[] = flat ? [] : ['w.policy_run_id IS NULL'];
    const params: SqlValue[] = [];
    for (const [cond, value] of [
      ['w.type = ?', q.kind],
      ['w.state = ?', q.state],
      ['w.subject = ?', q.subject],
    ] as const) {
      if (value === undefined) continue;
      where.push(cond);
      params.push(value);
    }
    sources.push({ k: 'w', alias: 'w', from: 'workflows w', where, params });
  }
  const runState = q.state === undefined ? undefined : RUN_STATE_OF_JOB[q.state];
  if (!flat && (q.kind === undefined || q.kind === POLICY_RUN_KIND) && (q.state === undefined || runState !== undefined)) {
    sources.push({ k: 'p', alias: 'r', from: 'policy_runs r', where: [runState === undefined ? "r.state <> 'missed'" : 'r.state = ?'], params: runState === undefined ? [] : [runState] });
  }
  for (const type of STANDALONE_JOB_TYPES) {
    if (q.kind !== undefined && q.kind !== type) continue;
    const where = ['t.workflow_id IS NULL', 't.type = ?'];
    const params: SqlValue[] = [type];
    if (q.state !== undefined) {
      where.push('t.state = ?');
      params.push(q.state);
    }
    if (q.subject !== undefined) {
      where.push('t.subject = ?');
      params.push(q.subject);
    }
    sources.push({ k: 't', alias: 't', from: 'tasks t', where, params });
  }
  return sources;
}
