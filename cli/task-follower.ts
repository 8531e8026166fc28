import { isFinalState, type Task, type TaskDetails, type TaskLogLine } from '../common/api/index.js';
import type { EventStream } from './client/event-stream.js';
import type { CliContext, OutputStream } from './context.js';
import { CliError } from './errors.js';
import { follow, type FollowContext, type FollowOptions } from './follower.js';
import { formatClock, formatDuration } from './format.js';
import { BarView } from './progress.js';
import { formatTaskResult, resultWarnings } from './task-results.js';

export type { FollowOptions } from './follower.js';

/**
 * `--wait` and `vplus task wait`: follow one task until it ends. Live over
 * the server's event WebSocket when it can be had, by polling GET
 * /api/tasks/:id every second when not (the core of following, with the
 * offline tolerance and Ctrl-C, is follower.ts). Log lines go to stdout as
 * they arrive (for an install the log is the point); progress and notes to
 * stderr, as a bar on a terminal and plain lines otherwise.
 */

/** What following needs of the server; ApiClient provides it, tests fake it. */
export interface TaskSource {
  getTask(id: number): Promise<TaskDetails>;
  openEvents(): Promise<EventStream>;
}

type TaskName = Pick<Task, 'id'> & Partial<Pick<Task, 'type' | 'subject'>>;

/** "task 12 (NODE_CHECK node:office-1)"; "task 12" before its type is known. */
export function describeTask(task: TaskName): string {
  if (!task.type) return `task ${task.id}`;
  return `task ${task.id} (${task.type}${task.subject ? ` ${task.subject}` : ''})`;
}

/** "14:03:05 INFO  staging /var/lib/vplus: 120.5 GiB free" */
export function formatLogLine(line: { at: string; level: string; message: string }): string {
  return `${formatClock(line.at)} ${line.level.toUpperCase().padEnd(5)} ${line.message}`;
}

export interface TaskOutcome {
  /** CLI.md: 0 when the work was done (warnings included), 1 when it failed or was cancelled. */
  exitCode: 0 | 1;
  /** For exit 0 a sentence for stdout; for exit 1 the one-sentence reason for stderr. */
  message: string;
  /** Printed to stderr as "warning: …" lines. */
  warnings: string[];
}

/** The exit code and words for a task that has ended. */
export function taskOutcome(task: Task): TaskOutcome {
  const what = describeTask(task);
  const took = task.startedAt && task.finishedAt ? tookSeconds(task.startedAt, task.finishedAt) : null;
  const inTime = took === null ? '' : ` in ${formatDuration(took)}`;
  switch (task.state) {
    case 'FINISHED':
      return { exitCode: 0, message: `${capitalize(what)} finished${inTime}.`, warnings: [] };
    case 'FINISHED_WITH_WARNINGS': {
      const n = task.warnings.length;
      return {
        exitCode: 0,
        message: `${capitalize(what)} finished${inTime} with ${n === 1 ? '1 warning' : `${n} warnings`}.`,
        warnings: task.warnings,
      };
    }
    case 'FAILED':
      return { exitCode: 1, message: `${what} failed: ${sentence(task.error) ?? 'the server gave no reason'}`, warnings: task.warnings };
    case 'CANCELLED': {
      const reason = sentence(task.error);
      const message = !reason ? `${what} was cancelled` : /^cancell?ed\b/i.test(reason) ? `${what} was ${reason}` : `${what} was cancelled: ${reason}`;
      return { exitCode: 1, message, warnings: task.warnings };
    }
    default:
      throw new Error(`${what} has not ended (${task.state})`);
  }
}

/**
 * Prints an ended task's outcome: warnings to stderr, the result sentence to
 * stdout followed by what the task found (its type's result formatter); a
 * failed or cancelled task becomes a CliError (exit 1) carrying the task's
 * error as its reason. A task that failed with a result (a verify that found
 * damage) still prints the result first: it says what is damaged.
 */
export function reportTaskOutcome(
  ctx: Pick<CliContext, 'stdout' | 'stderr'>,
  task: Task,
  formatResult: (task: Task) => string | null = formatTaskResult,
): void {
  const outcome = taskOutcome(task);
  for (const warning of [...outcome.warnings, ...resultWarnings(task)]) ctx.stderr.write(`warning: ${warning}\n`);
  const result = task.state === 'CANCELLED' ? null : formatResult(task);
  if (outcome.exitCode !== 0) {
    if (result) ctx.stdout.write(`${result}\n`);
    throw new CliError(outcome.message, 1);
  }
  ctx.stdout.write(`${outcome.message}\n`);
  if (result) ctx.stdout.write(`${result}\n`);
}

