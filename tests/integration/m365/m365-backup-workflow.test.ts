/**
 * Microsoft 365 backups end to end: the real API and a real node agent (in this process, with
 * the node's default handlers and its mounts) against the Graph emulator. Backup now of a
 * user to a destination (M365_BACKUP dispatched with the tenant's settings, drives and
 * repository), the backup listed with its drive, browsed as a mount (a file read through the
 * server), and a folder restored to another user's OneDrive, compared by SHA-256.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CreatedM365Tenant, M365Backup, M365BackupPage } from '../../../common/api/m365.js';
import type { BrowseListing, Mount } from '../../../common/api/mounts.js';
import { defaultHandlers } from '../../../node-service/agent/node-service.js';
import type { ApiResponse } from '../../support/api-client.js';
import { GraphEmulator, type Drive, type Tenant } from '../../support/graph-emulator/index.js';
import { enrollTestNode, type TestNode } from '../../support/test-node.js';
import { makeTempDir, setupAdmin, startTestServer, taskEnded, waitFor, type TestServer } from '../../support/test-server.js';

const SECRET = 'Xq8~right-secret-value.Zz';
const ALICE = 'alice@contoso.onmicrosoft.com';
const BOB = 'bob@contoso.onmicrosoft.com';

describe('Microsoft 365 backups through the API', () => {
  let emu: GraphEmulator;
  let tenant: Tenant;
  let alice: Drive;
  let bob: Drive;
  let t: TestServer;
  let node: TestNode;
  let admin: string;
  let backup: M365Backup;

  const call = <T>(method: string, p: string, body?: unknown): Promise<ApiResponse<T>> => t.api.request<T>(method, p, body, { token: admin });

  beforeAll(async () => {
    emu = await GraphEmulator.start();
    tenant = emu.addTenant({ domain: 'contoso.onmicrosoft.com' });
    const app = tenant.addApp({ secret: SECRET });
    tenant.addUser({ userPrincipalName: ALICE, displayName: 'Alice Archer' });
    tenant.addUser({ userPrincipalName: BOB, displayName: 'Bob Baker' });
    alice = tenant.driveOf(ALICE);
    bob = tenant.driveOf(BOB);
    alice.seed({ 'Docs/Report.txt': 'the report', 'Docs/Sub/deep.md': '# deep', 'big.bin': { size: 300_000, seed: 'big' } });
    t = await startTestServer();
    admin = await setupAdmin(t.api);
    node = await enrollTestNode(t.api, admin, { name: 'cloud-1', handlers: (mount) => defaultHandlers({ name: 'cloud-1' }, {}, mount), serverUrl: t.server.url, fingerprint: t.server.fingerprint });
    const added = await call<CreatedM365Tenant & { message?: string }>('POST', '/api/m365/tenants', {
      name: 'contoso',
      node: 'cloud-1',
      tenantId: tenant.id,
      clientId: app.clientId,
      credentialKind: 'secret',
      clientSecret: SECRET,
      authorityHost: emu.authorityHost,
      graphUrl: emu.graphBaseUrl,
      caPem: emu.caPem,
    });
    expect(added.status, added.body.message).toBe(201);
    expect((await taskEnded(t.api, admin, added.body.syncTaskId!)).state).toBe('FINISHED');
    const dest = await call<{ message?: string }>('POST', '/api/destinations', { name: 'nas', node: 'cloud-1', path: path.join(makeTempDir('m365-repo'), 'vplus') });
    expect(dest.status, dest.body.message).toBe(201);
  });

  afterAll(async () => {
    await node?.stop();
    await t?.destroy();
    await emu?.stop();
  });

  it('backs up a user now, and lists the backup with its drive', async () => {
    const run = await call<{ taskId: number; message?: string }>('POST', '/api/m365/backups', { user: ALICE, destination: 'nas' });
    expect(run.status, run.body.message).toBe(202);
    const done = await taskEnded(t.api, admin, run.body.taskId);
    expect(done.state, done.error ?? '').toBe('FINISHED');
    const page = await call<M365BackupPage>('GET', `/api/m365/backups?user=${ALICE}`);
    expect(page.body.backups).toHaveLength(1);
    backup = page.body.backups[0]!;
    expect(backup.parts).toEqual([expect.objectContaining({ name: 'drive', driveId: alice.id, kind: 'full', files: 3, bytes: 300_016 })]);
  });

  it('browses the backup as a mount and reads a file of it through the server', async () => {
    const opened = await call<Mount & { message?: string }>('POST', `/api/m365/backups/${backup.id}/browse`, {});
    expect(opened.status, opened.body.message).toBe(201);
    const mount = await waitFor('the mount to open', async () => {
      const m = (await call<Mount>('GET', `/api/mounts/${opened.body.id}`)).body;
      return m.state === 'MOUNTED' || m.state === 'FAILED' ? m : undefined;
    });
    expect(mount).toMatchObject({ state: 'MOUNTED', filesystems: [{ name: 'drive', kind: 'm365-drive', type: 'onedrive', readable: true }] });
    const docs = await call<BrowseListing>('GET', `/api/mounts/${mount.id}/files?path=${encodeURIComponent('drive/Docs')}`);
    expect(docs.body.entries.map((e) => [e.name, e.type])).toEqual([
      ['Report.txt', 'file'],
      ['Sub', 'dir'],
    ]);
    const content = await call<string>('GET', `/api/mounts/${mount.id}/content?path=${encodeURIComponent('drive/Docs/Report.txt')}`);
    expect(content.text).toBe('the report');
    expect((await call('DELETE', `/api/mounts/${mount.id}`)).status).toBe(202);
  });

  it("restores a folder to another user's OneDrive", async () => {
    const res = await call<{ taskId: number; message?: string }>('POST', `/api/m365/backups/${backup.id}/restore`, { paths: ['drive/Docs'], to: BOB, folder: 'From Alice' });
    expect(res.status, res.body.message).toBe(202);
    const done = await taskEnded(t.api, admin, res.body.taskId);
    expect(done.state, done.error ?? '').toBe('FINISHED');
    const from = await alice.snapshot();
    const to = await bob.snapshot();
    for (const p of ['/Docs/Report.txt', '/Docs/Sub/deep.md']) expect(to[`/From Alice${p}`]).toMatchObject({ type: 'file', sha256: (from[p] as { sha256: string }).sha256 });
  });
});
