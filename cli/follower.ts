import type { ServerEvent } from '../common/api/index.js';
import { ApiConnectionError, ApiRequestError } from './client/api-client.js';
import type { EventStream } from './client/event-stream.js';
import type { CliContext } from './context.js';
import { CliError, errorMessage } from './errors.js';
import { formatDuration } from './format.js';
import type { BarView } from './progress.js';

/**
 * The core of `--wait`: following something on the server to its end (a task,
 * a policy run). What every follower does alike lives here:
 *
 * - stream or poll: live over the event WebSocket when there is one (with a
 *   re-read now and then, as events are not stored and one may be missed),
 *   by polling when there is none or it drops;
 * - offline tolerance: a server that does not answer (restarting) is retried
 *   for a while, and the user told when contact is lost and back;
 * - Ctrl-C: stops the waiting, never the thing followed; the bar is left as
 *   it is and a CliError (exit 1) says how to follow or act on it again.
 *
 * What is specific (what to read, what "ended" means, how to print the
 * outcome) is the follower's own: task-follower.ts, policy-run-follower.ts.
 */

export interface FollowOptions {
  /** Polling interval without the event stream. */
  pollIntervalMs?: number;
  /** With the event stream, still re-read this often (events are not stored; one may be missed). */
  refreshIntervalMs?: number;
  /** How long the server may be unreachable (restarting) before giving up. */
  offlineToleranceMs?: number;
  /** Progress on a terminal; defaults to stderr.isTTY. */
  tty?: boolean;
  now?: () => number;
}

export type FollowContext = Pick<CliContext, 'stdout' | 'stderr' | 'env' | 'onShutdownSignal'>;

/** How a follower names what it follows, in the notes and errors of the core. */
export interface FollowWords {
  /** "task 7 (NODE_CHECK node:n1)": "The server answers again; still waiting for …". */
  name(): string;
  /** In "gave up waiting for …" (default: name()). */
  shortName?(): string;
  /** The command that follows it again: "vplus task wait 7". */
  resume(): string;
  /** What Ctrl-C throws (exit 1): it goes on, and how to act on it. */
  stopped(): string;
}

/** One turn of the follow loop, as the follower defines it. */
export interface FollowSteps {
  /** Whether what is followed has ended (the loop is over). */
  ended(): boolean;
  /** Reads the server (through Follower.call). */
  read(): Promise<void>;
  /** Takes in an event the follower listens for; true asks for a read at once. */
  take(event: ServerEvent): boolean | void;
}

/** Where the events come from: a stream opened already, one being opened, or none (poll). */
export type EventSource = EventStream | Promise<EventStream> | null;

/** Whether an error is worth retrying: the server is away or failing, not refusing. */
export function isTransient(err: unknown): boolean {
  return err instanceof ApiConnectionError || (err instanceof ApiRequestError && err.status >= 500);
}

/**
 * Runs `body` with a Follower and always lets go of what it holds (the
 * Ctrl-C handler, the event stream), however the body ends.
 */
export async function follow<T>(
  ctx: FollowContext,
  view: BarView,
  words: FollowWords,
  options: FollowOptions,
  body: (follower: Follower) => Promise<T>,
): Promise<T> {
  const follower = new Follower(ctx, view, words, options);
  try {
    return await body(follower);
  } finally {
    follower.close();
  }
}

/** What the Ctrl-C promise resolves to: nothing the server can answer. */
const STOP: unique symbol = Symbol('stop');

export class Follower {
  readonly now: () => number;
  private readonly pollMs: number;
  private readonly refreshMs: number;
  private readonly toleranceMs: number;
  private readonly waker = new Waker();
  private readonly stopSignal: Promise<typeof STOP>;
  private readonly unsubscribe: () => void;
  private readonly queue: ServerEvent[] = [];
  private live: EventStream | null = null;
  private offlineSince: number | null = null;
  private stopped = false;

  constructor(
    private readonly ctx: FollowContext,
    private readonly view: BarView,
    private readonly words: FollowWords,
    options: FollowOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.pollMs = options.pollIntervalMs ?? 1_000;
    this.refreshMs = options.refreshIntervalMs ?? 10_000;
    this.toleranceMs = options.offlineToleranceMs ?? 60_000;
    let onStop: () => void = () => undefined;
    this.stopSignal = new Promise<typeof STOP>((resolve) => (onStop = () => resolve(STOP)));
    this.unsubscribe = ctx.onShutdownSignal(() => {
      this.stopped = true;
      onStop();
      this.waker.wake();
    });
  }

  /** A line on stderr under VPLUS_DEBUG. */
  debug(text: string): void {
    if (this.ctx.env.VPLUS_DEBUG) this.ctx.stderr.write(`debug: ${text}\n`);
  }

