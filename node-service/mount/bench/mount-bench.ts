/**
 * `npm run bench -- mount`: "Browse files" on a backup (issue 11). A 4 GiB raw disk (GPT, one
 * ext4 partition holding ~2 GiB: a folder of 10,000 small files, a 1 GiB file half text-like
 * half random, a 1 GiB folder of 1-8 MiB files) is backed up into an encrypted repository,
 * then browsed four ways, each from a freshly opened repository:
 *
 *   overlay    MountSession (NBD from the repository → nbdfuse → offset loop → ext4) with the
 *              copy-on-write overlay, as "Browse files" opens it
 *   read-only  the same without the overlay (read-only loops, journal skipped)
 *   staging    restoreToDirectory to a raw image, then an offset loop and a read-only mount
 *   qemu-nbd   restoreToDirectory to qcow2 (what virtnbdrestore hands over), served by qemu-nbd,
 *              exposed by nbdfuse, offset loop, read-only mount (when qemu-nbd is installed)
 *
 * and measured on each: time from "Browse files" (opening the repository) to the root listing
 * and the bytes read from the repository for it; listing many/ (first page of 500, then all
 * entries with their stats); reading big.bin through browse.openRead; zipping medium/ with
 * zip-stream (level 1). The page cache is dropped before each way and each phase.
 * Not part of the tests; nothing here asserts a time.
 *
 * Settings (environment):
 *   VPLUS_BENCH_SIZE_GIB     disk size in GiB (default 4)
 *   VPLUS_BENCH_FILE_MIB     size of big.bin and of medium/ in MiB (default 1024)
 *   VPLUS_BENCH_FILES        files in many/ (default 10000)
 *   VPLUS_BENCH_WAYS         comma list (default "overlay,read-only,staging,qemu-nbd")
 *   VPLUS_BENCH_DIR          parent of the work directory (default /var/tmp)
 *   VPLUS_BENCH_DROP_CACHES=0  keep the page cache between phases
 *   VPLUS_BENCH_KEEP=1       keep the work directory (everything is unmounted and detached anyway)
 * Needs root (loop devices, mounts, drop_caches), nbdfuse, sfdisk, mkfs.ext4. Results: a table
 * on stdout and JSON in bench-results/.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import { KvmError } from '../../platforms/kvm/errors.js';
import { restoreToDirectory } from '../../platforms/kvm/kvm-restore.service.js';
import { Repository, openFileSource } from '../../repository/index.js';
import { backupReaderSource, type BackupDataSource } from '../block-device.js';
import { list, openRead } from '../browse.js';
import { SystemMounter } from '../fs-mounter.js';
import { MountSession } from '../mount-session.js';
import { zip } from '../zip-stream.js';
import { Cleanup, MIB, buildDisk, dropCaches, rchar, sh, type BenchDisk } from './bench-disk.js';
import { formatReport, type Phase, type WayResult } from './mount-report.js';

const PASSWORD = 'vplus-bench-password';
const GIB = 1024 * MIB;
const log = (m: string): void => void process.stderr.write(`mount-bench: ${m}\n`);
const now = (): number => performance.now();

interface Opened {
  /** The mounted filesystem's root. */
  root: string;
  /** Space the way needs on the node before the first listing (restored image), when it has it. */
  stagingBytes?: number;
  close(): Promise<void>;
}

interface Context {
  work: string;
  disk: BenchDisk;
  backupId: string;
  cleanup: Cleanup;
  /** Bytes of the disk the NBD server was asked for (ours only). */
  served: { bytes: number };
}

interface Way {
  name: string;
  label: string;
  missing(): Promise<string | null>;
  open(repo: Repository, ctx: Context): Promise<Opened>;
}

const READ_ONLY_EXT4 = ['ro', 'noload', 'nosuid', 'nodev', 'noexec'];

async function onPath(cmd: string): Promise<boolean> {
  return sh('which', [cmd]).then(
    () => true,
    () => false,
  );
}

/** The backup's disks, counting the bytes the NBD server reads. */
function counting(source: BackupDataSource, served: { bytes: number }): BackupDataSource {
  return {
    disks: source.disks,
    diskSize: (d) => source.diskSize(d),
    runs: (d) => source.runs(d),
    readRange: (d, offset, length) => {
      served.bytes += length;
      return source.readRange(d, offset, length);
    },
  };
}

