/**
 * Microsoft 365 tenants and their inventory through the real API, a real node agent (in this
 * process, with the real handlers) and the Graph emulator. The node trusts the emulator's CA
 * (made when it starts) only through the tenant's CA option, as a test without it shows. Adding signs in
 * first (a wrong secret is refused, nothing saved), a missing permission is named and saved
 * as a warning, a sync lists users (one without a OneDrive) and a site with two libraries, a
 * user deleted in the tenant is marked removed, and the secret appears in no answer, task,
 * catalog row or log line.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CreatedM365Tenant, M365ConnectionTest, M365Site, M365Tenant, M365User } from '../../../common/api/m365.js';
import type { Task, TaskDetails } from '../../../common/api/tasks.js';
import { Catalog } from '../../../electron/server/db/catalog.js';
import { LOG_SERIALIZERS, REDACT_PATHS } from '../../../electron/server/logger.js';
import { defaultHandlers } from '../../../node-service/agent/node-service.js';
import { GraphEmulator, makeAppCertificate, type AppRegistration, type Tenant } from '../../support/graph-emulator/index.js';
import type { ApiResponse } from '../../support/api-client.js';
import { enrollTestNode, type TestNode } from '../../support/test-node.js';
import { createUser, makeTempDir, setupAdmin, startTestServer, taskEnded, type TestServer } from '../../support/test-server.js';

const SECRET = 'Xq8~right-secret-value.Zz';
const WRONG = 'Xq8~wrong-secret-value.Zz';
const LIMITED_SECRET = 'Lm3~limited-app-secret.Qq';

describe('Microsoft 365 tenants and inventory', () => {
  let emu: GraphEmulator;
  let tenant: Tenant;
  let app: AppRegistration;
  let limited: AppRegistration;
  let t: TestServer;
  let node: TestNode;
  let admin: string;
  let viewer: string;
  let operator: string;
  let logFile: string;
  /** Every answer the API gave in this file: none may carry a secret. */
  const answers: string[] = [];

  const call = async <T>(method: string, p: string, body?: unknown, token = admin): Promise<ApiResponse<T>> => {
    const res = await t.api.request<T>(method, p, body, { token });
    answers.push(res.text);
    return res;
  };
  const settings = (over: Record<string, unknown> = {}) => ({
    name: 'contoso',
    node: 'cloud-1',
    tenantId: tenant.id,
    clientId: app.clientId,
    credentialKind: 'secret',
    clientSecret: SECRET,
    authorityHost: emu.authorityHost,
    graphUrl: emu.graphBaseUrl,
    caPem: emu.caPem,
    ...over,
  });
  const synced = async (taskId: number): Promise<TaskDetails> => {
    const done = await taskEnded(t.api, admin, taskId);
    answers.push(JSON.stringify(done));
    return done;
  };
  const users = async (ref = 'contoso'): Promise<M365User[]> => (await call<M365User[]>('GET', `/api/m365/users?tenant=${ref}`)).body;

  beforeAll(async () => {
    emu = await GraphEmulator.start();
    tenant = emu.addTenant({ domain: 'contoso.onmicrosoft.com' });
    app = tenant.addApp({ secret: SECRET, roles: ['User.Read.All', 'Files.Read.All', 'Sites.Read.All', 'Mail.Read'] });
    limited = tenant.addApp({ secret: LIMITED_SECRET, roles: ['User.Read.All', 'Files.Read.All'] });
    tenant.addUser({ userPrincipalName: 'alice@contoso.onmicrosoft.com', displayName: 'Alice Archer' });
    tenant.addUser({ userPrincipalName: 'bob@contoso.onmicrosoft.com', displayName: 'Bob Baker' });
    tenant.addUser({ userPrincipalName: 'carol@contoso.onmicrosoft.com', displayName: 'Carol Cole', drive: false });
    tenant.addSite({ name: 'finance', displayName: 'Finance', libraries: ['Documents', 'Archive'] });

    // The server's own logger configuration (redaction included), every level, into a file to search.
    logFile = path.join(makeTempDir('m365-log'), 'server.log');
    const logger = pino({ level: 'trace', redact: { paths: REDACT_PATHS, censor: '[redacted]' }, serializers: LOG_SERIALIZERS }, pino.destination({ dest: logFile, sync: true }));
    t = await startTestServer({}, { logger });
    admin = await setupAdmin(t.api);
    viewer = await createUser(t.api, admin, 'vera', 'viewer');
    operator = await createUser(t.api, admin, 'otto', 'operator');
    node = await enrollTestNode(t.api, admin, { name: 'cloud-1', handlers: defaultHandlers({ name: 'cloud-1' }), serverUrl: t.server.url, fingerprint: t.server.fingerprint });
  });

  afterAll(async () => {
    await node?.stop();
    await t?.destroy();
    await emu?.stop();
    if (logFile) fs.rmSync(path.dirname(logFile), { recursive: true, force: true });
  });

  it('a wrong secret is refused with the sentence on the secret, and nothing is saved', async () => {
    const res = await call<{ error: string; message: string; field: string; detail?: string }>('POST', '/api/m365/tenants', settings({ clientSecret: WRONG }));
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: 'M365_SIGN_IN_FAILED', field: 'clientSecret' });
    expect(res.body.message).toMatch(/^the client secret is wrong for app .*: use the secret's Value \(not its Secret ID\)/);
    expect(res.body.detail).toMatch(/AADSTS7000215/);
    expect((await call<M365Tenant[]>('GET', '/api/m365/tenants')).body).toEqual([]);
    const audit = await call<{ entries: { action: string }[] }>('GET', '/api/audit?action=m365_tenant');
    expect(audit.body.entries).toEqual([]);
  });

  it('without the CA option the node does not trust the emulator, and says to add the CA', async () => {
    const res = await call<{ error: string; message: string; field: string }>('POST', '/api/m365/connection-test', settings({ caPem: undefined }));
    expect(res.status).toBe(502);
    expect(res.body).toMatchObject({ error: 'M365_UNREACHABLE', field: 'caPem' });
    expect(res.body.message).toMatch(/TLS certificate is not trusted.*add its CA to the tenant/);
    const test = await call<M365ConnectionTest>('POST', '/api/m365/connection-test', settings());
    expect(test.status).toBe(200);
    expect(test.body).toMatchObject({ ok: true });
    expect(test.body.checks.map((c) => c.permission)).toEqual(['User.Read.All', 'Sites.Read.All', 'Files.Read.All']);
  });

  it('a viewer may list but neither add nor sync nor test', async () => {
    expect((await call('POST', '/api/m365/tenants', settings(), viewer)).status).toBe(403);
    expect((await call('POST', '/api/m365/connection-test', settings(), viewer)).status).toBe(403);
    expect((await call('GET', '/api/m365/tenants', undefined, viewer)).status).toBe(200);
    expect((await call('POST', '/api/m365/tenants', settings(), operator)).status).toBe(403);
  });

  it('adds a tenant, whose first sync lists users (one without a OneDrive) and a site with two libraries', async () => {
    const res = await call<CreatedM365Tenant>('POST', '/api/m365/tenants', settings());
    expect(res.status).toBe(201);
    expect(res.body.test).toMatchObject({ ok: true, message: 'Signed in; the app may read users, sites and files' });
    expect(res.body.tenant).toMatchObject({ name: 'contoso', tenantId: tenant.id, clientId: app.clientId, credentialKind: 'secret', node: 'cloud-1', caPem: emu.caPem.trim(), test: { ok: true, missing: [] } });
    const sync = await synced(res.body.syncTaskId!);
    expect(sync).toMatchObject({ type: 'M365_SYNC', state: 'FINISHED', subject: 'm365-tenant:contoso', subjectInfo: { kind: 'm365-tenant', name: 'contoso' } });

    const list = await users();
    expect(list.map((u) => [u.upn, u.displayName, u.hasDrive, u.present])).toEqual([
      ['alice@contoso.onmicrosoft.com', 'Alice Archer', true, true],
      ['bob@contoso.onmicrosoft.com', 'Bob Baker', true, true],
      ['carol@contoso.onmicrosoft.com', 'Carol Cole', false, true],
    ]);
    expect(list[0]).toMatchObject({ tenant: 'contoso', graphId: tenant.user('alice@contoso.onmicrosoft.com').id, driveId: tenant.driveOf('alice@contoso.onmicrosoft.com').id, hasMailbox: true, policy: null, lastBackupAt: null });
    const sites = (await call<M365Site[]>('GET', '/api/m365/sites?tenant=contoso')).body;
    const finance = sites.find((s) => s.name === 'finance')!;
    expect(finance).toMatchObject({ displayName: 'Finance', url: tenant.site('finance').webUrl, present: true });
    expect(finance.libraries.map((l) => [l.name, l.driveId])).toEqual([
      ['Archive', tenant.site('finance').library('Archive').id],
      ['Documents', tenant.site('finance').library('Documents').id],
    ]);
    const row = (await call<M365Tenant>('GET', '/api/m365/tenants/contoso')).body;
    expect(row).toMatchObject({ syncState: 'ok', users: 3, drives: 2, sites: sites.length, libraries: sites.reduce((n, s) => n + s.libraries.length, 0) });
    expect(row.lastSyncAt).not.toBeNull();
    const audit = (await call<{ entries: { action: string; target: string }[] }>('GET', '/api/audit?action=m365_tenant')).body.entries;
    expect(audit).toEqual([expect.objectContaining({ action: 'm365_tenant.create', target: 'm365-tenant:contoso' })]);
  });

  it('a user deleted in the tenant is marked removed at the next sync, with the same catalog id', async () => {
    const before = await users();
    tenant.removeUser('carol@contoso.onmicrosoft.com');
    const task = await call<Task>('POST', '/api/m365/tenants/contoso/sync', {}, operator);
    expect(task.status).toBe(202);
    expect((await synced(task.body.id)).state).toBe('FINISHED');
    const after = await users();
    expect(after.map((u) => [u.id, u.upn, u.present])).toEqual(before.map((u) => [u.id, u.upn, u.upn.startsWith('carol') ? false : true]));
    expect(after.find((u) => u.upn.startsWith('carol'))!.removedAt).not.toBeNull();
    expect((await call<M365Tenant>('GET', '/api/m365/tenants/contoso')).body.users).toBe(2);
    // A viewer may not start one.
    expect((await call('POST', '/api/m365/tenants/contoso/sync', {}, viewer)).status).toBe(403);
  });

  it('a missing permission is named by Test, saved as a warning, and the sync lists what it may', async () => {
    const res = await call<CreatedM365Tenant>('POST', '/api/m365/tenants', settings({ name: 'limited', clientId: limited.clientId, clientSecret: LIMITED_SECRET }));
    expect(res.status).toBe(201);
    expect(res.body.test.ok).toBe(false);
    expect(res.body.test.checks.filter((c) => !c.ok).map((c) => c.permission)).toEqual(['Sites.Read.All']);
    expect(res.body.test.message).toMatch(/Sites\.Read\.All is missing: add it under API permissions \(Application\) and grant admin consent/);
    expect(res.body.tenant.test).toMatchObject({ ok: false, missing: ['Sites.Read.All'] });
    const test = await call<M365ConnectionTest>('POST', '/api/m365/tenants/limited/test', {}, operator);
    expect(test.status).toBe(200);
    expect(test.body.checks.find((c) => c.permission === 'Sites.Read.All')).toMatchObject({ ok: false, message: expect.stringMatching(/grant the application permission Sites\.Read\.All/) });
    const sync = await synced(res.body.syncTaskId!);
    expect(sync.state).toBe('FINISHED_WITH_WARNINGS');
    expect(sync.warnings.join(' ')).toMatch(/SharePoint sites were not listed/);
    expect((await users('limited')).map((u) => u.upn)).toEqual(['alice@contoso.onmicrosoft.com', 'bob@contoso.onmicrosoft.com']);
    expect((await call<M365Tenant>('GET', '/api/m365/tenants/limited')).body).toMatchObject({ syncState: 'warning', sites: 0 });
  });

  it('a certificate credential works; a private key of another certificate is refused on its field', async () => {
    const cert = await makeAppCertificate();
    const other = await makeAppCertificate('CN=another');
    const certApp = tenant.addApp({ certificates: [cert.certPem] });
    const base = { name: 'by-cert', clientId: certApp.clientId, credentialKind: 'certificate', clientSecret: undefined, certificatePem: cert.certPem };
    const wrong = await call<{ field: string; message: string }>('POST', '/api/m365/tenants', settings({ ...base, privateKeyPem: other.privateKeyPem }));
    expect(wrong.status).toBe(400);
    expect(wrong.body).toMatchObject({ field: 'privateKeyPem', message: expect.stringMatching(/does not belong to the certificate/) });
    const added = await call<CreatedM365Tenant>('POST', '/api/m365/tenants', settings({ ...base, privateKeyPem: cert.privateKeyPem }));
    expect(added.status).toBe(201);
    expect(added.body.tenant).toMatchObject({ credentialKind: 'certificate', certificateThumbprint: cert.thumbprintSha1 });
    await synced(added.body.syncTaskId!);
    const removed = await call('DELETE', '/api/m365/tenants/by-cert');
    expect(removed.status).toBe(204);
    expect((await call('GET', '/api/m365/tenants/by-cert')).status).toBe(404);
  });

  it('a change of the secret is tested first: a wrong one is refused and the old one kept', async () => {
    const wrong = await call<{ field: string }>('PATCH', '/api/m365/tenants/contoso', { clientSecret: WRONG });
    expect(wrong.status).toBe(400);
    expect(wrong.body.field).toBe('clientSecret');
    expect((await call<M365ConnectionTest>('POST', '/api/m365/tenants/contoso/test', {})).body.ok).toBe(true);
    const renamed = await call<M365Tenant>('PATCH', '/api/m365/tenants/contoso', { name: 'contoso-ltd', clientSecret: SECRET });
    expect(renamed.status).toBe(200);
    expect(renamed.body.name).toBe('contoso-ltd');
    // The node the tenants are reached through cannot be removed while they are.
    const node = await call<{ message: string }>('DELETE', '/api/nodes/cloud-1');
    expect(node.status).toBe(409);
    expect(node.body.message).toMatch(/reaches Microsoft 365 tenants \(contoso-ltd, limited\); give them another node or remove them first/);
    const entries = (await call<{ entries: { action: string }[] }>('GET', '/api/audit?action=m365_tenant')).body.entries.map((e) => e.action);
    expect(entries).toEqual(expect.arrayContaining(['m365_tenant.update', 'm365_tenant.remove']));
  });

  it('the secrets appear in no answer, task, catalog row or log line', async () => {
    const tasks = (await call<{ tasks: Task[] }>('GET', '/api/tasks?type=M365_SYNC')).body.tasks;
    expect(tasks.length).toBeGreaterThanOrEqual(4);
    for (const task of tasks) {
      const details = await call<TaskDetails>('GET', `/api/tasks/${task.id}`);
      // What the node worked with is recorded, its credential reduced to its kind.
      expect(details.body.params).toMatchObject({ tenant: { credential: { kind: expect.any(String) } } });
      expect(Object.keys((details.body.params as { tenant: { credential: object } }).tenant.credential)).toEqual(['kind']);
    }
    const catalog = new Catalog({ mode: 'managed', pool: { socketPath: path.join(t.dataDir, 'mariadb', 'run', 'mysqld.sock'), user: os.userInfo().username, database: 'vplus' } });
    try {
      const rows = [
        ...(await catalog.query('SELECT params, result, error, warnings FROM tasks')),
        ...(await catalog.query('SELECT message FROM task_logs')),
        ...(await catalog.query('SELECT * FROM m365_tenants')),
        ...(await catalog.query('SELECT action, details FROM audit_log')),
        ...(await catalog.query('SELECT ciphertext FROM secrets')),
      ];
      const text = JSON.stringify(rows);
      expect(text).toContain('m365_tenant.create');
      for (const secret of [SECRET, WRONG, LIMITED_SECRET]) expect(text).not.toContain(secret);
      expect(Number((await catalog.query<{ n: number }>("SELECT COUNT(*) AS n FROM secrets WHERE name LIKE 'm365-tenant:%'"))[0]!.n)).toBe(2);
    } finally {
      await catalog.close();
    }
    const log = fs.readFileSync(logFile, 'utf8');
    expect(log).toMatch(/m365_tenant\.create/);
    for (const secret of [SECRET, WRONG, LIMITED_SECRET]) {
      expect(log).not.toContain(secret);
      for (const answer of answers) expect(answer).not.toContain(secret);
    }
  });
});
