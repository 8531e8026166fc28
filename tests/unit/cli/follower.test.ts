import { describe, expect, it } from 'vitest';
import { ApiConnectionError, ApiRequestError } from '../../../cli/client/api-client.js';
import type { EventStream } from '../../../cli/client/event-stream.js';
import { CliError } from '../../../cli/errors.js';
import { follow, isTransient, type FollowContext, type FollowWords } from '../../../cli/follower.js';
import { BarView } from '../../../cli/progress.js';
import type { ServerEvent } from '../../../common/api/index.js';
import { FakeEventStream, sampleTask } from './helpers.js';

/**
 * The follower core on its own: what the task and policy-run followers share
 * (stream or poll, offline tolerance, Ctrl-C), driven by a made-up "thing"
 * that ends when a read or an event says so.
 */

interface Captured {
  stderr: string;
  signal(): void;
  subscribed(): number;
  ctx: FollowContext;
}

function capture(env: Record<string, string> = {}): Captured {
  const handlers: (() => void)[] = [];
  const c: Captured = {
    stderr: '',
    signal: () => handlers.slice().forEach((h) => h()),
    subscribed: () => handlers.length,
    ctx: {
      stdout: { write: () => true },
      stderr: { write: (s: string) => ((c.stderr += s), true), isTTY: false },
      env,
      onShutdownSignal(handler: (signal: NodeJS.Signals) => void) {
        const h = (): void => handler('SIGINT');
        handlers.push(h);
        return () => void handlers.splice(handlers.indexOf(h), 1);
      },
    },
  };
  return c;
}

const words: FollowWords = {
  name: () => 'thing 5 (the long one)',
  shortName: () => 'thing 5',
  resume: () => 'vplus thing wait 5',
  stopped: () => 'stopped waiting for thing 5, which goes on',
};
const fast = { pollIntervalMs: 5, refreshIntervalMs: 60_000, offlineToleranceMs: 200 };
const taskEvent = (state: 'RUNNING' | 'FINISHED'): ServerEvent => ({ type: 'task', task: sampleTask({ state }) });
const view = (c: Captured): BarView => new BarView(c.ctx, false, Date.now);
const never = (): Promise<never> => new Promise<never>(() => undefined);

