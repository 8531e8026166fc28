/**
 * A mount session on the node: a backup's disks served over NBD from the repository,
 * exposed as files by nbdfuse, and every filesystem on them mounted read-only under
 * `<workDir>/mnt/<volume>` through an offset loop device (kernel ext2/3/4, XFS, btrfs) or a
 * FUSE driver on that loop device (ntfs-3g, fusefat where the kernel has no vfat).
 *
 * With the copy-on-write overlay (the default for browsing) the export is writable: loops are
 * attached read-write, so ext4 and XFS replay a dirty journal into the overlay (never into
 * the backup) and the mount itself is `ro`. Without it, loops are read-only and the journal
 * is skipped (`noload`, `norecovery`, `rescue=nologreplay`).
 *
 *   const session = await MountSession.open(backupReaderSource(reader), { workDir, overlay: true });
 *   session.volumes  // [{ name: 'vda1', type: 'ext4', path: '<workDir>/mnt/vda1', ... }]
 *   await session.close();
 *   // after a node restart: await MountSession.cleanup(workDir);
 *
 * The NBD server runs in this process: read files under the mounts with async calls only, a
 * few at a time (each read holds a libuv pool thread until the server, which needs the pool
 * for the repository, answers), or from another process.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { silentLogger, type RepositoryLogger } from '../repository/logger.js';
import type { BackupDataSource } from './block-device.js';
import type { BlockSource } from './block-source.js';
import { readDiskLayout, type Volume } from './disk-layout.js';
import type { FsType } from './filesystem-probe.js';
import { SystemMounter } from './fs-mounter.js';
import { readMountState, MountStateFile, STATE_FILE } from './mount-state.js';
import { serveBackup, type ServeBackupOptions } from './nbd-server.js';

/** What serves the disks: an NbdServer in this process, or one in a process of its own (nbd-serve-child.ts). */
export interface DiskServer {
  close(): Promise<void>;
  /** Its process, when not this one. */
  pid?: number;
}

export interface MountSessionOptions {
  /** A directory of its own for this session (created; removed by close and cleanup). */
  workDir: string;
  /** Serve the disks through a copy-on-write overlay (journals replay into it). */
  overlay: boolean;
  /** Find and mount filesystems (default); false: only the disks as files (an iSCSI export's backing). */
  mountFilesystems?: boolean;
  logger?: RepositoryLogger;
  host?: SystemMounter;
  /** How the disks are served (tests wrap it to reach the server). */
  serve?: (source: BackupDataSource, options: ServeBackupOptions) => Promise<DiskServer>;
}

export interface MountedVolume {
  name: string;
  /** The disk it starts on. */
  disk: string;
  kind: Volume['kind'];
  type: FsType | null;
  label?: string;
  size: number;
  dirty?: boolean;
  readable: boolean;
  /** Why it cannot be browsed, when not readable. */
  reason?: string;
  /** Where its files are, when readable. */
  path?: string;
}

export type MountSessionErrorCode = 'MOUNT_WORKDIR_IN_USE' | 'MOUNT_CLEANUP_INCOMPLETE' | 'MOUNT_NOT_A_SESSION';

export class MountSessionError extends Error {
  constructor(
    readonly code: MountSessionErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'MountSessionError';
  }
}

type Driver = { kind: 'kernel'; type: string } | { kind: 'fuse'; binary: string } | { kind: 'none'; reason: string };

const BASE_OPTIONS = ['ro', 'nosuid', 'nodev', 'noexec'];
const safeName = (s: string) => s.replace(/[^\w.+-]/g, '_').replace(/^\.+/, '_');
const inside = (dir: string, p: string) => p === dir || p.startsWith(`${dir}/`);

export class MountSession {
  private closing: Promise<void> | null = null;

  private constructor(
    readonly workDir: string,
    readonly volumes: readonly MountedVolume[],
    /** Each served disk as a file (nbdfuse), by disk name. */
    readonly diskFiles: ReadonlyMap<string, string>,
    private readonly server: DiskServer,
    private readonly host: SystemMounter,
    private readonly log: RepositoryLogger,
  ) {}

