import { open } from 'node:fs/promises';
import * as path from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { VerifyResultSchema } from '../../../common/api/destinations.js';
import { NodeToServerSchema, type NodeToServer } from '../../../common/node-protocol.js';
import { destinationHandlers } from '../../../node-service/agent/handlers/destination.handlers.js';
import { defaultHandlers } from '../../../node-service/agent/node-service.js';
import { TaskError, type TaskHandler } from '../../../node-service/agent/task-handler.js';
import { TaskRunner } from '../../../node-service/agent/task-runner.js';
import { chunkRelPath } from '../../../node-service/repository/format.js';
import { Repository } from '../../../node-service/repository/index.js';
import { TEST_KDF, TempDirs } from '../../unit/repository/helpers.js';
import { CHUNK, handlerDeps, writeBackup } from './helpers.js';

const dirs = new TempDirs();
afterEach(() => dirs.cleanup());

type Finished = Extract<NodeToServer, { type: 'task.finished' }>;

/** A TaskRunner whose messages are collected; resolves each task's outcome. */
function runner(handlers: TaskHandler[]) {
  const sent: NodeToServer[] = [];
  const waiters = new Map<number, (m: Finished) => void>();
  const r = new TaskRunner({
    stagingDir: '/tmp',
    handlers,
    logger: pino({ level: 'silent' }),
    progressIntervalMs: 0,
    send: (m) => {
      sent.push(NodeToServerSchema.parse(m)); // what the server would accept
      if (m.type === 'task.finished') waiters.get(m.taskId)?.(m);
    },
  });
  const outcome = (id: number, type: string, params: Record<string, unknown>) =>
    new Promise<Finished>((resolve) => {
      waiters.set(id, resolve);
      r.start({ id, type: type as 'VERIFY', params, attempt: 1 });
    });
  return { sent, outcome, runner: r };
}

const fake = (type: string, run: TaskHandler['run']): TaskHandler => ({ type, run });

describe('task outcomes', () => {
  it('a handler can fail and still deliver its result; other outcomes are unchanged', async () => {
    const { outcome } = runner([
      fake('VERIFY', async () => ({ failed: '2 damaged chunks affect backups a, b', warnings: ['chunk x is damaged'], result: { n: 2 } })),
      fake('PRUNE', async () => ({ result: { n: 1 } })),
      fake('GC', async () => ({ warnings: ['w'], result: { n: 0 } })),
      fake('REIMPORT', async () => {
        throw new TaskError('destination /x does not exist on node n; is the share mounted?');
      }),
    ]);
    const d = { destinationId: 1 };
    expect(await outcome(1, 'VERIFY', d)).toEqual({
      type: 'task.finished',
      taskId: 1,
      state: 'FAILED',
      error: '2 damaged chunks affect backups a, b',
      warnings: ['chunk x is damaged'],
      result: { n: 2 },
    });
    expect(await outcome(2, 'PRUNE', { ...d, retention: { keepLast: 1 } })).toEqual({ type: 'task.finished', taskId: 2, state: 'FINISHED', warnings: [], result: { n: 1 } });
    expect(await outcome(3, 'GC', d)).toEqual({ type: 'task.finished', taskId: 3, state: 'FINISHED_WITH_WARNINGS', warnings: ['w'], result: { n: 0 } });
    expect(await outcome(4, 'REIMPORT', d)).toEqual({ type: 'task.finished', taskId: 4, state: 'FAILED', error: 'destination /x does not exist on node n; is the share mounted?' });
  });

  it('params that do not fit the task contract fail the task before its handler runs', async () => {
    let ran = false;
    const { outcome } = runner([
      fake('PRUNE', async () => {
        ran = true;
        return {};
      }),
    ]);
    const done = await outcome(5, 'PRUNE', { destinationId: 1, retention: { keepLast: 0 } });
    expect(done).toMatchObject({ state: 'FAILED', error: expect.stringMatching(/^the PRUNE task's parameters do not fit this node's contract \(retention\.keepLast: .*\); run the same version/) });
    expect(ran).toBe(false);
  });

  it('a cancel that overtakes its assignment keeps the task from running; later tasks run', async () => {
    const ran: number[] = [];
    const { outcome, runner: r } = runner([
      fake('PRUNE', async ({ taskId }) => {
        ran.push(taskId);
        return {};
      }),
    ]);
    const params = { destinationId: 1, retention: { keepLast: 1 } };
    r.cancel(21, true);
    expect(await outcome(21, 'PRUNE', params)).toEqual({ type: 'task.finished', taskId: 21, state: 'CANCELLED', error: 'cancelled before it started' });
    // The cancel is used once: another task runs, and so would a new assignment of another id.
    expect(await outcome(22, 'PRUNE', params)).toMatchObject({ state: 'FINISHED' });
    expect(ran).toEqual([22]);
  });

  it('the node registers the destination handlers, and a damaged repository ends VERIFY failed with the report', async () => {
    expect(defaultHandlers({ name: 'n' }).map((h) => h.type)).toEqual(expect.arrayContaining(['NODE_CHECK', 'DESTINATION_CHECK', 'VERIFY', 'PRUNE', 'GC', 'REIMPORT']));

    const dir = path.join(await dirs.make(), 'repo');
    const repo = await Repository.init(dir, { chunkSize: CHUNK, kdf: TEST_KDF, password: 'pw-123456' });
    const m = await writeBackup(repo, 'vm:a', [{ kind: 'text', offset: 0, length: CHUNK, seed: 1 }]);
    await repo.close();
    const chunk = m.disks[0]!.chunks.find((c): c is string => typeof c === 'string')!;
    // Flip a byte (writing a fixed value would change nothing when the byte already has it).
    const fh = await open(path.join(dir, chunkRelPath(chunk)), 'r+');
    const byte = Buffer.alloc(1);
    await fh.read(byte, 0, 1, 30);
    await fh.write(Buffer.from([byte[0]! ^ 0xff]), 0, 1, 30);
    await fh.close();

    const { outcome, sent } = runner(destinationHandlers(handlerDeps()));
    const done = await outcome(10, 'VERIFY', { destinationId: 3, repository: { path: dir, password: 'pw-123456' } });
    expect(done.state).toBe('FAILED');
    expect(done.error).toBe(
      `1 damaged chunk affects backup ${m.id}; no backup is intact. The next backup of the affected VMs stores the damaged chunks again (run one now), then verify again`,
    );
    const result = VerifyResultSchema.parse(done.result);
    expect(result.problems).toEqual([{ chunk, problem: expect.stringMatching(/^corrupt/), backups: [m.id], checkedNow: true }]);
    expect(sent.some((s) => s.type === 'task.progress')).toBe(true);
    expect(JSON.stringify(sent)).not.toContain('pw-123456');
  });
});
