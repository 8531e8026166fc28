import { describe, expect, it } from 'vitest';
import { ApiConnectionError, ApiRequestError } from '../../../cli/client/api-client.js';
import type { EventStream } from '../../../cli/client/event-stream.js';
import { CliError } from '../../../cli/errors.js';
import {
  TaskLogTracker,
  describeTask,
  followTask,
  formatLogLine,
  isNotOlder,
  reportTaskOutcome,
  taskOutcome,
  type TaskSource,
} from '../../../cli/task-follower.js';
import type { Task, TaskDetails, TaskLogLine } from '../../../common/api/index.js';
import { FakeEventStream, sampleLog, sampleTask } from './helpers.js';

const MiB = 1024 * 1024;

/**
 * The server side of following: reads answer from `reads` in turn (the last
 * one repeats), each either a task or an error to throw. `onRead` runs after
 * each read is answered, to emit events at that point.
 */
class FakeSource implements TaskSource {
  readonly stream = new FakeEventStream();
  reads = 0;
  constructor(
    private readonly answers: (TaskDetails | Error)[],
    private readonly options: { events?: boolean | Error; onRead?: (n: number, stream: FakeEventStream) => void } = {},
  ) {}

  async getTask(): Promise<TaskDetails> {
    const n = this.reads++;
    const answer = this.answers[Math.min(n, this.answers.length - 1)]!;
    setTimeout(() => this.options.onRead?.(n, this.stream), 1);
    if (answer instanceof Error) throw answer;
    return answer;
  }

  async openEvents(): Promise<EventStream> {
    const events = this.options.events ?? true;
    if (events instanceof Error) throw events;
    if (!events) throw new Error('the server answered the WebSocket upgrade with HTTP 404');
    return this.stream;
  }
}

interface Captured {
  stdout: string;
  stderr: string;
  /** Both, in the order written, stdout lines marked "1>", stderr writes "2>". */
  both: string[];
  signal(): void;
  ctx: Parameters<typeof followTask>[0];
}

function capture(options: { tty?: boolean } = {}): Captured {
  const handlers: (() => void)[] = [];
  const c: Captured = {
    stdout: '',
    stderr: '',
    both: [],
    signal: () => handlers.forEach((h) => h()),
    ctx: {
      stdout: { write: (s: string) => ((c.stdout += s), c.both.push(`1>${s}`)), isTTY: options.tty ?? false },
      stderr: { write: (s: string) => ((c.stderr += s), c.both.push(`2>${s}`)), isTTY: options.tty ?? false, columns: 100 },
      env: {},
      onShutdownSignal(handler) {
        handlers.push(() => handler('SIGINT'));
        return () => void handlers.splice(0);
      },
    },
  };
  return c;
}

const details = (task: Partial<Task>, log: TaskLogLine[] = []): TaskDetails => ({ ...sampleTask(task), log });
const fast = { pollIntervalMs: 5, refreshIntervalMs: 60_000, offlineToleranceMs: 200 };

describe('taskOutcome: how an ended task maps to the exit code', () => {
  const ended = { startedAt: '2025-01-31T10:00:00.000Z', finishedAt: '2025-01-31T10:00:03.200Z' };

  it('FINISHED exits 0 with a sentence for stdout', () => {
    expect(taskOutcome(sampleTask({ state: 'FINISHED', ...ended }))).toEqual({
      exitCode: 0,
      message: 'Task 7 (NODE_CHECK node:n1) finished in 4s.',
      warnings: [],
    });
  });

  it('FINISHED_WITH_WARNINGS exits 0 and carries the warnings', () => {
    const outcome = taskOutcome(sampleTask({ state: 'FINISHED_WITH_WARNINGS', warnings: ['staging writes only 12.0 MiB/s'], ...ended }));
    expect(outcome.exitCode).toBe(0);
    expect(outcome.message).toBe('Task 7 (NODE_CHECK node:n1) finished in 4s with 1 warning.');
    expect(outcome.warnings).toEqual(['staging writes only 12.0 MiB/s']);
  });

  it("FAILED exits 1 with the task's error as the reason", () => {
    const outcome = taskOutcome(sampleTask({ state: 'FAILED', error: 'node lost: no heartbeat for 30s.' }));
    expect(outcome).toMatchObject({ exitCode: 1, message: 'task 7 (NODE_CHECK node:n1) failed: node lost: no heartbeat for 30s' });
    expect(taskOutcome(sampleTask({ state: 'FAILED' })).message).toBe('task 7 (NODE_CHECK node:n1) failed: the server gave no reason');
  });

  it('CANCELLED exits 1 saying who cancelled it', () => {
    expect(taskOutcome(sampleTask({ state: 'CANCELLED', error: 'cancelled by admin' })).message).toBe('task 7 (NODE_CHECK node:n1) was cancelled by admin');
    expect(taskOutcome(sampleTask({ state: 'CANCELLED', error: 'the workflow failed' })).message).toBe(
      'task 7 (NODE_CHECK node:n1) was cancelled: the workflow failed',
    );
    expect(taskOutcome(sampleTask({ state: 'CANCELLED', error: null })).exitCode).toBe(1);
  });

  it('refuses a task that has not ended', () => {
    expect(() => taskOutcome(sampleTask({ state: 'RUNNING' }))).toThrow(/has not ended/);
  });

  it('reportTaskOutcome prints warnings to stderr and the result to stdout, and throws exit 1 for a failure', () => {
    const c = capture();
    reportTaskOutcome(c.ctx, sampleTask({ state: 'FINISHED_WITH_WARNINGS', warnings: ['slow', 'small'] }));
    expect(c.stderr).toBe('warning: slow\nwarning: small\n');
    expect(c.stdout).toBe('Task 7 (NODE_CHECK node:n1) finished with 2 warnings.\n');
    const failed = (): void => reportTaskOutcome(c.ctx, sampleTask({ state: 'FAILED', error: 'disk full' }));
    expect(failed).toThrow(CliError);
    expect(failed).toThrow('task 7 (NODE_CHECK node:n1) failed: disk full');
  });

  it('names tasks without a subject by id and type', () => {
    expect(describeTask(sampleTask({ subject: null, type: 'GC' }))).toBe('task 7 (GC)');
    expect(describeTask({ id: 3 })).toBe('task 3');
  });
});