function ours(overlay: boolean): Way {
  return {
    name: overlay ? 'overlay' : 'read-only',
    label: overlay ? 'ours (overlay)' : 'ours (read-only)',
    missing: async () => ((await onPath('nbdfuse')) ? null : 'nbdfuse is not installed (libnbd-bin)'),
    async open(repo, ctx) {
      const reader = await repo.openBackup(ctx.backupId, { cacheChunks: 64, sequentialPrefetch: Number(process.env['VPLUS_BENCH_PREFETCH'] ?? 8) });
      const workDir = path.join(ctx.work, `session-${overlay ? 'overlay' : 'ro'}`);
      const held: { session?: MountSession } = {};
      const undo = ctx.cleanup.add(`closing the mount session ${workDir}`, () => (held.session ? held.session.close() : MountSession.cleanup(workDir)));
      const session = (held.session = await MountSession.open(counting(backupReaderSource(reader), ctx.served), { workDir, overlay }));
      const vol = session.volumes.find((v) => v.readable && v.path);
      if (!vol?.path) throw new Error(`no readable volume: ${JSON.stringify(session.volumes)}`);
      return { root: vol.path, close: undo };
    },
  };
}

/** An offset loop over `file` and a read-only ext4 mount of it, both undone by the returned function. */
async function loopMount(file: string, mp: string, disk: BenchDisk, cleanup: Cleanup): Promise<() => Promise<void>> {
  const host = new SystemMounter();
  const dev = await host.attachLoop(file, disk.partOffset, disk.partSize, true);
  const detach = cleanup.add(`losetup -d ${dev}`, () => host.detachLoop(dev));
  await mkdir(mp, { recursive: true });
  await host.mountKernel('ext4', dev, mp, READ_ONLY_EXT4);
  const unmount = cleanup.add(`umount ${mp}`, () => host.unmount(mp));
  return async () => {
    await unmount();
    await detach();
  };
}

async function restored(repo: Repository, ctx: Context, dir: string, format: 'raw' | 'qcow2'): Promise<{ file: string; bytes: number; remove: () => Promise<void> }> {
  const remove = ctx.cleanup.add(`rm -r ${dir}`, () => rm(dir, { recursive: true, force: true }));
  const r = await restoreToDirectory({ repository: repo, backupId: ctx.backupId, directory: dir, format });
  const file = r.disks[0]?.path;
  if (!file) throw new KvmError('KVM_RESTORE_TARGET', 'the restore wrote no disk');
  return { file, bytes: (await stat(file)).blocks * 512, remove };
}

const staging: Way = {
  name: 'staging',
  label: 'staging (restore + loop)',
  missing: async () => null,
  async open(repo, ctx) {
    const img = await restored(repo, ctx, path.join(ctx.work, 'staging'), 'raw');
    const mp = path.join(ctx.work, 'staging-mnt');
    const unmount = await loopMount(img.file, mp, ctx.disk, ctx.cleanup);
    return {
      root: mp,
      stagingBytes: img.bytes,
      close: async () => {
        await unmount();
        await img.remove();
      },
    };
  },
};

