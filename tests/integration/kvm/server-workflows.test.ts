import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackupPage } from '../../../common/api/backups.js';
import type { Vm } from '../../../common/api/hypervisors.js';
import type { TaskDetails } from '../../../common/api/tasks.js';
import { chunkRelPath, forEachChunkObject } from '../../../node-service/repository/format.js';
import { Repository } from '../../../node-service/repository/index.js';
import { startKvmSetup, type KvmSetup } from '../../support/kvm-setup.js';
import { MiB, sh, virsh, type LibvirtTestHost, type TestVm } from '../../support/libvirt-host.js';
import { taskEnded, waitFor } from '../../support/test-server.js';

/**
 * The product's main job through the server: a hypervisor added via the API,
 * its inventory, backup now (EXPORT → STORE workflows, full then
 * incremental), restore to files compared with the truth, and restore as a new
 * VM that starts — real MariaDB, real node agent, real libvirtd + QEMU (TCG).
 */
describe('KVM workflows through the server', () => {
  let bed: KvmSetup;
  let host: LibvirtTestHost;
  let vm: TestVm;
  const expected: Record<number, Record<string, string>> = {};

  const api = <T>(method: string, p: string, body?: unknown) => bed.api<T>(method, p, body);
  const task = (id: number): Promise<TaskDetails> => taskEnded(bed.t.api, bed.admin, id);
  const runWorkflow = async (p: string, body: unknown): Promise<TaskDetails[]> => {
    const res = await api<{ taskIds: number[]; message?: string }>('POST', p, body);
    expect(res.status, res.body.message).toBe(202);
    const out: TaskDetails[] = [];
    for (const id of res.body.taskIds) out.push(await task(id));
    return out;
  };
  const snapshot = async (label: string): Promise<Record<string, string>> => {
    const out: Record<string, string> = {};
    for (const d of vm.disks) {
      out[d.target] = path.join(host.dir, `expected-${label}-${d.target}.raw`);
      await sh('qemu-img', ['convert', '-f', 'qcow2', '-O', 'raw', d.path, out[d.target]!]);
    }
    return out;
  };

  beforeAll(async () => {
    bed = await startKvmSetup({
      label: 'server',
      prepare: async (h) => {
        const vda = await h.createDisk('vda.qcow2', 32, [{ pattern: 0x11, offset: 0, length: 2 * MiB }]);
        const vdb = await h.createDisk('vdb.qcow2', 32, [{ pattern: 0x22, offset: 4 * MiB, length: MiB }]);
        vm = await h.defineVm([{ target: 'vda', path: vda }, { target: 'vdb', path: vdb }]);
      },
      node: { name: 'kvm-node' },
      // The hypervisor is added by the first test.
      destinations: ['local'],
    });
    host = bed.host;
  });
  afterAll(async () => {
    await bed?.close();
  });

  it('adds the hypervisor and lists its VMs with disks', async () => {
    expected[0] = await snapshot('first');
    await host.start(vm);
    const h = await api<{ name: string; vms: number; message?: string }>('POST', '/api/hypervisors', { name: 'kvm1', node: 'kvm-node' });
    expect(h.status, h.body.message).toBe(201);
    const vms = (await api<Vm[]>('GET', '/api/vms')).body;
    const found = vms.find((v) => v.uuid === vm.uuid)!;
    expect(found).toMatchObject({ name: vm.name, state: 'running', present: true, hypervisor: 'kvm1' });
    expect(found.disks.map((d) => d.target)).toEqual(['vda', 'vdb']);
  });

  it('backs up fully, then incrementally reading only what changed', async () => {
    const [exp1, store1] = await runWorkflow('/api/backups/run', { vm: vm.name, destination: 'local' });
    expect(exp1!.state).toMatch(/^FINISHED/);
    expect(store1!.state).toBe('FINISHED');
    expect(store1!.result).toMatchObject({ type: 'full' });

    await host.destroy(vm);
    await host.write(vm.disks[0]!.path, [{ pattern: 0x33, offset: 8 * MiB, length: 64 * 1024 }]);
    expected[1] = await snapshot('second');
    await host.start(vm);
    const [, store2] = await runWorkflow('/api/backups/run', { vm: vm.name, destination: 'local' });
    expect(store2!.state).toBe('FINISHED');
    expect(store2!.result).toMatchObject({ type: 'incremental' });
    expect(Number(store2!.result!.bytesRead)).toBeLessThanOrEqual(2 * MiB);

    const backups = (await api<BackupPage>('GET', `/api/backups?vm=${vm.uuid}`)).body.backups;
    expect(backups.map((b) => b.type)).toEqual(['incremental', 'full']);
    const v = (await api<Vm>('GET', `/api/vms/${vm.uuid}`)).body;
    expect(v.backups).toBe(2);
    expect(v.lastBackupType).toBe('incremental');
  });

  it('restores every backup point to files that equal the disks at that time', async () => {
    const backups = (await api<BackupPage>('GET', `/api/backups?vm=${vm.uuid}`)).body.backups.reverse();
    for (const [i, b] of backups.entries()) {
      const dir = host.subdir(`restore-${i}`);
      const [restore] = await runWorkflow('/api/restores', { mode: 'files', backup: b.id, node: 'kvm-node', path: dir, format: 'raw' });
      expect(restore!.state, restore!.error ?? '').toBe('FINISHED');
      const files = (restore!.result as { files: { target: string; path: string }[] }).files;
      for (const f of files) await sh('qemu-img', ['compare', '-f', 'raw', '-F', 'raw', f.path, expected[i]![f.target]!]);
      expect(files.map((f) => f.target).sort()).toEqual(['vda', 'vdb']);
      for (const f of files) expect(fs.statSync(f.path).mode & 0o777, f.path).toBe(0o600);
    }
  });

  it('a damaged chunk: verify marks the backup damaged, restore refuses it, the next backup heals it, and both restore bit-exact', async () => {
    const [incr, full] = (await api<BackupPage>('GET', `/api/backups?vm=${vm.uuid}`)).body.backups;
    const repoPath = bed.destinationPath('local');
    const repo = await Repository.open(repoPath);
    // Every object (whole chunks, overlay bases and parts): the one damaged may be any of them.
    const chunksOf = async (id: string): Promise<Set<string>> => {
      const ids = new Set<string>();
      for (const d of (await repo.loadManifest(id)).disks) forEachChunkObject(d, (c) => ids.add(c));
      return ids;
    };
    const inFull = await chunksOf(full!.repoBackupId);
    const onlyIncr = [...(await chunksOf(incr!.repoBackupId))].filter((c) => !inFull.has(c));
    await repo.close();
    expect(onlyIncr.length).toBeGreaterThan(0);
    const file = path.join(repoPath, chunkRelPath(onlyIncr[0]!));
    const bytes = fs.readFileSync(file);
    bytes[bytes.length - 1]! ^= 0x01;
    fs.writeFileSync(file, bytes);

    const verify = await api<TaskDetails>('POST', '/api/destinations/local/verify', {});
    const found = await task(verify.body.id);
    expect(found.state).toBe('FAILED');
    expect(found.error).toContain(incr!.repoBackupId);
    const marked = (await api<BackupPage>('GET', `/api/backups?vm=${vm.uuid}`)).body.backups;
    expect(marked.find((b) => b.id === incr!.id)).toMatchObject({ status: 'damaged', damagedChunks: 1 });
    expect(marked.find((b) => b.id === full!.id)).toMatchObject({ status: 'available' });
    const refused = await api<{ message: string }>('POST', '/api/restores', { mode: 'files', backup: incr!.id, node: 'kvm-node', path: host.subdir('refused'), format: 'raw' });
    expect(refused.status).toBe(409);
    expect(refused.body.message).toMatch(/is damaged .*back up the VM again/);

    // Nothing changed in the VM: the incremental reads the damaged chunk's data again.
    const [, store] = await runWorkflow('/api/backups/run', { vm: vm.name, destination: 'local' });
    expect(store!.state, store!.error ?? '').toBe('FINISHED');
    expect(store!.result).toMatchObject({ type: 'incremental' });
    expect(store!.log.some((l) => /stored 1 chunk\(s\) again that verify had found damaged/.test(l.message))).toBe(true);
    const healed = await task((await api<TaskDetails>('POST', '/api/destinations/local/verify', {})).body.id);
    expect(healed.state, healed.error ?? '').toBe('FINISHED');
    const after = (await api<BackupPage>('GET', `/api/backups?vm=${vm.uuid}`)).body.backups;
    expect(after.map((b) => b.status)).toEqual(['available', 'available', 'available']);
    for (const b of after.slice(0, 2)) {
      const [restore] = await runWorkflow('/api/restores', { mode: 'files', backup: b.id, node: 'kvm-node', path: host.subdir(`healed-${b.id}`), format: 'raw' });
      expect(restore!.state, restore!.error ?? '').toBe('FINISHED');
      for (const f of (restore!.result as { files: { target: string; path: string }[] }).files) {
        await sh('qemu-img', ['compare', '-f', 'raw', '-F', 'raw', f.path, expected[1]![f.target]!]);
      }
    }
  });

  it('restores a backup as a new VM with a new identity, which starts', async () => {
    const [latest] = (await api<BackupPage>('GET', `/api/backups?vm=${vm.uuid}`)).body.backups;
    const name = `${vm.name}-restored`;
    const [restore, imported] = await runWorkflow('/api/restores', { mode: 'import', backup: latest!.id, hypervisor: 'kvm1', name, storageDir: host.subdir('images'), start: true });
    expect(restore!.state, restore!.error ?? '').toBe('FINISHED');
    expect(imported!.state, imported!.error ?? '').toBe('FINISHED');
    const newUuid = (imported!.result as { uuid: string }).uuid;
    expect(newUuid).not.toBe(vm.uuid);
    expect((await virsh('domstate', name)).trim()).toBe('running');
    // The new VM's disks are private to their owner (libvirt hands them to QEMU); their directory is only passable.
    const restoredFiles = (restore!.result as { directory: string; files: { path: string }[] });
    for (const f of restoredFiles.files) expect(fs.statSync(f.path).mode & 0o077, f.path).toBe(0);
    expect(fs.statSync(restoredFiles.directory).mode & 0o777).toBe(0o711);
    const vms = await waitFor('the new VM in the inventory', async () => (await api<Vm[]>('GET', '/api/vms')).body.find((v) => v.name === name));
    expect(vms.uuid).toBe(newUuid);
    await virsh('destroy', name).catch(() => undefined);
    await virsh('undefine', name).catch(() => undefined);
  });

  it('leaves excluded disks out of the backup', async () => {
    expect((await api('PATCH', `/api/vms/${vm.uuid}`, { excludedDisks: ['vdb'] })).status).toBe(200);
    const [, store] = await runWorkflow('/api/backups/run', { vm: vm.uuid, destination: 'local', full: true });
    expect(store!.state).toBe('FINISHED');
    expect((store!.result as { disks: { target: string }[] }).disks.map((d) => d.target)).toEqual(['vda']);
    const bad = await api<{ field: string }>('PATCH', `/api/vms/${vm.uuid}`, { excludedDisks: ['vdz'] });
    expect(bad.status).toBe(400);
    expect(bad.body.field).toBe('excludedDisks');
  });
});
