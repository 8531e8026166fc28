import { isFinalState, type Policy, type PolicyRun, type PolicyRunPage, type Task, type TaskDetails, type TaskPage, type TaskState } from '../common/api/index.js';
import type { EventStream } from './client/event-stream.js';
import type { CliContext, OutputStream } from './context.js';
import { CliError } from './errors.js';
import { follow, type FollowContext, type FollowOptions } from './follower.js';
import { formatDuration } from './format.js';
import { BarView } from './progress.js';
import { capitalize, describeTask, isNotOlder, taskOutcome, tookSeconds } from './task-follower.js';
import { formatTaskResult, plural, resultWarnings } from './task-results.js';

/**
 * `vplus policy run --wait` (and `policy wait`, `policy retention --wait`):
 * follow one policy run until it ends. The run itself says how many of its
 * VMs are done; its tasks (EXPORT and STORE per VM, or PRUNE and GC for
 * retention) are recognised by what they are about, as the run does not list
 * them. Live over the event WebSocket (`policy.run` and `task` events), with
 * a re-read every 10 s in case an event was missed; by polling when there is
 * no WebSocket (follower.ts, as `task wait`). Notes and progress go to stderr,
 * as `task wait` does: one bar (or a plain line every 5 s) for the bytes of
 * the run's running tasks.
 */

export interface PolicyRunSource {
  policyRuns(policy: string, query: { limit: number }): Promise<PolicyRunPage>;
  listTasks(query: { state?: TaskState; limit?: number }): Promise<TaskPage>;
  getTask(id: number): Promise<TaskDetails>;
  openEvents(): Promise<EventStream>;
}

/** What a run does: backs VMs up, Microsoft 365 users and sites (a run of an m365 policy), prunes, or verifies. */
export type PolicyRunKind = 'backup' | 'm365' | 'retention' | 'verify';

/** "3 VMs", "2 users and sites": what a backup run counts. */
const members = (n: number, kind: PolicyRunKind): string => (kind === 'm365' ? plural(n, 'user or site', 'users and sites') : plural(n, 'VM'));

export interface FollowedRun {
  run: PolicyRun;
  /** The policy's name, as the user addressed it or the server spells it. */
  policy: string;
  kind: PolicyRunKind;
  /** Whether a task is part of this run. */
  matches(task: Task): boolean;
}

export interface PolicyRunFollowOptions extends FollowOptions {
  /** The stream opened before the run was started, so no task it created is missed; null: poll. */
  events?: EventStream | null;
}

/** Runs read per refresh: the run followed is among the newest of its policy. */
const RUNS_READ = 50;
/** Running tasks read per refresh. */
const TASKS_READ = 500;
/** The newest tasks read per refresh, whatever their state. */
const RECENT_TASKS_READ = 50;

/** The tasks of a run: those of the workflows it started (backups, snapshots, or prune + GC). */
export function runTasks(run: Pick<PolicyRun, 'workflowIds'>): (task: Task) => boolean {
  const ids = new Set(run.workflowIds);
  return (task) => task.workflowId !== null && ids.has(task.workflowId);
}

/** What the run does, as the follower words it. */
export function runKind(run: Pick<PolicyRun, 'purpose'>, policyKind?: Policy['kind']): PolicyRunKind {
  if (run.purpose !== 'run') return run.purpose;
  return policyKind === 'm365' ? 'm365' : 'backup';
}

/** "run 12 of policy "nightly"" */
export function describeRun(run: Pick<PolicyRun, 'id' | 'policy'>): string {
  return `run ${run.id} of policy "${run.policy}"`;
}

const STATE_WORDS: Record<PolicyRun['state'], string> = {
  running: 'running',
  finished: 'finished',
  finished_with_warnings: 'finished with warnings',
  failed: 'failed',
  cancelled: 'cancelled',
  missed: 'missed',
};

export function runStateWords(state: PolicyRun['state']): string {
  return STATE_WORDS[state];
}

