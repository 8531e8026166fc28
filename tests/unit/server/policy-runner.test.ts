import { describe, expect, it } from 'vitest';
import { json } from '../../../electron/server/policies/policies.repository.js';
import { policyRow, runnerWorld, vmRow, type PolicyInit } from './policy-fakes.js';

const now = { trigger: 'manual' as const, backupType: null, scheduledFor: null };

/** A world with one backup policy of `n` VMs, started. */
async function startedRun(n: number, policy: PolicyInit = {}) {
  const w = runnerWorld();
  const p = policyRow({ name: `p${n}`, ...policy });
  w.repo.add(p, Array.from({ length: n }, (_, i) => vmRow(p, i + 1)));
  const run = await w.runner.start(p, now, 'admin');
  return { ...w, policy: p, run: run! };
}

describe('PolicyRunner: a backup run', () => {
  it('starts one backup workflow per VM still on its host, and the run lists them', async () => {
    const w = runnerWorld();
    const p = w.repo.add(policyRow({ name: 'office', priority: 70 }), []);
    w.repo.vms.set(p.id, [vmRow(p, 1), vmRow(p, 2, false), vmRow(p, 3)]);
    const run = await w.runner.start(p, { trigger: 'schedule', backupType: 'full', scheduledFor: new Date('2027-01-12T22:00:00Z') }, 'scheduler');
    expect(w.backups).toEqual([
      { vm: '101', destination: '5', full: true, priority: 70 },
      { vm: '103', destination: '5', full: true, priority: 70 },
    ]);
    expect(run).toMatchObject({ state: 'running', trigger: 'schedule', backupType: 'full', vms: 2, workflowIds: [1, 2], message: null });
    expect(w.published.at(-1)?.id).toBe(run!.id);
  });

  it('a second start of the same occurrence is refused (another server took it)', async () => {
    const w = runnerWorld();
    const p = w.repo.add(policyRow({ name: 'office' }), []);
    const req = { trigger: 'schedule' as const, backupType: 'incremental' as const, scheduledFor: new Date('2027-01-12T22:00:00Z') };
    expect(await w.runner.start(p, req, 'scheduler')).toBeDefined();
    expect(await w.runner.start(p, req, 'scheduler')).toBeUndefined();
    expect(w.repo.runs).toHaveLength(1);
  });

  it('with no VMs ends at once as finished, says so, and notifies nobody', async () => {
    const { run, notifications } = await startedRun(0);
    expect(run).toMatchObject({ state: 'finished', vms: 0, message: 'no virtual machines are in this policy' });
    expect(notifications.events).toEqual([]);
  });

  it('ends finished when every workflow finished; no failure notification; retention follows', async () => {
    const w = await startedRun(2, { retention: JSON.stringify({ daily: 7, keepLatestOfExistingVm: true }) });
    await w.engine.finish(1, 'FINISHED');
    expect(w.repo.runs[0]).toMatchObject({ state: 'running', succeeded: 1 });
    w.clock.set('2027-01-12T22:30:00Z');
    await w.engine.finish(2, 'FINISHED_WITH_WARNINGS');
    expect(w.repo.runs[0]).toMatchObject({ state: 'finished', succeeded: 2, failed: 0, cancelled: 0, finished_at: new Date('2027-01-12T22:30:00Z') });
    expect(w.notifications.events).toEqual([]);
    // A run that backed something up is followed by retention on the destination.
    expect(w.repo.runs[1]).toMatchObject({ purpose: 'retention', trigger: 'retention', state: 'running' });
    expect(w.engine.created.at(-1)?.type).toBe('RETENTION');
  });

  it('ends finished_with_warnings when some failed, and notifies policy.failed', async () => {
    const w = await startedRun(2);
    await w.engine.finish(1, 'FAILED', 'disk gone');
    await w.engine.finish(2, 'FINISHED');
    expect(w.repo.runs[0]).toMatchObject({ state: 'finished_with_warnings', succeeded: 1, failed: 1 });
    expect(w.notifications.kinds()).toEqual(['policy.failed p2/finished_with_warnings']);
  });

  it('a VM whose backup could not start counts as failed and is named in the message', async () => {
    const w = runnerWorld();
    const p = w.repo.add(policyRow({ name: 'office' }), []);
    w.repo.vms.set(p.id, [vmRow(p, 1), vmRow(p, 2)]);
    w.failingVms.add('102');
    const run = await w.runner.start(p, now, 'admin');
    expect(run).toMatchObject({ vms: 2, failed: 1, workflowIds: [1], message: 'could not start: vm-2: the hypervisor does not answer' });
    await w.engine.finish(1, 'FINISHED');
    expect(w.repo.runs[0]).toMatchObject({ state: 'finished_with_warnings', succeeded: 1, failed: 1 });
  });

  it('ends failed when every backup failed, says how many, and notifies policy.failed', async () => {
    const w = await startedRun(2);
    await w.engine.finish(1, 'FAILED', 'x');
    await w.engine.finish(2, 'FAILED', 'y');
    expect(w.repo.runs[0]).toMatchObject({ state: 'failed', failed: 2, message: '2 of 2 backups failed' });
    expect(w.notifications.kinds()).toEqual(['policy.failed p2/failed']);
    // Nothing was backed up: no retention after it.
    expect(w.repo.runs).toHaveLength(1);
  });

  it('the failure threshold cancels the open workflows and the run ends failed (threshold_cancelled), however they end', async () => {
    const w = await startedRun(4, { fail_run_above_percent: 25 });
    await w.engine.finish(1, 'FAILED', 'disk gone');
    // 1 of 4 is not more than 25 %: nothing cancelled yet.
    expect(w.engine.cancels).toEqual([]);
    await w.engine.finish(2, 'FAILED', 'disk gone');
    expect(w.repo.runs[0]).toMatchObject({ state: 'running', threshold_cancelled: 1 });
    expect(w.repo.runs[0]!.message).toBe("2 of 4 backups failed, more than the policy's 25 %: the rest of the run was cancelled");
    // Every open task of workflows 3 and 4 (EXPORT + STORE each), not forced, by the scheduler.
    const openTasks = [...w.workflows.tasks.get(3)!, ...w.workflows.tasks.get(4)!].map((t) => t.id);
    expect(w.engine.cancels).toEqual(openTasks.map((taskId) => ({ taskId, force: false, by: 'scheduler' })));
    // One backup got to its end before the cancel reached it; the run still failed.
    await w.engine.finish(3, 'FINISHED');
    await w.engine.finish(4, 'CANCELLED');
    expect(w.repo.runs[0]).toMatchObject({ state: 'failed', succeeded: 1, failed: 2, cancelled: 1, threshold_cancelled: 1 });
    expect(w.notifications.kinds()).toEqual(['policy.failed p4/failed']);
  });

  it('a threshold not passed leaves the run to its end', async () => {
    const w = await startedRun(4, { fail_run_above_percent: 50 });
    await w.engine.finish(1, 'FAILED', 'a');
    await w.engine.finish(2, 'FAILED', 'b');
    expect(w.engine.cancels).toEqual([]);
    await w.engine.finish(3, 'FINISHED');
    await w.engine.finish(4, 'FINISHED');
    expect(w.repo.runs[0]).toMatchObject({ state: 'finished_with_warnings', failed: 2, succeeded: 2, threshold_cancelled: 0 });
  });

  it('a missed occurrence is recorded as missed and notified as policy.missed', async () => {
    const w = runnerWorld();
    const p = w.repo.add(policyRow({ name: 'office' }));
    await w.runner.recordMissed(p, { trigger: 'catch-up', backupType: 'incremental', scheduledFor: new Date('2027-01-11T22:00:00Z') }, 'not started within its 1 h window');
    expect(w.repo.runs[0]).toMatchObject({ state: 'missed', started_at: null, message: 'not started within its 1 h window' });
    expect(w.notifications.kinds()).toEqual(['policy.missed office/missed']);
  });

  it('after a restart, recover() finishes the runs whose work ended meanwhile', async () => {
    const w = await startedRun(1);
    // The workflow ended while no listener heard of it.
    w.workflows.states.set(1, 'FINISHED');
    await w.runner.recover();
    expect(w.repo.runs[0]).toMatchObject({ state: 'finished', succeeded: 1 });
  });
});

