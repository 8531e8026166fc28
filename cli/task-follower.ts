import { isFinalState, type ServerEvent, type Task, type TaskDetails, type TaskLogLine } from '../common/api/index.js';
import { ApiConnectionError, ApiRequestError } from './client/api-client.js';
import type { EventStream } from './client/event-stream.js';
import type { CliContext, OutputStream } from './context.js';
import { CliError, errorMessage } from './errors.js';
import { formatClock, formatDuration } from './format.js';
import { BarView } from './progress.js';
import { formatTaskResult, resultWarnings } from './task-results.js';

/**
 * `--wait` and `vplus task wait`: follow one task until it ends. Live over
 * the server's event WebSocket when it can be had, by polling GET
 * /api/tasks/:id every second when not. Log lines go to stdout as they
 * arrive (for an install the log is the point); progress and notes to
 * stderr, as a bar on a terminal and plain lines otherwise.
 */

/** What following needs of the server; ApiClient provides it, tests fake it. */
export interface TaskSource {
  getTask(id: number): Promise<TaskDetails>;
  openEvents(): Promise<EventStream>;
}

export interface FollowOptions {
  /** Polling interval without the event stream. */
  pollIntervalMs?: number;
  /** With the event stream, still re-read the task this often (events are not stored; one may be missed). */
  refreshIntervalMs?: number;
  /** How long the server may be unreachable (restarting) before giving up. */
  offlineToleranceMs?: number;
  /** Progress on a terminal; defaults to stderr.isTTY. */
  tty?: boolean;
  now?: () => number;
}

type FollowContext = Pick<CliContext, 'stdout' | 'stderr' | 'env' | 'onShutdownSignal'>;

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
  const pollMs = options.pollIntervalMs ?? 1_000;
  const refreshMs = options.refreshIntervalMs ?? 10_000;
  const toleranceMs = options.offlineToleranceMs ?? 60_000;
  const debug = (text: string): void => {
    if (ctx.env.VPLUS_DEBUG) ctx.stderr.write(`debug: ${text}\n`);
  };

  const waker = new Waker();
  let stopResolve: (() => void) | undefined;
  const stopSignal = new Promise<'stop'>((resolve) => (stopResolve = () => resolve('stop')));
  let stopped = false;
  const unsubscribe = ctx.onShutdownSignal(() => {
    stopped = true;
    stopResolve?.();
    waker.wake();
  });

  const view = new TaskView(ctx, taskId, options.tty ?? ctx.stderr.isTTY === true, now);
  const queue: ServerEvent[] = [];
  let live: EventStream | null = null;
  let known: TaskName = { id: taskId };
  const stop = (): never => {
    view.abandon();
    throw new CliError(stoppedWaitingMessage(known), 1);
  };
  /** Resolves p, unless Ctrl-C comes first. */
  const unlessStopped = async <T>(p: Promise<T>): Promise<T> => {
    const result = await Promise.race([p, stopSignal]);
    if (result === 'stop') stop();
    return result as T;
  };

  let offlineSince: number | null = null;
  const fetch = async (): Promise<TaskDetails> => {
    for (;;) {
      try {
        const details = await unlessStopped(source.getTask(taskId));
        if (offlineSince !== null) view.note(`The server answers again; still waiting for ${describeTask(details)}.`);
        offlineSince = null;
        return details;
      } catch (err) {
        const transient = err instanceof ApiConnectionError || (err instanceof ApiRequestError && err.status >= 500);
        if (!transient) throw err;
        if (offlineSince === null) {
          offlineSince = now();
          view.note(`Lost contact with the server (${errorMessage(err)}); retrying…`);
        } else if (now() - offlineSince >= toleranceMs) {
          throw new CliError(`${errorMessage(err)}; gave up waiting for task ${taskId} after ${formatDuration(toleranceMs / 1000)}, run vplus task wait ${taskId} to follow it again`);
        }
        await waker.wait(pollMs);
        if (stopped) stop();
      }
    }
  };

  try {
    const opening = source.openEvents();
    try {
      live = await unlessStopped(opening);
      const stream = live;
      stream.onEvent((event) => {
        if ((event.type === 'task' && event.task.id === taskId) || (event.type === 'task.log' && event.taskId === taskId)) {
          queue.push(event);
          waker.wake();
        }
      });
      stream.onClose((reason) => {
        debug(`the event stream closed (${reason}); polling every ${pollMs} ms`);
        if (live === stream) live = null;
        waker.wake();
      });
    } catch (err) {
      if (stopped) {
        // Still connecting: close the stream should it open after all.
        void opening.then((s) => s.close(), () => undefined);
        throw err;
      }
      debug(`no event stream (${errorMessage(err)}); polling every ${pollMs} ms`);
    }

    // Subscribed first, read second: nothing that happens in between is lost.
    let details = await fetch();
    known = details;
    let task: Task = details;
    let fromSnapshot = true;
    let lastRead = now();
    let readNow = false;
    view.snapshot(details, true);

    while (!isFinalState(task.state)) {
      await waker.wait(live ? Math.max(0, refreshMs - (now() - lastRead)) : Math.max(0, pollMs - (now() - lastRead)));
      if (stopped) stop();
      for (const event of queue.splice(0)) {
        if (event.type === 'task') {
          // An event can be older than a read that overtook it: never go back.
          if (!isNotOlder(event.task, task)) continue;
          // The server logs some turns (a retry, a cancel) without announcing the
          // lines: read the task at once after a turn to show them now.
          if (lifePosition(event.task) !== lifePosition(task) || event.task.cancelRequested !== task.cancelRequested) readNow = true;
          task = event.task;
          fromSnapshot = false;
          view.update(task);
        } else if (event.type === 'task.log') {
          view.liveLog(event.line);
        }
      }
      if (isFinalState(task.state)) break;
      const due = readNow || now() - lastRead >= (live ? refreshMs : pollMs);
      if (due) {
        readNow = false;
        details = await fetch();
        lastRead = now();
        const current = isNotOlder(details, task);
        if (current) {
          task = details;
          fromSnapshot = true;
        }
        view.snapshot(details, current);
      }
    }

    if (!fromSnapshot) {
      // The end came as an event: read the task once more for the log lines
      // the server wrote without announcing them, and the final warnings.
      try {
        const read = await fetch();
        const current = isNotOlder(read, task);
        view.snapshot(read, current);
        details = current ? read : { ...task, log: read.log };
      } catch (err) {
        if (err instanceof CliError && stopped) throw err;
        debug(`could not re-read the ended task (${errorMessage(err)})`);
        details = { ...task, log: details.log };
      }
    }
    view.finish(details);
    return details;
  } finally {
    unsubscribe();
    live?.close();
  }
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

/** A wake-up call that is not lost when it comes before anyone waits. */
export class Waker {
  private pending = false;
  private resolve: (() => void) | undefined;

  wake(): void {
    this.pending = true;
    this.resolve?.();
  }

  async wait(ms: number): Promise<void> {
    if (!this.pending) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, ms);
        this.resolve = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.resolve = undefined;
    }
    this.pending = false;
  }
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

/** The output of following one task. */
class TaskView extends BarView {
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
