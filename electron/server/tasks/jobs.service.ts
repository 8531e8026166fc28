import type { Job, JobDetails, JobListQuery, JobPage } from '../../../common/api/jobs.js';
import type { Task, TaskType } from '../../../common/api/tasks.js';
import { subjectInfo } from '../../../common/api/task-subject.js';
import type { Sql } from '../db/catalog.js';
import { notFound } from '../errors.js';
import { jobState, jobSummary } from './job-summary.js';
import type { TaskEngine } from './task-engine.service.js';
import { SUBJECT_BACKUP_COLUMNS, SUBJECT_BACKUP_JOIN, toTask, type TaskRow } from './tasks.repository.js';

/** Task types that are a job of their own when started outside a workflow. */
export const STANDALONE_JOB_TYPES: readonly TaskType[] = ['MOUNT', 'FILE_RESTORE', 'SNAPSHOT', 'VERIFY'];

interface WorkflowRow {
  id: number;
  type: string;
  subject: string | null;
  created_by: string | null;
  created_at: Date;
  subject_backup_vm: string | null;
  subject_backup_at: Date | null;
}

const TASK_SELECT = `SELECT t.*, n.name AS node_name, ${SUBJECT_BACKUP_COLUMNS} FROM tasks t LEFT JOIN nodes n ON n.id = t.node_id ${SUBJECT_BACKUP_JOIN('t')}`;
const STANDALONE = `t.workflow_id IS NULL AND t.type IN (${STANDALONE_JOB_TYPES.map((t) => `'${t}'`).join(', ')})`;

/**
 * Jobs for people (see common/api/jobs.ts): read from workflows and their tasks, running steps
 * with their live progress. The Tasks page keeps showing every task for experts.
 */
export class JobsService {
  constructor(
    private readonly sql: Sql,
    private readonly engine: TaskEngine,
  ) {}

  async page(q: JobListQuery): Promise<JobPage> {
    const union = `SELECT 'w' AS k, id, created_at FROM workflows UNION ALL SELECT 't' AS k, t.id, t.created_at FROM tasks t WHERE ${STANDALONE}`;
    const [count] = await this.sql.query<{ n: number }>(`SELECT COUNT(*) AS n FROM (${union}) j`);
    const refs = await this.sql.query<{ k: 'w' | 't'; id: number }>(`SELECT k, id FROM (${union}) j ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?`, [q.limit, q.offset]);
    const workflowIds = refs.filter((r) => r.k === 'w').map((r) => r.id);
    const taskIds = refs.filter((r) => r.k === 't').map((r) => r.id);
    const workflows = await this.workflows(workflowIds);
    const steps = await this.tasks(workflowIds.length ? `t.workflow_id IN (${placeholders(workflowIds)})` : 'FALSE', workflowIds);
    const single = await this.tasks(taskIds.length ? `t.id IN (${placeholders(taskIds)})` : 'FALSE', taskIds);
    const jobs = refs.map((r): Job | undefined => {
      if (r.k === 't') {
        const task = single.find((t) => t.id === r.id);
        return task && fromTask(task);
      }
      const w = workflows.find((x) => x.id === r.id);
      return w && fromWorkflow(w, steps.filter((t) => t.workflowId === w.id));
    });
    return { total: Number(count?.n ?? 0), jobs: jobs.filter((j): j is Job => j !== undefined) };
  }

  async get(id: string): Promise<JobDetails> {
    const n = Number(id.slice(1));
    let job: Job | undefined;
    if (id.startsWith('w')) {
      const [w] = await this.workflows([n]);
      if (w) job = fromWorkflow(w, await this.tasks('t.workflow_id = ?', [n]));
    } else {
      const [t] = await this.tasks(`t.id = ? AND ${STANDALONE}`, [n]);
      if (t) job = fromTask(t);
    }
    if (!job) throw notFound(`there is no job ${id}`);
    const log: JobDetails['log'] = [];
    for (const step of job.steps) {
      const lines = await this.sql.query<{ id: number; at: Date; level: 'debug' | 'info' | 'warn' | 'error'; message: string }>(
        "SELECT id, at, level, message FROM task_logs WHERE task_id = ? AND level <> 'debug' ORDER BY id LIMIT 2000",
        [step.id],
      );
      for (const l of lines) log.push({ id: l.id, at: l.at.toISOString(), level: l.level, message: l.message, taskId: step.id, step: step.type });
    }
    return { ...job, log };
  }

  private async workflows(ids: number[]): Promise<WorkflowRow[]> {
    if (!ids.length) return [];
    return this.sql.query<WorkflowRow>(
      `SELECT w.id, w.type, w.subject, w.created_by, w.created_at, ${SUBJECT_BACKUP_COLUMNS} FROM workflows w ${SUBJECT_BACKUP_JOIN('w')} WHERE w.id IN (${placeholders(ids)})`,
      ids,
    );
  }

  /** Tasks in step order; running ones with the progress only the engine has yet. */
  private async tasks(where: string, params: number[]): Promise<Task[]> {
    const rows = await this.sql.query<TaskRow>(`${TASK_SELECT} WHERE ${where} ORDER BY t.workflow_id, t.seq, t.id`, params);
    return Promise.all(rows.map(toTask).map(async (t) => (t.state === 'RUNNING' || this.engine.isSettling(t.id) ? this.engine.get(t.id) : t)));
  }
}

const placeholders = (ids: readonly number[]): string => ids.map(() => '?').join(', ');

function fromWorkflow(w: WorkflowRow, steps: Task[]): Job {
  const info = subjectInfo(w.subject, w.subject_backup_vm && w.subject_backup_at ? { vmName: w.subject_backup_vm, createdAt: w.subject_backup_at.toISOString() } : null);
  return assemble(`w${w.id}`, w.type, w.subject, info, w.created_by, w.created_at.toISOString(), steps);
}

function fromTask(t: Task): Job {
  return assemble(`t${t.id}`, t.type, t.subject, t.subjectInfo, t.createdBy, t.createdAt, [t]);
}

function assemble(id: string, kind: string, subject: string | null, info: Job['subjectInfo'], createdBy: string | null, createdAt: string, steps: Task[]): Job {
  const state = jobState(steps);
  const final = state !== 'QUEUED' && state !== 'RUNNING';
  const starts = steps.map((s) => s.startedAt).filter((s): s is string => s !== null).sort();
  const ends = steps.map((s) => s.finishedAt).filter((s): s is string => s !== null).sort();
  return {
    id,
    kind,
    state,
    subject,
    subjectInfo: info,
    createdBy,
    createdAt,
    startedAt: starts[0] ?? null,
    finishedAt: final ? (ends.at(-1) ?? null) : null,
    steps,
    summary: jobSummary(steps),
  };
}
