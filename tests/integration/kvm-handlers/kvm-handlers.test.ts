import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import {
  ExportParamsSchema,
  ExportResultSchema,
  ImportParamsSchema,
  ImportResultSchema,
  InventorySyncParamsSchema,
  InventorySyncResultSchema,
  RestoreParamsSchema,
  RestoreResultSchema,
  StoreParamsSchema,
  StoreResultSchema,
} from '../../../common/kvm-tasks.js';
import { kvmHandlers } from '../../../node-service/agent/handlers/kvm.handlers.js';
import type { TaskHandler } from '../../../node-service/agent/task-handler.js';
import { ChildProcessRunner, KvmExportRegistry, recoverStaleExports } from '../../../node-service/platforms/kvm/index.js';
import { Repository } from '../../../node-service/repository/index.js';
import { ensureLibvirt, LIBVIRT_URI, LibvirtTestHost, MiB, sh, virsh, type TestVm } from '../../support/libvirt-host.js';
import { TEST_KDF } from '../../unit/repository/helpers.js';
import { deadProcess, runFailing, runTask } from './helpers.js';

type ExportResult = z.infer<typeof ExportResultSchema>;
type StoreResult = z.infer<typeof StoreResultSchema>;
type RestoreResult = z.infer<typeof RestoreResultSchema>;

const NODE = 'kvm-1';
const RUNTIME_KEY = 'node-1-handlers';
const PASSWORD = 'kvm handlers test';

/**
 * The node's KVM task handlers against a real libvirtd + QEMU (TCG) and a real repository,
 * called as the task runner calls them, every params and result checked against the
 * contracts in common/kvm-tasks.ts.
 */
