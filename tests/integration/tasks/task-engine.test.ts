import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Task, TaskDetails } from '../../../common/api/tasks.js';
import type { TaskHandler, TaskRunContext } from '../../../node-service/agent/task-handler.js';
import { enrollTestNode, type TestNode } from '../../support/test-node.js';
import { setupAdmin, startTestServer, waitFor, type TestServer } from '../../support/test-server.js';

/**
 * The task engine against a real server, MariaDB and a real node agent over
 * the WebSocket protocol. The node's NODE_CHECK handler is a controllable
 * one, so tests decide when a task ends, fails or ignores a cancel.
 */
/** Logged by a gated task that keeps running through a cancel: the node got the cancel and the task went on. */
const IGNORED_CANCEL = 'the cancel is ignored';

interface Gate {
  release(): void;
  fail(message: string): void;
  ignoreCancel: boolean;
  ctx: TaskRunContext;
}

class GatedHandler implements TaskHandler {
  readonly type = 'NODE_CHECK';
  readonly gates = new Map<number, Gate>();
  failFirstAttemptOf = new Set<number>();
  private attempts = new Map<number, number>();

  run(ctx: TaskRunContext): Promise<{ result: Record<string, unknown> }> {
    const attempt = (this.attempts.get(ctx.taskId) ?? 0) + 1;
    this.attempts.set(ctx.taskId, attempt);
    if (attempt === 1 && this.failFirstAttemptOf.has(ctx.taskId)) return Promise.reject(new Error('the staging disk hiccupped'));
    return new Promise((resolve, reject) => {
      const gate: Gate = {
        ignoreCancel: false,
        ctx,
        release: () => {
          ctx.progress(100, 100, 'done');
          // A NODE_CHECK result as the contract wants it, plus which attempt made it.
          resolve({ result: { stagingPath: ctx.stagingDir, freeBytes: 1, totalBytes: 2, writeBytesPerSecond: 3, sampleBytes: 4, attempt } });
        },
        fail: (m) => reject(new Error(m)),
      };
      this.gates.set(ctx.taskId, gate);
      ctx.log('info', 'gated task started');
      ctx.progress(25, 100, 'working');
      ctx.signal.addEventListener('abort', () => {
        if (!gate.ignoreCancel) reject(ctx.signal.reason as Error);
        else ctx.log('info', IGNORED_CANCEL);
      });
    });
  }
}

