import { POLICY_RUN_KIND, type Job, type JobDetails, type JobListQuery, type JobPage } from '../../../common/api/jobs.js';
import type { Task, TaskState } from '../../../common/api/tasks.js';
import { subjectInfo } from '../../../common/api/task-subject.js';
import { notFound } from '../errors.js';
import { toPolicyRun } from '../policies/policies.repository.js';
import { encodeJobCursor } from './job-keyset.js';
import { jobState, jobSummary } from './job-summary.js';
import type { JobLogRow, JobRunRow, JobsRepository, JobWorkflowRow, RunTotals } from './jobs.repository.js';
import type { TaskEngine } from './task-engine.service.js';
import { toTask } from './tasks.repository.js';

/** Log lines a job's page carries (a policy run's: its warnings and errors). */
const LOG_LINES = 5000;

const RUN_STATES: Record<JobRunRow['state'], TaskState> = {
  running: 'RUNNING',
  finished: 'FINISHED',
  finished_with_warnings: 'FINISHED_WITH_WARNINGS',
  failed: 'FAILED',
  cancelled: 'CANCELLED',
  missed: 'CANCELLED',
};

/**
 * Jobs for people (see common/api/jobs.ts): read from workflows and their tasks, running steps
 * with their live progress, and from policy runs, whose VMs' workflows are lines inside them.
 * The Tasks page keeps showing every task for experts.
 */
export class JobsService {
  constructor(
    private readonly repo: JobsRepository,
    private readonly engine: Pick<TaskEngine, 'withLive'>,
  ) {}

  async page(q: JobListQuery): Promise<JobPage> {
    const refs = await this.repo.refs(q);
    const shown = refs.slice(0, q.limit);
    const ids = (k: 'w' | 't' | 'p'): number[] => shown.filter((r) => r.k === k).map((r) => r.id);
    const [workflows, steps, single, runs] = await Promise.all([
      this.repo.workflows(ids('w')),
      this.tasks('workflow', ids('w')),
      this.tasks('id', ids('t')),
      this.repo.runs(ids('p')),
    ]);
    const live = await this.repo.liveTotals(runs.filter((r) => !recorded(r)).map((r) => r.id));
    const jobs = shown.map((r): Job | undefined => {
      if (r.k === 't') {
        const task = single.find((t) => t.id === r.id);
        return task && fromTask(task);
      }
      if (r.k === 'p') {
        const run = runs.find((x) => x.id === r.id);
        return run && fromRun(run, totalsOf(run, live.get(run.id)));
      }
      const w = workflows.find((x) => x.id === r.id);
      return w && fromWorkflow(w, steps.filter((t) => t.workflowId === w.id));
    });
    const last = shown.at(-1);
    return { jobs: jobs.filter((j): j is Job => j !== undefined), nextCursor: refs.length > q.limit && last ? encodeJobCursor(last) : null };
  }

  async get(id: string): Promise<JobDetails> {
    const n = Number(id.slice(1));
    if (id.startsWith('p')) return this.run(n, id);
    let job: Job | undefined;
    let log: JobLogRow[];
    // One round trip: the job's row, its steps and their log together.
    if (id.startsWith('w')) {
      const [[w], steps, lines] = await Promise.all([this.repo.workflows([n]), this.tasks('workflow', [n]), this.repo.log({ workflowId: n }, LOG_LINES)]);
      if (w) job = fromWorkflow(w, steps);
      log = lines;
    } else {
      const [[row], lines] = await Promise.all([this.repo.standaloneTask(n), this.repo.log({ taskId: n }, LOG_LINES)]);
      if (row) job = fromTask(this.engine.withLive(toTask(row)));
      log = lines;
    }
    if (!job) throw notFound(`there is no job ${id}`);
    return { ...job, log: log.map((l) => logLine(l, null)), lines: [] };
  }