/** "2 of 3 VMs backed up, 1 failed" (retention: what it did). */
export function runCounts(run: Pick<PolicyRun, 'vms' | 'succeeded' | 'failed' | 'cancelled' | 'state'>, kind: PolicyRunKind = 'backup'): string {
  if (kind === 'retention') return `pruning the backups of ${plural(run.vms, 'VM')}, then collecting garbage`;
  if (kind === 'verify') return 'verifying the destination';
  const parts = [`${run.succeeded} of ${members(run.vms, kind)} backed up`];
  if (run.failed > 0) parts.push(`${run.failed} failed`);
  if (run.cancelled > 0) parts.push(`${run.cancelled} cancelled`);
  const open = run.vms - run.succeeded - run.failed - run.cancelled;
  if (run.state === 'running' && open > 0) parts.push(`${open} to go`);
  return parts.join(', ');
}

export interface RunOutcome {
  /** The brief: 0 when the run finished cleanly; 1 when it failed, finished with warnings, was cancelled or missed. */
  exitCode: 0 | 1;
  /** For exit 0 a sentence for stdout; for exit 1 the reason for stderr. */
  message: string;
}

/** The exit code and words for a run that has ended. */
export function runOutcome(run: PolicyRun, kind: PolicyRunKind = 'backup'): RunOutcome {
  const what = kind === 'backup' || kind === 'm365' ? describeRun(run) : `${kind} ${describeRun(run)}`;
  const took = run.startedAt && run.finishedAt ? tookSeconds(run.startedAt, run.finishedAt) : null;
  const inTime = took === null || took < 0.5 ? '' : ` in ${formatDuration(took)}`;
  const message = run.message?.trim().replace(/\.$/, '') || null;
  // A run of no VMs says so in its message, and a retention run in its tasks: counts would only repeat it.
  const counts = (kind !== 'backup' && kind !== 'm365') || (run.vms === 0 && message) ? null : runCounts(run, kind);
  const detail = [counts, message].filter((p) => p !== null).join('; ');
  switch (run.state) {
    case 'finished':
      return { exitCode: 0, message: `${capitalize(what)} finished${inTime}${detail ? `: ${detail}` : ''}.` };
    case 'finished_with_warnings':
      return { exitCode: 1, message: `${what} finished with warnings${inTime}: ${detail}` };
    case 'failed':
      return { exitCode: 1, message: `${what} failed${inTime}: ${detail}` };
    case 'cancelled':
      return { exitCode: 1, message: `${what} was cancelled${detail ? `: ${detail}` : ''}` };
    case 'missed':
      return { exitCode: 1, message: `${what} was missed${message ? `: ${message}` : ''}` };
    default:
      throw new Error(`${what} has not ended`);
  }
}

/**
 * Prints an ended run's outcome: each failed or cancelled task as a warning
 * (which VM, and why), then the sentence on stdout, or a CliError (exit 1).
 * `quiet` leaves stdout alone (--json prints the run instead).
 */
export function reportRunOutcome(ctx: Pick<CliContext, 'stdout' | 'stderr'>, followed: { run: PolicyRun; kind: PolicyRunKind; tasks?: readonly Task[] }, quiet = false): void {
  for (const task of followed.tasks ?? []) {
    if (task.state !== 'FAILED' && task.state !== 'CANCELLED') continue;
    ctx.stderr.write(`warning: ${taskOutcome(task).message}\n`);
  }
  const outcome = runOutcome(followed.run, followed.kind);
  if (outcome.exitCode !== 0) throw new CliError(outcome.message, 1);
  if (!quiet) ctx.stdout.write(`${outcome.message}\n`);
}

/** What the user is told for Ctrl-C: the run goes on. */
export function stoppedWaitingForRunMessage(run: Pick<PolicyRun, 'id' | 'policy'>): string {
  return `stopped waiting for ${describeRun(run)}, which goes on; follow it again with vplus policy wait ${quoteArg(run.policy)} ${run.id}`;
}

/** A policy name as a shell argument: quoted when it has spaces. */
export function quoteArg(text: string): string {
  return /^[A-Za-z0-9._-]+$/.test(text) ? text : `"${text}"`;
}