describe('task engine with a real node', () => {
  let t: TestServer;
  let admin: string;
  let node: TestNode;
  const handler = new GatedHandler();

  beforeAll(async () => {
    t = await startTestServer({ nodeHeartbeatSeconds: 0.5, nodeLossTimeoutSeconds: 2, taskRetryBaseSeconds: 0.3 });
    admin = await setupAdmin(t.api);
    node = await enrollTestNode(t.api, admin, { name: 'worker-1', handlers: [handler], maxConcurrentTasks: 1, serverUrl: t.server.url, fingerprint: t.server.fingerprint });
  });
  afterAll(async () => {
    await node?.stop();
    await t?.destroy();
  });

  const create = async (priority = 60): Promise<Task> => {
    const res = await t.api.request<Task>('POST', '/api/tasks/node-check', { node: 'worker-1', priority, sampleBytes: 1048576 }, { token: admin });
    expect(res.status).toBe(201);
    return res.body;
  };
  const get = async (id: number): Promise<TaskDetails> => (await t.api.request<TaskDetails>('GET', `/api/tasks/${id}`, undefined, { token: admin })).body;
  const waitState = (id: number, state: string): Promise<TaskDetails> => waitFor(`task ${id} ${state}`, async () => ((await get(id)).state === state ? get(id) : undefined), 20_000);
  const gate = (id: number): Promise<Gate> => waitFor(`task ${id} to reach the node`, async () => handler.gates.get(id), 20_000);

  it('shows the node online with its capabilities', async () => {
    const res = await t.api.request<{ name: string; status: string; capabilities: { taskTypes: string[]; staging: { freeBytes: number } } }[]>('GET', '/api/nodes', undefined, { token: admin });
    expect(res.body).toHaveLength(1);
    expect(res.body[0]).toMatchObject({ name: 'worker-1', status: 'online' });
    expect(res.body[0]!.capabilities.taskTypes).toEqual(['NODE_CHECK']);
    expect(res.body[0]!.capabilities.staging.freeBytes).toBeGreaterThan(0);
  });

  it('dispatches a task, streams its progress and log, and records the outcome', async () => {
    const task = await create();
    const g = await gate(task.id);
    const running = await waitFor('progress', async () => {
      const d = await get(task.id);
      return d.state === 'RUNNING' && d.progress.percent === 25 ? d : undefined;
    });
    expect(running.node).toBe('worker-1');
    expect(running.progress.message).toBe('working');
    g.release();
    const done = await waitState(task.id, 'FINISHED');
    expect(done.progress.percent).toBe(100);
    expect(done.result).toMatchObject({ attempt: 1, stagingPath: expect.any(String) });
    expect(done.log.map((l) => l.message)).toContain('gated task started');
  });

  it('keeps to the node’s concurrency limit and runs higher priority first', async () => {
    const first = await create(50);
    const g1 = await gate(first.id);
    const low = await create(10);
    const high = await create(90);
    // A task for an idle second node, queued after these two: the dispatch pass that sends it
    // out has looked at them too, and left them waiting for worker-1.
    const otherHandler = new GatedHandler();
    const other = await enrollTestNode(t.api, admin, { name: 'worker-2', handlers: [otherHandler], serverUrl: t.server.url, fingerprint: t.server.fingerprint });
    try {
      const marker = await t.api.request<Task>('POST', '/api/tasks/node-check', { node: 'worker-2', priority: 1, sampleBytes: 1048576 }, { token: admin });
      expect(marker.status).toBe(201);
      (await waitFor('the task on worker-2', async () => otherHandler.gates.get(marker.body.id), 20_000)).release();
      await waitState(marker.body.id, 'FINISHED');
    } finally {
      await other.stop();
    }
    expect((await get(low.id)).state).toBe('QUEUED');
    expect((await get(high.id)).state).toBe('QUEUED');
    g1.release();
    const gHigh = await gate(high.id);
    expect((await get(low.id)).state).toBe('QUEUED');
    gHigh.release();
    (await gate(low.id)).release();
    await waitState(low.id, 'FINISHED');
    expect((await get(high.id)).finishedAt! <= (await get(low.id)).startedAt!).toBe(true);
  });

  it('cancels a queued task at once and a running one gracefully', async () => {
    const running = await create();
    const g = await gate(running.id);
    const queued = await create();
    const q = await t.api.request<Task>('POST', `/api/tasks/${queued.id}/cancel`, {}, { token: admin });
    expect(q.body.state).toBe('CANCELLED');
    const r = await t.api.request<Task>('POST', `/api/tasks/${running.id}/cancel`, {}, { token: admin });
    expect(r.status).toBe(200);
    const cancelled = await waitState(running.id, 'CANCELLED');
    expect(g.ctx.signal.aborted).toBe(true);
    expect(cancelled.log.some((l) => l.message.includes('cancel requested by admin'))).toBe(true);
    const again = await t.api.request<{ message: string }>('POST', `/api/tasks/${running.id}/cancel`, {}, { token: admin });
    expect(again.status).toBe(409);
  });

  it('forces a cancel on the second request when the task ignores the first', async () => {
    const task = await create();
    const g = await gate(task.id);
    g.ignoreCancel = true;
    await t.api.request('POST', `/api/tasks/${task.id}/cancel`, {}, { token: admin });
    // The node has the cancel and the task goes on: it says so in its log, over the same connection its outcome would take.
    const still = await waitFor('the task to log that it ignores the cancel', async () => {
      const d = await get(task.id);
      return d.log.some((l) => l.message === IGNORED_CANCEL) ? d : undefined;
    }, 20_000);
    expect(still.state).toBe('RUNNING');
    expect(still.cancelRequested).toBe(true);
    const forced = await t.api.request<Task>('POST', `/api/tasks/${task.id}/cancel`, {}, { token: admin });
    expect(forced.body.state).toBe('CANCELLED');
    // The node is free again: new work runs.
    const next = await create();
    (await gate(next.id)).release();
    await waitState(next.id, 'FINISHED');
  });

  it('retries a retryable task with backoff after a failure', async () => {
    // The failing first attempt is decided by id, so predict the next id.
    const probe = await create();
    (await gate(probe.id)).release();
    await waitState(probe.id, 'FINISHED');
    handler.failFirstAttemptOf.add(probe.id + 1);
    const task = await create();
    expect(task.id).toBe(probe.id + 1);
    (await gate(task.id)).release();
    const done = await waitState(task.id, 'FINISHED');
    expect(done.attempt).toBe(2);
    expect(done.log.some((l) => /attempt 1 of 2 failed: the staging disk hiccupped; retrying/.test(l.message))).toBe(true);
  });

  it('fails a task after its retries run out, with the node’s message', async () => {
    const task = await create();
    const first = await gate(task.id);
    first.fail('staging is read-only');
    const second = await waitFor('the second attempt on the node', async () => {
      const g = handler.gates.get(task.id);
      return g && g !== first ? g : undefined;
    });
    second.fail('staging is read-only');
    const failed = await waitState(task.id, 'FAILED');
    expect(failed.error).toBe('staging is read-only');
  });

  it('shows a task as running until what its end changes is recorded, then finished', async () => {
    const task = await create();
    let release: () => void = () => undefined;
    const recorded = new Promise<void>((resolve) => (release = resolve));
    let heard = false;
    t.server.engine.listeners.on('NODE_CHECK', async (finished) => {
      if (finished.id !== task.id) return;
      heard = true;
      await recorded; // a listener still writing the catalog (a backup, a verify's findings)
    });
    (await gate(task.id)).release();
    await waitFor('the listener to hear of the end', async () => (heard ? true : undefined));
    // The end is committed, but its effects are not recorded yet: readers see it running.
    expect((await get(task.id)).state).toBe('RUNNING');
    const listed = (await t.api.request<{ tasks: Task[] }>('GET', '/api/tasks?type=NODE_CHECK&limit=500', undefined, { token: admin })).body.tasks;
    expect(listed.find((x) => x.id === task.id)?.state).toBe('RUNNING');
    release();
    expect((await waitState(task.id, 'FINISHED')).result).toMatchObject({ stagingPath: expect.any(String) });
  });

  it('refuses a node credential on admin endpoints', async () => {
    const res = await t.api.request<{ message: string }>('GET', '/api/users', undefined, { token: node.config.credential });
    expect(res.status).toBe(403);
    expect(res.body.message).toMatch(/node credentials may only call node endpoints/);
    const del = await t.api.request('DELETE', '/api/nodes/worker-1', undefined, { token: node.config.credential });
    expect(del.status).toBe(403);
  });

  it('runs the real NODE_CHECK handler end to end', async () => {
    const { nodeCheckHandler } = await import('../../../node-service/agent/handlers/node-check.handler.js');
    const real = await enrollTestNode(t.api, admin, { name: 'real-1', handlers: [nodeCheckHandler], serverUrl: t.server.url, fingerprint: t.server.fingerprint });
    try {
      const res = await t.api.request<Task>('POST', '/api/tasks/node-check', { node: 'real-1', sampleBytes: 64 * 1048576 }, { token: admin });
      const id = res.body.id;
      const done = await waitFor('node check', async () => {
        const d = await get(id);
        return d.state === 'FINISHED' || d.state === 'FINISHED_WITH_WARNINGS' || d.state === 'FAILED' ? d : undefined;
      });
      expect(done.state).not.toBe('FAILED');
      expect(done.result).toMatchObject({ sampleBytes: 64 * 1048576 });
      expect(Number(done.result!.writeBytesPerSecond)).toBeGreaterThan(0);
      expect(Number(done.result!.freeBytes)).toBeGreaterThan(0);
      expect(done.progress.bytesDone).toBe(64 * 1048576);
    } finally {
      await real.stop();
    }
  });
});