  static async open(source: BackupDataSource, options: MountSessionOptions): Promise<MountSession> {
    const workDir = path.resolve(options.workDir);
    const host = options.host ?? new SystemMounter();
    const log = (options.logger ?? silentLogger).child({ module: 'mount-session', workDir });
    await fs.mkdir(workDir, { recursive: true, mode: 0o700 });
    if ((await fs.readdir(workDir)).length > 0) throw new MountSessionError('MOUNT_WORKDIR_IN_USE', `${workDir} is not empty: another session, or one to clean up first`);
    const state = new MountStateFile(workDir);
    let server: DiskServer | undefined;
    try {
      const socket = path.join(workDir, 'nbd.sock');
      const serverStep = await state.record({ kind: 'nbd-server', socket, pid: process.pid });
      let overlayDir: string | undefined;
      if (options.overlay) {
        overlayDir = path.join(workDir, 'overlay');
        await fs.mkdir(overlayDir, { mode: 0o700 });
      }
      server = await (options.serve ?? serveBackup)(source, { socketPath: socket, ...(overlayDir === undefined ? {} : { overlayDir }), ...(options.logger ? { logger: options.logger } : {}) });
      if (server.pid !== undefined && server.pid !== serverStep.pid) {
        serverStep.pid = server.pid;
        await state.update();
      }

      const files = new Map<string, string>();
      for (const disk of source.disks) {
        const mountpoint = path.join(workDir, 'disks', safeName(disk));
        await fs.mkdir(mountpoint, { recursive: true, mode: 0o700 });
        const file = path.join(mountpoint, 'disk');
        const pidFile = path.join(workDir, `nbdfuse-${safeName(disk)}.pid`);
        const step = await state.record({ kind: 'nbdfuse', disk, mountpoint, file, pidFile });
        const uri = `nbd+unix:///${encodeURIComponent(disk)}?socket=${encodeURIComponent(socket)}`;
        step.pid = await host.startNbdfuse({ mountpoint, name: 'disk', uri, pidFile, logFile: path.join(workDir, `nbdfuse-${safeName(disk)}.log`), readOnly: !options.overlay });
        await state.update();
        files.set(disk, file);
      }

      // The layout is read from the backup directly, not through nbdfuse: same bytes (the
      // overlay is still empty), no FUSE round trip, and no pool thread of ours waiting on
      // our own server.
      if (options.mountFilesystems === false) return new MountSession(workDir, [], files, server, host, log);
      const layout = await readDiskLayout(source.disks.map((name) => ({ name, source: diskBlockSource(source, name) })));
      for (const w of layout.warnings) log.warn({ warning: w }, 'disk layout');
      const drivers = await availableDrivers(host);
      const volumes: MountedVolume[] = [];
      for (const v of layout.volumes) {
        volumes.push(await mountVolume(v, { workDir, overlay: options.overlay, files, drivers, host, state, log }));
      }
      log.info({ volumes: volumes.map((v) => ({ name: v.name, type: v.type, readable: v.readable })) }, 'mount session open');
      return new MountSession(workDir, volumes, files, server, host, log);
    } catch (err) {
      await teardown(workDir, host, log, server).catch((e: unknown) => log.error({ err: e }, 'cleaning up a failed mount session failed'));
      throw err;
    }
  }

  /** Unmounts everything, detaches the loops, ends nbdfuse, stops the NBD server, removes workDir. */
  close(): Promise<void> {
    this.closing ??= teardown(this.workDir, this.host, this.log, this.server);
    return this.closing;
  }

  /**
   * Undoes whatever a session left in `workDir` (a node restart after a crash), in order:
   * umount → loop devices → nbdfuse → NBD server → workDir. Nothing there is fine.
   */
  static async cleanup(workDir: string, options: { host?: SystemMounter; logger?: RepositoryLogger } = {}): Promise<void> {
    const dir = path.resolve(workDir);
    const log = (options.logger ?? silentLogger).child({ module: 'mount-session', workDir: dir });
    await teardown(dir, options.host ?? new SystemMounter(), log, undefined);
  }
}