const qemuNbd: Way = {
  name: 'qemu-nbd',
  label: 'qemu-nbd (qcow2 restore)',
  missing: async () => ((await onPath('qemu-nbd')) ? ((await onPath('nbdfuse')) ? null : 'nbdfuse is not installed') : 'qemu-nbd is not installed'),
  async open(repo, ctx) {
    const img = await restored(repo, ctx, path.join(ctx.work, 'qcow2'), 'qcow2');
    const sock = path.join(ctx.work, 'qemu-nbd.sock');
    const child = spawn('qemu-nbd', ['-r', '-f', 'qcow2', '-x', 'vda', '-k', sock, '-t', img.file], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    let gone = false;
    void exited.then(() => (gone = true));
    const stopServer = ctx.cleanup.add(`stopping qemu-nbd (pid ${child.pid})`, async () => {
      if (!gone) child.kill('SIGTERM');
      await exited;
    });
    for (let i = 0; !(await stat(sock).then(() => true, () => false)); i++) {
      if (gone || i > 200) throw new Error(`qemu-nbd did not start: ${stderr.trim()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const host = new SystemMounter();
    const fuseDir = path.join(ctx.work, 'qemu-nbd-fuse');
    await mkdir(fuseDir);
    await host.startNbdfuse({ mountpoint: fuseDir, name: 'disk', uri: `nbd+unix:///vda?socket=${sock}`, pidFile: path.join(ctx.work, 'nbdfuse-q.pid'), logFile: path.join(ctx.work, 'nbdfuse-q.log'), readOnly: true });
    const unfuse = ctx.cleanup.add(`fusermount3 -u ${fuseDir}`, () => host.fuseUnmount(fuseDir));
    const mp = path.join(ctx.work, 'qemu-nbd-mnt');
    const unmount = await loopMount(path.join(fuseDir, 'disk'), mp, ctx.disk, ctx.cleanup);
    return {
      root: mp,
      stagingBytes: img.bytes,
      close: async () => {
        await unmount();
        await unfuse();
        await stopServer();
        await img.remove();
      },
    };
  },
};

/** Drops the page cache (when allowed), then times `fn`; `content` is what `fn` read from the mount in this process. */
async function phase(drop: boolean, served: { bytes: number }, fn: () => Promise<{ content: number; note?: string }>): Promise<Phase> {
  if (drop) await dropCaches();
  const r0 = rchar();
  const s0 = served.bytes;
  const t0 = now();
  const { content, note } = await fn();
  const ms = now() - t0;
  // rchar counts every read(2) of this process: the chunk files (read by the chunk workers),
  // the manifest, and the file content read from the mount here, which is taken off.
  return { ms, repoRead: rchar() - r0 - content, served: served.bytes - s0, content, ...(note ? { note } : {}) };
}

const sink = (counter: { bytes: number }): Writable =>
  new Writable({
    write(chunk: Buffer, _enc, cb) {
      counter.bytes += chunk.length;
      cb();
    },
  });

async function measure(way: Way, repoDir: string, ctx: Context, drop: boolean): Promise<WayResult> {
  const out: WayResult = { way: way.name, label: way.label, load: loadavg().map((l) => Number(l.toFixed(2))) };
  const missing = await way.missing();
  if (missing) {
    out.error = missing;
    return out;
  }
  log(`${way.label}: open → first listing, list many/, read big.bin, zip medium/`);
  ctx.served.bytes = 0;
  let repo: Repository | undefined;
  const closeRepo = ctx.cleanup.add('closing the repository', async () => void (await repo?.close()));
  try {
    let opened: Opened | undefined;
    let openMs = 0;
    out.first = await phase(drop, ctx.served, async () => {
      repo = await Repository.open(repoDir, { password: PASSWORD });
      const t = now();
      opened = await way.open(repo, ctx);
      openMs = now() - t;
      const root = await list(opened.root, '');
      return { content: 0, note: root.entries.map((e) => e.name).join(' ') };
    });
    out.openMs = openMs;
    if (!opened) throw new Error('not opened');
    const root = opened.root;
    if (opened.stagingBytes !== undefined) out.stagingBytes = opened.stagingBytes;
    out.listPage = await phase(drop, ctx.served, async () => {
      const l = await list(root, 'many', { limit: 500 });
      return { content: 0, note: `${l.entries.length} of ${l.total}` };
    });
    out.listAll = await phase(drop, ctx.served, async () => {
      const l = await list(root, 'many', { limit: 1_000_000 });
      return { content: 0, note: `${l.entries.length} of ${l.total}` };
    });
    out.download = await phase(drop, ctx.served, async () => {
      const r = await openRead(root, ctx.disk.bigFile);
      let n = 0;
      for await (const c of r.stream) n += (c as Buffer).length;
      if (n !== ctx.disk.bigBytes) throw new Error(`read ${n} bytes of ${ctx.disk.bigFile}, expected ${ctx.disk.bigBytes}`);
      return { content: n };
    });
    const zipped = { bytes: 0 };
    out.zip = await phase(drop, ctx.served, async () => {
      const r = await zip(root, [ctx.disk.mediumDir], sink(zipped));
      return { content: r.bytes, note: `${r.entries} entries` };
    });
    out.zipBytes = zipped.bytes;
    const t = now();
    await opened.close();
    out.closeMs = now() - t;
  } catch (err) {
    out.error = err instanceof Error ? err.message : String(err);
    log(`${way.label} failed: ${out.error}`);
  } finally {
    await closeRepo();
  }
  return out;
}

async function backUp(repoDir: string, disk: BenchDisk): Promise<{ id: string; ms: number; stored: number; manifestBytes: number }> {
  const t = now();
  const repo = await Repository.init(repoDir, { password: PASSWORD });
  try {
    const w = await repo.startBackup({ group: 'vm:mount-bench' });
    const src = await openFileSource(disk.image);
    try {
      await w.writeDisk('vda', src.size, src.source);
    } finally {
      await src.close();
    }
    const m = await w.commit();
    const manifestBytes = (await stat(path.join(repoDir, 'backups', `${m.id}.manifest`))).size;
    return { id: m.id, ms: now() - t, stored: m.summary.newStoredBytes, manifestBytes };
  } finally {
    await repo.close();
  }
}

export async function runMountBenchmark(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the mount benchmark needs root (loop devices, mounts, drop_caches)');
  const sizeGib = Number(process.env['VPLUS_BENCH_SIZE_GIB'] ?? 4);
  const fileMib = Number(process.env['VPLUS_BENCH_FILE_MIB'] ?? 1024);
  const manyFiles = Number(process.env['VPLUS_BENCH_FILES'] ?? 10_000);
  const drop = process.env['VPLUS_BENCH_DROP_CACHES'] !== '0';
  const wanted = (process.env['VPLUS_BENCH_WAYS'] ?? 'overlay,read-only,staging,qemu-nbd').split(',').map((s) => s.trim());
  if (2 * fileMib * MIB + manyFiles * 8192 > sizeGib * GIB * 0.9) throw new Error(`${2 * fileMib} MiB of files do not fit a ${sizeGib} GiB disk`);
  for (const tool of ['sfdisk', 'mkfs.ext4', 'e2fsck', 'losetup', 'mount', 'umount', 'fusermount3']) {
    if (!(await onPath(tool))) throw new Error(`${tool} is not installed`);
  }

  const work = mkdtempSync(path.join(process.env['VPLUS_BENCH_DIR'] ?? '/var/tmp', 'vplus-mount-bench-'));
  const cleanup = new Cleanup(log);
  if (process.env['VPLUS_BENCH_KEEP'] !== '1') cleanup.add(`rm -r ${work}`, () => rm(work, { recursive: true, force: true }));
  const onSignal = (sig: NodeJS.Signals): void => {
    log(`${sig}: cleaning up`);
    void cleanup.runAll().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    log(`building a ${sizeGib} GiB disk (GPT, ext4): ${manyFiles} small files, a ${fileMib} MiB file, a ${fileMib} MiB folder`);
    let t = now();
    const disk = await buildDisk(work, { size: sizeGib * GIB, fileBytes: fileMib * MIB, manyFiles }, cleanup, log);
    log(`disk built in ${((now() - t) / 1000).toFixed(1)} s`);
    const repoDir = path.join(work, 'repo');
    log('backing it up');
    const backup = await backUp(repoDir, disk);
    log(`backed up in ${(backup.ms / 1000).toFixed(1)} s, ${(backup.stored / MIB).toFixed(0)} MiB stored`);
    await rm(disk.image);
    t = now();
    const ctx: Context = { work, disk, backupId: backup.id, cleanup, served: { bytes: 0 } };
    const results: WayResult[] = [];
    for (const way of [ours(true), ours(false), staging, qemuNbd]) {
      if (wanted.includes(way.name)) results.push(await measure(way, repoDir, ctx, drop));
    }
    const loadAfter = loadavg();
    const machine = `${cpus().length} × ${cpus()[0]?.model ?? '?'}`;
    process.stdout.write(formatReport({ sizeGib, disk, backup, results, drop, machine, loadAfter, threadpool: process.env['UV_THREADPOOL_SIZE'] ?? '4 (default)' }));
    const resultsDir = path.resolve('bench-results');
    await mkdir(resultsDir, { recursive: true });
    const file = path.join(resultsDir, `mount-bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    const { image: _image, ...diskInfo } = disk;
    await writeFile(file, JSON.stringify({ date: new Date().toISOString(), machine, sizeGib, disk: diskInfo, backup, dropCaches: drop, loadAfter, results }, null, 2));
    process.stdout.write(`results: ${file}\n`);
  } finally {
    await cleanup.runAll();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (process.env['VPLUS_BENCH_KEEP'] === '1') log(`kept ${work}`);
  }
}
