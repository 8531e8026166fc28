import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backup, BackupPage } from '../../../common/api/backups.js';
import type { Destination } from '../../../common/api/destinations.js';
import type { Task, TaskDetails } from '../../../common/api/tasks.js';
import { defaultHandlers } from '../../../node-service/agent/node-service.js';
import { Repository } from '../../../node-service/repository/index.js';
import { enrollTestNode, type TestNode } from '../../support/test-node.js';
import { makeTempDir, setupAdmin, startTestServer, waitFor, type TestServer } from '../../support/test-server.js';

/**
 * The backup browser against a real server, node and repository: protected backups survive a
 * retention prune, a protected backup cannot be deleted, one backup is deleted from the
 * repository and the catalog, notes and search, every change audited.
 */
describe('backup browser: protect, notes, delete', () => {
  let t: TestServer;
  let admin: string;
  let node: TestNode;
  const dir = makeTempDir('backup-browser');
  const repoPath = path.join(dir, 'repo');
  const ids: string[] = [];

  beforeAll(async () => {
    t = await startTestServer({ nodeHeartbeatSeconds: 1 });
    admin = await setupAdmin(t.api);
    node = await enrollTestNode(t.api, admin, { name: 'store-1', handlers: defaultHandlers(), serverUrl: t.server.url, fingerprint: t.server.fingerprint });
    expect((await api<Destination>('POST', '/api/destinations', { name: 'nas', node: 'store-1', path: repoPath })).status).toBe(201);
    // Four backups of one VM and one of another, written as a node's STORE would, then re-imported.
    const repo = await Repository.open(repoPath);
    for (const [group, name] of [['vm-a', 'web'], ['vm-a', 'web'], ['vm-a', 'web'], ['vm-a', 'web'], ['vm-b', 'erp-server']] as const) {
      const w = await repo.startBackup({ group, source: { type: ids.length === 0 ? 'full' : 'incremental', vm: { name } } });
      const image = randomBytes(1048576);
      await w.writeDisk('vda', image.length, Readable.from([image]));
      ids.push((await w.commit()).id);
    }
    await repo.close();
    expect((await finished((await api<Task>('POST', '/api/destinations/nas/import', {})).body)).state).toBe('FINISHED');
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
  const byRepoId = async (repoId: string): Promise<Backup | undefined> => (await api<BackupPage>('GET', '/api/backups')).body.backups.find((b) => b.repoBackupId === repoId);
  const manifest = (repoId: string): string => path.join(repoPath, 'backups', `${repoId}.manifest`);

  it('lists each backup with what it stored, not protected and without notes', async () => {
    const all = (await api<BackupPage>('GET', '/api/backups')).body.backups;
    expect(all).toHaveLength(5);
    for (const b of all) expect(b).toMatchObject({ protected: false, notes: null, storedBytes: expect.any(Number) });
    expect(all.every((b) => (b.storedBytes ?? 0) > 1048576)).toBe(true);
  });

  it('keeps a protected backup through a retention prune; the others go', async () => {
    const oldest = (await byRepoId(ids[0]!))!;
    const res = await api<Backup>('PATCH', `/api/backups/${oldest.id}`, { protected: true });
    expect(res.status).toBe(200);
    expect(res.body.protected).toBe(true);

    const prune = await finished((await api<Task>('POST', '/api/destinations/nas/prune', { retention: { keepLast: 1 }, dryRun: false })).body);
    expect(prune.state).toBe('FINISHED');
    // The node got the protected backup at dispatch, and kept it.
    expect(prune.params).toMatchObject({ protectedBackups: [ids[0]] });
    const result = prune.result as { removed: { id: string }[]; kept: { id: string; reasons: string[] }[] };
    expect(result.removed.map((r) => r.id).sort()).toEqual([ids[1], ids[2]].sort());
    expect(result.kept.find((k) => k.id === ids[0])?.reasons).toEqual(['protected (never removed by retention)']);
    expect(fs.existsSync(manifest(ids[0]!))).toBe(true);
    expect(fs.existsSync(manifest(ids[1]!))).toBe(false);
    expect((await byRepoId(ids[0]!))).toMatchObject({ status: 'available', protected: true });
    expect((await byRepoId(ids[1]!))?.status).toBe('removed');
  });

  it('refuses to delete a protected backup; deletes it once unprotected, from the repository and the catalog', async () => {
    const oldest = (await byRepoId(ids[0]!))!;
    const refused = await api<{ message: string }>('DELETE', `/api/backups/${oldest.id}`);
    expect(refused.status).toBe(409);
    expect(refused.body.message).toMatch(/protected/);
    expect(fs.existsSync(manifest(ids[0]!))).toBe(true);

    expect((await api<Backup>('PATCH', `/api/backups/${oldest.id}`, { protected: false })).body.protected).toBe(false);
    const started = await api<Task>('DELETE', `/api/backups/${oldest.id}`);
    expect(started.status).toBe(202);
    expect(started.body.type).toBe('BACKUP_DELETE');
    expect((await finished(started.body)).state).toBe('FINISHED');
    expect(fs.existsSync(manifest(ids[0]!))).toBe(false);
    await waitFor('the catalog to forget it', async () => ((await byRepoId(ids[0]!)) === undefined ? true : undefined));
    expect((await api('GET', `/api/backups/${oldest.id}`)).status).toBe(404);
    const dest = await waitFor('the destination count', async () => {
      const d = (await api<Destination>('GET', '/api/destinations/nas')).body;
      return d.backups === 2 ? d : undefined;
    });
    expect(dest.backups).toBe(2);
  });

  it('keeps notes of at most 1000 characters, and finds backups by them and by VM name', async () => {
    const db = (await byRepoId(ids[4]!))!;
    const long = await api<{ message: string }>('PATCH', `/api/backups/${db.id}`, { notes: 'x'.repeat(1001) });
    expect(long.status).toBe(400);
    const res = await api<Backup>('PATCH', `/api/backups/${db.id}`, { notes: 'before the ERP upgrade' });
    expect(res.body.notes).toBe('before the ERP upgrade');
    expect((await api<BackupPage>('GET', '/api/backups?search=ERP%20upgrade')).body.backups.map((b) => b.id)).toEqual([db.id]);
    expect((await api<BackupPage>('GET', '/api/backups?search=erp-serv')).body.backups.map((b) => b.id)).toEqual([db.id]);
    expect((await api<BackupPage>('GET', '/api/backups?search=100%25')).body.backups).toEqual([]);
    const future = new Date(Date.now() + 3600_000).toISOString();
    expect((await api<BackupPage>(`GET`, `/api/backups?from=${encodeURIComponent(future)}`)).body.backups).toEqual([]);
    expect((await api<BackupPage>(`GET`, `/api/backups?to=${encodeURIComponent(future)}&status=available`)).body.backups).toHaveLength(2);
    // Cleared with an empty text.
    expect((await api<Backup>('PATCH', `/api/backups/${db.id}`, { notes: '' })).body.notes).toBeNull();
  });

  it('audits every change, and a viewer may not make them', async () => {
    const audit = (await api<{ entries: { action: string; target: string }[] }>('GET', '/api/audit?limit=200')).body.entries.map((e) => e.action);
    for (const action of ['backup.protect', 'backup.unprotect', 'backup.delete', 'backup.notes']) expect(audit).toContain(action);
    await api('POST', '/api/users', { username: 'watcher', password: 'watcher-password-1', role: 'viewer' });
    const viewer = await t.api.login('watcher', 'watcher-password-1');
    const any = (await api<BackupPage>('GET', '/api/backups')).body.backups[0]!;
    expect((await t.api.request('PATCH', `/api/backups/${any.id}`, { protected: true }, { token: viewer })).status).toBe(403);
    expect((await t.api.request('DELETE', `/api/backups/${any.id}`, undefined, { token: viewer })).status).toBe(403);
  });
});
