import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackupPage } from '../../../common/api/backups.js';
import type { Policy, PolicyRun, PolicyRunPage } from '../../../common/api/policies.js';
import type { Task } from '../../../common/api/tasks.js';
import { startKvmSetup, type KvmSetup } from '../../support/kvm-setup.js';
import { MiB, type TestVm } from '../../support/libvirt-host.js';
import { waitFor } from '../../support/test-server.js';

/**
 * "Fail the rest of the run above X %": two of four VMs cannot be backed up (their disk
 * files are gone); once more than 25 % failed, the rest of the run is cancelled, the run
 * says why, and no earlier backup is touched.
 */
describe('policy run: the failure threshold cancels the rest', () => {
  let bed: KvmSetup;
  const tag = Math.random().toString(16).slice(2, 8);
  const vms: Record<string, TestVm> = {};
  const api = <T>(method: string, p: string, body?: unknown) => bed.api<T>(method, p, body);

  beforeAll(async () => {
    bed = await startKvmSetup({
      label: 'threshold',
      prepare: async (host) => {
        for (const name of ['a-bad-1', 'a-bad-2', 'b-ok-1', 'b-ok-2']) {
          const disk = await host.createDisk(`${name}.qcow2`, 8, [{ pattern: 0x30, offset: 0, length: MiB }]);
          vms[name] = await host.defineVm([{ target: 'vda', path: disk }], `${name}-${tag}`);
        }
      },
      // One task at a time, so the run's backups go one after the other in name order.
      node: { name: 'kvm-node', maxConcurrentTasks: 1 },
      destinations: ['nas'],
      hypervisor: 'kvm1',
    });
  });
  afterAll(async () => {
    await bed?.close();
  });

  it('cancels the rest once more than 25 % failed, and says so', async () => {
    const res = await api<Policy & { message?: string }>('POST', '/api/policies', { name: 'all', destination: 'nas', failRunAbovePercent: 25, assignment: { include: [`-${tag}$`] } });
    expect(res.status, res.body.message).toBe(201);
    expect(res.body.vms.map((v) => v.name)).toHaveLength(4);
    // A first run backs everything up; then two VMs lose their disks.
    const first = await api<PolicyRun>('POST', '/api/policies/all/run', {});
    const firstEnd = await waitFor('the first run', async () => (await api<PolicyRunPage>('GET', '/api/policies/all/runs')).body.runs.find((r) => r.id === first.body.id && r.state !== 'running'), 180_000);
    expect(firstEnd.state, firstEnd.message ?? '').toBe('finished');
    for (const name of ['a-bad-1', 'a-bad-2']) fs.rmSync(vms[name]!.disks[0]!.path);

    const second = await api<PolicyRun>('POST', '/api/policies/all/run', {});
    const run = await waitFor('the second run', async () => (await api<PolicyRunPage>('GET', '/api/policies/all/runs')).body.runs.find((r) => r.id === second.body.id && r.state !== 'running'), 180_000);
    expect(run.state).toBe('failed');
    expect(run.failed).toBe(2);
    expect(run.cancelled).toBeGreaterThanOrEqual(1);
    expect(run.succeeded + run.failed + run.cancelled).toBe(4);
    expect(run.message).toContain('2 of 4 backups failed, more than the policy\'s 25 %: the rest of the run was cancelled');
    // b-ok-2 never started: its backup workflow was cancelled while it waited.
    const tasks = (await api<{ tasks: Task[] }>('GET', `/api/tasks?type=EXPORT&limit=100`)).body.tasks.filter((x) => x.subject === `vm:b-ok-2-${tag}`);
    expect(tasks.map((x) => x.state).sort()).toEqual(['CANCELLED', 'FINISHED']);
    // The first run's backups are all still there.
    for (const name of Object.keys(vms)) {
      const backups = (await api<BackupPage>('GET', `/api/backups?vm=${vms[name]!.uuid}&status=available`)).body.backups;
      expect(backups.length, name).toBeGreaterThanOrEqual(1);
    }
  });
});