interface MountContext {
  workDir: string;
  overlay: boolean;
  files: Map<string, string>;
  drivers: (type: FsType) => Driver;
  host: SystemMounter;
  state: MountStateFile;
  log: RepositoryLogger;
}

async function mountVolume(v: Volume, ctx: MountContext): Promise<MountedVolume> {
  const listed: MountedVolume = {
    name: v.name,
    disk: v.disk,
    kind: v.kind,
    type: v.type,
    ...(v.label === undefined ? {} : { label: v.label }),
    size: v.size,
    ...(v.dirty === undefined ? {} : { dirty: v.dirty }),
    readable: false,
  };
  if (!v.readable || v.type === null) return { ...listed, reason: v.reason ?? 'not readable' };
  const extent = v.extents[0];
  if (v.extents.length !== 1 || !extent) return { ...listed, reason: 'LV in several pieces is not supported yet' };
  const driver = ctx.drivers(v.type);
  if (driver.kind === 'none') return { ...listed, reason: driver.reason };
  const file = ctx.files.get(extent.disk);
  if (!file) return { ...listed, reason: `disk ${extent.disk} is not served` };

  const loop = await ctx.state.record({ kind: 'loop', volume: v.name, file, offset: extent.offset, size: extent.length, readOnly: !ctx.overlay });
  loop.device = await ctx.host.attachLoop(file, extent.offset, extent.length, !ctx.overlay);
  await ctx.state.update();
  const mountpoint = path.join(ctx.workDir, 'mnt', safeName(v.name));
  await fs.mkdir(mountpoint, { recursive: true, mode: 0o700 });
  const mount = await ctx.state.record({ kind: 'mount', volume: v.name, mountpoint, driver: driver.kind === 'kernel' ? driver.type : driver.binary });
  try {
    if (driver.kind === 'kernel') await ctx.host.mountKernel(driver.type, loop.device, mountpoint, kernelOptions(v.type, ctx.overlay));
    else await ctx.host.mountFuse(driver.binary, loop.device, mountpoint, BASE_OPTIONS);
  } catch (err) {
    // This volume is listed with the reason; the others still mount.
    ctx.log.warn({ volume: v.name, err }, 'mount failed');
    await ctx.state.remove(mount);
    await fs.rmdir(mountpoint).catch(() => undefined);
    await ctx.host.detachLoop(loop.device);
    await ctx.state.remove(loop);
    return { ...listed, reason: err instanceof Error ? err.message : String(err) };
  }
  return { ...listed, readable: true, path: mountpoint };
}

function kernelOptions(type: FsType, overlay: boolean): string[] {
  const opts = [...BASE_OPTIONS];
  // Two backups of one VM carry the same XFS UUID.
  if (type === 'xfs') opts.push('nouuid');
  if (!overlay) {
    // A read-only device: the journal cannot be replayed, so it is not looked at.
    if (type === 'ext3' || type === 'ext4') opts.push('noload');
    if (type === 'xfs') opts.push('norecovery');
    if (type === 'btrfs') opts.push('rescue=nologreplay');
  }
  return opts;
}