/** Position of a run in its life: later reads and events never take it back. */
function runPosition(run: PolicyRun): number {
  if (run.state !== 'running') return Number.POSITIVE_INFINITY;
  return run.succeeded + run.failed + run.cancelled;
}

/**
 * Follows the run to its end. Returns the run as it ended and the tasks of
 * it that were seen (each as it ended, when that was seen). Ctrl-C stops the
 * waiting, not the run.
 */
export async function followPolicyRun(
  ctx: FollowContext,
  source: PolicyRunSource,
  followed: FollowedRun,
  options: PolicyRunFollowOptions = {},
): Promise<{ run: PolicyRun; tasks: Task[] }> {
  const now = options.now ?? Date.now;
  const view = new RunView(ctx, followed.kind, options.tty ?? ctx.stderr.isTTY === true, now);
  const tasks = new Map<number, Task>();
  let run = followed.run;
  const words = {
    name: () => describeRun(run),
    resume: () => `vplus policy wait ${quoteArg(followed.policy)} ${run.id}`,
    stopped: () => stoppedWaitingForRunMessage(run),
  };

  const seeRun = (next: PolicyRun): void => {
    if (next.id !== run.id || runPosition(next) < runPosition(run)) return;
    run = next;
    view.run(run);
  };
  const seeTask = (task: Task): void => {
    const known = tasks.get(task.id);
    if (known && !isNotOlder(task, known)) return;
    if (!known && !followed.matches(task)) return;
    tasks.set(task.id, task);
    view.task(task);
  };

  return follow(ctx, view, words, { ...options, now }, async (follower) => {
    await follower.listen(options.events ?? null, (event) => (event.type === 'policy.run' && event.run.id === run.id) || event.type === 'task');
    view.run(run);
    await follower.run({
      ended: () => run.state !== 'running',
      /** Reads the run and the tasks running or new; a task that stopped running is read once to see how it ended. */
      read: async () => {
        const { runs } = await follower.call(() => source.policyRuns(followed.policy, { limit: RUNS_READ }));
        const current = runs.find((r) => r.id === run.id);
        if (current) seeRun(current);
        const running = (await follower.call(() => source.listTasks({ state: 'RUNNING', limit: TASKS_READ }))).tasks;
        // The newest tasks too: one that was queued, or ran and ended, between two reads is seen as well.
        const recent = (await follower.call(() => source.listTasks({ limit: RECENT_TASKS_READ }))).tasks;
        const ids = new Set([...running, ...recent].map((t) => t.id));
        for (const task of [...recent, ...running]) seeTask(task);
        for (const task of [...tasks.values()]) {
          if (task.state === 'RUNNING' && !ids.has(task.id)) seeTask(withoutLog(await follower.call(() => source.getTask(task.id))));
        }
      },
      take: (event) => {
        if (event.type === 'policy.run') seeRun(event.run);
        else if (event.type === 'task') seeTask(event.task);
      },
    });

    // Every task of an ended run has ended: read those whose end was not seen.
    for (const task of [...tasks.values()]) {
      if (isFinalState(task.state)) continue;
      const read = await follower.tryCall(() => source.getTask(task.id), describeTask(task));
      if (read) seeTask(withoutLog(read));
    }
    view.finish();
    return { run, tasks: [...tasks.values()].sort((a, b) => a.id - b.id) };
  });
}

function withoutLog(details: TaskDetails): Task {
  const { log: _log, ...task } = details;
  return task;
}

/** The output of following one run: notes for what changes, one progress bar for the bytes. */
class RunView extends BarView {
  private label = '';
  private lastCounts = '';
  /** The tasks the bar is about: those running, and those that ended since the last one started. */
  private readonly shown = new Map<number, Task>();
  /** What was said of each task last ("RUNNING|1"), so each turn is said once. */
  private readonly told = new Map<number, string>();

