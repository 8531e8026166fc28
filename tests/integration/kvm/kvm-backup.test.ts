import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KvmBackup, KvmInventory, restoreToDirectory, Virsh, ChildProcessRunner, type KvmBackupResult } from '../../../node-service/platforms/kvm/index.js';
import { Repository } from '../../../node-service/repository/index.js';
import { expandChunks } from '../../../node-service/repository/format.js';
import { ensureLibvirt, LibvirtTestHost, MiB, sh, virsh, type TestVm } from '../../support/libvirt-host.js';

/**
 * A running two-disk VM on a real libvirtd + QEMU (TCG): full backup, offline writes with
 * qemu-io (persistent bitmaps record them), incremental, broken chains, and every backup
 * point restored and compared with the image it must equal.
 */
describe('KVM backup and restore', () => {
  let host: LibvirtTestHost;
  let repo: Repository;
  let vm: TestVm;
  let vda: string;
  let vdb: string;
  const backup = new KvmBackup();
  /** Backup id → the raw images its disks must restore to. */
  const points: { id: string; expected: Record<string, string> }[] = [];
  const logs: string[] = [];

  /** Raw copies of both disks as they are now (VM off), the truth a restore is compared with. */
  async function snapshotExpected(label: string): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const [target, file] of [['vda', vda], ['vdb', vdb]] as const) {
      out[target] = path.join(host.dir, `expected-${label}-${target}.raw`);
      await sh('qemu-img', ['convert', '-f', 'qcow2', '-O', 'raw', file, out[target]]);
    }
    return out;
  }

  async function runBackup(previous: KvmBackupResult | null, mode: 'auto' | 'full' = 'auto'): Promise<KvmBackupResult> {
    return backup.run({
      domain: vm.name,
      repository: repo,
      mode,
      previous: previous?.checkpoint ? { checkpoint: previous.checkpoint, backupId: previous.backupId } : null,
      workDir: host.subdir('work'),
      log: (level, message) => logs.push(`${level}: ${message}`),
    });
  }

  beforeAll(async () => {
    await ensureLibvirt();
    host = new LibvirtTestHost('backup');
    vda = await host.createDisk('vda.qcow2', 64, [
      { pattern: 0x11, offset: 0, length: MiB },
      { pattern: 0x22, offset: 10 * MiB, length: 2 * MiB },
    ]);
    vdb = await host.createDisk('vdb.qcow2', 64, [{ pattern: 0x33, offset: 32 * MiB, length: MiB }]);
    vm = await host.defineVm([{ target: 'vda', path: vda }, { target: 'vdb', path: vdb }]);
    repo = await Repository.init(host.subdir('repo') + '/r', {});
  });

  afterAll(async () => {
    await repo?.close();
    await host?.cleanup();
  });

  it('lists the VM with its state, vCPUs, memory and disks', async () => {
    points.push({ id: '', expected: await snapshotExpected('p1') }); // placeholder id, set by the full backup
    await host.start(vm);
    const list = await new KvmInventory(new Virsh(new ChildProcessRunner())).list();
    const found = list.find((v) => v.uuid === vm.uuid);
    expect(found).toMatchObject({ name: vm.name, state: 'running', vcpus: 1, memoryBytes: 64 * MiB });
    expect(found!.disks.map((d) => [d.target, d.path, d.format, d.virtualBytes])).toEqual([
      ['vda', vda, 'qcow2', 64 * MiB],
      ['vdb', vdb, 'qcow2', 64 * MiB],
    ]);
    expect(found!.disks[0]!.allocatedBytes).toBeGreaterThan(0);
  });

  let full: KvmBackupResult;
  let incremental: KvmBackupResult;
  let chainTip: KvmBackupResult;

  it('takes a full backup of the running VM, reading only allocated data', async () => {
    full = await runBackup(null);
    points[0]!.id = full.backupId;
    expect(full.type).toBe('full');
    expect(full.warnings).toEqual([]);
    expect(full.checkpoint).toMatch(/^vplus-/);
    // 1 + 2 MiB on vda, 1 MiB on vdb, in 1 MiB chunks aligned with the writes: exactly 4 MiB read.
    expect(full.bytesRead).toBe(4 * MiB);
    expect(full.manifest.source).toMatchObject({ type: 'full', vm: { name: vm.name, uuid: vm.uuid }, checkpoint: full.checkpoint });
    expect(full.manifest.group).toBe(vm.uuid);
    // The job is over and the checkpoint stays as the next base.
    expect((await virsh('domjobinfo', vm.name))).toMatch(/Job type:\s*None/);
    expect(await virsh('checkpoint-list', vm.name, '--name')).toContain(full.checkpoint);
  });

  it('takes an incremental that reads only the blocks changed while the VM was off', async () => {
    await host.destroy(vm);
    await host.write(vda, [
      { pattern: 0x44, offset: 20 * MiB, length: 64 * 1024 },
      { pattern: 'zero', offset: 10 * MiB, length: MiB }, // zeroes data the full backup had
      { pattern: 0x55, offset: 40 * MiB + 4096, length: 8192 }, // unaligned, inside one bitmap granule
      { pattern: 0x77, offset: 11 * MiB + 128 * 1024, length: 64 * 1024 }, // over data the full backup had
    ]);
    await host.write(vdb, [{ pattern: 0x66, offset: 0, length: 64 * 1024 }]);
    points.push({ id: '', expected: await snapshotExpected('p2') });
    await host.start(vm);

    incremental = await runBackup(full);
    points[1]!.id = incremental.backupId;
    expect(incremental.type).toBe('incremental');
    expect(incremental.warnings).toEqual([]);
    expect(incremental.manifest.parent).toBe(full.backupId);
    // The dirty bitmap (64 KiB granules) names exactly what changed…
    expect(incremental.disks.map((d) => [d.name, d.changedBytes])).toEqual([
      ['vda', MiB + 192 * 1024],
      ['vdb', 64 * 1024],
    ]);
    // …and only that is read: the 64 KiB written over data (chunk 11), stored as an overlay of
    // the full backup's chunk (FORMAT.md "Overlays"); the dirty granules of chunks that were zero
    // (vda 20M and 40M, vdb 0), laid over the all-zero chunk; the zeroed chunk needs no read.
    expect(incremental.bytesRead).toBe(4 * 64 * 1024);
    const vdaSlots = expandChunks(incremental.manifest.disks.find((d) => d.name === 'vda')!);
    expect(vdaSlots[11]).toEqual({ base: expandChunks(full.manifest.disks.find((d) => d.name === 'vda')!)[11], over: [[128 * 1024, 64 * 1024, expect.any(String)]] });
    expect(incremental.manifest.summary.reusedBytes).toBeGreaterThan(0);
  });

  it('restores every backup point bit-exact, as raw and as sparse qcow2', async () => {
    for (const [i, p] of points.entries()) {
      for (const format of ['raw', 'qcow2'] as const) {
        const dir = host.subdir(`restore-${i}-${format}`);
        const r = await restoreToDirectory({ repository: repo, backupId: p.id, directory: dir, format });
        expect(r.disks.map((d) => d.disk)).toEqual(['vda', 'vdb']);
        for (const d of r.disks) await sh('qemu-img', ['compare', '-f', 'raw', '-F', format, p.expected[d.disk]!, d.path]);
        expect(r.domainXmlPath).toBe(path.join(dir, `${vm.name}.xml`));
        // Restored disks and the domain XML are the owner's only.
        for (const f of [...r.disks.map((d) => d.path), r.domainXmlPath!]) expect(fs.statSync(f).mode & 0o777, f).toBe(0o600);
      }
    }
    // A directory the restore creates is private too.
    const created = path.join(host.dir, 'restore-new', 'vm');
    const r = await restoreToDirectory({ repository: repo, backupId: points[0]!.id, directory: created, format: 'qcow2' });
    expect(fs.statSync(created).mode & 0o777).toBe(0o700);
    expect(fs.statSync(path.join(host.dir, 'restore-new')).mode & 0o777).toBe(0o700);
    for (const d of r.disks) expect(fs.statSync(d.path).mode & 0o777).toBe(0o600);
    // Sparse: a 64 MiB disk with 3 MiB of data takes about 3 MiB.
    const info = JSON.parse(await sh('qemu-img', ['info', '--output=json', path.join(host.dir, 'restore-1-qcow2', 'vda.qcow2')])) as { 'actual-size': number };
    expect(info['actual-size']).toBeLessThan(8 * MiB);
  });

  it('takes a full backup with a warning when a bitmap was removed, and it restores correctly', async () => {
    await host.destroy(vm);
    await sh('qemu-img', ['bitmap', '--remove', vda, incremental.checkpoint!]);
    await host.write(vdb, [{ pattern: 0x77, offset: 50 * MiB, length: MiB }]);
    const expected = await snapshotExpected('p3');
    await host.start(vm);
    const r = await runBackup(incremental);
    expect(r.type).toBe('full');
    expect(r.warnings.join(' ')).toMatch(/full backup instead of an incremental: disk vda has no usable bitmap for checkpoint/);
    expect(r.manifest.parent).toBeNull();
    const dir = host.subdir('restore-p3');
    for (const d of (await restoreToDirectory({ repository: repo, backupId: r.backupId, directory: dir, format: 'raw' })).disks) {
      await sh('qemu-img', ['compare', '-f', 'raw', '-F', 'raw', expected[d.disk]!, d.path]);
    }
    // The new full is a sound base again: the next backup is incremental.
    const next = await runBackup(r);
    expect(next.type).toBe('incremental');
    expect(next.bytesRead).toBe(0);
    chainTip = next;
  });

  it('takes a full backup with a warning when the checkpoint was deleted from libvirt', async () => {
    await virsh('checkpoint-delete', vm.name, chainTip.checkpoint!, '--metadata');
    const r = await runBackup(chainTip);
    expect(r.type).toBe('full');
    expect(r.warnings.join(' ')).toMatch(/checkpoint .* no longer exists in libvirt/);
  });

  it('takes a full backup when asked, even with an intact chain', async () => {
    const r = await runBackup(chainTip, 'full');
    expect(r.type).toBe('full');
    expect(r.warnings).toEqual([]);
  });

  it('a backup whose commit fails ends its job and deletes its checkpoint: the next incremental still sees the change', async () => {
    const base = await runBackup(null, 'full');
    await host.destroy(vm);
    await host.write(vda, [{ pattern: 0x78, offset: 30 * MiB, length: 64 * 1024 }]);
    await host.start(vm);
    const checkpointsBefore = (await virsh('checkpoint-list', vm.name, '--name')).trim();
    // The repository fails at the commit, after every byte was read (when the export is already stopping).
    const bound = (target: object, prop: string | symbol): unknown => {
      const v = Reflect.get(target, prop) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    };
    const failing = new Proxy(repo, {
      get: (target, prop) =>
        prop !== 'startBackup'
          ? bound(target, prop)
          : async (...args: Parameters<Repository['startBackup']>) => {
              const writer = await target.startBackup(...args);
              return new Proxy(writer, { get: (w, p) => (p === 'commit' ? () => Promise.reject(new Error('disk full (test)')) : bound(w, p)) });
            },
    });
    await expect(
      backup.run({ domain: vm.name, repository: failing, mode: 'auto', previous: { checkpoint: base.checkpoint!, backupId: base.backupId }, workDir: host.subdir('work') }),
    ).rejects.toThrow(/disk full \(test\)/);
    expect(await virsh('domjobinfo', vm.name)).toMatch(/Job type:\s*None/);
    expect((await virsh('checkpoint-list', vm.name, '--name')).trim()).toBe(checkpointsBefore);
    // The failed backup's checkpoint was merged into the base: its change is still there to read.
    const next = await runBackup(base);
    expect(next.type).toBe('incremental');
    expect(next.manifest.parent).toBe(base.backupId);
    expect(next.disks.map((d) => [d.name, d.changedBytes])).toEqual([
      ['vda', 64 * 1024],
      ['vdb', 0],
    ]);
    expect(next.bytesRead).toBe(64 * 1024); // an overlay: only the changed range of its chunk
  });

  it('refuses to overwrite restored files unless told to', async () => {
    const dir = path.join(host.dir, 'restore-0-raw');
    await expect(restoreToDirectory({ repository: repo, backupId: points[0]!.id, directory: dir, format: 'raw' })).rejects.toThrow(/already exists/);
    await restoreToDirectory({ repository: repo, backupId: points[0]!.id, directory: dir, format: 'raw', overwrite: true });
  });
});