/** Follows the task to its end, then reports the outcome (exit 1 when it failed). */
export async function waitForTask(ctx: FollowContext, source: TaskSource, taskId: number, options: FollowOptions = {}): Promise<TaskDetails> {
  const task = await followTask(ctx, source, taskId, options);
  reportTaskOutcome(ctx, task);
  return task;
}

/**
 * Follows the tasks of a workflow in the order they run (EXPORT then STORE,
 * RESTORE then IMPORT), reporting each as it ends. The first that fails or
 * is cancelled ends the waiting with exit 1: the server cancels the steps
 * after it. Returns the ended tasks.
 */
export async function waitForTasks(
  ctx: FollowContext,
  source: TaskSource,
  taskIds: readonly number[],
  options: FollowOptions = {},
): Promise<TaskDetails[]> {
  const ended: TaskDetails[] = [];
  for (const id of taskIds) ended.push(await waitForTask(ctx, source, id, options));
  return ended;
}

/** What the user is told for Ctrl-C while waiting: the task itself goes on. */
export function stoppedWaitingMessage(task: TaskName): string {
  return `stopped waiting for ${describeTask(task)}, which goes on; to cancel it, run vplus task cancel ${task.id}`;
}

/**
 * Follows the task until it ends and returns it as it ended (with its log).
 * Ctrl-C stops the waiting, not the task: it throws a CliError saying how to
 * cancel the task.
 */
export async function followTask(ctx: FollowContext, source: TaskSource, taskId: number, options: FollowOptions = {}): Promise<TaskDetails> {
  const now = options.now ?? Date.now;
  const view = new TaskView(ctx, taskId, options.tty ?? ctx.stderr.isTTY === true, now);
  let known: TaskName = { id: taskId };
  const words = {
    name: () => describeTask(known),
    shortName: () => `task ${taskId}`,
    resume: () => `vplus task wait ${taskId}`,
    stopped: () => stoppedWaitingMessage(known),
  };
  return follow(ctx, view, words, { ...options, now }, async (follower) => {
    await follower.listen(source.openEvents(), (event) => (event.type === 'task' && event.task.id === taskId) || (event.type === 'task.log' && event.taskId === taskId));

    /** The task as last seen (from a read or an event) and as last read; null before the first read. */
    const seen: { task: Task | null; details: TaskDetails | null; fromSnapshot: boolean } = { task: null, details: null, fromSnapshot: true };
    await follower.run({
      ended: () => seen.task !== null && isFinalState(seen.task.state),
      read: async () => {
        const details = await follower.call(async () => (known = await source.getTask(taskId)));
        const current = seen.task === null || isNotOlder(details, seen.task);
        if (current) {
          seen.task = details;
          seen.fromSnapshot = true;
        }
        seen.details = details;
        view.snapshot(details, current);
      },
      take: (event) => {
        if (event.type === 'task.log') view.liveLog(event.line);
        const task = seen.task;
        // An event can be older than a read that overtook it: never go back.
        if (event.type !== 'task' || task === null || !isNotOlder(event.task, task)) return false;
        seen.task = event.task;
        seen.fromSnapshot = false;
        view.update(event.task);
        // The server logs some turns (a retry, a cancel) without announcing the
        // lines: read the task at once after a turn to show them now.
        return lifePosition(event.task) !== lifePosition(task) || event.task.cancelRequested !== task.cancelRequested;
      },
    });

    // The loop ends only after a read, so both are known.
    const task = seen.task!;
    let details = seen.details!;
    if (!seen.fromSnapshot) {
      // The end came as an event: read the task once more for the log lines
      // the server wrote without announcing them, and the final warnings.
      const read = await follower.tryCall(() => source.getTask(taskId), 'the ended task');
      const current = read !== undefined && isNotOlder(read, task);
      if (read) view.snapshot(read, current);
      details = read && current ? read : { ...task, log: (read ?? details).log };
    }
    view.finish(details);
    return details;
  });
}

/**
 * Where a task is in its life. The server counts an attempt when it starts
 * one, so: queued (attempt 0) → running 1 → queued again to retry (still 1)
 * → running 2 → … → ended, for good.
 */
