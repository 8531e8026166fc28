import { randomBytes, randomInt } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { ExportParamsSchema, ExportResultSchema } from '../../../common/kvm-tasks.js';
import { kvmWorkDirs } from '../../../node-service/agent/handlers/kvm-task.js';
import { kvmHandlers } from '../../../node-service/agent/handlers/kvm.handlers.js';
import { nodeRuntimeKey } from '../../../node-service/agent/node-config.js';
import type { TaskHandler } from '../../../node-service/agent/task-handler.js';
import { ChildProcessRunner, KvmExportRegistry, NbdClient, recoverStaleExports, type CommandRunner, type KvmExport } from '../../../node-service/platforms/kvm/index.js';
import { Repository } from '../../../node-service/repository/index.js';
import { ensureLibvirt, LIBVIRT_URI, LibvirtTestHost, MiB, virsh, type TestVm } from '../../support/libvirt-host.js';
import { TEST_KDF } from '../../unit/repository/helpers.js';
import { deadProcess, runTask } from './helpers.js';

type ExportResult = z.infer<typeof ExportResultSchema>;
const PASSWORD = 'node isolation test';

/**
 * Two nodes on one host (two node ids, their runtime directories as the node creates them:
 * both staging directories are private, so both fall back to /var/tmp). Node A restarts —
 * its stale-export recovery runs — while node B holds one export and is opening another: B's
 * exports survive and serve NBD reads; A's own export, whose owner process is gone, is ended.
 * Real libvirtd + QEMU (TCG) and qemu-nbd.
 */
