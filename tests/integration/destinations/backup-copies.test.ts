import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backup, BackupPage } from '../../../common/api/backups.js';
import type { CopyListItem } from '../../../common/api/copies.js';
import type { Destination } from '../../../common/api/destinations.js';
import type { Policy } from '../../../common/api/policies.js';
import type { Task, TaskDetails } from '../../../common/api/tasks.js';
import { defaultHandlers } from '../../../node-service/agent/node-service.js';
import { Repository } from '../../../node-service/repository/index.js';
import { enrollTestNode, type TestNode } from '../../support/test-node.js';
import { makeTempDir, setupAdmin, startTestServer, waitFor, type TestServer } from '../../support/test-server.js';

/**
 * Copies of backups against a real server, nodes and repositories: a copy to a second
 * destination on the same node (refusals named by field), copies shown on the backup and
 * listed, a restore read from the copy while the original is gone, prune on the copy's
 * destination forgetting pruned copies, re-import recording copies (not new backups), a policy's
 * copy settings, and deleting a backup everywhere or keeping its copies.
 */
describe('backup copies', () => {
  let t: TestServer;
  let admin: string;
  let viewer: string;
  let store: TestNode;
  let far: TestNode;
  const dir = makeTempDir('backup-copies');
  const nasPath = path.join(dir, 'nas');
  const offsitePath = path.join(dir, 'offsite');
  const images = new Map<string, Buffer>();
  const ids: string[] = [];
  let offsiteId = 0;
  /** The copy of backup 2 or 3 the prune on the copies' destination keeps. */
  let survivor = '';

  beforeAll(async () => {
    t = await startTestServer({ nodeHeartbeatSeconds: 1 });
    admin = await setupAdmin(t.api);
    store = await enrollTestNode(t.api, admin, { name: 'store-1', handlers: defaultHandlers(), serverUrl: t.server.url, fingerprint: t.server.fingerprint });
    far = await enrollTestNode(t.api, admin, { name: 'store-2', handlers: defaultHandlers(), serverUrl: t.server.url, fingerprint: t.server.fingerprint });
    expect((await api<Destination>('POST', '/api/destinations', { name: 'nas', node: 'store-1', path: nasPath, password: 'nas-password-1' })).status).toBe(201);
    const offsite = await api<Destination>('POST', '/api/destinations', { name: 'offsite', node: 'store-1', path: offsitePath, password: 'offsite-password-2' });
    expect(offsite.status).toBe(201);
    offsiteId = offsite.body.id;
    expect((await api<Destination>('POST', '/api/destinations', { name: 'far-away', node: 'store-2', path: path.join(dir, 'far') })).status).toBe(201);
    // Three backups of one VM, written as a node's STORE would, then re-imported.
    const repo = await Repository.open(nasPath, { password: 'nas-password-1' });
    for (let i = 0; i < 3; i++) {
      const w = await repo.startBackup({ group: 'vm-a', source: { type: i === 0 ? 'full' : 'incremental', vm: { name: 'web', uuid: 'vm-a' } } });
      const image = randomBytes(1048576 + i * 4096);
      await w.writeDisk('vda', image.length, Readable.from([image]));
      const id = (await w.commit()).id;
      ids.push(id);
      images.set(id, image);
    }
    await repo.close();
    expect((await finished((await api<Task>('POST', '/api/destinations/nas/import', {})).body)).state).toBe('FINISHED');
    await api('POST', '/api/users', { username: 'copy-viewer', password: 'viewer-password-1', role: 'viewer' });
    viewer = await t.api.login('copy-viewer', 'viewer-password-1');
  });
  afterAll(async () => {
    await store?.stop();
    await far?.stop();
    await t?.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const api = <T>(method: string, p: string, body?: unknown) => t.api.request<T>(method, p, body, { token: admin });
  const finished = async (task: Task): Promise<TaskDetails> =>
    waitFor(`task ${task.id}`, async () => {
      const d = (await api<TaskDetails>('GET', `/api/tasks/${task.id}`)).body;
      return ['FINISHED', 'FINISHED_WITH_WARNINGS', 'FAILED', 'CANCELLED'].includes(d.state) ? d : undefined;
    });
  const backupOf = async (repoId: string): Promise<Backup> => {
    const found = (await api<BackupPage>('GET', '/api/backups?destination=nas')).body.backups.find((b) => b.repoBackupId === repoId);
    if (!found) throw new Error(`backup ${repoId} is not in the catalog`);
    return found;
  };
  const manifestIn = (repoPath: string, repoId: string): string => path.join(repoPath, 'backups', `${repoId}.manifest`);

  it('refuses copies a viewer asks for, without a destination, to an unknown one, to its own, and to a directory on another node', async () => {
    const b = await backupOf(ids[0]!);
    expect((await t.api.request('POST', `/api/backups/${b.id}/copies`, { to: 'offsite' }, { token: viewer })).status).toBe(403);
    const empty = await api<{ field?: string; message: string }>('POST', `/api/backups/${b.id}/copies`, { to: ' ' });
    expect(empty.status).toBe(400);
    expect(empty.body.message).toMatch(/to/);
    const unknown = await api<{ field?: string; message: string }>('POST', `/api/backups/${b.id}/copies`, { to: 'nowhere' });
    expect(unknown.status).toBe(404);
    expect(unknown.body.field).toBe('to');
    const own = await api<{ field?: string; message: string }>('POST', `/api/backups/${b.id}/copies`, { to: 'nas' });
    expect(own.status).toBe(409);
    expect(own.body).toMatchObject({ field: 'to', message: expect.stringMatching(/already/) });
    const other = await api<{ field?: string; message: string }>('POST', `/api/backups/${b.id}/copies`, { to: 'far-away' });
    expect(other.status).toBe(409);
    expect(other.body.field).toBe('to');
    expect(other.body.message).toMatch(/store-2.*store-1|S3/);
    expect((await api('POST', '/api/backups/999999/copies', { to: 'offsite' })).status).toBe(404);
  });

  it('copies a backup to another destination on the same node, and shows and lists the copy', async () => {
    const b = await backupOf(ids[0]!);
    const started = await api<Task>('POST', `/api/backups/${b.id}/copies`, { to: 'offsite' });
    expect(started.status).toBe(202);
    expect(started.body).toMatchObject({ type: 'COPY', params: { backupId: b.id, sourceDestinationId: b.destinationId, targetDestinationId: offsiteId } });
    const done = await finished(started.body);
    expect(done.state).toBe('FINISHED');
    // The node got both repositories and the backup's id; the task keeps neither password.
    expect(done.params).toMatchObject({ repoBackupId: ids[0], source: { path: nasPath }, target: { path: offsitePath } });
    expect(JSON.stringify(done.params)).not.toMatch(/password/);
    expect(fs.existsSync(manifestIn(offsitePath, ids[0]!))).toBe(true);

    const shown = await waitFor('the copy recorded', async () => {
      const one = (await api<Backup>('GET', `/api/backups/${b.id}`)).body;
      return one.copies?.[0]?.state === 'ok' ? one : undefined;
    });
    expect(shown.copies).toEqual([expect.objectContaining({ destination: 'offsite', destinationId: offsiteId, state: 'ok', taskId: started.body.id, error: null })]);
    expect(shown.copies![0]!.storedBytes).toBeGreaterThan(1048576);
    expect((await backupOf(ids[0]!)).copies?.map((c) => c.destination)).toEqual(['offsite']);
    // The copy is not a second backup in the catalog.
    expect((await api<BackupPage>('GET', '/api/backups?destination=offsite')).body.backups).toEqual([]);

    const listed = await t.api.request<CopyListItem[]>('GET', `/api/copies?backup=${b.id}`, undefined, { token: viewer });
    expect(listed.status).toBe(200);
    expect(listed.body).toEqual([expect.objectContaining({ backupId: b.id, destination: 'offsite', sourceDestination: 'nas', state: 'ok', repoBackupId: ids[0], vm: 'vm-a', vmName: 'web' })]);
    expect((await api<CopyListItem[]>('GET', '/api/copies?destination=nas')).body).toEqual([]);

    const again = await api<{ field?: string; message: string }>('POST', `/api/backups/${b.id}/copies`, { to: 'offsite' });
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ field: 'to', message: expect.stringMatching(/holds a copy/) });
    const audit = (await api<{ entries: { action: string; target: string }[] }>('GET', '/api/audit?limit=50')).body.entries;
    expect(audit).toContainEqual(expect.objectContaining({ action: 'backup.copy', target: `backup:${b.id}` }));
  });

  it('restores from the copy even with the original gone from its destination; refuses a destination without a copy', async () => {
    const b = await backupOf(ids[0]!);
    const out = path.join(dir, 'restored');
    const farId = (await api<Destination>('GET', '/api/destinations/far-away')).body.id;
    const noCopy = await api<{ field?: string; message: string }>('POST', '/api/restores', { mode: 'files', backup: b.id, node: 'store-1', path: out, format: 'raw', fromDestinationId: farId });
    expect(noCopy.status).toBe(409);
    expect(noCopy.body).toMatchObject({ field: 'fromDestinationId', message: expect.stringMatching(/no copy/) });

    // The original's manifest is moved away: only the copy can answer.
    const aside = `${manifestIn(nasPath, ids[0]!)}.aside`;
    fs.renameSync(manifestIn(nasPath, ids[0]!), aside);
    try {
      const res = await api<{ workflowId: number; taskIds: number[] }>('POST', '/api/restores', { mode: 'files', backup: b.id, node: 'store-1', path: out, format: 'raw', fromDestinationId: offsiteId });
      expect(res.status).toBe(202);
      const restore = await finished((await api<Task>('GET', `/api/tasks/${res.body.taskIds[0]}`)).body);
      expect(restore.error).toBeNull();
      expect(restore.state).toBe('FINISHED');
      expect(restore.params).toMatchObject({ destinationId: offsiteId, repository: { path: offsitePath } });
      expect(fs.readFileSync(path.join(out, 'vda.raw')).equals(images.get(ids[0]!)!)).toBe(true);
    } finally {
      fs.renameSync(aside, manifestIn(nasPath, ids[0]!));
    }
  });

  it('records what a re-import finds of backups the catalog has elsewhere as copies, not as new backups', async () => {
    // Backup 2 written to the second destination by hand (as another server's copy would be).
    const source = await Repository.open(nasPath, { password: 'nas-password-1' });
    const target = await Repository.open(offsitePath, { password: 'offsite-password-2' });
    const manifest = await source.loadManifest(ids[1]!);
    const w = await target.startBackup({ id: manifest.id, group: manifest.group, source: manifest.source });
    await w.writeDisk('vda', manifest.disks[0]!.size, (await source.openBackup(ids[1]!)).readDisk('vda'));
    await w.commit();
    await source.close();
    await target.close();

    expect((await finished((await api<Task>('POST', '/api/destinations/offsite/import', {})).body)).state).toBe('FINISHED');
    expect((await api<BackupPage>('GET', '/api/backups?destination=offsite')).body.backups).toEqual([]);
    const b = await backupOf(ids[1]!);
    expect(b.copies).toEqual([expect.objectContaining({ destination: 'offsite', state: 'ok', taskId: null })]);
    expect((await api<BackupPage>('GET', '/api/backups')).body.backups).toHaveLength(3);
  });

  it('forgets the copies a prune removes on their destination, and keeps the copy of a protected backup', async () => {
    const first = await backupOf(ids[0]!);
    expect((await api<Backup>('PATCH', `/api/backups/${first.id}`, { protected: true })).status).toBe(200);
    // Backup 3 copied too: the destination then has three backups of vm-a, two of them copies ...
    const third = await backupOf(ids[2]!);
    expect((await finished((await api<Task>('POST', `/api/backups/${third.id}/copies`, { to: 'offsite' })).body)).state).toBe('FINISHED');
    const prune = await finished((await api<Task>('POST', '/api/destinations/offsite/prune', { retention: { keepLast: 1 }, dryRun: false })).body);
    expect(prune.state).toBe('FINISHED');
    expect(prune.params).toMatchObject({ protectedBackups: [ids[0]] });
    // Which of the two others is newest there depends on the times the copies carry; one goes.
    const removed = (prune.result as { removed: { id: string }[] }).removed.map((r) => r.id);
    expect(removed).toHaveLength(1);
    expect([ids[1], ids[2]]).toContain(removed[0]);
    survivor = [ids[1]!, ids[2]!].find((id) => id !== removed[0])!;
    expect((await backupOf(removed[0]!)).copies).toEqual([]);
    expect(fs.existsSync(manifestIn(offsitePath, removed[0]!))).toBe(false);
    expect((await backupOf(ids[0]!)).copies?.map((c) => c.state)).toEqual(['ok']);
    expect((await backupOf(survivor)).copies?.map((c) => c.state)).toEqual(['ok']);
    // The original stays where it is.
    expect((await backupOf(removed[0]!)).status).toBe('available');
    expect((await api<Backup>('PATCH', `/api/backups/${first.id}`, { protected: false })).status).toBe(200);
  });

  it("takes a backup policy's copy settings, refusing a copy target that is its own destination, unreachable or without copyTo", async () => {
    const base = { name: 'with-copies', destination: 'nas', schedules: ['incremental mon-fri 22:00'], retention: { keepLast: 7 } };
    const own = await api<{ field?: string }>('POST', '/api/policies', { ...base, copyTo: 'nas' });
    expect(own.status).toBe(400);
    expect(own.body.field).toBe('copyTo');
    const unreachable = await api<{ field?: string }>('POST', '/api/policies', { ...base, copyTo: 'far-away' });
    expect(unreachable.status).toBe(409);
    expect(unreachable.body.field).toBe('copyTo');
    const missing = await api<{ field?: string }>('POST', '/api/policies', { ...base, copyTo: 'nowhere' });
    expect(missing.status).toBe(404);
    expect(missing.body.field).toBe('copyTo');
    const orphan = await api<{ field?: string }>('POST', '/api/policies', { ...base, copyRetention: { keepLast: 3 } });
    expect(orphan.status).toBe(400);
    expect(orphan.body.field).toBe('copyRetention');
    const badRule = await api<{ message: string }>('POST', '/api/policies', { ...base, copyTo: 'offsite', copyRetention: { keepLast: 0 } });
    expect(badRule.status).toBe(400);
    expect(badRule.body.message).toMatch(/copyRetention/);
    const snap = await api<{ field?: string }>('POST', '/api/policies', { name: 'snaps', kind: 'snapshot', schedules: ['daily 03:00'], copyTo: 'offsite' });
    expect(snap.status).toBe(400);
    expect(snap.body.field).toBe('copyTo');

    const created = await api<Policy>('POST', '/api/policies', { ...base, copyTo: 'offsite', copyRetention: { keepLast: 30, monthly: 12 } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ copyDestinationId: offsiteId, copyDestination: 'offsite', copyRetention: { keepLast: 30, monthly: 12 } });
    // An edit that leaves them out keeps them; null stops the copies.
    expect((await api<Policy>('PATCH', '/api/policies/with-copies', { priority: 60 })).body).toMatchObject({ copyDestination: 'offsite', copyRetention: { keepLast: 30, monthly: 12 } });
    const moved = await api<{ field?: string }>('PATCH', '/api/policies/with-copies', { destination: 'offsite' });
    expect(moved.status).toBe(400);
    expect(moved.body.field).toBe('copyTo');
    expect((await api<Policy>('PATCH', '/api/policies/with-copies', { copyTo: null })).body).toMatchObject({ copyDestinationId: null, copyDestination: null, copyRetention: null });
  });

  it('deletes a backup everywhere: its destination and every copy', async () => {
    const b = await backupOf(survivor);
    expect(b.copies?.map((c) => c.destination)).toEqual(['offsite']);
    const started = await api<Task>('DELETE', `/api/backups/${b.id}`);
    expect(started.status).toBe(202);
    expect((await finished(started.body)).state).toBe('FINISHED');
    const copyDelete = await waitFor('the delete on the copy', async () => {
      const tasks = (await api<{ tasks: Task[] }>('GET', '/api/tasks?type=BACKUP_DELETE&limit=50')).body.tasks;
      return tasks.find((x) => x.params.destinationId === offsiteId && x.params.backupId === survivor && ['FINISHED', 'FAILED'].includes(x.state));
    });
    expect(copyDelete.state).toBe('FINISHED');
    expect(fs.existsSync(manifestIn(nasPath, survivor))).toBe(false);
    expect(fs.existsSync(manifestIn(offsitePath, survivor))).toBe(false);
    // The catalog forgets it once both deletes ended (until then it is `removed`, restorable from the copy).
    await waitFor('the backup forgotten', async () => ((await api(`GET`, `/api/backups/${b.id}`)).status === 404 ? true : undefined));
  });

  it('deletes a backup from its own destination only with keepCopies: the copy becomes a backup of its destination', async () => {
    const b = await backupOf(ids[0]!);
    expect(b.copies?.map((c) => c.state)).toEqual(['ok']);
    const started = await api<Task>('DELETE', `/api/backups/${b.id}?keepCopies=true`);
    expect(started.status).toBe(202);
    expect((await finished(started.body)).state).toBe('FINISHED');
    expect(fs.existsSync(manifestIn(nasPath, ids[0]!))).toBe(false);
    expect(fs.existsSync(manifestIn(offsitePath, ids[0]!))).toBe(true);
    const kept = (await api<BackupPage>('GET', '/api/backups?destination=offsite')).body.backups;
    expect(kept).toEqual([expect.objectContaining({ repoBackupId: ids[0], vm: 'vm-a', vmName: 'web', status: 'available', copies: [] })]);
  });
});