  constructor(
    ctx: { stdout: OutputStream; stderr: OutputStream },
    private readonly kind: PolicyRunKind,
    tty: boolean,
    now: () => number,
  ) {
    super(ctx, tty, now);
  }

  run(run: PolicyRun): void {
    const ended = run.succeeded + run.failed + run.cancelled;
    this.label = this.kind === 'retention' ? `run ${run.id}` : `run ${run.id}, ${ended}/${run.vms} ${this.kind === 'm365' ? 'users and sites' : 'VMs'} done${run.failed > 0 ? ` (${run.failed} failed)` : ''}`;
    this.progress?.setLabel(this.label);
    const counts = runCounts(run, this.kind);
    if (run.state === 'running' && counts !== this.lastCounts) {
      // The first line says what is being waited for; later ones how far it got.
      this.note(this.lastCounts === '' ? `${capitalize(describeRun(run))} is running: ${counts}.` : `${capitalize(describeRun(run))}: ${counts}.`);
    }
    this.lastCounts = counts;
  }

  task(task: Task): void {
    const status = `${task.state}|${task.attempt}`;
    if (this.told.get(task.id) !== status) {
      this.told.set(task.id, status);
      if (task.state === 'RUNNING') {
        const attempt = task.attempt > 1 ? ` (attempt ${task.attempt} of ${task.maxAttempts})` : '';
        this.note(`${capitalize(describeTask(task))} is running ${task.node ? `on node ${task.node}` : 'on the server'}${attempt}.`);
      } else if (isFinalState(task.state)) {
        const outcome = taskOutcome(task);
        this.note(outcome.exitCode === 0 ? outcome.message : `${capitalize(outcome.message)}.`);
        for (const warning of [...outcome.warnings, ...resultWarnings(task)]) this.note(`warning: ${warning}`);
        const result = task.state === 'CANCELLED' ? null : formatTaskResult(task);
        if (result) this.note(result);
      }
    }
    this.track(task);
    this.draw();
  }

  /**
   * The bar shows the tasks running now. One that ended stays in it, as it
   * ended (all its bytes when it finished), until another task starts: so
   * the bar ends full rather than where the last progress report left it.
   */
  private track(task: Task): void {
    if (task.state === 'RUNNING') {
      if (!this.shown.has(task.id)) for (const [id, t] of this.shown) if (t.state !== 'RUNNING') this.shown.delete(id);
      this.shown.set(task.id, task);
    } else if (isFinalState(task.state) && this.shown.has(task.id)) {
      this.shown.set(task.id, task);
    } else {
      this.shown.delete(task.id); // queued again, to retry
    }
  }

  /** The bytes of the tasks shown, summed, at their summed rates. */
  private draw(): void {
    const shown = [...this.shown.values()];
    const finished = (t: Task): boolean => t.state === 'FINISHED' || t.state === 'FINISHED_WITH_WARNINGS';
    const doneOf = (t: Task): number => (finished(t) && t.progress.bytesTotal ? t.progress.bytesTotal : t.progress.bytesDone);
    const done = shown.reduce((n, t) => n + doneOf(t), 0);
    const totals = shown.map((t) => t.progress.bytesTotal ?? 0);
    // A total only when every task shown knows its own; 0 tells the bar "unknown".
    const total = totals.length > 0 && totals.every((t) => t > 0) ? totals.reduce((a, b) => a + b, 0) : 0;
    if (done === 0 && total === 0) return;
    // Running: the server's smoothed rates. All ended: their averages over their whole run.
    const running = shown.filter((t) => t.state === 'RUNNING');
    const rates =
      running.length > 0
        ? running.map((t) => t.progress.rate)
        : shown.filter(finished).map((t) => {
            const took = t.startedAt && t.finishedAt ? tookSeconds(t.startedAt, t.finishedAt) : null;
            return took ? doneOf(t) / took : null;
          });
    const known = rates.filter((r): r is number => r !== null);
    this.bar(this.label).update(done, total, known.length > 0 ? known.reduce((a, b) => a + b, 0) : null);
  }

  finish(): void {
    this.progress?.finish();
  }
}
