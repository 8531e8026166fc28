import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { ExportParamsSchema, ExportResultSchema, RestoreParamsSchema, RestoreResultSchema, StoreParamsSchema, StoreResultSchema } from '../../../common/kvm-tasks.js';
import { kvmHandlers } from '../../../node-service/agent/handlers/kvm.handlers.js';
import type { TaskHandler } from '../../../node-service/agent/task-handler.js';
import { Repository } from '../../../node-service/repository/index.js';
import { ensureLibvirt, LIBVIRT_URI, LibvirtTestHost, MiB, sh, virsh, type TestVm } from '../../support/libvirt-host.js';
import { TEST_KDF } from '../../unit/repository/helpers.js';
import { runTask } from './helpers.js';

type StoreResult = z.infer<typeof StoreResultSchema>;

const PASSWORD = 'checkpoint cleanup test';

/**
 * After each committed backup of a running VM the STORE handler deletes the older vPlus
 * checkpoints (their dirty bitmaps cost write overhead), except the bases of other
 * destinations' chains it is told to keep. Every backup point must still restore bit-exact and
 * the chain must go on incrementally.
 */
describe('KVM STORE: checkpoint cleanup', () => {
  let host: LibvirtTestHost;
  let staging: string;
  let vm: TestVm;
  let vda: string;
  let handlers: Map<string, TaskHandler>;
  const repos: Record<number, string> = {};
  /** Backup id → the raw image vda must restore to. */
  const points: { destinationId: number; id: string; expected: string }[] = [];

  const h = (type: string): TaskHandler => handlers.get(type)!;
  const repository = (destinationId: number): { repository: { path: string; password: string } } => ({ repository: { path: repos[destinationId]!, password: PASSWORD } });
  const vmRef = (): { uuid: string; name: string } => ({ uuid: vm.uuid, name: vm.name });
  const checkpoints = async (): Promise<string[]> => (await virsh('checkpoint-list', vm.name, '--name', '--topological')).split('\n').map((l) => l.trim()).filter(Boolean);

  async function snapshotExpected(label: string): Promise<string> {
    const out = path.join(host.dir, `expected-${label}.raw`);
    await sh('qemu-img', ['convert', '-f', 'qcow2', '-O', 'raw', vda, out]);
    return out;
  }

  /** Shut off, write with qemu-io, record the expected image, start again (the persistent bitmaps track the writes). */
  async function change(label: string, writes: Parameters<LibvirtTestHost['write']>[1]): Promise<string> {
    await host.destroy(vm);
    await host.write(vda, writes);
    const expected = await snapshotExpected(label);
    await host.start(vm);
    return expected;
  }

  async function backupNow(destinationId: number, previous: StoreResult | null, keepCheckpoints: string[] = []) {
    const exportParams: z.input<typeof ExportParamsSchema> = {
      uri: LIBVIRT_URI,
      vm: vmRef(),
      destinationId,
      mode: 'auto',
      previous: previous?.checkpoint ? { checkpoint: previous.checkpoint, backupId: previous.backupId } : null,
      excludeDisks: [],
    };
    const exported = await runTask(h('EXPORT'), { params: ExportParamsSchema, result: ExportResultSchema }, exportParams, repository(destinationId), staging);
    const storeParams: z.input<typeof StoreParamsSchema> = { destinationId, vm: vmRef(), keepCheckpoints };
    const stored = await runTask(h('STORE'), { params: StoreParamsSchema, result: StoreResultSchema }, storeParams, { ...repository(destinationId), previousResult: exported.result }, staging);
    expect(exported.warnings).toEqual([]);
    expect(stored.warnings).toEqual([]);
    return { exported: exported.result, stored: stored.result, logs: stored.seen.logs };
  }

  async function expectRestoresTo(destinationId: number, backupId: string, expected: string): Promise<void> {
    const params: z.input<typeof RestoreParamsSchema> = { destinationId, backupId, directory: path.join(host.dir, `restore-${backupId}`), format: 'qcow2', overwrite: false };
    const { result } = await runTask(h('RESTORE'), { params: RestoreParamsSchema, result: RestoreResultSchema }, params, repository(destinationId), staging);
    for (const f of result.files) await sh('qemu-img', ['compare', '-f', 'raw', '-F', f.format, expected, f.path]);
  }

  beforeAll(async () => {
    await ensureLibvirt();
    host = new LibvirtTestHost('cpclean');
    staging = host.subdir('staging');
    vda = await host.createDisk('vda.qcow2', 32, [
      { pattern: 0x11, offset: 0, length: MiB },
      { pattern: 0x22, offset: 8 * MiB, length: 2 * MiB },
    ]);
    vm = await host.defineVm([{ target: 'vda', path: vda }]);
    for (const d of [1, 2]) {
      repos[d] = path.join(host.subdir(`repo-${d}`), 'r');
      await (await Repository.init(repos[d], { password: PASSWORD, kdf: TEST_KDF })).close();
    }
    handlers = new Map(kvmHandlers({ nodeName: 'kvm-1', workDir: host.subdir('work'), repository: { threads: 2 } }).map((x) => [x.type, x]));
  });

  afterAll(async () => {
    await host?.cleanup();
  });

  let last: StoreResult;

  it('full, incremental, incremental with changes: only the latest checkpoint is left, and every point restores bit-exact', async () => {
    const p1 = await snapshotExpected('p1');
    await host.start(vm);
    const full = await backupNow(1, null);
    expect(full.stored).toMatchObject({ type: 'full' });
    expect(await checkpoints()).toEqual([full.stored.checkpoint]);
    points.push({ destinationId: 1, id: full.stored.backupId, expected: p1 });

    const inc1 = await backupNow(1, full.stored);
    expect(inc1.stored).toMatchObject({ type: 'incremental', bytesRead: 0 });
    expect(await checkpoints()).toEqual([inc1.stored.checkpoint]);
    expect(inc1.logs).toContainEqual({ level: 'info', message: `removed 1 old checkpoint(s) of ${vm.name}: ${full.stored.checkpoint}` });
    points.push({ destinationId: 1, id: inc1.stored.backupId, expected: p1 });

    const p3 = await change('p3', [
      { pattern: 0x33, offset: 4 * MiB, length: 64 * 1024 },
      { pattern: 'zero', offset: 8 * MiB, length: MiB },
    ]);
    const inc2 = await backupNow(1, inc1.stored);
    // The merged-away checkpoints lost nothing: the remaining base still saw every change.
    expect(inc2.stored).toMatchObject({ type: 'incremental' });
    expect(inc2.stored.disks[0]!.changedBytes).toBe(MiB + 64 * 1024);
    expect(await checkpoints()).toEqual([inc2.stored.checkpoint]);
    points.push({ destinationId: 1, id: inc2.stored.backupId, expected: p3 });

    for (const p of points) await expectRestoresTo(p.destinationId, p.id, p.expected);
    last = inc2.stored;
  });

  it('an incremental after the cleanup still reads only the changed chunks and restores bit-exact', async () => {
    const p4 = await change('p4', [{ pattern: 0x44, offset: 20 * MiB, length: 128 * 1024 }]);
    const inc3 = await backupNow(1, last);
    // The 128 KiB written, and nothing else of its 1 MiB chunk (FORMAT.md "Overlays").
    expect(inc3.stored).toMatchObject({ type: 'incremental', bytesRead: 128 * 1024 });
    expect(inc3.stored.disks[0]!.changedBytes).toBe(128 * 1024);
    expect(await checkpoints()).toEqual([inc3.stored.checkpoint]);
    await expectRestoresTo(1, inc3.stored.backupId, p4);
    last = inc3.stored;
  });

  it('keepCheckpoints: another destination’s chain base survives, and both chains go on incrementally', async () => {
    // Destination 2 starts its own chain, told (as the server does) to keep destination 1's base.
    const first = await backupNow(2, null, [last.checkpoint!]);
    expect(first.stored.type).toBe('full');
    expect(await checkpoints()).toEqual([last.checkpoint, first.stored.checkpoint]);

    const p5 = await change('p5', [{ pattern: 0x55, offset: 24 * MiB, length: 64 * 1024 }]);
    const d1 = await backupNow(1, last, [first.stored.checkpoint!]);
    expect(d1.stored).toMatchObject({ type: 'incremental', bytesRead: 64 * 1024 });
    // Destination 1's old base went; destination 2's base (the first checkpoint of its chain) stayed.
    expect(await checkpoints()).toEqual([first.stored.checkpoint, d1.stored.checkpoint]);

    const d2 = await backupNow(2, first.stored, [d1.stored.checkpoint!]);
    // Changes since destination 2's checkpoint: the 0x55 write only (its bitmap absorbed nothing else).
    expect(d2.stored).toMatchObject({ type: 'incremental', bytesRead: 64 * 1024 });
    expect(d2.stored.disks[0]!.changedBytes).toBe(64 * 1024);
    expect(await checkpoints()).toEqual([d1.stored.checkpoint, d2.stored.checkpoint]);
    await expectRestoresTo(1, d1.stored.backupId, p5);
    await expectRestoresTo(2, d2.stored.backupId, p5);
  });
});