  /**
   * Listens to the events `wants` picks, from a stream opened already or
   * being opened (Ctrl-C is heard while it opens); without one, or once it
   * closes, the loop polls.
   */
  async listen(events: EventSource, wants: (event: ServerEvent) => boolean): Promise<void> {
    if (events === null) {
      this.debug(`no event stream; polling every ${this.pollMs} ms`);
      return;
    }
    let stream: EventStream;
    try {
      stream = await this.unlessStopped(Promise.resolve(events));
    } catch (err) {
      if (this.stopped) {
        // Still connecting: close the stream should it open after all.
        void Promise.resolve(events).then(
          (s) => s.close(),
          () => undefined, // it never opened: nothing to close, and Ctrl-C is what the user is told
        );
        throw err;
      }
      this.debug(`no event stream (${errorMessage(err)}); polling every ${this.pollMs} ms`);
      return;
    }
    this.live = stream;
    stream.onEvent((event) => {
      if (!wants(event)) return;
      this.queue.push(event);
      this.waker.wake();
    });
    stream.onClose((reason) => {
      this.debug(`the event stream closed (${reason}); polling every ${this.pollMs} ms`);
      if (this.live === stream) this.live = null;
      this.waker.wake();
    });
  }

  /**
   * The loop: take in the events that came, stop when ended, read when a read
   * is due (every poll interval, or refresh interval while the stream is
   * live, or at once when an event asked), else wait for the next event or
   * read. The first read comes before any event is taken in: subscribed
   * first, read second, so nothing that happens in between is lost and no
   * event older than the read is shown first.
   */
  async run(steps: FollowSteps): Promise<void> {
    let lastRead = Number.NEGATIVE_INFINITY;
    let readSoon = false;
    for (;;) {
      if (lastRead > Number.NEGATIVE_INFINITY) {
        for (const event of this.queue.splice(0)) if (steps.take(event) === true) readSoon = true;
      }
      if (steps.ended()) return;
      if (readSoon || this.now() - lastRead >= this.interval()) {
        readSoon = false;
        await steps.read();
        lastRead = this.now();
        continue;
      }
      await this.waker.wait(Math.max(0, this.interval() - (this.now() - lastRead)));
      if (this.stopped) this.stop();
    }
  }

  /**
   * Calls the server. A server that is away (no connection, 5xx) is retried
   * every poll interval, saying so, until the offline tolerance runs out;
   * any other error is thrown at once. Ctrl-C ends the call.
   */
  async call<T>(fn: () => Promise<T>): Promise<T> {
    for (;;) {
      try {
        const result = await this.unlessStopped(fn());
        if (this.offlineSince !== null) this.view.note(`The server answers again; still waiting for ${this.words.name()}.`);
        this.offlineSince = null;
        return result;
      } catch (err) {
        if (this.stopped) this.stop();
        if (!isTransient(err)) throw err;
        if (this.offlineSince === null) {
          this.offlineSince = this.now();
          this.view.note(`Lost contact with the server (${errorMessage(err)}); retrying…`);
        } else if (this.now() - this.offlineSince >= this.toleranceMs) {
          const what = this.words.shortName?.() ?? this.words.name();
          throw new CliError(
            `${errorMessage(err)}; gave up waiting for ${what} after ${formatDuration(this.toleranceMs / 1000)}, run ${this.words.resume()} to follow it again`,
          );
        }
        await this.waker.wait(this.pollMs);
        if (this.stopped) this.stop();
      }
    }
  }

  /**
   * A last read after the end, for details only: on failure (other than
   * Ctrl-C) the follower goes on with what it has, saying why under VPLUS_DEBUG.
   */
  async tryCall<T>(fn: () => Promise<T>, what: string): Promise<T | undefined> {
    try {
      return await this.call(fn);
    } catch (err) {
      if (err instanceof CliError && this.stopped) throw err;
      this.debug(`could not re-read ${what} (${errorMessage(err)})`);
      return undefined;
    }
  }

  close(): void {
    this.unsubscribe();
    this.live?.close();
  }

  private interval(): number {
    return this.live ? this.refreshMs : this.pollMs;
  }

  /** Ctrl-C: the bar stays as it was, and the user is told what goes on. */
  private stop(): never {
    this.view.abandon();
    throw new CliError(this.words.stopped(), 1);
  }

  /** Resolves p, unless Ctrl-C comes first. */
  private async unlessStopped<T>(p: Promise<T>): Promise<T> {
    if (this.stopped) this.stop();
    const result = await Promise.race([p, this.stopSignal]);
    if (result === STOP) this.stop();
    return result;
  }
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