  /** A policy run: its VMs' jobs as lines, the sums of theirs as its summary, their warnings and errors as its log. */
  private async run(runId: number, id: string): Promise<JobDetails> {
    const [run] = await this.repo.runs([runId]);
    if (!run) throw notFound(`there is no job ${id}`);
    const workflows = await this.repo.runWorkflows(runId);
    const [steps, log] = await Promise.all([this.tasks('workflow', workflows.map((w) => w.id)), this.repo.runLog(runId, LOG_LINES)]);
    const byWorkflow = new Map<number | null, Task[]>();
    for (const t of steps) byWorkflow.set(t.workflowId, [...(byWorkflow.get(t.workflowId) ?? []), t]);
    const lines = workflows.map((w) => fromWorkflow(w, byWorkflow.get(w.id) ?? []));
    const sum = (pick: (j: Job) => number | null): number | null => {
      let total: number | null = null;
      for (const line of lines) {
        const v = pick(line);
        if (v !== null) total = (total ?? 0) + v;
      }
      return total;
    };
    const job = fromRun(run, { bytesRead: sum((j) => j.summary.bytesRead), bytesStored: sum((j) => j.summary.bytesStored), warnings: 0 });
    const warnings = lines.flatMap((l) => l.summary.warnings.map((w) => `${lineName(l)}: ${w}`));
    return {
      ...job,
      summary: { ...job.summary, warnings, warningCount: warnings.length },
      lines,
      log: log.map((l) => logLine(l, subjectInfo(l.subject)?.name ?? null)),
    };
  }

  /** Tasks in step order; running ones with the progress only the engine has yet. */
  private async tasks(by: 'workflow' | 'id', ids: number[]): Promise<Task[]> {
    return (await this.repo.tasks(by, ids)).map((r) => this.engine.withLive(toTask(r)));
  }
}

const recorded = (r: JobRunRow): boolean => r.state !== 'running' && r.totals_recorded === 1;

function totalsOf(run: JobRunRow, live: RunTotals | undefined): RunTotals {
  if (recorded(run)) return { bytesRead: num(run.bytes_read), bytesStored: num(run.bytes_stored), warnings: Number(run.warnings ?? 0) };
  return live ?? { bytesRead: null, bytesStored: null, warnings: 0 };
}

const num = (v: number | null): number | null => (v === null ? null : Number(v));
const lineName = (j: Job): string => j.subjectInfo?.name ?? j.subject ?? j.id;

function logLine(l: JobLogRow, about: string | null): JobDetails['log'][number] {
  return { id: l.id, at: l.at.toISOString(), level: l.level, message: l.message, taskId: l.task_id, step: l.type, about };
}

function fromWorkflow(w: JobWorkflowRow, steps: Task[]): Job {
  const info = subjectInfo(w.subject, w.subject_backup_vm && w.subject_backup_at ? { vmName: w.subject_backup_vm, createdAt: w.subject_backup_at.toISOString() } : null);
  const parent = w.policy_run_id !== null && w.run_policy !== null ? { id: `p${w.policy_run_id}`, policy: w.run_policy } : null;
  return { ...assemble(`w${w.id}`, w.type, w.subject, info, w.created_by, w.created_at.toISOString(), steps), parent };
}

function fromTask(t: Task): Job {
  return assemble(`t${t.id}`, t.type, t.subject, t.subjectInfo, t.createdBy, t.createdAt, [t]);
}

/** A run's job: its state and counts from the run's record, its bytes from its workflows' tasks. */
function fromRun(r: JobRunRow, totals: RunTotals): Job {
  const { id, policyId, policy, purpose, trigger, backupType, succeeded, failed, cancelled, message, vms, workflowIds } = toPolicyRun(r);
  const state = RUN_STATES[r.state];
  const final = state !== 'RUNNING';
  const durationSeconds = final && r.started_at && r.finished_at ? Math.max(0, Math.round((r.finished_at.getTime() - r.started_at.getTime()) / 100) / 10) : null;
  const subject = `policy:${policy}`;
  return {
    id: `p${id}`,
    kind: POLICY_RUN_KIND,
    state,
    subject,
    subjectInfo: subjectInfo(subject),
    createdBy: trigger === 'manual' ? null : 'scheduler',
    createdAt: r.created_at.toISOString(),
    startedAt: r.started_at?.toISOString() ?? null,
    finishedAt: final ? (r.finished_at?.toISOString() ?? null) : null,
    steps: [],
    summary: {
      bytesRead: totals.bytesRead,
      bytesStored: totals.bytesStored,
      durationSeconds,
      rate: totals.bytesRead !== null && durationSeconds ? totals.bytesRead / durationSeconds : null,
      warnings: [],
      warningCount: totals.warnings,
      error: state === 'FAILED' || state === 'CANCELLED' ? (message ?? 'the run failed') : null,
    },
    run: { id, policyId, policy, purpose, trigger, backupType, succeeded, failed, cancelled, message, total: purpose === 'run' ? vms : workflowIds.length },
    parent: null,
  };
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
    run: null,
    parent: null,
  };
}
