import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import {
  ExportParamsSchema,
  ExportResultSchema,
  RestoreParamsSchema,
  RestoreResultSchema,
  SnapshotParamsSchema,
  SnapshotResultSchema,
  StoreParamsSchema,
  StoreResultSchema,
} from '../../../common/kvm-tasks.js';
import { kvmHandlers } from '../../../node-service/agent/handlers/kvm.handlers.js';
import type { TaskHandler } from '../../../node-service/agent/task-handler.js';
import { Repository } from '../../../node-service/repository/index.js';
import { ensureLibvirt, LIBVIRT_URI, LibvirtTestHost, MiB, sh, virsh, type TestVm } from '../../support/libvirt-host.js';
import { TEST_KDF } from '../../unit/repository/helpers.js';
import { runFailing, runTask } from './helpers.js';

type StoreResult = z.infer<typeof StoreResultSchema>;
type SnapshotResult = z.infer<typeof SnapshotResultSchema>;

const NODE = 'kvm-snap';
const PASSWORD = 'kvm snapshots test';

/**
 * SNAPSHOT against a real libvirtd + QEMU (TCG): create, list, revert, delete, and how
 * snapshots and the backup checkpoint chain get along (see the platform README).
 */
describe('SNAPSHOT task handler', () => {
  let host: LibvirtTestHost;
  let staging: string;
  let workDir: string;
  let repoPath: string;
  let vm: TestVm;
  let vda: string;
  let handlers: Map<string, TaskHandler>;

  const h = (type: string): TaskHandler => handlers.get(type)!;
  const vmRef = (): { uuid: string; name: string } => ({ uuid: vm.uuid, name: vm.name });
  const repository = (): { repository: { path: string; password: string } } => ({ repository: { path: repoPath, password: PASSWORD } });
  const state = async (): Promise<string> => (await virsh('domstate', vm.name)).trim();
  const checkpoints = async (): Promise<string[]> => (await virsh('checkpoint-list', vm.name, '--name')).split('\n').map((l) => l.trim()).filter(Boolean);

  async function snap(op: 'create' | 'list' | 'revert' | 'delete', name?: string, extra: { discardCheckpoints?: boolean } = {}): Promise<SnapshotResult> {
    const params: z.input<typeof SnapshotParamsSchema> = { uri: LIBVIRT_URI, vm: vmRef(), op, ...(name ? { name } : {}), ...extra };
    return (await runTask(h('SNAPSHOT'), { params: SnapshotParamsSchema, result: SnapshotResultSchema }, params, {}, staging)).result;
  }
  const snapFails = (op: string, name?: string) => runFailing(h('SNAPSHOT'), { uri: LIBVIRT_URI, vm: vmRef(), op, ...(name ? { name } : {}) }, staging);

  async function backupNow(previous: StoreResult | null): Promise<{ stored: StoreResult; warnings: string[] }> {
    const params: z.input<typeof ExportParamsSchema> = {
      uri: LIBVIRT_URI,
      vm: vmRef(),
      destinationId: 1,
      mode: 'auto',
      previous: previous?.checkpoint ? { checkpoint: previous.checkpoint, backupId: previous.backupId } : null,
      excludeDisks: [],
    };
    const exported = await runTask(h('EXPORT'), { params: ExportParamsSchema, result: ExportResultSchema }, params, repository(), staging);
    const storeParams: z.input<typeof StoreParamsSchema> = { destinationId: 1, vm: vmRef() };
    const stored = await runTask(h('STORE'), { params: StoreParamsSchema, result: StoreResultSchema }, storeParams, { ...repository(), previousResult: exported.result }, staging);
    return { stored: stored.result, warnings: exported.warnings };
  }

  beforeAll(async () => {
    await ensureLibvirt();
    host = new LibvirtTestHost('snapshots');
    staging = host.subdir('staging');
    workDir = host.subdir('work');
    vda = await host.createDisk('vda.qcow2', 32, [{ pattern: 0x11, offset: 0, length: MiB }]);
    vm = await host.defineVm([{ target: 'vda', path: vda }]);
    repoPath = path.join(host.subdir('repo'), 'r');
    await (await Repository.init(repoPath, { password: PASSWORD, kdf: TEST_KDF })).close();
    handlers = new Map(kvmHandlers({ nodeName: NODE, workDir, repository: { threads: 2 } }).map((x) => [x.type, x]));
  });

  afterAll(async () => {
    if (vm) await virsh('snapshot-list', vm.name, '--name').then(async (out) => {
      for (const name of out.split('\n').map((l) => l.trim()).filter(Boolean)) await virsh('snapshot-delete', vm.name, name, '--metadata').catch(() => undefined);
    }).catch(() => undefined);
    await host?.cleanup();
  });

  it('creates, lists, reverts to and deletes snapshots of a VM without checkpoints', async () => {
    expect((await snap('list')).snapshots).toEqual([]);
    // Shut off: libvirt takes it with qemu-img (disks only).
    const off = await snap('create', 'before-start');
    expect(off.snapshots).toEqual([{ name: 'before-start', createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/), state: 'shutoff', current: true }]);

    // Running: disks and memory, name chosen by the node.
    await host.start(vm);
    const running = await snap('create');
    expect(running.snapshots).toHaveLength(2);
    const auto = running.snapshots.find((s) => s.name !== 'before-start')!;
    expect(auto).toMatchObject({ name: expect.stringMatching(/^vplus-\d{8}T\d{6}Z-[0-9a-f]{4}$/), state: 'running', current: true });
    expect(running.snapshots.find((s) => s.name === 'before-start')!.current).toBe(false);

    // The same name twice, an unknown name, a bad name: one clear sentence each, nothing changed.
    expect((await snapFails('create', 'before-start')).message).toMatch(/already has a snapshot named "before-start"/);
    const unknown = await snapFails('revert', 'nope');
    expect(unknown.message).toMatch(new RegExp(`VM ${vm.name} has no snapshot "nope"; its snapshots are .*before-start.* \\(on node ${NODE}\\)`));
    expect(unknown.code).toBe('KVM_SNAPSHOT_NOT_FOUND');
    expect((await snapFails('create', '../etc')).message).toMatch(/is not a valid snapshot name/);

    // Reverting a running VM to a shut-off snapshot leaves it shut off…
    const reverted = await snap('revert', 'before-start');
    expect(await state()).toBe('shut off');
    expect(reverted.snapshots.find((s) => s.current)?.name).toBe('before-start');
    // …and to a running one brings it back running, memory and all.
    await snap('revert', auto.name);
    expect(await state()).toBe('running');

    await snap('delete', auto.name);
    const left = await snap('delete', 'before-start');
    expect(left.snapshots).toEqual([]);
    expect((await sh('qemu-img', ['snapshot', '-U', '-l', vda])).trim()).toBe('');
  });

  let full: StoreResult;

  it('with a backup checkpoint: snapshot create + delete on the running VM keep the chain, and the next backup is incremental and exact', async () => {
    expect(await state()).toBe('running');
    full = (await backupNow(null)).stored;
    expect(full.type).toBe('full');
    expect(full.checkpoint).toMatch(/^vplus-/);

    const created = await snap('create', 'with-checkpoint');
    expect(created.snapshots.map((s) => [s.name, s.state])).toEqual([['with-checkpoint', 'running']]);
    expect(await checkpoints()).toEqual([full.checkpoint]);
    await snap('delete', 'with-checkpoint');
    expect(await checkpoints()).toEqual([full.checkpoint]);
    // QEMU still has the bitmap (what the chain check asks for).
    expect(await virsh('checkpoint-dumpxml', vm.name, full.checkpoint!, '--size')).toMatch(/size='\d+'/);

    await host.destroy(vm);
    await host.write(vda, [{ pattern: 0x5a, offset: 8 * MiB, length: 64 * 1024 }]);
    const expected = path.join(host.dir, 'expected.raw');
    await sh('qemu-img', ['convert', '-f', 'qcow2', '-O', 'raw', vda, expected]);
    await host.start(vm);

    const { stored, warnings } = await backupNow(full);
    expect(warnings).toEqual([]);
    expect(stored.type).toBe('incremental');
    expect(stored.bytesRead).toBeLessThanOrEqual(MiB);
    expect(stored.bytesRead).toBeGreaterThan(0);
    full = stored;

    const dir = host.subdir('restore');
    const restoreParams: z.input<typeof RestoreParamsSchema> = { destinationId: 1, backupId: stored.backupId, directory: dir, format: 'raw', overwrite: false };
    const restored = await runTask(h('RESTORE'), { params: RestoreParamsSchema, result: RestoreResultSchema }, restoreParams, repository(), staging);
    await sh('qemu-img', ['compare', '-f', 'raw', '-F', 'raw', expected, restored.result.files[0]!.path]);
  });

  it('with a backup checkpoint: revert is refused before libvirt is asked, the VM keeps running with its chain, and a backup next to the snapshot is incremental', async () => {
    await snap('create', 'keep');
    const before = await checkpoints();
    expect(before).toContain(full.checkpoint);
    const err = await snapFails('revert', 'keep');
    expect(err.message).toMatch(
      new RegExp(`^cannot revert VM ${vm.name} to snapshot "keep": the VM has (?:a backup checkpoint|\\d+ backup checkpoints) \\(.*${full.checkpoint}\\), and QEMU refuses to load a snapshot while the dirty bitmaps behind them exist .*nothing was changed\\. Revert with "discard checkpoints" to delete them first \\(the next backup is then a full one\\) \\(on node ${NODE}\\)$`),
    );
    expect(err.code).toBe('KVM_SNAPSHOT');
    expect(await state()).toBe('running');
    expect(await checkpoints()).toEqual(before);
    // A backup while the snapshot exists: the new checkpoint is created next to it, still incremental.
    const { stored, warnings } = await backupNow(full);
    expect(warnings).toEqual([]);
    expect(stored.type).toBe('incremental');
    full = stored;
  });

  it('with a backup checkpoint on a shut-off VM: create is refused with a clear sentence, delete works, and the chain survives', async () => {
    await host.destroy(vm);
    const before = await checkpoints();
    const err = await snapFails('create', 'offline');
    expect(err.message).toMatch(new RegExp(`^cannot take a snapshot of VM ${vm.name} while it is shut off: it has backup checkpoints.*start the VM and take the snapshot while it runs \\(on node ${NODE}\\)$`));
    expect((await snap('delete', 'keep')).snapshots).toEqual([]);
    expect(await checkpoints()).toEqual(before);

    await host.write(vda, [{ pattern: 0x6b, offset: 16 * MiB, length: 64 * 1024 }]);
    await host.start(vm);
    const { stored, warnings } = await backupNow(full);
    expect(warnings).toEqual([]);
    expect(stored.type).toBe('incremental');
    expect(stored.bytesRead).toBeLessThanOrEqual(MiB);
  });

  it('revert with "discard checkpoints": the backup checkpoints go first, the VM is reverted, and the next backup is a full one that says why', async () => {
    await snap('create', 'again');
    expect((await checkpoints()).length).toBeGreaterThan(0);
    const reverted = await snap('revert', 'again', { discardCheckpoints: true });
    expect(reverted.snapshots.map((x) => x.name)).toContain('again');
    expect(await checkpoints()).toEqual([]);
    expect(await state()).toBe('running');
    // The chain it was on is gone: the next backup with that base is full, with the reason.
    const { stored, warnings } = await backupNow(full);
    expect(stored.type).toBe('full');
    expect(warnings.join(' ')).toMatch(/checkpoint/);
    await snap('delete', 'again');
  });
});
