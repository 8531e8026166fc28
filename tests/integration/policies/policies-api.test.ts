import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Dashboard, Policy, PolicyRun, PolicyRunPage } from '../../../common/api/policies.js';
import { defaultHandlers } from '../../../node-service/agent/node-service.js';
import { enrollTestNode, type TestNode } from '../../support/test-node.js';
import { Catalog } from '../../../electron/server/db/catalog.js';
import { createUser, makeTempDir, setupAdmin, startTestServer, waitFor, type TestServer } from '../../support/test-server.js';

/** The policies API's answers to bad input and to roles, on a real server and catalog. */
describe('policies API: validation and roles', () => {
  let t: TestServer;
  let admin: string;
  let operator: string;
  let viewer: string;
  let node: TestNode;
  let repoPath: string;
  const as = <T>(token: string, method: string, p: string, body?: unknown) => t.api.request<T>(method, p, body, { token });
  const good = { name: 'nightly', destination: 'nas', schedules: ['incremental mon-fri 22:00', 'full sun 22:00'], retention: { daily: 14, weekly: 8 }, assignment: { include: ['^prod-'] } };

  beforeAll(async () => {
    t = await startTestServer();
    admin = await setupAdmin(t.api);
    operator = await createUser(t.api, admin, 'olga', 'operator');
    viewer = await createUser(t.api, admin, 'victor', 'viewer');
    node = await enrollTestNode(t.api, admin, { name: 'store', handlers: defaultHandlers(), serverUrl: t.server.url, fingerprint: t.server.fingerprint });
    repoPath = `${makeTempDir('policies-api')}/vplus`;
    expect((await as(admin, 'POST', '/api/destinations', { name: 'nas', node: 'store', path: repoPath })).status).toBe(201);
  });
  afterAll(async () => {
    await node?.stop();
    await t?.destroy();
  });

  it.each([
    [{ ...good, schedules: ['incremental mnday 22:00'] }, 'schedules.0', /^schedule 1 \("incremental mnday 22:00"\): .*could not read "mnday"/],
    [{ ...good, schedules: ['mon-fri 22:00'] }, 'schedules.0', /backup type/],
    [{ ...good, destination: undefined }, 'destination', /^a backup policy needs a destination$/],
    [{ ...good, timeZone: 'Mars/Olympus' }, 'timeZone', /^"Mars\/Olympus" is not a time zone/],
    [{ ...good, assignment: { include: ['(unclosed'] } }, 'assignment.include.0', /not a valid regular expression/],
    [{ ...good, priority: 101 }, 'priority', /100/],
    [{ ...good, retentionSchedule: 'full daily 03:00' }, 'retentionSchedule', /backup type/],
    [{ ...good, retention: {} }, 'retention', /at least one retention rule/],
    [{ ...good, retention: { daily: 0, weekly: 8 } }, 'retention.daily', /^body field "retention\.daily": daily must be at least 1/],
    [{ ...good, retention: { keepLast: 0 } }, 'retention.keepLast', /keepLast must be at least 1/],
    [{ ...good, retention: { daily: 7, maxAgeDays: 0 } }, 'retention.maxAgeDays', /maxAgeDays must be at least 1 day/],
  ])('refuses %j with a 400 naming the field', async (body, field, message) => {
    const res = await as<{ message: string; field?: string }>(admin, 'POST', '/api/policies', body);
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(message);
    expect(res.body.field ?? '').toContain(field.split('.')[0]);
    if (field.startsWith('retention.')) expect(res.body.field).toBe(field);
  });

  it('refuses a retention rule of 0 in the preview and in a destination prune too, naming the field', async () => {
    const preview = await as<{ message: string; field?: string }>(admin, 'POST', '/api/policies/preview', { destination: 'nas', retention: { keepLast: 0, daily: 3 } });
    expect(preview.status, preview.text).toBe(400);
    expect(preview.body.field).toBe('retention.keepLast');
    const prune = await as<{ message: string; field?: string }>(admin, 'POST', '/api/destinations/nas/prune', { retention: { weekly: 0, daily: 3 }, dryRun: true });
    expect(prune.status, prune.text).toBe(400);
    expect(prune.body).toMatchObject({ field: 'retention.weekly', message: expect.stringMatching(/weekly must be at least 1/) });
  });

  it('a destination that does not exist is a 404; a duplicate name a 409', async () => {
    const missing = await as<{ message: string }>(admin, 'POST', '/api/policies', { ...good, destination: 'tape' });
    expect(missing.status).toBe(404);
    expect(missing.body.message).toBe('there is no destination "tape"');
    expect((await as(admin, 'POST', '/api/policies', good)).status).toBe(201);
    const dup = await as<{ message: string; field: string }>(admin, 'POST', '/api/policies', good);
    expect(dup.status).toBe(409);
    expect(dup.body).toMatchObject({ message: 'there is already a policy "nightly"', field: 'name' });
  });

  it('viewers read, operators run, only admins change', async () => {
    expect((await as<Policy[]>(viewer, 'GET', '/api/policies')).body.map((p) => p.name)).toEqual(['nightly']);
    const dash = await as<Dashboard>(viewer, 'GET', '/api/dashboard');
    expect(dash.status).toBe(200);
    expect(dash.body.daily).toHaveLength(30);
    expect(dash.body.storage).toHaveLength(30);
    expect(dash.body.nextRuns[0]).toMatchObject({ policy: 'nightly', rule: expect.stringMatching(/22:00$/) });
    const create = await as<{ message: string }>(viewer, 'POST', '/api/policies', { ...good, name: 'other' });
    expect(create.status).toBe(403);
    expect(create.body.message).toMatch(/your role \(viewer\) may not do this; it needs admin/);
    expect((await as(operator, 'PATCH', '/api/policies/nightly', { priority: 10 })).status).toBe(403);
    expect((await as(viewer, 'POST', '/api/policies/nightly/run', {})).status).toBe(403);
    const run = await as<PolicyRun>(operator, 'POST', '/api/policies/nightly/run', { backupType: 'full' });
    expect(run.status).toBe(202);
    expect(run.body).toMatchObject({ trigger: 'manual', purpose: 'run', backupType: 'full', policy: 'nightly', workflowIds: [] });
    const retention = await as<PolicyRun>(operator, 'POST', '/api/policies/nightly/retention');
    expect(retention.status).toBe(202);
    expect(retention.body).toMatchObject({ trigger: 'manual', purpose: 'retention' });
    expect((await as(operator, 'DELETE', '/api/policies/nightly')).status).toBe(403);
  });

  it('edits keep what is not given, and a bad edit changes nothing', async () => {
    const bad = await as<{ field: string }>(admin, 'PATCH', '/api/policies/nightly', { schedules: ['incremental 25:00'] });
    expect(bad.status).toBe(400);
    const ok = await as<Policy>(admin, 'PATCH', '/api/policies/nightly', { priority: 80, enabled: false });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ priority: 80, enabled: false, schedules: ['incremental mon-fri 22:00', 'full sun 22:00'], destination: 'nas', nextRun: null });
    expect(ok.body.retention).toMatchObject({ daily: 14, weekly: 8, keepLatestOfExistingVm: true });
    const cleared = await as<Policy>(admin, 'PATCH', '/api/policies/nightly', { retention: null });
    expect(cleared.body).toMatchObject({ retention: null, priority: 80 });
    const audit = await as<{ entries: { action: string }[] }>(admin, 'GET', '/api/audit');
    expect(JSON.stringify(audit.body)).toContain('policy.update');
    expect((await as(admin, 'DELETE', '/api/policies/nightly')).status).toBe(204);
    expect((await as(admin, 'GET', '/api/policies/nightly')).status).toBe(404);
  });

  it('a retention run that fails says why', async () => {
    // A VM in the policy (straight into the catalog: no hypervisor is needed to prune).
    const catalog = new Catalog({ mode: 'managed', pool: { socketPath: path.join(t.dataDir, 'mariadb', 'run', 'mysqld.sock'), user: os.userInfo().username, database: 'vplus' } });
    try {
      const nodeId = (await catalog.query<{ id: number }>("SELECT id FROM nodes WHERE name = 'store'"))[0]!.id;
      const hv = await catalog.execute("INSERT INTO hypervisors (name, node_id, uri, status) VALUES ('kvm-r', ?, 'qemu:///system', 'ok')", [nodeId]);
      await catalog.execute("INSERT INTO vms (hypervisor_id, uuid, name, state, disks, excluded_disks) VALUES (?, ?, 'prod-r', 'running', '[]', '[]')", [hv.insertId, randomUUID()]);
    } finally {
      await catalog.close();
    }
    expect((await as(admin, 'POST', '/api/policies', { ...good, name: 'keeper' })).status).toBe(201);
    expect((await as(admin, 'POST', '/api/policies/keeper/assign', { vms: ['prod-r'] })).status).toBe(200);
    // The destination's repository is gone (a disk that was not mounted): PRUNE fails.
    fs.rmSync(repoPath, { recursive: true, force: true });
    const started = await as<PolicyRun>(operator, 'POST', '/api/policies/keeper/retention');
    expect(started.status, started.text).toBe(202);
    const run = await waitFor('the retention run to end', async () => {
      const runs = await as<PolicyRunPage>(admin, 'GET', '/api/policies/keeper/runs');
      const r = runs.body.runs.find((x) => x.id === started.body.id);
      return r && r.state !== 'running' ? r : undefined;
    });
    expect(run.state).toBe('failed');
    expect(run.message ?? '').toMatch(/^PRUNE failed: .+/);
    expect(run.message).toContain(repoPath);
  });
});