/** Which driver reads each filesystem on this node: the kernel's, else a FUSE one. */
async function availableDrivers(host: SystemMounter): Promise<(type: FsType) => Driver> {
  const kernel = await host.kernelFilesystems();
  const has = async (bins: string[]) => {
    for (const b of bins) if (await host.hasBinary(b)) return b;
    return null;
  };
  const ntfs = await has(['ntfs-3g']);
  const fat = kernel.has('vfat') ? null : await has(['fusefat']);
  const exfat = kernel.has('exfat') ? null : await has(['exfat-fuse', 'mount.exfat-fuse']);
  const kernelDriver = (name: string, label: string): Driver => (kernel.has(name) ? { kind: 'kernel', type: name } : { kind: 'none', reason: `no ${label} driver on this node` });
  return (type) => {
    switch (type) {
      case 'ext2':
      case 'ext3':
      case 'ext4':
        // The ext4 driver reads all three.
        return kernel.has('ext4') ? { kind: 'kernel', type: 'ext4' } : kernelDriver(type, type);
      case 'xfs':
        return kernelDriver('xfs', 'XFS');
      case 'btrfs':
        return kernelDriver('btrfs', 'btrfs');
      case 'ntfs':
        return ntfs ? { kind: 'fuse', binary: ntfs } : { kind: 'none', reason: 'no NTFS driver on this node' };
      case 'vfat':
        return kernel.has('vfat') ? { kind: 'kernel', type: 'vfat' } : fat ? { kind: 'fuse', binary: fat } : { kind: 'none', reason: 'no FAT driver on this node' };
      case 'exfat':
        return kernel.has('exfat') ? { kind: 'kernel', type: 'exfat' } : exfat ? { kind: 'fuse', binary: exfat } : { kind: 'none', reason: 'no exFAT driver on this node' };
      default:
        return { kind: 'none', reason: `${type} cannot be mounted` };
    }
  };
}

function diskBlockSource(source: BackupDataSource, disk: string): BlockSource {
  return {
    size: source.diskSize(disk),
    read: async (into, offset) => {
      const data = await source.readRange(disk, offset, into.length);
      return data.copy(into);
    },
  };
}

/**
 * The one way down, for close, a failed open and a restart. The state file says what was
 * started; the kernel's own view, found by path under workDir (mounts, loops backed by our
 * nbdfuse files, processes naming our paths), says what is still there, including a step
 * a crash interrupted before its result (a loop's device name) was recorded.
 */
async function teardown(workDir: string, host: SystemMounter, log: RepositoryLogger, server: DiskServer | undefined): Promise<void> {
  const exists = await fs.stat(workDir).then(() => true, () => false);
  if (!exists) {
    await server?.close();
    return;
  }
  const state = await readMountState(workDir);
  if (!state && !server && (await fs.readdir(workDir)).length > 0) {
    throw new MountSessionError('MOUNT_NOT_A_SESSION', `${workDir} has no ${STATE_FILE}: not a mount session's directory, left as it is`);
  }
  const disksDir = path.join(workDir, 'disks');
  const problems: string[] = [];
  const attempt = async (what: string, fn: () => Promise<void>) => {
    try {
      await fn();
    } catch (err) {
      problems.push(`${what}: ${err instanceof Error ? err.message : String(err)}`);
    }
  };

  for (const m of await host.mountsUnder(workDir)) {
    if (!inside(disksDir, m.mountpoint)) await attempt(`umount ${m.mountpoint}`, () => host.unmount(m.mountpoint));
  }
  for (const device of await host.loopsUnder(workDir)) await attempt(`losetup -d ${device}`, () => host.detachLoop(device));
  for (const m of await host.mountsUnder(disksDir)) await attempt(`fusermount -u ${m.mountpoint}`, () => host.fuseUnmount(m.mountpoint));
  // A live session stops its server; after a restart the server process (its argv names
  // workDir) is ended with the rest below.
  if (server) await attempt('stopping the NBD server', () => server.close());
  // nbdfuse and the FUSE drivers exit once unmounted; any that does not is ended.
  // (Recorded pids are not trusted alone: after a restart a pid may be another process's.)
  const pids = await host.processesUsing(workDir);
  await attempt('ending processes', () => host.endProcesses(pids));

  const left = [...(await host.mountsUnder(workDir)).map((m) => `mount ${m.mountpoint}`), ...(await host.loopsUnder(workDir)).map((d) => `loop ${d}`)];
  if (left.length > 0) {
    throw new MountSessionError('MOUNT_CLEANUP_INCOMPLETE', `mount session ${workDir} is not fully cleaned up (${left.join(', ')}); ${problems.join('; ') || 'run cleanup again'}`);
  }
  for (const p of problems) log.warn({ problem: p }, 'mount session cleanup');
  await fs.rm(workDir, { recursive: true, force: true });
  log.info({}, 'mount session cleaned up');
}
