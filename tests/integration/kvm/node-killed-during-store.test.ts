import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackupPage } from '../../../common/api/backups.js';
import type { PolicyRun, PolicyRunPage } from '../../../common/api/policies.js';
import type { Task, TaskDetails } from '../../../common/api/tasks.js';
import { startKvmSetup, type KvmSetup } from '../../support/kvm-setup.js';
import { MiB, sh, virsh, type LibvirtTestHost, type TestVm } from '../../support/libvirt-host.js';
import { enrollExternalNode, type ExternalNode } from '../../support/external-node.js';
import { waitFor } from '../../support/test-server.js';

/** Random (incompressible) data, so STORE of the running VM takes seconds and can be killed in the middle. */
const DATA_MIB = 768;
const DISK_MIB = 1024;
const NODE = 'kvm-victim';
const ENDED = ['FINISHED', 'FINISHED_WITH_WARNINGS', 'FAILED', 'CANCELLED'];

/**
 * The node is SIGKILLed while STORE streams a running VM's disk into the repository: the
 * task fails as "node lost", no backup is listed, the restarted node ends the libvirt backup
 * job the dead process left, and the next backup succeeds and restores bit-exact.
 * A real server, the node as a real `vplus node-service run` process, libvirtd + QEMU (TCG).
 */