function lifePosition(t: Task): number {
  if (isFinalState(t.state)) return Number.POSITIVE_INFINITY;
  return t.state === 'RUNNING' ? 2 * t.attempt - 1 : 2 * t.attempt;
}

/** Whether `a` is the same as or later than `b` in the life of one task. */
export function isNotOlder(a: Task, b: Task): boolean {
  const pa = lifePosition(a);
  const pb = lifePosition(b);
  if (pa !== pb) return pa > pb;
  return a.progress.bytesDone >= b.progress.bytesDone || a.cancelRequested !== b.cancelRequested;
}

export function tookSeconds(startIso: string, endIso: string): number | null {
  const ms = new Date(endIso).getTime() - new Date(startIso).getTime();
  return Number.isFinite(ms) && ms >= 0 ? ms / 1000 : null;
}

export function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** A reason as the tail of our sentence: trimmed, without its own final period. */
function sentence(text: string | null): string | null {
  const t = text?.trim().replace(/\.$/, '');
  return t ? t : null;
}

/**
 * Prints each log line once although it can reach us twice: in a read of the
 * task and as a live event. Both carry the line's id.
 */
export class TaskLogTracker {
  private readonly seen = new Set<number>();

  /** The lines of a read not printed yet, in order. */
  fromRead(lines: readonly TaskLogLine[]): TaskLogLine[] {
    return lines.filter((line) => this.fresh(line));
  }

  /** Whether a live line is new, rather than one printed already. */
  fresh(line: Pick<TaskLogLine, 'id'>): boolean {
    if (this.seen.has(line.id)) return false;
    this.seen.add(line.id);
    return true;
  }
}

/** The output of following one task (also the MOUNT task while a mount is being made). */
export class TaskView extends BarView {
  private readonly logs = new TaskLogTracker();
  private lastStatus = '';
  private lastMessage: string | null = null;

  constructor(
    ctx: { stdout: OutputStream; stderr: OutputStream },
    private readonly taskId: number,
    tty: boolean,
    now: () => number,
  ) {
    super(ctx, tty, now);
  }

  /** A read of the task: its state (unless events already showed a later one), then its new log lines. */
  snapshot(details: TaskDetails, current: boolean): void {
    // State first ("is running on node n1"), then what the task logged since.
    if (current) this.update(details);
    for (const line of this.logs.fromRead(details.log)) this.print(formatLogLine(line));
  }

  liveLog(line: { id: number; at: string; level: string; message: string }): void {
    if (this.logs.fresh(line)) this.print(formatLogLine(line));
  }

  update(task: Task): void {
    const status = `${task.state}|${task.attempt}|${task.node ?? ''}`;
    if (status !== this.lastStatus && !isFinalState(task.state)) {
      const what = capitalize(describeTask(task));
      if (task.state === 'QUEUED' && task.attempt === 0) {
        this.note(`${what} is queued.`);
      } else if (task.state === 'QUEUED') {
        const why = sentence(task.error);
        this.note(`${what}: attempt ${task.attempt} of ${task.maxAttempts} failed${why ? ` (${why})` : ''}; it is queued to try again.`);
      } else if (task.state === 'RUNNING') {
        const attempt = task.attempt > 1 ? ` (attempt ${task.attempt} of ${task.maxAttempts})` : '';
        this.note(`${what} is running ${task.node ? `on node ${task.node}` : 'on the server'}${attempt}.`);
      }
    }
    this.lastStatus = status;

    const message = task.progress.message;
    if (message && message !== this.lastMessage && !isFinalState(task.state)) this.note(`${message}…`);
    this.lastMessage = message;

    const { bytesDone, bytesTotal, rate } = task.progress;
    if (bytesDone > 0 || bytesTotal) {
      const progress = this.bar(`task ${this.taskId}`);
      const done = task.state === 'FINISHED' || task.state === 'FINISHED_WITH_WARNINGS';
      const doneBytes = done && bytesTotal ? bytesTotal : bytesDone;
      // Running: the server's smoothed rate. Ended: the average over the whole task.
      const took = task.startedAt && task.finishedAt ? tookSeconds(task.startedAt, task.finishedAt) : null;
      const shownRate = task.state === 'RUNNING' ? rate : took ? doneBytes / took : null;
      progress.update(doneBytes, bytesTotal, shownRate);
    }
  }

  finish(details: TaskDetails): void {
    this.update(details);
    this.progress?.finish();
  }
}
