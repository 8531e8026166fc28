import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Snapshot } from '../../../common/api/hypervisors.js';
import type { Task, TaskDetails, TaskPage } from '../../../common/api/tasks.js';
import { startKvmSetup, type KvmSetup } from '../../support/kvm-setup.js';
import { MiB, virsh, type TestVm } from '../../support/libvirt-host.js';
import { createUser, taskEnded } from '../../support/test-server.js';

/**
 * VM snapshots through the server: listing is a read the node answers over its connection,
 * changes are SNAPSHOT tasks on the node serving the VM's host (real MariaDB, an in-process
 * node with the default handlers, real libvirtd + QEMU TCG).
 */
describe('VM snapshots through the server', () => {
  let bed: KvmSetup;
  let vm: TestVm;

  const api = <T>(method: string, p: string, body?: unknown) => bed.api<T>(method, p, body);
  const ended = (id: number): Promise<TaskDetails> => taskEnded(bed.t.api, bed.admin, id);

  beforeAll(async () => {
    bed = await startKvmSetup({
      label: 'snapshots-api',
      prepare: async (host) => {
        const vda = await host.createDisk('vda.qcow2', 16, [{ pattern: 0x11, offset: 0, length: MiB }]);
        vm = await host.defineVm([{ target: 'vda', path: vda }]);
        await host.start(vm);
      },
      node: { name: 'snap-node' },
      hypervisor: 'kvm1',
    });
  });
  afterAll(async () => {
    await bed?.close();
  });

  /** The newest task's id: unchanged when no task was made. */
  const newestTask = async (): Promise<number> => (await api<TaskPage>('GET', '/api/tasks?limit=1')).body.tasks[0]?.id ?? 0;

  it('lists snapshots as a read: a viewer may, and no task is created', async () => {
    const before = await newestTask();
    const viewer = await createUser(bed.t.api, bed.admin, 'vera', 'viewer');
    for (let i = 0; i < 3; i++) {
      const listed = await bed.t.api.request<Snapshot[]>('GET', `/api/vms/${vm.uuid}/snapshots`, undefined, { token: viewer });
      expect(listed.status).toBe(200);
      expect(listed.body).toEqual([]);
    }
    expect(await newestTask()).toBe(before);
  });

  it('creates a snapshot, lists it, deletes it, and the list is empty again', async () => {
    expect((await api<Snapshot[]>('GET', `/api/vms/${vm.name}/snapshots`)).body).toEqual([]);

    const created = await api<Task & { message?: string }>('POST', `/api/vms/${vm.name}/snapshots`, { name: 'before-upgrade' });
    expect(created.status, created.body.message).toBe(202);
    expect(created.body).toMatchObject({ type: 'SNAPSHOT', subject: `vm:${vm.name}` });
    const done = await ended(created.body.id);
    expect(done.state, done.error ?? '').toBe('FINISHED');

    const listed = await api<Snapshot[]>('GET', `/api/vms/${vm.uuid}/snapshots`);
    expect(listed.status).toBe(200);
    expect(listed.body).toEqual([{ name: 'before-upgrade', createdAt: expect.stringMatching(/^\d{4}-/), state: 'running', current: true }]);
    expect((await virsh('snapshot-list', vm.name, '--name')).trim()).toBe('before-upgrade');

    // A revert to a snapshot that is not there fails as a task, with the node's sentence.
    const bad = await api<Task>('POST', `/api/vms/${vm.name}/snapshots/nope/revert`, {});
    expect(bad.status).toBe(202);
    const failed = await ended(bad.body.id);
    expect(failed.state).toBe('FAILED');
    expect(failed.error).toMatch(/has no snapshot "nope"; its snapshots are before-upgrade/);

    const deleted = await api<Task>('DELETE', `/api/vms/${vm.name}/snapshots/before-upgrade`);
    expect(deleted.status).toBe(202);
    expect((await ended(deleted.body.id)).state).toBe('FINISHED');
    expect((await api<Snapshot[]>('GET', `/api/vms/${vm.name}/snapshots`)).body).toEqual([]);

    const badName = await api<{ field?: string }>('POST', `/api/vms/${vm.name}/snapshots`, { name: '../x' });
    expect(badName.status).toBe(400);
    expect((await api('GET', '/api/vms/no-such-vm/snapshots')).status).toBe(404);
  });

  it('revert over a backup checkpoint: refused, or with discardCheckpoints done, and the next backup is full without a warning', async () => {
    await bed.addDestination('nas');
    const backup = async (): Promise<TaskDetails[]> => {
      const res = await api<{ taskIds: number[] }>('POST', '/api/backups/run', { vm: vm.uuid, destination: 'nas' });
      expect(res.status).toBe(202);
      return Promise.all(res.body.taskIds.map((id) => ended(id)));
    };
    const [, firstStore] = await backup();
    expect(firstStore!.result).toMatchObject({ type: 'full' });
    expect((await ended((await api<Task>('POST', `/api/vms/${vm.name}/snapshots`, { name: 'pre' })).body.id)).state).toBe('FINISHED');

    const refused = await ended((await api<Task>('POST', `/api/vms/${vm.name}/snapshots/pre/revert`, {})).body.id);
    expect(refused.state).toBe('FAILED');
    expect(refused.error).toMatch(/Revert with "discard checkpoints" to delete them first/);

    const reverted = await ended((await api<Task>('POST', `/api/vms/${vm.name}/snapshots/pre/revert`, { discardCheckpoints: true })).body.id);
    expect(reverted.state, reverted.error ?? '').toBe('FINISHED');
    expect((await virsh('checkpoint-list', vm.name, '--name')).trim()).toBe('');

    // The server forgot the chain: a plain full backup, not a broken-chain fallback with a warning.
    const [exported, stored] = await backup();
    expect(exported!.warnings).toEqual([]);
    expect(stored!.result).toMatchObject({ type: 'full' });
    expect((await ended((await api<Task>('DELETE', `/api/vms/${vm.name}/snapshots/pre`)).body.id)).state).toBe('FINISHED');
  });

  it('answers 503 with the reason while the node serving the VM is offline, and creates no task', async () => {
    const before = await newestTask();
    await bed.node!.stop();
    await expect
      .poll(async () => (await api('GET', `/api/vms/${vm.uuid}/snapshots`)).status, { timeout: 20_000 })
      .toBe(503);
    const res = await api<{ code: string; message: string }>('GET', `/api/vms/${vm.uuid}/snapshots`);
    expect(res.body.message).toMatch(/is offline, so the snapshots of VM ".*" cannot be listed; start it first/);
    expect(await newestTask()).toBe(before);
  });
});