describe('KVM task handlers', () => {
  let host: LibvirtTestHost;
  let repoPath: string;
  let staging: string;
  let workDir: string;
  let vm: TestVm;
  let vda: string;
  let vdb: string;
  let handlers: Map<string, TaskHandler>;
  const imported: string[] = [];
  /** Backup id → the raw images its disks must restore to. */
  const points: { id: string; expected: Record<string, string> }[] = [];

  const h = (type: string): TaskHandler => handlers.get(type)!;
  const repository = (): { repository: { path: string; password: string } } => ({ repository: { path: repoPath, password: PASSWORD } });
  const vmRef = (): { uuid: string; name: string } => ({ uuid: vm.uuid, name: vm.name });

  async function snapshotExpected(label: string): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const [target, file] of [['vda', vda], ['vdb', vdb]] as const) {
      out[target] = path.join(host.dir, `expected-${label}-${target}.raw`);
      await sh('qemu-img', ['convert', '-f', 'qcow2', '-O', 'raw', file, out[target]]);
    }
    return out;
  }

  function exportTask(previous: StoreResult | null, options: { mode?: 'auto' | 'full'; excludeDisks?: string[]; handler?: TaskHandler } = {}): Promise<{ result: ExportResult; warnings: string[] }> {
    const params: z.input<typeof ExportParamsSchema> = {
      uri: LIBVIRT_URI,
      vm: vmRef(),
      destinationId: 1,
      mode: options.mode ?? 'auto',
      previous: previous?.checkpoint ? { checkpoint: previous.checkpoint, backupId: previous.backupId } : null,
      excludeDisks: options.excludeDisks ?? [],
    };
    return runTask(options.handler ?? h('EXPORT'), { params: ExportParamsSchema, result: ExportResultSchema }, params, repository(), staging);
  }

  function storeTask(exported: ExportResult) {
    const params: z.input<typeof StoreParamsSchema> = { destinationId: 1, vm: vmRef() };
    return runTask(h('STORE'), { params: StoreParamsSchema, result: StoreResultSchema }, params, { ...repository(), previousResult: exported }, staging);
  }

  async function backupNow(previous: StoreResult | null, options: { mode?: 'auto' | 'full'; excludeDisks?: string[] } = {}) {
    const exported = await exportTask(previous, options);
    const stored = await storeTask(exported.result);
    return { exported, stored };
  }

  function restoreTask(backupId: string, directory: string, format: 'qcow2' | 'raw', extra: { disks?: string[]; overwrite?: boolean } = {}) {
    const params: z.input<typeof RestoreParamsSchema> = { destinationId: 1, backupId, directory, format, overwrite: extra.overwrite ?? false, ...(extra.disks ? { disks: extra.disks } : {}) };
    return runTask(h('RESTORE'), { params: RestoreParamsSchema, result: RestoreResultSchema }, params, repository(), staging);
  }

  async function expectRestoresTo(result: RestoreResult, expected: Record<string, string>): Promise<void> {
    for (const f of result.files) await sh('qemu-img', ['compare', '-f', 'raw', '-F', f.format, expected[f.target]!, f.path]);
  }

  async function backupCount(): Promise<number> {
    const repo = await Repository.open(repoPath, { password: PASSWORD });
    try {
      return (await repo.listBackups()).length;
    } finally {
      await repo.close();
    }
  }

  const jobIdle = async (): Promise<boolean> => /Job type:\s*None/.test(await virsh('domjobinfo', vm.name));
  const checkpoints = async (): Promise<string[]> => (await virsh('checkpoint-list', vm.name, '--name')).split('\n').map((l) => l.trim()).filter(Boolean);

  beforeAll(async () => {
    await ensureLibvirt();
    host = new LibvirtTestHost('handlers');
    staging = host.subdir('staging');
    workDir = host.subdir('work');
    vda = await host.createDisk('vda.qcow2', 64, [
      { pattern: 0x11, offset: 0, length: MiB },
      { pattern: 0x22, offset: 10 * MiB, length: 2 * MiB },
    ]);
    vdb = await host.createDisk('vdb.qcow2', 64, [{ pattern: 0x33, offset: 32 * MiB, length: MiB }]);
    vm = await host.defineVm([{ target: 'vda', path: vda }, { target: 'vdb', path: vdb }]);
    // A NIC, so the import has a MAC address to replace (user networking needs no host setup).
    const nic = path.join(host.dir, 'nic.xml');
    fs.writeFileSync(nic, "<interface type='user'><mac address='52:54:00:12:34:56'/><model type='virtio'/></interface>");
    await virsh('attach-device', vm.name, nic, '--config');
    repoPath = path.join(host.subdir('repo'), 'r');
    await (await Repository.init(repoPath, { password: PASSWORD, kdf: TEST_KDF })).close();
    handlers = new Map(kvmHandlers({ nodeName: NODE, runtimeKey: RUNTIME_KEY, workDir, repository: { threads: 2 } }).map((x) => [x.type, x]));
  });

  afterAll(async () => {
    for (const name of imported) {
      await virsh('destroy', name).catch(() => undefined);
      await virsh('undefine', name).catch(() => undefined);
    }
    await host?.cleanup();
  });

  it('INVENTORY_SYNC lists the VM with its state and disks', async () => {
    points.push({ id: '', expected: await snapshotExpected('p1') });
    await host.start(vm);
    const { result } = await runTask(h('INVENTORY_SYNC'), { params: InventorySyncParamsSchema, result: InventorySyncResultSchema }, { uri: LIBVIRT_URI }, {}, staging);
    const found = result.domains.find((d) => d.uuid === vm.uuid);
    expect(found).toMatchObject({ name: vm.name, state: 'running', vcpus: 1, memoryBytes: 64 * MiB });
    expect(found!.disks.map((d) => [d.target, d.path, d.format, d.virtualBytes])).toEqual([
      ['vda', vda, 'qcow2', 64 * MiB],
      ['vdb', vdb, 'qcow2', 64 * MiB],
    ]);
    expect(found!.disks[0]!.allocatedBytes).toBeGreaterThan(0);
    expect(result.libvirtVersion).toMatch(/^libvirt \d+\.\d+/);
  });

  let full: StoreResult;
  let incremental: StoreResult;

  it('EXPORT + STORE: a full backup of the running VM reads only allocated data and leaves the checkpoint as the base', async () => {
    const { exported, stored } = await backupNow(null);
    expect(exported.result).toMatchObject({ type: 'full', disks: [{ target: 'vda', size: 64 * MiB }, { target: 'vdb', size: 64 * MiB }], warnings: [] });
    full = stored.result;
    points[0]!.id = full.backupId;
    expect(full).toMatchObject({ type: 'full', bytesRead: 4 * MiB, logicalBytes: 128 * MiB });
    expect(full.checkpoint).toMatch(/^vplus-/);
    expect(full.disks.map((d) => [d.target, d.size, d.bytesRead])).toEqual([
      ['vda', 64 * MiB, 3 * MiB],
      ['vdb', 64 * MiB, MiB],
    ]);
    // Progress counts the bytes read (the allocated 4 MiB), not the disks' 128 MiB.
    expect(stored.seen.progress.every((p) => p.bytesDone <= (p.bytesTotal ?? 0))).toBe(true);
    expect(stored.seen.progress.at(0)!.bytesTotal).toBe(4 * MiB);
    expect(stored.seen.progress.at(-1)).toMatchObject({ bytesDone: 4 * MiB, bytesTotal: 4 * MiB });
    expect(await jobIdle()).toBe(true);
    expect(await checkpoints()).toContain(full.checkpoint);
    const repo = await Repository.open(repoPath, { password: PASSWORD });
    const manifest = await repo.loadManifest(full.backupId);
    await repo.close();
    expect(manifest.group).toBe(vm.uuid);
    expect(manifest.source).toMatchObject({ type: 'full', vm: vmRef(), checkpoint: full.checkpoint, disks: [{ name: 'vda', path: vda, format: 'qcow2' }, { name: 'vdb', path: vdb }] });
    expect((manifest.source as { domainXml: string }).domainXml).toContain(`<uuid>${vm.uuid}</uuid>`);
  });

  it('a cancelled STORE ends the job, deletes its new checkpoint and stores nothing', async () => {
    await host.destroy(vm);
    await host.write(vda, [
      { pattern: 0x44, offset: 20 * MiB, length: 64 * 1024 },
      { pattern: 'zero', offset: 10 * MiB, length: MiB },
      { pattern: 0x55, offset: 40 * MiB + 4096, length: 8192 },
    ]);
    await host.write(vdb, [{ pattern: 0x66, offset: 0, length: 64 * 1024 }]);
    points.push({ id: '', expected: await snapshotExpected('p2') });
    await host.start(vm);
    const before = await backupCount();
    const exported = await exportTask(full);
    expect(exported.result.type).toBe('incremental');
    expect(await jobIdle()).toBe(false);
    const created = (await checkpoints()).filter((c) => c !== full.checkpoint);
    expect(created).toHaveLength(1);
    const err = await runFailing(
      h('STORE'),
      { destinationId: 1, vm: vmRef(), ...repository(), previousResult: exported.result },
      staging,
      (seen) => seen.abort.abort(new Error('cancelled')),
    );
    expect(err.message).toBe('cancelled');
    expect(await jobIdle()).toBe(true);
    expect(await checkpoints()).toEqual([full.checkpoint]);
    expect(await backupCount()).toBe(before);
    expect(fs.readdirSync(workDir)).toEqual([]);
  });

  it('EXPORT + STORE: the incremental after that reads only the changed chunks', async () => {
    const { exported, stored } = await backupNow(full);
    expect(exported.result.type).toBe('incremental');
    expect(exported.warnings).toEqual([]);
    incremental = stored.result;
    points[1]!.id = incremental.backupId;
    expect(incremental.type).toBe('incremental');
    // The bitmap of the full's checkpoint still holds every change, though the cancelled attempt saw them first.
    expect(incremental.disks.map((d) => [d.target, d.changedBytes])).toEqual([
      ['vda', MiB + 128 * 1024],
      ['vdb', 64 * 1024],
    ]);
    // Only the changed granules, 64 KiB each (overlays on the all-zero chunk, FORMAT.md
    // "Overlays"): vda 20M and 40M, vdb 0; the zeroed chunk at 10M needs no read.
    expect(incremental.bytesRead).toBe(3 * 64 * 1024);
    // And its progress says so from the start: 192 KiB of 192 KiB, not the disks' 128 MiB.
    expect(stored.seen.progress.at(-1)).toMatchObject({ bytesDone: 3 * 64 * 1024, bytesTotal: 3 * 64 * 1024 });
    // The STORE removed the full's checkpoint: only the new base is left.
    expect(await checkpoints()).toEqual([incremental.checkpoint]);
  });

  it('RESTORE writes every backup point bit-exact, as sparse qcow2 and as raw, plus the domain XML', async () => {
    for (const [i, p] of points.entries()) {
      for (const format of ['qcow2', 'raw'] as const) {
        const dir = path.join(host.dir, `restore-${i}-${format}`);
        const { result, seen } = await restoreTask(p.id, dir, format);
        expect(result.files.map((f) => [f.target, f.path, f.format, f.size])).toEqual([
          ['vda', path.join(dir, `vda.${format}`), format, 64 * MiB],
          ['vdb', path.join(dir, `vdb.${format}`), format, 64 * MiB],
        ]);
        expect(result.domainXmlPath).toBe(path.join(dir, `${vm.name}.xml`));
        await expectRestoresTo(result, p.expected);
        expect(seen.progress.at(-1)).toMatchObject({ bytesDone: 128 * MiB, bytesTotal: 128 * MiB });
      }
    }
    const err = await runFailing(h('RESTORE'), { destinationId: 1, backupId: points[0]!.id, directory: path.join(host.dir, 'restore-0-raw'), format: 'raw', overwrite: false, ...repository() }, staging);
    expect(err.message).toMatch(/restore-0-raw\/vda\.raw already exists; choose another directory or allow overwriting \(on node kvm-1\)$/);
    await restoreTask(points[0]!.id, path.join(host.dir, 'restore-0-raw'), 'raw', { overwrite: true });
  });

  let offline: StoreResult;

  it('a shut-off VM: EXPORT serves the files read-only, incremental through the qcow2 bitmap, and the VM cannot start meanwhile', async () => {
    await host.destroy(vm);
    await host.write(vdb, [{ pattern: 0x77, offset: 50 * MiB, length: MiB }]);
    const expected = await snapshotExpected('p3');
    const exported = await exportTask(incremental);
    expect(exported.result).toMatchObject({ type: 'incremental', warnings: [] });
    await expect(virsh('start', vm.name)).rejects.toThrow(/lock/);
    const stored = await storeTask(exported.result);
    offline = stored.result;
    expect(offline.type).toBe('incremental');
    // libvirt cannot create a checkpoint for a shut-off VM: the previous one, still recording, stays the base.
    expect(offline.checkpoint).toBe(incremental.checkpoint);
    expect(offline.disks.map((d) => [d.target, d.changedBytes, d.bytesRead])).toEqual([
      ['vda', 0, 0],
      ['vdb', MiB, MiB],
    ]);
    expect(fs.readdirSync(workDir)).toEqual([]);
    const { result } = await restoreTask(offline.backupId, path.join(host.dir, 'restore-offline'), 'qcow2');
    await expectRestoresTo(result, expected);
    // The VM starts once the export is over, and the chain continues from the same checkpoint,
    // whose bitmap predates the offline backup: the vdb change is read once more, nothing else.
    await host.start(vm);
    const next = await backupNow(offline);
    expect(next.stored.result).toMatchObject({ type: 'incremental', bytesRead: MiB });
    expect(next.stored.result.checkpoint).not.toBe(offline.checkpoint);
    await host.destroy(vm);
  });

  it('a shut-off VM: a full backup with a disk excluded stores and restores only the other disk', async () => {
    const expected = await snapshotExpected('p4');
    const { exported, stored } = await backupNow(null, { mode: 'full', excludeDisks: ['vdb'] });
    expect(exported.result).toMatchObject({ type: 'full', disks: [{ target: 'vda' }] });
    expect(stored.result).toMatchObject({ type: 'full', checkpoint: null, logicalBytes: 64 * MiB });
    expect(stored.result.disks.map((d) => d.target)).toEqual(['vda']);
    const { result } = await restoreTask(stored.result.backupId, path.join(host.dir, 'restore-excluded'), 'raw');
    expect(result.files.map((f) => f.target)).toEqual(['vda']);
    await expectRestoresTo(result, expected);
  });

  it('a running VM with a disk excluded: the changed disk set makes a full backup with a warning', async () => {
    await host.start(vm);
    const { exported, stored } = await backupNow(offline, { excludeDisks: ['vdb'] });
    expect(exported.result.type).toBe('full');
    expect(exported.warnings.join(' ')).toMatch(/full backup instead of an incremental: the disk set changed since the previous backup \(vda, vdb → vda\)/);
    expect(stored.result.disks.map((d) => d.target)).toEqual(['vda']);
    expect(stored.result.bytesRead).toBe(4 * MiB); // vda's data chunks: 0M, 11M, 20M, 40M
  });

  it('IMPORT defines the restored VM with a new name, UUID and MACs over the restored disks, and starts it', async () => {
    const dir = path.join(host.dir, 'import');
    const restored = await restoreTask(points[1]!.id, dir, 'qcow2');
    const name = `${vm.name}-copy`;
    imported.push(name);
    const params: z.input<typeof ImportParamsSchema> = { uri: LIBVIRT_URI, name, start: true, overwrite: false };
    const { result } = await runTask(h('IMPORT'), { params: ImportParamsSchema, result: ImportResultSchema }, params, { previousResult: restored.result }, staging);
    expect(result).toMatchObject({ name, started: true });
    expect(result.uuid).not.toBe(vm.uuid);
    expect((await virsh('domstate', name)).trim()).toBe('running');
    const xml = await virsh('dumpxml', '--inactive', name);
    expect(xml).toContain(`<uuid>${result.uuid}</uuid>`);
    const macs = [...xml.matchAll(/<mac address='([^']+)'/g)].map((m) => m[1]);
    expect(macs).toHaveLength(1);
    expect(macs[0]).not.toBe('52:54:00:12:34:56');
    expect([...xml.matchAll(/<source file='([^']+)'/g)].map((m) => m[1])).toEqual([path.join(dir, 'vda.qcow2'), path.join(dir, 'vdb.qcow2')]);
    // The original is untouched.
    expect(await virsh('dumpxml', '--inactive', vm.name)).toContain(`<source file='${vda}'/>`);
    expect((await virsh('domstate', vm.name)).trim()).toBe('running');
    // Refused without overwrite (keepOnFailure: a failed import removes the restored files
    // otherwise); with it, the old definition goes and the restored files stay.
    const err = await runFailing(h('IMPORT'), { ...params, keepOnFailure: true, previousResult: restored.result }, staging);
    expect(err.message).toBe(`a virtual machine named ${name} already exists on ${LIBVIRT_URI}; choose another name or allow overwriting it`);
    const again = await runTask(h('IMPORT'), { params: ImportParamsSchema, result: ImportResultSchema }, { ...params, overwrite: true, start: false }, { previousResult: restored.result }, staging);
    expect(again.result.uuid).not.toBe(result.uuid);
    expect(again.result.started).toBe(false);
    expect((await virsh('domstate', name)).trim()).toBe('shut off');
    await host.start({ ...vm, name });
    await virsh('destroy', name);
    // Disks match the backup (checked after the guest-less VM ran and stopped).
    await expectRestoresTo(restored.result, points[1]!.expected);
  });

  it('a STORE whose export is gone (the node restarted after EXPORT) fails clearly, and the restarted node ends the stale job', async () => {
    // The "dead" node process: its own registry, which the restart loses, and an owner process that is gone.
    const owner = { node: RUNTIME_KEY, ...(await deadProcess()) };
    const dead = new Map(kvmHandlers({ nodeName: NODE, runtimeKey: RUNTIME_KEY, owner, workDir, repository: { threads: 2 }, registry: new KvmExportRegistry() }).map((x) => [x.type, x]));
    const exported = await exportTask(null, { handler: dead.get('EXPORT')! });
    expect(await jobIdle()).toBe(false);
    const before = await checkpoints();
    const logs: string[] = [];
    const recovered = await recoverStaleExports({ workDir, node: RUNTIME_KEY, runner: new ChildProcessRunner(), log: (_l, m) => logs.push(m) });
    expect(recovered).toBe(1);
    expect(await jobIdle()).toBe(true);
    expect(logs.join('\n')).toMatch(/aborted the backup job a previous run of this node left on domain/);
    expect((await checkpoints()).length).toBe(before.length - 1);
    expect(fs.readdirSync(workDir)).toEqual([]);
    const err = await runFailing(h('STORE'), { destinationId: 1, vm: vmRef(), ...repository(), previousResult: exported.result }, staging);
    expect(err.message).toBe(
      `the export of ${vm.name} is no longer open on node ${NODE} (the node service restarted or the export expired since the EXPORT task); run the backup again`,
    );
    expect(err.code).toBe('KVM_EXPORT_GONE');
  });
});
