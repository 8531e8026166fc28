import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackupPage } from '../../../common/api/backups.js';
import type { Policy, PolicyRun, PolicyRunPage } from '../../../common/api/policies.js';
import type { TaskDetails } from '../../../common/api/tasks.js';
import { defaultHandlers } from '../../../node-service/agent/node-service.js';
import { chunkRelPath, expandChunks } from '../../../node-service/repository/format.js';
import { Repository } from '../../../node-service/repository/index.js';
import { enrollTestNode, type TestNode } from '../../support/test-node.js';
import { makeTempDir, setupAdmin, startTestServer, waitFor, type TestServer } from '../../support/test-server.js';
import { makeImage } from '../../unit/repository/helpers.js';

/**
 * A backup policy verifies its destination on a schedule, one part of the chunks per run in
 * turn; what it finds marks the catalog, and a run that finds damage fails with the reason.
 * A real server on a clock the test moves, a real node, a real repository.
 */
describe('scheduled verify with rotating parts', () => {
  let now = Date.parse('2027-02-01T03:50:00Z');
  const clock = { now: () => now };
  let t: TestServer;
  let admin: string;
  let node: TestNode;
  const dir = makeTempDir('sched-verify');
  const repoPath = path.join(dir, 'vplus');
  let chunkIds: string[] = [];

  const api = <T>(method: string, p: string, body?: unknown) => t.api.request<T>(method, p, body, { token: admin });
  const runs = async (): Promise<PolicyRun[]> => (await api<PolicyRunPage>('GET', '/api/policies/checked/runs')).body.runs;
  const ended = (id: number): Promise<PolicyRun> =>
    waitFor(`verify run ${id}`, async () => (await runs()).find((r) => r.id === id && r.state !== 'running'), 60_000);
  const verifyTaskOf = async (run: PolicyRun): Promise<TaskDetails> => {
    const tasks = (await api<{ tasks: TaskDetails[] }>('GET', '/api/tasks?type=VERIFY&limit=100')).body.tasks;
    const task = tasks.find((x) => x.workflowId === run.workflowIds[0]);
    if (!task) throw new Error(`no VERIFY task for run ${run.id}`);
    return (await api<TaskDetails>('GET', `/api/tasks/${task.id}`)).body;
  };

  beforeAll(async () => {
    // Two backups already on the destination (the catalog learns them from verify).
    const repo = await Repository.init(repoPath, { chunkSize: 256 * 1024 });
    for (const seed of [1, 2]) {
      const img = makeImage(4 * 1024 * 1024, [{ kind: 'random', offset: 0, length: 4 * 1024 * 1024, seed }]);
      const w = await repo.startBackup({ group: 'vm-a', source: { type: 'full', vm: { name: 'vm-a' } } });
      await w.writeDisk('vda', img.length, Readable.from([img]));
      const m = await w.commit();
      chunkIds.push(...m.disks.flatMap((d) => expandChunks(d)).filter((c): c is string => typeof c === 'string'));
    }
    await repo.close();
    chunkIds = [...new Set(chunkIds)];

    t = await startTestServer({ nodeHeartbeatSeconds: 1 }, { clock });
    admin = await setupAdmin(t.api);
    node = await enrollTestNode(t.api, admin, { name: 'verify-node', handlers: defaultHandlers(), serverUrl: t.server.url, fingerprint: t.server.fingerprint });
    const dest = await api<{ message?: string }>('POST', '/api/destinations', { name: 'nas', node: 'verify-node', path: repoPath });
    expect(dest.status, dest.body.message).toBe(201);
  });
  afterAll(async () => {
    await node?.stop();
    await t?.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a verify schedule that cannot work, naming the field', async () => {
    const base = { destination: 'nas', timeZone: 'UTC', schedules: [] };
    for (const [body, field, message] of [
      [{ ...base, name: 'p1', verifySchedule: 'daily 04:00', verifyParts: 0 }, 'verifyParts', /at least 1/],
      [{ ...base, name: 'p2', verifySchedule: 'full daily 04:00' }, 'verifySchedule', /verify schedule/],
      [{ name: 'p3', kind: 'snapshot', timeZone: 'UTC', schedules: ['daily 01:00'], verifySchedule: 'daily 04:00' }, 'verifySchedule', /no verify schedule/],
    ] as const) {
      const res = await api<{ message: string; field: string }>('POST', '/api/policies', body);
      expect(res.status, res.body.message).toBe(400);
      expect(res.body.field).toBe(field);
      expect(res.body.message).toMatch(message);
    }
  });

  it('each scheduled run checks the next of three parts; together they cover every chunk once; the catalog takes the backups in', async () => {
    const created = await api<Policy & { message?: string }>('POST', '/api/policies', {
      name: 'checked',
      destination: 'nas',
      timeZone: 'UTC',
      schedules: [],
      verifySchedule: 'daily 04:00',
      verifyParts: 3,
    });
    expect(created.status, created.body.message).toBe(201);
    expect(created.body).toMatchObject({ verifySchedule: 'daily 04:00', verifyParts: 3 });

    const checked: number[] = [];
    for (const day of ['01', '02', '03']) {
      now = Date.parse(`2027-02-${day}T04:00:05Z`);
      await t.server.scheduler.tick();
      const run = await ended((await waitFor('the verify run', async () => (await runs()).find((r) => r.scheduledFor === `2027-02-${day}T04:00:00.000Z`))).id);
      expect(run).toMatchObject({ purpose: 'verify', trigger: 'schedule', state: 'finished' });
      const task = await verifyTaskOf(run);
      expect(task.state).toBe('FINISHED');
      expect(task.params).toMatchObject({ subset: { part: checked.length, of: 3 } });
      checked.push((task.result as { checkedChunks: number }).checkedChunks);
    }
    expect(checked.reduce((a, b) => a + b, 0)).toBe(chunkIds.length);
    const backups = await waitFor('the re-imported backups', async () => {
      const b = (await api<BackupPage>('GET', '/api/backups?destination=nas')).body.backups;
      return b.length === 2 ? b : undefined;
    });
    expect(backups.every((b) => b.status === 'available')).toBe(true);
  });

  it('damage fails the run with the reason and marks the backups; later parts keep reporting it', async () => {
    const victim = chunkIds[0]!;
    const file = path.join(repoPath, chunkRelPath(victim));
    const bytes = fs.readFileSync(file);
    bytes[bytes.length - 1]! ^= 0x01;
    fs.writeFileSync(file, bytes);

    const states: string[] = [];
    let failedRun: PolicyRun | undefined;
    for (let i = 0; i < 3; i++) {
      const started = await api<PolicyRun>('POST', '/api/policies/checked/verify');
      expect(started.status).toBe(202);
      const run = await ended(started.body.id);
      states.push(run.state);
      if (run.state === 'failed') failedRun ??= run;
    }
    // The part holding the chunk fails; every part checked after it still reports the damage.
    expect(states.at(-1)).toBe('failed');
    expect(failedRun?.message).toMatch(/VERIFY failed: 1 damaged chunk affects backup/);
    const marked = (await api<BackupPage>('GET', '/api/backups?destination=nas')).body.backups;
    expect(marked.filter((b) => b.status === 'damaged').length).toBeGreaterThan(0);
  });
});
