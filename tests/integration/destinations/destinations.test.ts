import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackupPage } from '../../../common/api/backups.js';
import type { Destination } from '../../../common/api/destinations.js';
import type { Task, TaskDetails } from '../../../common/api/tasks.js';
import { defaultHandlers } from '../../../node-service/agent/node-service.js';
import { Repository } from '../../../node-service/repository/index.js';
import { enrollTestNode, type TestNode } from '../../support/test-node.js';
import { makeTempDir, setupAdmin, startTestServer, waitFor, type TestServer } from '../../support/test-server.js';

const PASSWORD = 'destination-secret-1';

/** Destinations end to end: server, MariaDB, a real node agent with the real handlers, a real repository on disk. */
describe('destinations', () => {
  let t: TestServer;
  let admin: string;
  let node: TestNode;
  const dir = makeTempDir('dest');
  const repoPath = path.join(dir, 'repo');

  beforeAll(async () => {
    t = await startTestServer({ nodeHeartbeatSeconds: 1 });
    admin = await setupAdmin(t.api);
    node = await enrollTestNode(t.api, admin, { name: 'store-1', handlers: defaultHandlers(), serverUrl: t.server.url, fingerprint: t.server.fingerprint });
  });
  afterAll(async () => {
    await node?.stop();
    await t?.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const api = <T>(method: string, p: string, body?: unknown) => t.api.request<T>(method, p, body, { token: admin });
  const finished = async (task: Task): Promise<TaskDetails> =>
    waitFor(`task ${task.id}`, async () => {
      const d = (await api<TaskDetails>('GET', `/api/tasks/${task.id}`)).body;
      return ['FINISHED', 'FINISHED_WITH_WARNINGS', 'FAILED', 'CANCELLED'].includes(d.state) ? d : undefined;
    });

  it('refuses a path that does not exist on the node, with the node’s reason, and keeps nothing', async () => {
    const res = await api<{ message: string; field: string }>('POST', '/api/destinations', { name: 'nowhere', node: 'store-1', path: '/nonexistent/mnt/nas/vplus' });
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(/does not exist/);
    expect(res.body.field).toBe('path');
    expect((await api<Destination[]>('GET', '/api/destinations')).body).toEqual([]);
  });

  it('adds an encrypted destination after checking the path on the node', async () => {
    const res = await api<Destination>('POST', '/api/destinations', { name: 'nas', node: 'store-1', path: repoPath, password: PASSWORD });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ name: 'nas', node: 'store-1', path: repoPath, encrypted: true, status: 'ok', backups: 0 });
    expect(res.body.freeBytes).toBeGreaterThan(0);
    expect(fs.existsSync(repoPath)).toBe(true);
    // The password is nowhere in what the API returns about the check.
    const tasks = await api<{ tasks: Task[] }>('GET', '/api/tasks?type=DESTINATION_CHECK');
    expect(JSON.stringify(tasks.body)).not.toContain(PASSWORD);
    const again = await api<{ field: string }>('POST', '/api/destinations', { name: 'nas-2', node: 'store-1', path: repoPath });
    expect(again.status).toBe(409);
  });

  it('re-imports backups found on the destination into the catalog', async () => {
    // Two backups written straight into the repository, as a node's STORE would.
    const repo = await Repository.open(repoPath, { password: PASSWORD });
    const image = Buffer.concat([randomBytes(3 * 1048576), Buffer.alloc(2 * 1048576), Buffer.from('x'.repeat(1048576))]);
    for (const n of [1, 2]) {
      const w = await repo.startBackup({ group: 'vm-42', source: { type: n === 1 ? 'full' : 'incremental', vm: { name: 'prod-db' } } });
      await w.writeDisk('vda', image.length, Readable.from([image]));
      await w.commit();
    }
    await repo.close();

    const task = (await api<Task>('POST', '/api/destinations/nas/import', {})).body;
    const done = await finished(task);
    expect(done.state).toBe('FINISHED');
    const backups = (await api<BackupPage>('GET', '/api/backups?destination=nas')).body.backups;
    expect(backups).toHaveLength(2);
    expect(backups.map((b) => b.type).sort()).toEqual(['full', 'incremental']);
    expect(backups.every((b) => b.vm === 'vm-42' && b.status === 'available')).toBe(true);
    // What each added to the destination: the second, of the same image, added nothing.
    const stored = backups.map((b) => b.storedBytes).sort((a, b) => (a ?? -1) - (b ?? -1));
    expect(stored[0]).toBe(0);
    expect(stored[1]).toBeGreaterThan(1048576);
    // Re-importing again adds nothing twice.
    await finished((await api<Task>('POST', '/api/destinations/nas/import', {})).body);
    expect((await api<BackupPage>('GET', '/api/backups?destination=nas')).body.backups).toHaveLength(2);
    const dest = (await api<Destination>('GET', '/api/destinations/nas')).body;
    expect(dest.backups).toBe(2);
    expect(dest.logicalBytes).toBe(2 * 6 * 1048576);
    expect(dest.storedBytes).toBeLessThan(dest.logicalBytes);
  });

  it('verifies clean data, then names the damaged chunk and the backups it affects', async () => {
    const clean = await finished((await api<Task>('POST', '/api/destinations/nas/verify', {})).body);
    expect(clean.state).toBe('FINISHED');
    expect(clean.result).toMatchObject({ problems: [], affectedBackups: [] });

    const chunkDir = path.join(repoPath, 'chunks');
    // Shard directories exist from init; take the first chunk file in any of them.
    const shard = fs.readdirSync(chunkDir).sort().find((d) => fs.readdirSync(path.join(chunkDir, d)).length > 0)!;
    const chunkFile = path.join(chunkDir, shard, fs.readdirSync(path.join(chunkDir, shard))[0]!);
    const bytes = fs.readFileSync(chunkFile);
    bytes[bytes.length - 1]! ^= 0xff;
    fs.writeFileSync(chunkFile, bytes);

    const bad = await finished((await api<Task>('POST', '/api/destinations/nas/verify', {})).body);
    expect(bad.state).toBe('FAILED');
    expect(bad.error).toMatch(/damaged/);
    const result = bad.result as { problems: { chunk: string; backups: string[] }[]; affectedBackups: string[] };
    expect(result.problems).toHaveLength(1);
    expect(result.problems[0]!.backups.length).toBeGreaterThan(0);
    const dest = (await api<Destination>('GET', '/api/destinations/nas')).body;
    expect(dest.status).toBe('error');
    // The catalog says what verify found: the affected backups are damaged, the rest verified.
    const after = (await api<BackupPage>('GET', '/api/backups?destination=nas')).body.backups;
    const affected = new Set(result.affectedBackups);
    expect(affected.size).toBeGreaterThan(0);
    for (const b of after) {
      if (affected.has(b.repoBackupId)) expect(b).toMatchObject({ status: 'damaged', damagedChunks: 1, statusDetail: expect.stringMatching(/1 damaged or missing chunk/) });
      else expect(b).toMatchObject({ status: 'available', verifiedAt: expect.any(String) });
    }
    expect((await api<BackupPage>('GET', '/api/backups?destination=nas&status=damaged')).body.backups).toHaveLength(affected.size);

    bytes[bytes.length - 1]! ^= 0xff;
    fs.writeFileSync(chunkFile, bytes); // repaired (as a backup of the same data would) …
    const again = await finished((await api<Task>('POST', '/api/destinations/nas/verify', {})).body);
    expect(again.state).toBe('FINISHED');
    expect(again.result).toMatchObject({ healedChunks: 1 });
    // … and the next verify takes the backups back.
    const healed = (await api<BackupPage>('GET', '/api/backups?destination=nas')).body.backups;
    expect(healed.every((b) => b.status === 'available' && b.verifiedAt !== null && b.statusDetail === null)).toBe(true);
  });

  it('previews and applies retention, records the removal, and GC frees the space', async () => {
    const preview = await finished((await api<Task>('POST', '/api/destinations/nas/prune', { retention: { keepLast: 1 }, dryRun: true })).body);
    expect(preview.state).toBe('FINISHED');
    expect((preview.result as { removed: unknown[] }).removed).toHaveLength(1);
    expect((await api<BackupPage>('GET', '/api/backups?destination=nas&status=available')).body.backups).toHaveLength(2);

    const prune = await finished((await api<Task>('POST', '/api/destinations/nas/prune', { retention: { keepLast: 1 }, dryRun: false })).body);
    expect(prune.state).toBe('FINISHED');
    expect((await api<BackupPage>('GET', '/api/backups?destination=nas&status=available')).body.backups).toHaveLength(1);

    const gc = await finished((await api<Task>('POST', '/api/destinations/nas/gc', { graceHours: 0 })).body);
    expect(gc.state).toBe('FINISHED');
    const usage = (await api<{ storedBytes: number; backups: number }[]>('GET', '/api/destinations/nas/usage')).body;
    expect(usage.length).toBeGreaterThanOrEqual(5);
    expect(usage.at(-1)!.backups).toBe(1);
  });

  it('verify reconciles: a backup whose manifest is gone becomes missing, one the catalog lacks is imported', async () => {
    const kept = (await api<BackupPage>('GET', '/api/backups?destination=nas&status=available')).body.backups;
    expect(kept).toHaveLength(1);
    const repo = await Repository.open(repoPath, { password: PASSWORD });
    const w = await repo.startBackup({ group: 'vm-43', source: { type: 'full', vm: { name: 'file-srv' } } });
    const image = randomBytes(1048576);
    await w.writeDisk('vda', image.length, Readable.from([image]));
    const stranger = await w.commit();
    await repo.close();
    fs.rmSync(path.join(repoPath, 'backups', `${kept[0]!.repoBackupId}.manifest`));

    const v = await finished((await api<Task>('POST', '/api/destinations/nas/verify', {})).body);
    expect(v.state).toBe('FINISHED');
    expect(v.result).toMatchObject({ backups: [stranger.id] });
    const missing = (await api<BackupPage>('GET', '/api/backups?destination=nas&status=missing')).body.backups;
    expect(missing).toHaveLength(1);
    expect(missing[0]).toMatchObject({ status: 'missing', statusDetail: expect.stringMatching(/manifest is gone/) });
    // The stranger arrives through a REIMPORT the verify started.
    const imported = await waitFor('the re-imported backup', async () => (await api<BackupPage>('GET', '/api/backups?destination=nas')).body.backups.find((b) => b.repoBackupId === stranger.id));
    expect(imported).toMatchObject({ vm: 'vm-43', status: 'available' });
    const dest = await waitFor('the destination count', async () => {
      const d = (await api<Destination>('GET', '/api/destinations/nas')).body;
      return d.backups === 1 ? d : undefined;
    });
    expect(dest.backups).toBe(1);
  });

  it('will not check a path on an offline node, and keeps the node while it holds a destination', async () => {
    const removeNode = await api<{ message: string }>('DELETE', '/api/nodes/store-1');
    expect(removeNode.status).toBe(409);
    expect(removeNode.body.message).toMatch(/holds destinations \(nas\)/);
    await node.stop();
    await waitFor('node offline', async () => ((await api<{ status: string }>('GET', '/api/nodes/store-1')).body.status === 'offline' ? true : undefined));
    const res = await api<{ message: string }>('POST', '/api/destinations', { name: 'late', node: 'store-1', path: path.join(dir, 'late') });
    expect(res.status).toBe(409);
    expect(res.body.message).toMatch(/offline/);
  });
});