describe('two nodes on one host', () => {
  let host: LibvirtTestHost;
  let privateDir: string;
  let repoPath: string;
  const keyA = nodeRuntimeKey({ nodeId: randomInt(1, 1_000_000), fingerprint: randomBytes(32).toString('hex') });
  const keyB = nodeRuntimeKey({ nodeId: randomInt(1, 1_000_000), fingerprint: randomBytes(32).toString('hex') });
  let stagingA: string;
  let stagingB: string;
  /** Shut off: B holds a qemu-nbd export of it. */
  let vmHeld: TestVm;
  /** Running: B opens a pull-mode export of it while A restarts. */
  let vmOpening: TestVm;
  /** Running: A's dead predecessor left a pull-mode export of it. */
  let vmStale: TestVm;
  const registryB = new KvmExportRegistry();
  const runner = new ChildProcessRunner();

  const exportTask = (handler: TaskHandler, vm: TestVm, staging: string): Promise<{ result: ExportResult }> =>
    runTask(
      handler,
      { params: ExportParamsSchema, result: ExportResultSchema },
      { uri: LIBVIRT_URI, vm: { uuid: vm.uuid, name: vm.name }, destinationId: 1, mode: 'full', previous: null, excludeDisks: [] },
      { repository: { path: repoPath, password: PASSWORD } },
      staging,
    );
  const exportHandler = (handlers: TaskHandler[]): TaskHandler => handlers.find((h) => h.type === 'EXPORT')!;
  const backupSocket = async (vm: TestVm): Promise<string | null> => {
    if (/^Job type:\s*None/m.test(await virsh('domjobinfo', vm.name))) return null;
    return /<server\b[^>]*\bsocket='([^']+)'/.exec(await virsh('backup-dumpxml', vm.name))?.[1] ?? null;
  };
  const checkpoints = async (vm: TestVm): Promise<string[]> => (await virsh('checkpoint-list', vm.name, '--name')).split('\n').map((l) => l.trim()).filter(Boolean);

  /** Reads the first MiB of the export's vda over NBD: the pattern the disk was written with. */
  async function firstMiB(exp: KvmExport): Promise<Buffer> {
    const c = await NbdClient.connect(exp.transport.socket('vda'), 'vda');
    try {
      const buf = Buffer.alloc(MiB);
      await c.read(buf, 0);
      return buf;
    } finally {
      await c.close();
    }
  }

  beforeAll(async () => {
    await ensureLibvirt();
    host = new LibvirtTestHost('isolation');
    // Staging directories QEMU cannot traverse (0700 parent): exports go to /var/tmp/vplus-kvm-<key>.
    privateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vplus-isolation-'));
    stagingA = path.join(privateDir, 'a');
    stagingB = path.join(privateDir, 'b');
    fs.mkdirSync(stagingA);
    fs.mkdirSync(stagingB);
    const vm = async (label: string, pattern: number): Promise<TestVm> =>
      host.defineVm([{ target: 'vda', path: await host.createDisk(`${label}.qcow2`, 16, [{ pattern, offset: 0, length: MiB }]) }]);
    vmHeld = await vm('held', 0x11);
    vmOpening = await vm('opening', 0x22);
    vmStale = await vm('stale', 0x33);
    repoPath = path.join(host.subdir('repo'), 'r');
    await (await Repository.init(repoPath, { password: PASSWORD, kdf: TEST_KDF })).close();
    await host.start(vmOpening);
    await host.start(vmStale);
  });

  afterAll(async () => {
    await registryB.endAll();
    await host?.cleanup();
    if (!privateDir) return;
    for (const dir of [...kvmWorkDirs(stagingA, keyA), ...kvmWorkDirs(stagingB, keyB)]) fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(privateDir, { recursive: true, force: true });
  });

  it("A's restart ends only A's own stale export; B's held and opening exports keep serving", async () => {
    const workA = kvmWorkDirs(stagingA, keyA)[1];
    const workB = kvmWorkDirs(stagingB, keyB)[1];

    // A's previous process: it opened an export, then died (its recorded owner is gone).
    const deadA = kvmHandlers({ nodeName: 'node-a', runtimeKey: keyA, owner: { node: keyA, ...(await deadProcess()) }, registry: new KvmExportRegistry() });
    await exportTask(exportHandler(deadA), vmStale, stagingA);
    const staleSocket = await backupSocket(vmStale);
    expect(staleSocket?.startsWith(workA + path.sep)).toBe(true);
    const staleCheckpoints = await checkpoints(vmStale);
    expect(staleCheckpoints).toHaveLength(1);

    // B (alive, this process) holds an export of the shut-off VM.
    const handlersB = (r: CommandRunner): TaskHandler[] => kvmHandlers({ nodeName: 'node-b', runtimeKey: keyB, registry: registryB, runner: r });
    const held = await exportTask(exportHandler(handlersB(runner)), vmHeld, stagingB);
    expect(fs.statSync(workB).mode & 0o777).toBe(0o711);

    // B opens an export of the running VM; the moment libvirt has started its job (before
    // B connects to it), node A restarts and recovers.
    const logsA: string[] = [];
    let recovered: number | undefined;
    const restartA = async (): Promise<number> => {
      let n = 0;
      for (const workDir of kvmWorkDirs(stagingA, keyA)) n += await recoverStaleExports({ workDir, node: keyA, runner, log: (_l, m) => logsA.push(m) });
      return n;
    };
    const hooked: CommandRunner = {
      run: async (file, args, options) => {
        const r = await runner.run(file, args, options);
        if (args.includes('backup-begin') && recovered === undefined) recovered = await restartA();
        return r;
      },
    };
    const opening = await exportTask(exportHandler(handlersB(hooked)), vmOpening, stagingB);
    expect(recovered).toBe(1);

    // A's stale export is gone: job aborted, its checkpoint deleted, its directory and record removed.
    expect(await backupSocket(vmStale)).toBeNull();
    expect(await checkpoints(vmStale)).toEqual([]);
    expect(logsA.join('\n')).toContain(`aborted the backup job a previous run of this node left on domain ${vmStale.uuid}`);
    expect(fs.readdirSync(workA)).toEqual([]);

    // B's exports are intact and serve reads.
    expect((await backupSocket(vmOpening))?.startsWith(workB + path.sep)).toBe(true);
    expect(fs.readdirSync(workB).filter((n) => n.endsWith('.json'))).toHaveLength(2);
    for (const [id, pattern] of [[held.result.exportId, 0x11], [opening.result.exportId, 0x22]] as const) {
      const exp = registryB.take(id)!;
      expect(exp).toBeDefined();
      expect((await firstMiB(exp)).equals(Buffer.alloc(MiB, pattern))).toBe(true);
      expect(await exp.transport.end(false)).toEqual([]);
    }
    expect(await backupSocket(vmOpening)).toBeNull();
    expect(fs.readdirSync(workB)).toEqual([]);
  });

  it("ending an export never aborts another node's job on the same VM", async () => {
    // A (now alive) opens an export; the VM restarts, which ends A's job; then B backs it up.
    const registryA = new KvmExportRegistry();
    const a = await exportTask(exportHandler(kvmHandlers({ nodeName: 'node-a', runtimeKey: keyA, registry: registryA })), vmStale, stagingA);
    await host.destroy(vmStale);
    await host.start(vmStale);
    const b = await exportTask(exportHandler(kvmHandlers({ nodeName: 'node-b', runtimeKey: keyB, registry: registryB })), vmStale, stagingB);
    const socketB = await backupSocket(vmStale);
    expect(socketB?.startsWith(kvmWorkDirs(stagingB, keyB)[1] + path.sep)).toBe(true);

    await registryA.take(a.result.exportId)!.transport.end(false);
    expect(await backupSocket(vmStale)).toBe(socketB);
    const expB = registryB.take(b.result.exportId)!;
    expect((await firstMiB(expB)).equals(Buffer.alloc(MiB, 0x33))).toBe(true);
    await expB.transport.end(false);
    expect(await backupSocket(vmStale)).toBeNull();
  });
});