describe('PolicyRunner: a snapshot run', () => {
  it('makes one SNAPSHOT workflow per VM, named after the policy and the time, rotating its own snapshots', async () => {
    const w = runnerWorld();
    const p = w.repo.add(policyRow({ name: 'snaps', kind: 'snapshot', destination_id: null, retention: JSON.stringify({ keepLast: 3, keepLatestOfExistingVm: true }) }), []);
    w.repo.vms.set(p.id, [vmRow(p, 1), vmRow(p, 2)]);
    await w.runner.start(p, now, 'admin');
    expect(w.engine.created.map((c) => [c.type, c.subject, c.createdBy])).toEqual([
      ['SNAPSHOT', 'vm:vm-1', 'admin'],
      ['SNAPSHOT', 'vm:vm-2', 'admin'],
    ]);
    expect(w.engine.created[0]!.steps[0]).toMatchObject({
      type: 'SNAPSHOT',
      requiredNodeId: 7,
      params: { op: 'create', name: `vplus-p${p.id}-20270112T220000Z`, rotate: { prefix: `vplus-p${p.id}-`, keep: 3 } },
    });
  });
});

describe('PolicyRunner: retention', () => {
  const retention = JSON.stringify({ daily: 7, keepLatestOfExistingVm: true });

  it('runs PRUNE then GC on the destination node, over the policy VMs', async () => {
    const w = runnerWorld();
    const p = w.repo.add(policyRow({ name: 'office', retention }), []);
    w.repo.vms.set(p.id, [vmRow(p, 1), vmRow(p, 2, false)]);
    const run = await w.runner.retention(p, 'manual', null, 'admin');
    expect(run).toMatchObject({ purpose: 'retention', state: 'running', vms: 2, workflowIds: [1] });
    const wf = w.engine.created[0]!;
    expect([wf.type, wf.subject, wf.createdBy]).toEqual(['RETENTION', 'policy:office', 'admin']);
    expect(wf.steps.map((s) => [s.type, s.requiredNodeId])).toEqual([
      ['PRUNE', 9],
      ['GC', 9],
    ]);
    expect(wf.steps[0]!.params).toMatchObject({ destinationId: 5, retention: { daily: 7 }, groups: [vmRow(p, 1).vm_uuid, vmRow(p, 2).vm_uuid], unprotectedGroups: [vmRow(p, 2).vm_uuid] });
    expect(wf.steps[1]!.params).toEqual({ destinationId: 5, graceHours: 24 });
    await w.engine.finish(1, 'FINISHED');
    expect(w.repo.runs[0]).toMatchObject({ state: 'finished', succeeded: 1 });
    expect(w.notifications.events).toEqual([]);
  });

  it('a failed retention run carries its steps’ errors in its message and notifies', async () => {
    const w = runnerWorld();
    const p = w.repo.add(policyRow({ name: 'office', retention }), []);
    w.repo.vms.set(p.id, [vmRow(p, 1)]);
    await w.runner.retention(p, 'schedule', new Date('2027-01-13T03:00:00Z'), 'scheduler');
    await w.engine.finish(1, 'FAILED', 'the repository is locked by another writer\n');
    expect(w.repo.runs[0]).toMatchObject({ state: 'failed', failed: 1, message: 'PRUNE failed: the repository is locked by another writer' });
    expect(w.notifications.kinds()).toEqual(['policy.failed office/failed']);
  });

  it('does nothing for a policy without retention rules or destination', async () => {
    const w = runnerWorld();
    const noRules = w.repo.add(policyRow({ name: 'a' }));
    const noDest = w.repo.add(policyRow({ name: 'b', retention, destination_id: null }));
    expect(await w.runner.retention(noRules, 'manual', null, 'admin')).toBeUndefined();
    expect(await w.runner.retention(noDest, 'manual', null, 'admin')).toBeUndefined();
    expect(w.repo.runs).toEqual([]);
  });

  it('ends at once, finished, when no VM is in the policy', async () => {
    const w = runnerWorld();
    const p = w.repo.add(policyRow({ name: 'office', retention }));
    expect(await w.runner.retention(p, 'manual', null, 'admin')).toMatchObject({ state: 'finished', message: 'no virtual machines are in this policy; nothing to prune' });
    expect(w.engine.created).toEqual([]);
  });
});

