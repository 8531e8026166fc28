/**
 * Microsoft 365 policies on a real server (managed MariaDB), a real node agent with the real
 * handlers, a destination in a temp dir and the Graph emulator: what an m365 policy refuses
 * (400s naming the field), which users and sites it owns (the highest-priority matching policy
 * takes each; users without a OneDrive and sites without a library are never members), the
 * users' and sites' `policy`, a run now backing up exactly its members (one M365_BACKUP each),
 * and retention after a second run: keep last 1 removes each drive's older point (not that of a
 * backup open in a mount), marks those backups removed, and GC frees their packs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CreatedM365Tenant, M365Site, M365User } from '../../../common/api/m365.js';
import type { M365BackupPage } from '../../../common/api/m365.js';
import type { Mount } from '../../../common/api/mounts.js';
import type { Policy, PolicyRun, PolicyRunPage } from '../../../common/api/policies.js';
import type { Task, TaskDetails } from '../../../common/api/tasks.js';
import { defaultHandlers } from '../../../node-service/agent/node-service.js';
import { GraphEmulator, type Tenant } from '../../support/graph-emulator/index.js';
import { enrollTestNode, type TestNode } from '../../support/test-node.js';
import { makeTempDir, setupAdmin, startTestServer, taskEnded, waitFor, type TestServer } from '../../support/test-server.js';

const SECRET = 'Pq7~m365-policy-secret.Zz';
const upn = (name: string) => `${name}@contoso.onmicrosoft.com`;

describe('Microsoft 365 policies', () => {
  let emu: GraphEmulator;
  let tenant: Tenant;
  let t: TestServer;
  let node: TestNode;
  let admin: string;
  const as = <T>(method: string, p: string, body?: unknown) => t.api.request<T>(method, p, body, { token: admin });
  const base = { kind: 'm365', destination: 'nas', schedules: ['incremental daily 21:00', 'full sun 21:00'], timeZone: 'UTC' };

  beforeAll(async () => {
    emu = await GraphEmulator.start();
    tenant = emu.addTenant({ domain: 'contoso.onmicrosoft.com' });
    const app = tenant.addApp({ secret: SECRET, roles: ['User.Read.All', 'Files.Read.All', 'Sites.Read.All', 'Mail.Read'] });
    tenant.addUser({ userPrincipalName: upn('alice'), displayName: 'Alice Archer', mailbox: false });
    tenant.addUser({ userPrincipalName: upn('Alan'), displayName: 'Alan Ames', mailbox: false });
    tenant.addUser({ userPrincipalName: upn('albert'), displayName: 'Albert Auer', drive: false, mailbox: false });
    tenant.addUser({ userPrincipalName: upn('bob'), displayName: 'Bob Baker', mailbox: false });
    tenant.addSite({ name: 'finance', displayName: 'Finance', libraries: ['Documents', 'Archive'] });
    tenant.addSite({ name: 'hr', displayName: 'Human Resources', libraries: ['Documents'] });
    tenant.driveOf(upn('alice')).addFile('Docs/plan.txt', 'the plan');
    tenant.site('finance').library('Documents').addFile('q3.txt', 'numbers');

    t = await startTestServer();
    admin = await setupAdmin(t.api);
    node = await enrollTestNode(t.api, admin, { name: 'cloud-1', handlers: (mount) => defaultHandlers({ name: 'cloud-1' }, {}, mount), serverUrl: t.server.url, fingerprint: t.server.fingerprint });
    expect((await as('POST', '/api/destinations', { name: 'nas', node: 'cloud-1', path: `${makeTempDir('m365-policy')}/vplus` })).status).toBe(201);
    const added = await as<CreatedM365Tenant>('POST', '/api/m365/tenants', {
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
    expect(added.status, added.text).toBe(201);
    expect((await taskEnded(t.api, admin, added.body.syncTaskId!)).state).toBe('FINISHED');
  });

  afterAll(async () => {
    await node?.stop();
    await t?.destroy();
    await emu?.stop();
  });

  it.each([
    [{ ...base, destination: undefined }, 'destination', /^a Microsoft 365 policy needs a destination$/],
    [{ ...base, assignment: { include: ['^alice@'], hypervisors: ['kvm1'] } }, 'assignment.hypervisors', /not by hypervisor: leave hypervisors empty/],
    [{ ...base, schedules: ['daily 21:00'] }, 'schedules.0', /backup type/],
    [{ ...base, assignment: { include: ['(alice'] } }, 'assignment.include.0', /not a valid regular expression/],
  ])('refuses %j with a 400 naming the field', async (body, field, message) => {
    const res = await as<{ message: string; field?: string }>('POST', '/api/policies', { name: 'refused', ...body });
    expect(res.status, res.text).toBe(400);
    expect(res.body.message).toMatch(message);
    expect(res.body.field).toBe(field);
  });

  it('owns the users and sites its rules match, in any case, unless a policy of higher priority matches them', async () => {
    const created = await as<Policy>('POST', '/api/policies', { ...base, name: 'm365-daily', assignment: { include: ['^AL', '^finance$', '^Human'], exclude: ['resources$'] } });
    expect(created.status, created.text).toBe(201);
    expect(created.body).toMatchObject({ kind: 'm365', destination: 'nas', vms: [] });
    // albert has no OneDrive; hr is excluded by its display name.
    expect(created.body.m365Members).toEqual([
      { kind: 'user', id: expect.any(Number), name: upn('Alan'), tenant: 'contoso' },
      { kind: 'user', id: expect.any(Number), name: upn('alice'), tenant: 'contoso' },
      { kind: 'site', id: expect.any(Number), name: 'finance', tenant: 'contoso' },
    ]);
    const vip = await as<Policy>('POST', '/api/policies', { ...base, name: 'm365-vip', priority: 90, assignment: { include: ['^alan@'] } });
    expect(vip.body.m365Members?.map((m) => m.name)).toEqual([upn('Alan')]);
    expect((await as<Policy>('GET', '/api/policies/m365-daily')).body.m365Members?.map((m) => m.name)).toEqual([upn('alice'), 'finance']);

    const users = (await as<M365User[]>('GET', '/api/m365/users')).body;
    expect(users.map((u) => [u.upn, u.policy])).toEqual([
      [upn('Alan'), 'm365-vip'],
      [upn('albert'), null],
      [upn('alice'), 'm365-daily'],
      [upn('bob'), null],
    ]);
    const sites = (await as<M365Site[]>('GET', '/api/m365/sites')).body;
    expect(sites.filter((s) => ['finance', 'hr'].includes(s.name)).map((s) => [s.name, s.policy, s.libraries.map((l) => l.policy)])).toEqual([
      ['finance', 'm365-daily', ['m365-daily', 'm365-daily']],
      ['hr', null, [null]],
    ]);
    expect((await as('DELETE', '/api/policies/m365-vip')).status).toBe(204);
  });

  it('takes no VMs by hand', async () => {
    const res = await as<{ message: string; field?: string }>('POST', '/api/policies/m365-daily/vms', { assign: ['web-1'] });
    expect(res.status, res.text).toBe(400);
    expect(res.body).toMatchObject({ field: 'vms', message: expect.stringMatching(/chosen by its include and exclude rules; it takes no VMs/) });
  });

  it('a policy no user or site matches finishes its run at once, and has nothing to prune', async () => {
    expect((await as('POST', '/api/policies', { ...base, name: 'm365-nobody', retention: { keepLast: 1 }, assignment: { include: ['^nobody@'] } })).status).toBe(201);
    const run = await as<PolicyRun>('POST', '/api/policies/m365-nobody/run');
    expect(run.body).toMatchObject({ state: 'finished', vms: 0, message: 'no Microsoft 365 users or sites are in this policy' });
    const retention = await as<PolicyRun>('POST', '/api/policies/m365-nobody/retention');
    expect(retention.body).toMatchObject({ purpose: 'retention', state: 'finished', message: 'no Microsoft 365 users or sites are in this policy; nothing to prune' });
    expect((await as('DELETE', '/api/policies/m365-nobody')).status).toBe(204);
  });

  /** The run of the policy with this id, once it ended. */
  const ended = (id: number) =>
    waitFor(`policy run ${id} to end`, async () => {
      const run = (await as<PolicyRunPage>('GET', '/api/policies/m365-daily/runs')).body.runs.find((r) => r.id === id);
      return run && run.state !== 'running' ? run : undefined;
    }, 120_000);
  const backups = async () => (await as<M365BackupPage>('GET', '/api/m365/backups?destination=nas')).body.backups;

  it('a run now backs up exactly its members, one M365_BACKUP each on the destination’s node', async () => {
    const started = await as<PolicyRun>('POST', '/api/policies/m365-daily/run', { backupType: 'full' });
    expect(started.status, started.text).toBe(202);
    expect(started.body).toMatchObject({ purpose: 'run', backupType: 'full', vms: 3, message: null });
    expect(started.body.workflowIds).toHaveLength(3);
    const tasks = (await as<{ tasks: Task[] }>('GET', '/api/tasks?type=M365_BACKUP&limit=50')).body.tasks;
    expect(tasks.map((x) => x.subject).sort()).toEqual([`m365-site:finance`, `m365-user:${upn('Alan')}`, `m365-user:${upn('alice')}`]);
    for (const task of tasks) expect(task.params).toMatchObject({ full: true, runId: expect.any(String) });
    expect(await ended(started.body.id)).toMatchObject({ state: 'finished', vms: 3, succeeded: 3, failed: 0 });
    const list = await backups();
    expect(list.map((b) => [b.subject.name, b.kind, b.parts.map((p) => p.name).sort(), b.status]).sort()).toEqual([
      [upn('Alan'), 'full', ['drive'], 'available'],
      [upn('alice'), 'full', ['drive'], 'available'],
      ['finance', 'full', ['Archive', 'Documents'], 'available'],
    ]);
    const users = (await as<M365User[]>('GET', '/api/m365/users')).body;
    expect(users.filter((u) => u.lastBackupAt !== null).map((u) => u.upn)).toEqual([upn('Alan'), upn('alice')]);
  });

  it('retention keep last 1 after a second run: each drive keeps its newest point, the older backups are removed and GC frees their packs; one open in a mount stays', async () => {
    expect((await as('PATCH', '/api/policies/m365-daily', { retention: { keepLast: 1 } })).status).toBe(200);
    const first = await backups();
    // Alice's first backup is being browsed: retention leaves its point.
    const browsed = first.find((b) => b.subject.name === upn('alice'))!;
    const opened = await as<Mount>('POST', `/api/m365/backups/${browsed.id}/browse`, { idleSeconds: 600 });
    expect(opened.status, opened.text).toBe(201);
    const mount = await waitFor('the mount', async () => {
      const m = (await as<Mount>('GET', `/api/mounts/${opened.body.id}`)).body;
      return m.state === 'MOUNTED' || m.state === 'FAILED' ? m : undefined;
    });
    expect(mount, mount.error ?? '').toMatchObject({ state: 'MOUNTED' });
    tenant.driveOf(upn('alice')).editFile('Docs/plan.txt', 'the plan, second version, longer than the first');
    const started = await as<PolicyRun>('POST', '/api/policies/m365-daily/run', { backupType: 'incremental' });
    expect(await ended(started.body.id)).toMatchObject({ state: 'finished', succeeded: 3 });
    // Retention follows a run that backed something up.
    const retention = await waitFor('the retention run', async () => (await as<PolicyRunPage>('GET', '/api/policies/m365-daily/runs')).body.runs.find((r) => r.purpose === 'retention' && r.id > started.body.id));
    expect(await ended(retention.id), retention.message ?? '').toMatchObject({ state: 'finished', vms: 3 });

    const after = await backups();
    expect(after).toHaveLength(6);
    const firstIds = new Set(first.map((b) => b.id));
    expect(after.filter((b) => firstIds.has(b.id)).map((b) => [b.subject.name, b.status]).sort()).toEqual([
      [upn('Alan'), 'removed'],
      [upn('alice'), 'available'],
      ['finance', 'removed'],
    ]);
    expect(after.filter((b) => !firstIds.has(b.id)).map((b) => [b.kind, b.status])).toEqual([
      ['incremental', 'available'],
      ['incremental', 'available'],
      ['incremental', 'available'],
    ]);
    const steps = (await as<{ tasks: TaskDetails[] }>('GET', `/api/tasks?subject=${encodeURIComponent('policy:m365-daily')}`)).body.tasks;
    const prune = steps.find((x) => x.type === 'PRUNE')!;
    const objectKeys = first.flatMap((b) => b.parts.map((p) => p.objectKey)).sort();
    expect((prune.params as { objectKeys: string[] }).objectKeys).toEqual(objectKeys);
    expect(prune.params).toMatchObject({ protectedPoints: [browsed.parts[0]!.pointId] });
    const removed = first.filter((b) => b.id !== browsed.id);
    expect((prune.result as { removed: { id: string }[] }).removed.map((r) => r.id).sort()).toEqual(removed.flatMap((b) => b.parts.map((p) => p.pointId)).sort());
    const packs = (steps.find((x) => x.type === 'GC')!.result as { packs?: { deleted: number; repacked: number } }).packs;
    expect((packs?.deleted ?? 0) + (packs?.repacked ?? 0)).toBeGreaterThan(0);
    // A removed backup is not browsed.
    const gone = await as<{ message: string }>('POST', `/api/m365/backups/${removed[0]!.id}/browse`, {});
    expect(gone.status).toBe(409);
  });
});
