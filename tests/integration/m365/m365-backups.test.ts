/**
 * Microsoft 365 backups end to end through the real API: a real server (managed MariaDB), a
 * real node agent with the real handlers, a real encrypted repository, and the Graph emulator.
 * Backup now of a user's OneDrive and a site's two libraries, an incremental after changes,
 * the backup browsed as a mount (listing, a file's bytes, a zip), a folder restored into
 * another user's OneDrive (compared by SHA-256 with the emulator's state), a viewer refused,
 * bad requests naming their field, and the catalog rebuilt from the destination alone.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { M365Backup, M365BackupPage, M365User } from '../../../common/api/m365.js';
import type { BrowseListing, Mount } from '../../../common/api/mounts.js';
import type { TaskDetails } from '../../../common/api/tasks.js';
import { Catalog } from '../../../electron/server/db/catalog.js';
import { defaultHandlers } from '../../../node-service/agent/node-service.js';
import type { ApiResponse } from '../../support/api-client.js';
import { GraphEmulator, type AppRegistration, type Drive, type Tenant } from '../../support/graph-emulator/index.js';
import { enrollTestNode, type TestNode } from '../../support/test-node.js';
import { createUser, makeTempDir, setupAdmin, startTestServer, taskEnded, waitFor, type TestServer } from '../../support/test-server.js';

const SECRET = 'Bk7~backup-app-secret.Qq';
const ALICE = 'alice@contoso.onmicrosoft.com';
const BOB = 'bob@contoso.onmicrosoft.com';
const MiB = 1024 * 1024;

describe('Microsoft 365 backups through the API', () => {
  let emu: GraphEmulator;
  let tenant: Tenant;
  let app: AppRegistration;
  let alice: Drive;
  let bob: Drive;
  let t: TestServer;
  let node: TestNode;
  let admin: string;
  let viewer: string;
  let destinationId: number;

  const call = <T>(method: string, p: string, body?: unknown, token = admin): Promise<ApiResponse<T>> => t.api.request<T>(method, p, body, { token });
  const ended = (id: number): Promise<TaskDetails> => taskEnded(t.api, admin, id, 180_000);
  const backupNow = async (body: Record<string, unknown>): Promise<TaskDetails> => {
    const res = await call<{ taskId: number }>('POST', '/api/m365/backups', { destination: 'vault', ...body });
    expect(res.status, res.text).toBe(202);
    return ended(res.body.taskId);
  };
  const backups = async (q = ''): Promise<M365Backup[]> => (await call<M365BackupPage>('GET', `/api/m365/backups${q}`)).body.backups;
  const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

  beforeAll(async () => {
    emu = await GraphEmulator.start();
    tenant = emu.addTenant({ domain: 'contoso.onmicrosoft.com' });
    app = tenant.addApp({ secret: SECRET });
    tenant.addUser({ userPrincipalName: ALICE, displayName: 'Alice Archer', mailbox: false });
    tenant.addUser({ userPrincipalName: BOB, displayName: 'Bob Baker', mailbox: false });
    tenant.addUser({ userPrincipalName: 'carol@contoso.onmicrosoft.com', displayName: 'Carol Cole', drive: false, mailbox: false });
    const finance = tenant.addSite({ name: 'finance', displayName: 'Finance', libraries: ['Documents', 'Archive'] });
    alice = tenant.driveOf(ALICE);
    bob = tenant.driveOf(BOB);
    alice.seed({
      'Docs/Report.txt': 'quarterly numbers',
      'Docs/Sub/deep.txt': 'deep inside',
      'Фото/café ☕.txt': Buffer.from('unicode names are fine'),
      'empty.txt': '',
      'big.bin': { size: 5 * MiB, seed: 'big' },
    });
    bob.seed({ 'bob.txt': 'bob was here' });
    finance.library('Documents').seed({ 'Budget.xlsx': 'budget', 'Plans/2027.docx': 'plans' });
    finance.library('Archive').seed({ 'old/2019.txt': 'archived' });

    t = await startTestServer();
    admin = await setupAdmin(t.api);
    viewer = await createUser(t.api, admin, 'vera', 'viewer');
    node = await enrollTestNode(t.api, admin, { name: 'cloud-b', handlers: (mount) => defaultHandlers({ name: 'cloud-b' }, {}, mount), serverUrl: t.server.url, fingerprint: t.server.fingerprint });
    const added = await call<{ syncTaskId: number }>('POST', '/api/m365/tenants', {
      name: 'contoso', node: 'cloud-b', tenantId: tenant.id, clientId: app.clientId, credentialKind: 'secret', clientSecret: SECRET,
      authorityHost: emu.authorityHost, graphUrl: emu.graphBaseUrl, caPem: emu.caPem,
    });
    expect(added.status, added.text).toBe(201);
    expect((await ended(added.body.syncTaskId)).state).toBe('FINISHED');
    const dest = await call<{ id: number }>('POST', '/api/destinations', { name: 'vault', node: 'cloud-b', path: path.join(makeTempDir('m365-vault'), 'repo'), password: 'vault-password-1' });
    expect(dest.status, dest.text).toBe(201);
    destinationId = dest.body.id;
  });

  afterAll(async () => {
    await node?.stop();
    await t?.destroy();
    await emu?.stop();
  });

  it('refuses bad requests with the field named, and a viewer altogether', async () => {
    const both = await call<{ field: string }>('POST', '/api/m365/backups', { user: ALICE, site: 'finance', destination: 'vault' });
    expect(both.status).toBe(400);
    expect(both.body.field).toBe('user');
    const noDrive = await call<{ field: string; message: string }>('POST', '/api/m365/backups', { user: 'carol@contoso.onmicrosoft.com', destination: 'vault' });
    expect(noDrive.status).toBe(409);
    expect(noDrive.body).toMatchObject({ field: 'user' });
    expect(noDrive.body.message).toMatch(/has no OneDrive/);
    const noDest = await call<{ field: string }>('POST', '/api/m365/backups', { user: ALICE, destination: 'nowhere' });
    expect(noDest.status).toBe(404);
    expect(noDest.body.field).toBe('destination');
    expect((await call('POST', '/api/m365/backups', { user: ALICE, destination: 'vault' }, viewer)).status).toBe(403);
  });

  it("backs up a user's OneDrive, then only what changed", async () => {
    const first = await backupNow({ user: ALICE });
    expect(first.state, first.error ?? '').toBe('FINISHED');
    let list = await backups(`?user=${encodeURIComponent(ALICE)}`);
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ kind: 'full', subject: { kind: 'user', name: ALICE }, tenant: 'contoso', destination: 'vault', files: 5, status: 'available', taskId: first.id });
    expect(list[0]!.parts.map((p) => p.name)).toEqual(['drive']);
    expect(list[0]!.bytes).toBe(5 * MiB + 'quarterly numbers'.length + 'deep inside'.length + 'unicode names are fine'.length);

    alice.editFile('Docs/Report.txt', 'revised numbers');
    alice.deletePath('empty.txt');
    const second = await backupNow({ user: ALICE });
    expect(second.state, second.error ?? '').toBe('FINISHED');
    list = await backups(`?user=${encodeURIComponent(ALICE)}`);
    expect(list.map((b) => b.kind)).toEqual(['incremental', 'full']);
    expect(list[0]!.files).toBe(4);
    const users = (await call<M365User[]>('GET', '/api/m365/users?tenant=contoso')).body;
    expect(users.find((u) => u.upn === ALICE)!.lastBackupAt).toBe(list[0]!.createdAt);
    expect(users.find((u) => u.upn === BOB)!.lastBackupAt).toBeNull();
  });

  it("backs up a site's document libraries as one backup with a drive per library", async () => {
    const done = await backupNow({ site: 'finance' });
    expect(done.state, done.error ?? '').toBe('FINISHED');
    const [site] = await backups('?site=finance');
    expect(site!.parts.map((p) => p.name).sort()).toEqual(['Archive', 'Documents']);
    expect(site!.files).toBe(3);
  });

  it('browses a backup in the file explorer: folders, a file, a zip; a second browse reuses the mount', async () => {
    const [latest] = await backups(`?user=${encodeURIComponent(ALICE)}`);
    const opened = await call<Mount>('POST', `/api/m365/backups/${latest!.id}/browse`, {});
    expect(opened.status, opened.text).toBe(201);
    expect(opened.body).toMatchObject({ m365BackupId: latest!.id, backupId: null, vm: ALICE });
    const mount = await waitFor('the mount', async () => {
      const m = (await call<Mount>('GET', `/api/mounts/${opened.body.id}`)).body;
      return m.state === 'MOUNTED' || m.state === 'FAILED' ? m : undefined;
    });
    expect(mount, mount.error ?? '').toMatchObject({ state: 'MOUNTED' });
    expect(mount.filesystems.map((f) => f.name)).toEqual(['drive']);
    const again = await call<Mount>('POST', `/api/m365/backups/${latest!.id}/browse`, {});
    expect(again.body.id).toBe(mount.id);

    const docs = await call<BrowseListing>('GET', `/api/mounts/${mount.id}/files?path=${encodeURIComponent('drive/Docs')}`);
    expect(docs.status, docs.text).toBe(200);
    expect(docs.body.entries.map((e) => [e.name, e.type])).toEqual([
      ['Report.txt', 'file'],
      ['Sub', 'dir'],
    ]);
    const dir = makeTempDir('m365-download');
    const file = path.join(dir, 'Report.txt');
    const content = await t.api.download(`/api/mounts/${mount.id}/content?path=${encodeURIComponent('drive/Docs/Report.txt')}&download=1`, file, { token: admin });
    expect(content.status).toBe(200);
    expect(fs.readFileSync(file, 'utf8')).toBe('revised numbers');
    const big = await t.api.download(`/api/mounts/${mount.id}/content?path=${encodeURIComponent('drive/big.bin')}`, path.join(dir, 'big.bin'), { token: admin });
    expect(big.bytes).toBe(5 * MiB);
    expect(sha(fs.readFileSync(path.join(dir, 'big.bin')))).toBe(((await alice.snapshot())['/big.bin'] as { sha256: string }).sha256);
    const zipFile = path.join(dir, 'docs.zip');
    const zip = await t.api.download(`/api/mounts/${mount.id}/zip?path=${encodeURIComponent('drive/Docs')}`, zipFile, { token: admin });
    expect(zip.status).toBe(200);
    const zipped = fs.readFileSync(zipFile);
    expect(zipped.subarray(0, 4).toString('hex')).toBe('504b0304');
    expect(zipped.includes(Buffer.from('Docs/Sub/deep.txt'))).toBe(true);
    fs.rmSync(dir, { recursive: true, force: true });
    expect((await call('DELETE', `/api/mounts/${mount.id}`)).status).toBe(202);
  });

  it("restores a folder into another user's OneDrive, in a Restore folder, byte for byte", async () => {
    const [latest] = await backups(`?user=${encodeURIComponent(ALICE)}`);
    expect((await call('POST', `/api/m365/backups/${latest!.id}/restore`, { paths: ['drive/Docs'], to: BOB }, viewer)).status).toBe(403);
    const wrongDrive = await call<{ field: string }>('POST', `/api/m365/backups/${latest!.id}/restore`, { paths: ['Documents/x'] });
    expect(wrongDrive.status).toBe(400);
    expect(wrongDrive.body.field).toBe('paths');
    const res = await call<{ taskId: number }>('POST', `/api/m365/backups/${latest!.id}/restore`, { paths: ['drive/Docs'], to: BOB, conflict: 'copy' });
    expect(res.status, res.text).toBe(202);
    const done = await ended(res.body.taskId);
    expect(done.state, done.error ?? '').toBe('FINISHED');
    expect(done.subjectInfo).toEqual({ kind: 'm365-backup', name: ALICE, at: latest!.createdAt });
    const result = done.result as { restoredFiles: number; targetRoot: string; failed: unknown[] };
    expect(result.restoredFiles).toBe(2);
    expect(result.failed).toEqual([]);
    const state = await bob.snapshot();
    const root = result.targetRoot.replace(/\/$/, '');
    expect(root).toMatch(/^\/Restore-\d{4}-\d{2}-\d{2} \d{4}$/);
    expect(state[`${root}/Docs/Report.txt`]).toMatchObject({ type: 'file', sha256: sha(Buffer.from('revised numbers')) });
    expect(state[`${root}/Docs/Sub/deep.txt`]).toMatchObject({ type: 'file', sha256: sha(Buffer.from('deep inside')) });
    expect(state['/bob.txt']).toMatchObject({ type: 'file' });
    const audit = await call<{ entries: { action: string; target: string }[] }>('GET', '/api/audit?action=m365.restore');
    expect(audit.body.entries[0]).toMatchObject({ action: 'm365.restore', target: `m365-backup:${latest!.id}` });
  });

  it('a new catalog finds the same backups on the destination alone (re-import)', async () => {
    const before = await backups();
    expect(before).toHaveLength(3);
    const catalog = new Catalog({ mode: 'managed', pool: { socketPath: path.join(t.dataDir, 'mariadb', 'run', 'mysqld.sock'), user: os.userInfo().username, database: 'vplus' } });
    try {
      await catalog.execute('DELETE FROM mounts WHERE m365_backup_id IS NOT NULL');
      await catalog.execute('DELETE FROM m365_backups');
    } finally {
      await catalog.close();
    }
    expect(await backups()).toEqual([]);
    const task = await call<{ id: number }>('POST', `/api/destinations/${destinationId}/import`, {});
    expect(task.status, task.text).toBe(202);
    expect((await ended(task.body.id)).state).toBe('FINISHED');
    const after = await waitFor('the re-imported backups', async () => {
      const list = await backups();
      return list.length === before.length ? list : undefined;
    });
    const key = (b: M365Backup) => ({ subject: b.subject, parts: b.parts.map((p) => ({ ...p })).sort((x, y) => x.name.localeCompare(y.name)), files: b.files, bytes: b.bytes, kind: b.kind });
    expect(after.map(key)).toEqual(before.map(key));
  });
});