describe('PolicyRunner: verify', () => {
  it('takes the parts in rotation, one VERIFY task each, on the destination node', async () => {
    const w = runnerWorld();
    const p = w.repo.add(policyRow({ name: 'office', verify_parts: 3 }));
    for (let i = 0; i < 4; i++) await w.runner.verify(p, 'manual', null, 'admin');
    expect(w.engine.created.map((c) => [c.type, c.steps[0]!.type, c.steps[0]!.requiredNodeId])).toEqual(Array(4).fill(['VERIFY', 'VERIFY', 9]));
    expect(w.engine.created.map((c) => c.steps[0]!.params.subset)).toEqual([
      { part: 0, of: 3 },
      { part: 1, of: 3 },
      { part: 2, of: 3 },
      { part: 0, of: 3 },
    ]);
    expect(w.repo.runs.map((r) => r.message)).toEqual(['verifying part 1 of 3 of the chunks', 'verifying part 2 of 3 of the chunks', 'verifying part 3 of 3 of the chunks', 'verifying part 1 of 3 of the chunks']);
  });

  it('with one part checks every chunk (no subset)', async () => {
    const w = runnerWorld();
    const p = w.repo.add(policyRow({ name: 'office' }));
    await w.runner.verify(p, 'manual', null, 'admin');
    expect(w.engine.created[0]!.steps[0]!.params).toEqual({ destinationId: 5 });
    expect(w.repo.runs[0]!.message).toBe('verifying every chunk');
  });

  it('a failed verify run keeps what it was verifying and adds the step’s error; notified', async () => {
    const w = runnerWorld();
    const p = w.repo.add(policyRow({ name: 'office', verify_parts: 2 }));
    await w.runner.verify(p, 'schedule', new Date('2027-01-13T04:00:00Z'), 'scheduler');
    await w.engine.finish(1, 'FAILED', '');
    expect(w.repo.runs[0]).toMatchObject({ state: 'failed', message: 'verifying part 1 of 2 of the chunks; VERIFY failed: the node gave no reason; see the task log' });
    expect(w.notifications.kinds()).toEqual(['policy.failed office/failed']);
  });

  it('a verify that cannot start ends failed and says why', async () => {
    const w = runnerWorld();
    const p = w.repo.add(policyRow({ name: 'office' }));
    w.engine.createWorkflow = () => Promise.reject(new Error('no node serves this destination'));
    const run = await w.runner.verify(p, 'manual', null, 'admin');
    expect(run).toMatchObject({ state: 'failed', message: 'verify could not start: no node serves this destination' });
    expect(json<number[]>(w.repo.runs[0]!.workflows)).toEqual([]);
  });
});

