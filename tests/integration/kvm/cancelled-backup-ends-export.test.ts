import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Task } from '../../../common/api/tasks.js';
import { startKvmSetup, type KvmSetup } from '../../support/kvm-setup.js';
import { MiB, virsh, type TestVm } from '../../support/libvirt-host.js';
import { waitFor } from '../../support/test-server.js';

const exec = promisify(execFile);

/**
 * A backup of a shut-off VM exports its disks with qemu-nbd, which holds them locked: the VM
 * cannot start while it runs. When the backup is cancelled before its STORE reads the export
 * (at any point of the EXPORT, or after it), the export must end on the node at once, not
 * when it expires hours later.
 */
describe('a cancelled backup of a shut-off VM ends its qemu-nbd', () => {
  let bed: KvmSetup;
  let vm: TestVm;
  const api = <T>(method: string, p: string, body?: unknown) => bed.api<T>(method, p, body);

  /** qemu-nbd processes serving this VM's disk. */
  const servers = async (): Promise<string[]> => {
    const { stdout } = await exec('pgrep', ['-af', 'qemu-nbd']).catch(() => ({ stdout: '' }));
    return stdout.split('\n').filter((l) => l.includes(vm.disks[0]!.path));
  };
  const taskOf = async (id: number): Promise<Task> => (await api<Task>('GET', `/api/tasks/${id}`)).body;

  beforeAll(async () => {
    bed = await startKvmSetup({
      label: 'cancel-export',
      prepare: async (host) => {
        const disk = await host.createDisk('vda.qcow2', 16, [{ pattern: 0x21, offset: 0, length: MiB }]);
        vm = await host.defineVm([{ target: 'vda', path: disk }]);
      },
      node: { name: 'kvm-node' },
      destinations: ['nas'],
      hypervisor: 'kvm1',
    });
  });
  afterAll(async () => {
    await bed?.close();
  });

  for (const when of ['at once', 'while the EXPORT runs', 'after the EXPORT finished'] as const) {
    it(`cancelling the STORE ${when} leaves no qemu-nbd, and the VM starts`, async () => {
      const res = await api<{ taskIds: number[]; message?: string }>('POST', '/api/backups/run', { vm: vm.name, destination: 'nas' });
      expect(res.status, res.body.message).toBe(202);
      const [exportId, storeId] = res.body.taskIds as [number, number];
      if (when === 'while the EXPORT runs') await waitFor('the EXPORT to run', async () => ((await taskOf(exportId)).state !== 'QUEUED' ? true : undefined), 30_000);
      if (when === 'after the EXPORT finished') await waitFor('the EXPORT to end', async () => ((await taskOf(exportId)).state.startsWith('FINISHED') ? true : undefined), 30_000);
      const cancelled = await api<Task & { message?: string }>('POST', `/api/tasks/${storeId}/cancel`, {});
      // The STORE may have started already (then its node ends the export) or even ended.
      expect([200, 409], cancelled.body.message).toContain(cancelled.status);
      await waitFor('both tasks to end', async () => ((await taskOf(storeId)).state !== 'RUNNING' && (await taskOf(storeId)).state !== 'QUEUED' && !['QUEUED', 'RUNNING'].includes((await taskOf(exportId)).state) ? true : undefined), 60_000);
      await waitFor('qemu-nbd to stop', async () => ((await servers()).length === 0 ? true : undefined), 15_000);
      await virsh('start', vm.name);
      await virsh('destroy', vm.name);
    });
  }
});
