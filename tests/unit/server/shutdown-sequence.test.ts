import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { ShutdownSequence } from '../../../electron/server/lifecycle/shutdown-sequence.js';

/** A logger that keeps what it is told, to assert the reasons the stop gives. */
function recordingLogger(): { logger: pino.Logger; messages: string[] } {
  const messages: string[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => messages.push((JSON.parse(line) as { msg: string }).msg) });
  return { logger, messages };
}

const never = (): Promise<void> => new Promise<void>(() => undefined);

describe('the shutdown sequence', () => {
  it('runs the begin hooks first, then the steps in order, once however often it is asked', async () => {
    const { logger } = recordingLogger();
    const seq = new ShutdownSequence({ logger, totalMs: 5_000 });
    const order: string[] = [];
    seq.onBegin(() => order.push('begin'));
    seq.add({ name: 'a', deadlineMs: 1_000, run: async () => void order.push('a') });
    seq.add({ name: 'b', deadlineMs: 1_000, run: async () => void order.push('b') });
    expect(seq.started).toBe(false);
    await Promise.all([seq.run(), seq.run()]);
    expect(order).toEqual(['begin', 'a', 'b']);
    expect(seq.started).toBe(true);
  });

  it('goes on after a step that fails or is late, killing what the late one left', async () => {
    const { logger, messages } = recordingLogger();
    const seq = new ShutdownSequence({ logger, totalMs: 5_000 });
    const order: string[] = [];
    seq.add({ name: 'fails', deadlineMs: 1_000, run: () => Promise.reject(new Error('boom')) });
    seq.add({ name: 'hangs', deadlineMs: 50, run: never, kill: () => (order.push('kill hangs'), [4242]) });
    seq.add({ name: 'last', deadlineMs: 1_000, run: async () => void order.push('last') });
    await seq.run();
    expect(order).toEqual(['kill hangs', 'last']);
    expect(messages).toContain('stopping: fails failed; going on');
    expect(messages).toContain('stopping: hangs did not finish within 0.1s; killed what was left; going on');
    expect(messages.at(-1)).toBe('stopped');
  });

  it('past the whole deadline kills what is left, in order, and says why', async () => {
    const { logger, messages } = recordingLogger();
    const seq = new ShutdownSequence({ logger, totalMs: 100 });
    const killed: string[] = [];
    seq.add({ name: 'quick', deadlineMs: 1_000, run: async () => undefined, kill: () => (killed.push('quick'), []) });
    seq.add({ name: 'nodes', deadlineMs: 10_000, run: never, kill: () => (killed.push('nodes'), [1, 2]) });
    seq.add({ name: 'catalog', deadlineMs: 10_000, run: never });
    seq.add({ name: 'mariadbd', deadlineMs: 10_000, run: never, kill: () => (killed.push('mariadbd'), [3]) });
    const started = Date.now();
    await seq.run();
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(killed).toEqual(['nodes', 'mariadbd']);
    expect(messages).toContain('the stop did not finish within 0.1s (still at: nodes); killed what was left, in order');
    expect(messages).not.toContain('stopped');
  });
});