describe('a node killed during STORE', () => {
  let bed: KvmSetup;
  let host: LibvirtTestHost;
  let vm: TestVm;
  let node: ExternalNode;
  let expectedRaw: string;

  const api = <T>(method: string, p: string, body?: unknown) => bed.api<T>(method, p, body);
  const getTask = async (id: number): Promise<TaskDetails> => (await api<TaskDetails>('GET', `/api/tasks/${id}`)).body;
  const ended = (id: number, timeoutMs = 120_000): Promise<TaskDetails> =>
    waitFor(`task ${id} to end`, async () => {
      const d = await getTask(id);
      return ENDED.includes(d.state) ? d : undefined;
    }, timeoutMs);
  const startBackup = async (): Promise<number[]> => {
    const res = await api<{ taskIds: number[]; message?: string }>('POST', '/api/backups/run', { vm: vm.uuid, destination: 'local' });
    expect(res.status, res.body.message).toBe(202);
    expect(res.body.taskIds).toHaveLength(2); // EXPORT, STORE
    return res.body.taskIds;
  };
  const backupJobActive = async (): Promise<boolean> => !/^Job type:\s*None/m.test(await virsh('domjobinfo', vm.name));

  beforeAll(async () => {
    bed = await startKvmSetup({
      label: 'nodekill',
      prepare: async (h) => {
        // The disk: DATA_MIB of random data at the start of a DISK_MIB disk, then a raw copy of it (the VM is off).
        const source = path.join(h.dir, 'source.raw');
        const fd = fs.openSync(source, 'w');
        for (let i = 0; i < DATA_MIB / 16; i++) fs.writeSync(fd, randomBytes(16 * MiB));
        fs.ftruncateSync(fd, DISK_MIB * MiB);
        fs.closeSync(fd);
        const vda = path.join(h.dir, 'vda.qcow2');
        await sh('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'qcow2', source, vda], 120_000);
        fs.rmSync(source);
        expectedRaw = path.join(h.dir, 'expected-vda.raw');
        await sh('qemu-img', ['convert', '-q', '-f', 'qcow2', '-O', 'raw', vda, expectedRaw], 120_000);
        vm = await h.defineVm([{ target: 'vda', path: vda }]);
      },
      server: { nodeHeartbeatSeconds: 0.5, nodeLossTimeoutSeconds: 3 },
      node: { name: NODE, external: true },
    });
    host = bed.host;
    // Enrolled with the built CLI; its staging dir (0755, under /var/tmp) lets QEMU reach the NBD sockets.
    node = await enrollExternalNode(bed, NODE);
    await node.run();
    await bed.addDestination('local');
    await host.start(vm);
    await bed.addHypervisor('kvm1');
  });

  afterAll(async () => {
    await node?.stopAll();
    await bed?.close();
  });

  it('fails the STORE as "node lost", lists no backup, and the restarted node ends the stale backup job', async () => {
    const [exportId, storeId] = await startBackup();
    const exp = await ended(exportId!);
    expect(exp.state, exp.error ?? '').toMatch(/^FINISHED/);
    await waitFor('STORE to be reading', async () => {
      const s = (await api<Task>('GET', `/api/tasks/${storeId}`)).body;
      if (ENDED.includes(s.state)) throw new Error(`STORE ended (${s.state}) before it could be killed; make the disk bigger`);
      return s.state === 'RUNNING' && s.progress.bytesDone > 0 ? true : undefined;
    }, 60_000);
    const before = (await api<Task>('GET', `/api/tasks/${storeId}`)).body;
    expect(before.progress.bytesDone).toBeLessThan(before.progress.bytesTotal ?? Infinity);

    const victim = node.procs.at(-1)!;
    victim.child.kill('SIGKILL');
    await victim.exited;
    const killedAt = Date.now();
    const store = await ended(storeId!, 30_000);
    expect(Date.now() - killedAt).toBeLessThan(20_000);
    expect(['FAILED', 'CANCELLED']).toContain(store.state);
    expect(store.error).toMatch(/node lost/);
    expect(store.log.some((l) => /node lost: .*did not reconnect within 3s/.test(l.message))).toBe(true);

    expect((await api<BackupPage>('GET', `/api/backups?vm=${vm.uuid}`)).body.backups).toEqual([]);
    expect((await api<BackupPage>('GET', '/api/backups')).body.backups).toEqual([]);
    // Nobody ended the pull-mode job: the dead process cannot, and the server does not talk to libvirt.
    expect(await backupJobActive()).toBe(true);

    await node.run(); // recovers stale exports before it connects
    expect(await backupJobActive()).toBe(false);
    expect((await virsh('domstate', vm.name)).trim()).toBe('running');
    // The failed store's checkpoint was deleted with the job: the chain did not advance.
    expect((await virsh('checkpoint-list', vm.name, '--name')).trim()).toBe('');
  });

  it('GC and a policy\'s retention run at once, not held up by the dead node\'s lease, and GC frees what the killed backup wrote', async () => {
    // The killed STORE left its lease in the repository; it names a process gone from this host.
    const leases = fs.readdirSync(path.join(bed.destinationPath('local'), 'locks')).filter((f) => f.endsWith('.json'));
    expect(leases).toHaveLength(1);
    const res = await api<Task>('POST', '/api/destinations/local/gc', {});
    expect(res.status).toBe(202);
    const gc = await ended(res.body.id);
    expect(gc.state, gc.error ?? '').toBe('FINISHED');
    const freed = gc.result as { removedChunks: number; freedBytes: number };
    // The STORE had written part of 768 MiB of random data before it was killed.
    expect(freed.removedChunks).toBeGreaterThan(0);
    expect(freed.freedBytes).toBeGreaterThan(freed.removedChunks * 512 * 1024);
    expect(fs.readdirSync(path.join(bed.destinationPath('local'), 'locks')).filter((f) => f.endsWith('.json'))).toEqual([]);

    const policy = await api<{ message?: string }>('POST', '/api/policies', {
      name: 'after-kill',
      destination: 'local',
      schedules: ['full daily 01:00'],
      retention: { keepLast: 1 },
      assignment: { include: [`^${vm.name}$`] },
    });
    expect(policy.status, policy.body.message).toBe(201);
    const started = await api<PolicyRun>('POST', '/api/policies/after-kill/retention');
    expect(started.status).toBe(202);
    const run = await waitFor('the retention run', async () => (await api<PolicyRunPage>('GET', '/api/policies/after-kill/runs')).body.runs.find((r) => r.id === started.body.id && r.state !== 'running'), 120_000);
    expect(run.state, run.message ?? '').toBe('finished');
  });

  it('then backs up and restores bit-exact', async () => {
    const [exportId, storeId] = await startBackup();
    const exp = await ended(exportId!);
    expect(exp.state, exp.error ?? '').toMatch(/^FINISHED/);
    const store = await ended(storeId!, 180_000);
    expect(store.state, store.error ?? '').toMatch(/^FINISHED/);
    expect(store.result).toMatchObject({ type: 'full' }); // the killed run never advanced the chain

    const backups = (await api<BackupPage>('GET', `/api/backups?vm=${vm.uuid}`)).body.backups;
    expect(backups).toHaveLength(1);
    expect((await api<BackupPage>('GET', '/api/backups')).body.backups).toHaveLength(1);
    expect(backups[0]).toMatchObject({ type: 'full', status: 'available', logicalBytes: DISK_MIB * MiB });

    const res = await api<{ taskIds: number[]; message?: string }>('POST', '/api/restores', { mode: 'files', backup: backups[0]!.id, node: NODE, path: host.subdir('restore'), format: 'raw' });
    expect(res.status, res.body.message).toBe(202);
    const [restore] = await Promise.all(res.body.taskIds.map((id) => ended(id, 180_000)));
    expect(restore!.state, restore!.error ?? '').toBe('FINISHED');
    const files = (restore!.result as { files: { target: string; path: string }[] }).files;
    expect(files.map((f) => f.target)).toEqual(['vda']);
    await sh('qemu-img', ['compare', '-q', '-f', 'raw', '-F', 'raw', files[0]!.path, expectedRaw], 180_000);
  }, 300_000);
});