describe('TaskLogTracker: each log line printed once', () => {
  it('skips the live copy of a line already read, and the stored copy of a line already shown live', () => {
    const t = new TaskLogTracker();
    expect(t.fromRead([sampleLog(1, 'a'), sampleLog(2, 'b')]).map((l) => l.message)).toEqual(['a', 'b']);
    expect(t.fresh({ id: 2 })).toBe(false); // the live copy of line 2
    expect(t.fresh({ id: 3 })).toBe(true);
    expect(t.fresh({ id: 4 })).toBe(true); // the same text again is another line
    const next = t.fromRead([sampleLog(1, 'a'), sampleLog(2, 'b'), sampleLog(3, 'c'), sampleLog(4, 'c'), sampleLog(5, 'cancel requested by admin', 'warn')]);
    expect(next.map((l) => l.id)).toEqual([5]);
  });

  it('formats a line with its time and level', () => {
    const line = formatLogLine({ at: '2025-01-31T10:00:05.000Z', level: 'warn', message: 'slow disk' });
    expect(line).toMatch(/^\d\d:\d\d:05 WARN {2}slow disk$/);
  });
});

describe('followTask', () => {
  it('follows live events: log lines as they come, once each, then the final read', async () => {
    const running = details({ state: 'RUNNING', startedAt: '2025-01-31T10:00:00.000Z' }, [sampleLog(1, 'staging has 120 GiB free')]);
    const finished = details({ state: 'FINISHED', startedAt: '2025-01-31T10:00:00.000Z', finishedAt: '2025-01-31T10:00:04.000Z', progress: { ...running.progress, bytesDone: 64 * MiB, bytesTotal: 64 * MiB, percent: 100 } }, [
      sampleLog(1, 'staging has 120 GiB free'),
      sampleLog(2, 'wrote 64 MiB'),
      sampleLog(3, 'check done', 'warn'),
    ]);
    const source = new FakeSource([running, finished], {
      onRead: (n, stream) => {
        if (n !== 0) return;
        stream.emit({ type: 'task.log', taskId: 7, line: { id: 1, at: running.log[0]!.at, level: 'info', message: 'staging has 120 GiB free' } });
        stream.emit({ type: 'task.log', taskId: 8, line: { id: 9, at: running.log[0]!.at, level: 'info', message: 'another task' } });
        stream.emit({ type: 'task', task: { ...sampleTask({ state: 'RUNNING' }), progress: { ...running.progress, bytesDone: 32 * MiB, bytesTotal: 64 * MiB, percent: 50, rate: 100 * MiB, message: 'measuring staging write speed' } } });
        stream.emit({ type: 'task.log', taskId: 7, line: { id: 2, at: '2025-01-31T10:00:02.000Z', level: 'info', message: 'wrote 64 MiB' } });
        stream.emit({ type: 'task', task: sampleTask({ state: 'FINISHED' }) });
      },
    });
    const c = capture();
    const task = await followTask(c.ctx, source, 7, fast);
    expect(task.state).toBe('FINISHED');
    const logLines = c.stdout.trimEnd().split('\n');
    expect(logLines.map((l) => l.replace(/^\S+ /, ''))).toEqual(['INFO  staging has 120 GiB free', 'INFO  wrote 64 MiB', 'WARN  check done']);
    expect(c.stderr).toContain('Task 7 (NODE_CHECK node:n1) is running on node n1.');
    expect(c.stderr).toContain('measuring staging write speed…');
    expect(c.stderr).toContain('task 7: 50%, 32.0 MiB of 64.0 MiB, 100 MiB/s, ETA 1s');
    // The end: the average rate over the task, from its start and finish times.
    expect(c.stderr.trimEnd().split('\n').at(-1)).toBe('task 7: 100%, 64.0 MiB of 64.0 MiB, 16.0 MiB/s, ETA 0s');
    expect(c.stdout + c.stderr).not.toContain('another task');
    expect(source.reads).toBe(2); // the first read, and the final one after the FINISHED event
    expect(source.stream.closed).toBe(true);
  });

  it('polls every interval when the event stream cannot be opened', async () => {
    const source = new FakeSource(
      [
        details({ state: 'QUEUED' }),
        details({ state: 'RUNNING' }, [sampleLog(1, 'started')]),
        details({ state: 'FINISHED_WITH_WARNINGS', warnings: ['slow'] }, [sampleLog(1, 'started'), sampleLog(2, 'done')]),
      ],
      { events: false },
    );
    const c = capture();
    const task = await followTask(c.ctx, source, 7, fast);
    expect(task.state).toBe('FINISHED_WITH_WARNINGS');
    expect(source.reads).toBe(3);
    expect(c.stdout.match(/started/g)).toHaveLength(1);
    expect(c.stdout).toContain('done');
    expect(c.stderr).toContain('Task 7 (NODE_CHECK node:n1) is queued.');
    expect(c.stderr).toContain('is running on node n1.');
  });

  it('falls back to polling when the event stream drops', async () => {
    const source = new FakeSource(
      [details({ state: 'RUNNING' }), details({ state: 'RUNNING' }), details({ state: 'FAILED', error: 'disk full' }, [sampleLog(1, 'writing')])],
      { onRead: (n, stream) => n === 0 && stream.drop() },
    );
    const c = capture();
    // Were it still relying on the (dropped) stream, it would wait a minute for the next read.
    const task = await followTask(c.ctx, source, 7, { ...fast, refreshIntervalMs: 60_000 });
    expect(task.state).toBe('FAILED');
    expect(source.reads).toBe(3);
    expect(c.stdout).toContain('writing');
  });

  it('rides out a server that is briefly unreachable, and gives up after the tolerance', async () => {
    const refused = new ApiConnectionError('cannot reach the server at https://h:8181: connection refused; is it running?');
    const recovering = new FakeSource([details({ state: 'RUNNING' }), refused, refused, details({ state: 'FINISHED' })], { events: false });
    const c = capture();
    expect((await followTask(c.ctx, recovering, 7, fast)).state).toBe('FINISHED');
    expect(c.stderr).toContain('Lost contact with the server (cannot reach the server at https://h:8181: connection refused; is it running?); retrying…');
    expect(c.stderr).toContain('The server answers again');

    const gone = new FakeSource([details({ state: 'RUNNING' }), refused], { events: false });
    await expect(followTask(capture().ctx, gone, 7, { ...fast, offlineToleranceMs: 30 })).rejects.toThrow(
      /connection refused; is it running\?; gave up waiting for task 7 after 1s, run vplus task wait 7 to follow it again/,
    );
  });

  it('does not retry an answer that will not change (404, 401)', async () => {
    const missing = new FakeSource([new ApiRequestError('there is no task 7', 404, 'NOT_FOUND')], { events: false });
    await expect(followTask(capture().ctx, missing, 7, fast)).rejects.toThrow('there is no task 7');
    expect(missing.reads).toBe(1);
  });

  it('Ctrl-C stops the waiting, not the task, and says how to cancel it', async () => {
    const source = new FakeSource([details({ state: 'RUNNING' })]);
    const c = capture();
    const following = followTask(c.ctx, source, 7, fast);
    setTimeout(() => c.signal(), 20);
    const err = await following.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(CliError);
    expect((err as CliError).exitCode).toBe(1);
    expect((err as CliError).message).toBe(
      'stopped waiting for task 7 (NODE_CHECK node:n1), which goes on; to cancel it, run vplus task cancel 7',
    );
    expect(source.stream.closed).toBe(true);
  });

  it('ignores events older than what it showed, and reads the task at once after a retry to show why', async () => {
    const run = (attempt: number, bytesDone: number): Task => ({ ...sampleTask({ state: 'RUNNING', attempt }), progress: { ...sampleTask().progress, bytesDone } });
    const retrying = sampleTask({ state: 'QUEUED', attempt: 1, error: 'disk busy' });
    const retryLine = sampleLog(2, 'attempt 1 of 2 failed: disk busy; retrying in 2s', 'warn');
    const source = new FakeSource(
      [
        { ...run(1, 50), log: [sampleLog(1, 'started')] },
        { ...retrying, log: [sampleLog(1, 'started'), retryLine] },
        { ...run(2, 0), log: [sampleLog(1, 'started'), retryLine] },
        { ...sampleTask({ state: 'FINISHED', attempt: 2 }), log: [sampleLog(1, 'started'), retryLine, sampleLog(3, 'done')] },
      ],
      {
        onRead: (n, stream) => {
          if (n === 0) {
            stream.emit({ type: 'task', task: sampleTask({ state: 'QUEUED' }) }); // from before the first read: stale
            stream.emit({ type: 'task', task: run(1, 10) }); // stale too: fewer bytes
            stream.emit({ type: 'task', task: retrying });
          }
          if (n === 1) stream.emit({ type: 'task', task: run(2, 0) });
          if (n === 2) stream.emit({ type: 'task', task: sampleTask({ state: 'FINISHED', attempt: 2 }) });
        },
      },
    );
    const c = capture();
    // A minute between routine reads: every read here is one the turns asked for.
    const task = await followTask(c.ctx, source, 7, { ...fast, refreshIntervalMs: 60_000 });
    expect(task.state).toBe('FINISHED');
    expect(c.stderr.trimEnd().split('\n')).toEqual([
      'Task 7 (NODE_CHECK node:n1) is running on node n1.',
      'task 7: 50 B, rate unknown',
      'Task 7 (NODE_CHECK node:n1): attempt 1 of 2 failed (disk busy); it is queued to try again.',
      'Task 7 (NODE_CHECK node:n1) is running on node n1 (attempt 2 of 2).',
    ]);
    expect(c.stdout.trimEnd().split('\n').map((l) => l.replace(/^\S+ /, ''))).toEqual([
      'INFO  started',
      'WARN  attempt 1 of 2 failed: disk busy; retrying in 2s',
      'INFO  done',
    ]);
  });

  it('orders the states of a task along its life', () => {
    const at = (state: Task['state'], attempt: number, bytesDone = 0): Task => ({ ...sampleTask({ state, attempt }), progress: { ...sampleTask().progress, bytesDone } });
    const life = [at('QUEUED', 0), at('RUNNING', 1), at('RUNNING', 1, 100), at('QUEUED', 1), at('RUNNING', 2), at('FAILED', 2)];
    for (let i = 1; i < life.length; i++) {
      expect(isNotOlder(life[i]!, life[i - 1]!)).toBe(true);
      expect(isNotOlder(life[i - 1]!, life[i]!)).toBe(false);
    }
    expect(isNotOlder({ ...at('RUNNING', 1, 100), cancelRequested: true }, at('RUNNING', 1, 100))).toBe(true);
  });

  it('on a terminal, draws a bar in place and prints log lines above it', async () => {
    let now = 0;
    const progress = (done: number): Task => ({
      ...sampleTask({ state: 'RUNNING' }),
      progress: { bytesDone: done, bytesTotal: 100 * MiB, percent: done / MiB, rate: 10 * MiB, etaSeconds: null, message: null },
    });
    const source = new FakeSource([details({ state: 'RUNNING' }), details({ state: 'FINISHED', progress: progress(100 * MiB).progress }, [sampleLog(1, 'halfway')])], {
      onRead: (n, stream) => {
        if (n !== 0) return;
        stream.emit({ type: 'task', task: progress(10 * MiB) });
        now = 1000;
        stream.emit({ type: 'task.log', taskId: 7, line: { id: 1, at: '2025-01-31T10:00:01.000Z', level: 'info', message: 'halfway' } });
        stream.emit({ type: 'task', task: progress(50 * MiB) });
        stream.emit({ type: 'task', task: { ...progress(100 * MiB), state: 'FINISHED' } });
      },
    });
    const c = capture({ tty: true });
    await followTask(c.ctx, source, 7, { ...fast, now: () => now });
    // The bar is redrawn with \r; a log line first erases it, goes to stdout, and the bar comes back.
    const logAt = c.both.findIndex((w) => w.startsWith('1>') && w.includes('halfway'));
    expect(c.both[logAt - 1]).toBe('2>\r\x1b[K');
    const redrawn = c.both[logAt + 1]!;
    expect(redrawn.startsWith('2>\r') && redrawn.endsWith('\x1b[K')).toBe(true);
    expect(redrawn.slice(3, -3)).toMatch(/^task 7 +10% \[#*-+\] {2}10\.0 MiB \/ 100 MiB {2}10\.0 MiB\/s {2}ETA 9s$/);
    expect(c.stderr).toMatch(/\rtask 7 +100% \[#+\] {2}100 MiB \/ 100 MiB .*\n/);
    expect(c.stdout.match(/halfway/g)).toHaveLength(1);
  });
});