describe('PolicyRunner: a Microsoft 365 policy', () => {
  const alice = { kind: 'user' as const, id: 1, name: 'alice@contoso.com', tenantId: 1, tenant: 'contoso' };
  const finance = { kind: 'site' as const, id: 2, name: 'finance', displayName: 'Finance', tenantId: 1, tenant: 'contoso' };

  it('starts one M365_BACKUP workflow per member on the destination\'s node; a member that cannot start is counted failed', async () => {
    const w = runnerWorld();
    const p = w.repo.add(policyRow({ name: 'm365', kind: 'm365', priority: 60, retention: JSON.stringify({ keepLast: 1, keepLatestOfExistingVm: true }) }));
    w.m365Members.set(p.id, [alice, finance, { ...alice, id: 666, name: 'nodrive@contoso.com' }]);
    const run = await w.runner.start(p, { trigger: 'manual', backupType: 'full', scheduledFor: null }, 'admin');
    expect(run).toMatchObject({ state: 'running', vms: 3, failed: 1, workflowIds: [1, 2], message: 'could not start: nodrive@contoso.com: has no OneDrive to back up' });
    expect(w.engine.created.map((c) => [c.type, c.subject, c.steps.map((s) => [s.type, s.requiredNodeId, s.priority, (s.params as { full: boolean }).full])])).toEqual([
      ['M365_BACKUP', 'm365-user:1', [['M365_BACKUP', 9, 60, true]]],
      ['M365_BACKUP', 'm365-site:2', [['M365_BACKUP', 9, 60, true]]],
    ]);
    await w.engine.finish(1, 'FINISHED');
    await w.engine.finish(2, 'FINISHED');
    expect(w.repo.runs[0]).toMatchObject({ state: 'finished_with_warnings', succeeded: 2, failed: 1 });
    // Retention follows: a PRUNE of its members' drives' points, then GC.
    expect(w.m365ObjectKeys).toEqual([{ destinationId: 5, userIds: [1, 666], siteIds: [2] }]);
    const retention = w.engine.created.at(-1)!;
    expect(retention.type).toBe('RETENTION');
    expect(retention.steps.map((s) => [s.type, s.params])).toEqual([
      ['PRUNE', { destinationId: 5, retention: { keepLast: 1 }, dryRun: false, objectKeys: ['m365:t:drive:u1', 'm365:t:drive:u666', 'm365:t:drive:s2'] }],
      ['GC', { destinationId: 5, graceHours: 24 }],
    ]);
  });

  it('with no member ends at once and says so, and its retention has nothing to prune', async () => {
    const w = runnerWorld();
    const p = w.repo.add(policyRow({ name: 'nobody', kind: 'm365', retention: JSON.stringify({ keepLast: 1, keepLatestOfExistingVm: true }) }));
    expect(await w.runner.start(p, now, 'admin')).toMatchObject({ state: 'finished', vms: 0, message: 'no Microsoft 365 users or sites are in this policy' });
    expect(await w.runner.retention(p, 'manual', null, 'admin')).toMatchObject({ state: 'finished', message: 'no Microsoft 365 users or sites are in this policy; nothing to prune' });
    expect(w.engine.created).toEqual([]);
  });
});