describe('the follower core', () => {
  it('reads first, then takes in the events that came meanwhile; a live stream means no polling', async () => {
    const c = capture();
    const stream = new FakeEventStream();
    stream.emit(taskEvent('RUNNING')); // before the first read
    const seen: string[] = [];
    let ended = false;
    await follow(c.ctx, view(c), words, fast, async (f) => {
      await f.listen(stream, (e) => e.type === 'task');
      await f.run({
        ended: () => ended,
        read: async () => {
          seen.push('read');
          setTimeout(() => stream.emit(taskEvent('FINISHED')), 5);
        },
        take: (e) => {
          if (e.type !== 'task') return;
          seen.push(e.task.state);
          ended = e.task.state === 'FINISHED';
        },
      });
    });
    // One read: with the stream live the next would be a minute away.
    expect(seen).toEqual(['read', 'RUNNING', 'FINISHED']);
    expect(stream.closed).toBe(true);
    expect(c.subscribed()).toBe(0);
  });

  it('an event can ask for a read at once', async () => {
    const c = capture();
    const stream = new FakeEventStream();
    let reads = 0;
    await follow(c.ctx, view(c), words, fast, async (f) => {
      await f.listen(stream, () => true);
      await f.run({
        ended: () => reads === 2,
        read: async () => {
          reads++;
          if (reads === 1) setTimeout(() => stream.emit(taskEvent('RUNNING')), 5);
        },
        take: () => true,
      });
    });
    expect(reads).toBe(2);
  });

  it('polls when the stream cannot be opened or drops, saying so under VPLUS_DEBUG', async () => {
    const c = capture({ VPLUS_DEBUG: '1' });
    let reads = 0;
    await follow(c.ctx, view(c), words, fast, async (f) => {
      await f.listen(Promise.reject(new Error('HTTP 404')), () => true);
      await f.run({ ended: () => reads === 3, read: async () => void reads++, take: () => undefined });
    });
    expect(c.stderr).toBe('debug: no event stream (HTTP 404); polling every 5 ms\n');

    const d = capture({ VPLUS_DEBUG: '1' });
    const stream = new FakeEventStream();
    reads = 0;
    await follow(d.ctx, view(d), words, fast, async (f) => {
      await f.listen(stream, () => true);
      await f.run({
        ended: () => reads === 3,
        read: async () => {
          if (++reads === 1) setTimeout(() => stream.drop(), 5);
        },
        take: () => undefined,
      });
    });
    expect(d.stderr).toBe('debug: the event stream closed (connection reset); polling every 5 ms\n');
    expect(stream.closed).toBe(false); // it closed itself; nothing to close
  });

  it('rides out a server that is away, and gives up after the tolerance naming how to follow again', async () => {
    const c = capture();
    const answers: (Error | string)[] = [new ApiConnectionError('connection refused'), new ApiRequestError('bad gateway', 502, 'BAD_GATEWAY'), 'ok'];
    const got = await follow(c.ctx, view(c), words, fast, (f) =>
      f.call(async () => {
        const a = answers.shift()!;
        if (a instanceof Error) throw a;
        return a;
      }),
    );
    expect(got).toBe('ok');
    expect(c.stderr).toBe('Lost contact with the server (connection refused); retrying…\nThe server answers again; still waiting for thing 5 (the long one).\n');

    const gone = capture();
    await expect(
      follow(gone.ctx, view(gone), words, { ...fast, offlineToleranceMs: 20 }, (f) => f.call(() => Promise.reject(new ApiConnectionError('connection refused')))),
    ).rejects.toThrow(new CliError('connection refused; gave up waiting for thing 5 after 1s, run vplus thing wait 5 to follow it again'));
  });

  it('does not retry an answer that will not change', async () => {
    expect(isTransient(new ApiRequestError('there is no task 7', 404, 'NOT_FOUND'))).toBe(false);
    expect(isTransient(new ApiRequestError('session expired', 401, 'UNAUTHORIZED'))).toBe(false);
    expect(isTransient(new ApiRequestError('unavailable', 503, 'UNAVAILABLE'))).toBe(true);
    const c = capture();
    let calls = 0;
    await expect(
      follow(c.ctx, view(c), words, fast, (f) => f.call(() => (calls++, Promise.reject(new ApiRequestError('there is no task 7', 404, 'NOT_FOUND'))))),
    ).rejects.toThrow('there is no task 7');
    expect(calls).toBe(1);
  });

  it('Ctrl-C ends a read that does not answer, at once, and lets go of the stream and the signal', async () => {
    const c = capture();
    const stream = new FakeEventStream();
    setTimeout(() => c.signal(), 10);
    const err = await follow(c.ctx, view(c), words, fast, async (f) => {
      await f.listen(stream, () => true);
      await f.run({ ended: () => false, read: () => f.call(never), take: () => undefined });
    }).catch((e: unknown) => e);
    expect(err).toEqual(new CliError('stopped waiting for thing 5, which goes on', 1));
    expect(stream.closed).toBe(true);
    expect(c.subscribed()).toBe(0);
  });

  it('Ctrl-C while the stream is still opening: the stream is closed once it opens', async () => {
    const c = capture();
    const stream = new FakeEventStream();
    let open: (s: EventStream) => void = () => undefined;
    const opening = new Promise<EventStream>((resolve) => (open = resolve));
    setTimeout(() => c.signal(), 5);
    await expect(follow(c.ctx, view(c), words, fast, (f) => f.listen(opening, () => true))).rejects.toThrow('stopped waiting for thing 5');
    open(stream);
    await new Promise((r) => setTimeout(r, 5));
    expect(stream.closed).toBe(true);
  });

  it('a last re-read that fails is left out (said under VPLUS_DEBUG), but Ctrl-C still stops', async () => {
    const c = capture({ VPLUS_DEBUG: '1' });
    const got = await follow(c.ctx, view(c), words, fast, (f) => f.tryCall(() => Promise.reject(new Error('socket hang up')), 'thing 5'));
    expect(got).toBeUndefined();
    expect(c.stderr).toBe('debug: could not re-read thing 5 (socket hang up)\n');

    const d = capture();
    setTimeout(() => d.signal(), 5);
    await expect(follow(d.ctx, view(d), words, fast, (f) => f.tryCall(never, 'thing 5'))).rejects.toThrow('stopped waiting for thing 5');
  });
});
