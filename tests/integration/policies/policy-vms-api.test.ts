import { randomUUID } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEntry } from '../../../common/api/audit.js';
import type { Policy, PolicyPreview } from '../../../common/api/policies.js';
import { defaultHandlers } from '../../../node-service/agent/node-service.js';
import { Catalog } from '../../../electron/server/db/catalog.js';
import { enrollTestNode, type TestNode } from '../../support/test-node.js';
import { createUser, makeTempDir, setupAdmin, startTestServer, type TestServer } from '../../support/test-server.js';

interface ApiError {
  error: string;
  message: string;
  field?: string;
}

/**
 * POST /api/policies/:policy/vms, the create/edit form's VM checklist saved in one call: VMs
 * put in by hand (moving out of another policy of the kind) and VMs taken out, all or nothing,
 * a refusal naming the list and position; admins only. The VMs are written straight into the
 * catalog (a hypervisor no node syncs): the KVM tests cover VMs a real libvirt lists.
 */
describe('policies API: the VM checklist in one change', () => {
  let t: TestServer;
  let admin: string;
  let operator: string;
  let viewer: string;
  let node: TestNode;
  const ids: Record<string, number> = {};
  const as = <T>(token: string, method: string, p: string, body?: unknown) => t.api.request<T>(method, p, body, { token });
  const api = <T>(method: string, p: string, body?: unknown) => as<T>(admin, method, p, body);
  const members = async (policy: string): Promise<string[]> =>
    (await api<Policy>('GET', `/api/policies/${policy}`)).body.vms.map((vm) => `${vm.name}:${vm.source}`).sort();
  const id = (name: string): string => String(ids[name]);

  beforeAll(async () => {
    t = await startTestServer();
    admin = await setupAdmin(t.api);
    operator = await createUser(t.api, admin, 'olga', 'operator');
    viewer = await createUser(t.api, admin, 'victor', 'viewer');
    node = await enrollTestNode(t.api, admin, { name: 'store', handlers: defaultHandlers(), serverUrl: t.server.url, fingerprint: t.server.fingerprint });
    expect((await api('POST', '/api/destinations', { name: 'nas', node: 'store', path: `${makeTempDir('policy-vms')}/vplus` })).status).toBe(201);

    const catalog = new Catalog({ mode: 'managed', pool: { socketPath: path.join(t.dataDir, 'mariadb', 'run', 'mysqld.sock'), user: os.userInfo().username, database: 'vplus' } });
    try {
      const nodeId = (await catalog.query<{ id: number }>("SELECT id FROM nodes WHERE name = 'store'"))[0]!.id;
      const host = async (name: string) => Number((await catalog.execute("INSERT INTO hypervisors (name, node_id, uri, status) VALUES (?, ?, 'qemu:///system', 'ok')", [name, nodeId])).insertId);
      const kvm1 = await host('kvm1');
      const kvm2 = await host('kvm2');
      const vm = async (hypervisor: number, name: string) =>
        Number((await catalog.execute("INSERT INTO vms (hypervisor_id, uuid, name, state, disks, excluded_disks) VALUES (?, ?, ?, 'shut off', '[]', '[]')", [hypervisor, randomUUID(), name])).insertId);
      for (const name of ['app-a', 'app-b', 'rule-web', 'moving']) ids[name] = await vm(kvm1, name);
      // The same name on two hosts: by name it is ambiguous, by id it is not.
      ids['twin'] = await vm(kvm1, 'twin');
      ids['twin@kvm2'] = await vm(kvm2, 'twin');
    } finally {
      await catalog.close();
    }

    expect((await api('POST', '/api/policies', { name: 'nightly', destination: 'nas', assignment: { include: ['^rule-'] } })).status).toBe(201);
    expect((await api('POST', '/api/policies', { name: 'other', destination: 'nas' })).status).toBe(201);
    expect((await api('POST', '/api/policies/other/assign', { vms: ['moving'] })).status).toBe(200);
    expect(await members('nightly')).toEqual(['rule-web:auto']);
  });
  afterAll(async () => {
    await node?.stop();
    await t?.destroy();
  });

  it('tells the form each VM by id, with its policy of the kind now and how it came in', async () => {
    const preview = await api<PolicyPreview>('POST', '/api/policies/preview', { policy: 'nightly' });
    expect(preview.status, preview.text).toBe(200);
    const byName = new Map(preview.body.assignment.map((row) => [`${row.vm}@${row.hypervisor}`, row]));
    const nightly = (await api<Policy>('GET', '/api/policies/nightly')).body.id;
    const other = (await api<Policy>('GET', '/api/policies/other')).body.id;
    expect(byName.get('rule-web@kvm1')).toMatchObject({ vmId: ids['rule-web'], matches: true, currentPolicy: 'nightly', currentPolicyId: nightly, currentSource: 'auto' });
    expect(byName.get('moving@kvm1')).toMatchObject({ vmId: ids['moving'], matches: false, currentPolicy: 'other', currentPolicyId: other, currentSource: 'manual' });
    expect(byName.get('app-a@kvm1')).toMatchObject({ vmId: ids['app-a'], currentPolicy: null, currentPolicyId: null, currentSource: null });
    expect(byName.get('twin@kvm2')).toMatchObject({ vmId: ids['twin@kvm2'] });
  });

  it('only admins change a policy’s VMs', async () => {
    for (const token of [viewer, operator]) {
      const res = await as<ApiError>(token, 'POST', '/api/policies/nightly/vms', { assign: [id('app-a')] });
      expect(res.status).toBe(403);
      expect(res.body.message).toMatch(/it needs admin/);
    }
    expect(await members('nightly')).toEqual(['rule-web:auto']);
  });

  it.each([
    [{}, 400, 'assign', /name at least one VM/],
    [{ assign: [], unassign: [] }, 400, 'assign', /name at least one VM/],
    [{ assign: [''] }, 400, 'assign.0', /assign\.0/],
    [{ assign: ['app-a', 'app-b'], unassign: ['app-b'] }, 400, 'unassign.0', /VM "app-b" is both put in \(assign\) and taken out \(unassign\)/],
    [{ assign: 'app-a' }, 400, 'assign', /assign/],
  ])('refuses %j with a %i naming the field', async (body, status, field, message) => {
    const res = await api<ApiError>('POST', '/api/policies/nightly/vms', body);
    expect(res.status, res.text).toBe(status);
    expect(res.body.field).toBe(field);
    expect(res.body.message).toMatch(message);
  });

  it('refuses a VM it cannot find or tell apart, naming its position, and changes nothing', async () => {
    const missing = await api<ApiError>('POST', '/api/policies/nightly/vms', { assign: [id('app-a'), '999999'] });
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ error: 'NOT_FOUND', field: 'assign.1', message: 'there is no VM "999999"' });
    const twin = await api<ApiError>('POST', '/api/policies/nightly/vms', { assign: [id('app-a')], unassign: ['rule-web', 'twin'] });
    expect(twin.status).toBe(409);
    expect(twin.body).toMatchObject({ field: 'unassign.1', message: expect.stringMatching(/more than one VM is called "twin"; use its UUID/) });
    // Both named, by id and by name: still the same VM.
    const same = await api<ApiError>('POST', '/api/policies/nightly/vms', { assign: [id('app-b')], unassign: ['app-b'] });
    expect(same.status).toBe(400);
    expect(same.body).toMatchObject({ field: 'unassign.0', message: 'VM "app-b" is both put in (assign) and taken out (unassign)' });
    const notIn = await api<ApiError>('POST', '/api/policies/nightly/vms', { assign: [id('app-a')], unassign: [id('rule-web'), id('app-b')] });
    expect(notIn.status).toBe(409);
    expect(notIn.body).toMatchObject({ error: 'CONFLICT', field: 'unassign.1', message: 'VM "app-b" is not in policy "nightly"' });
    expect((await api('POST', '/api/policies/missing/vms', { assign: [id('app-a')] })).status).toBe(404);
    // app-a went in with none of them.
    expect(await members('nightly')).toEqual(['rule-web:auto']);
  });

  it('puts VMs in by hand, moving one out of another policy, in one change', async () => {
    const res = await api<Policy>('POST', '/api/policies/nightly/vms', { assign: [id('app-a'), id('moving'), id('app-a'), id('twin@kvm2')] });
    expect(res.status, res.text).toBe(200);
    expect(res.body.vms.map((vm) => `${vm.name}:${vm.source}`).sort()).toEqual(['app-a:manual', 'moving:manual', 'rule-web:auto', 'twin:manual']);
    expect(res.body.vms.find((vm) => vm.name === 'twin')?.id).toBe(ids['twin@kvm2']);
    expect(await members('other')).toEqual([]);
    const audit = await api<{ entries: AuditEntry[] }>('GET', '/api/audit?action=policy.assign&limit=1');
    const entry = audit.body.entries[0];
    expect(entry?.target).toBe('policy:nightly');
    expect(entry?.details).toMatchObject({ vms: ['app-a', 'moving', 'twin'], moved: [{ vm: 'moving', from: 'other' }] });
  });

  it('takes VMs out and puts others in together; one the rules match is back as theirs at once', async () => {
    // rule-web by hand first, so taking it out leaves it to the rules.
    expect((await api('POST', '/api/policies/nightly/vms', { assign: ['rule-web'] })).status).toBe(200);
    expect(await members('nightly')).toContain('rule-web:manual');
    const res = await api<Policy>('POST', '/api/policies/nightly/vms', { assign: ['app-b'], unassign: [id('app-a'), id('rule-web'), id('twin@kvm2')] });
    expect(res.status, res.text).toBe(200);
    expect(res.body.vms.map((vm) => `${vm.name}:${vm.source}`).sort()).toEqual(['app-b:manual', 'moving:manual', 'rule-web:auto']);
    const audit = await api<{ entries: AuditEntry[] }>('GET', '/api/audit?action=policy.unassign&limit=1');
    expect(audit.body.entries[0]?.details).toMatchObject({ vms: ['app-a', 'rule-web', 'twin'] });
  });

  it('a snapshot policy’s VMs are apart from the backup policies’', async () => {
    expect((await api('POST', '/api/policies', { name: 'snaps', kind: 'snapshot' })).status).toBe(201);
    const res = await api<Policy>('POST', '/api/policies/snaps/vms', { assign: [id('app-b'), id('moving')] });
    expect(res.status, res.text).toBe(200);
    expect(await members('snaps')).toEqual(['app-b:manual', 'moving:manual']);
    // Still in their backup policy.
    expect(await members('nightly')).toEqual(['app-b:manual', 'moving:manual', 'rule-web:auto']);
    const preview = await api<PolicyPreview>('POST', '/api/policies/preview', { kind: 'snapshot' });
    expect(preview.body.assignment.find((row) => row.vmId === ids['app-b'])).toMatchObject({ currentPolicy: 'snaps', currentSource: 'manual' });
  });
});
