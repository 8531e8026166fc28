/**
 * Checks a restore's target directory before any byte is written, and makes it: every part of
 * the path is a directory (not a file), the filesystem is storage (not /proc or /sys), the
 * node may write there, and there is room for the restored disks. Each filesystem call is
 * bounded by a deadline and the task's signal: a hung share or a kernel filesystem fails the
 * task with a message naming the target instead of leaving it "Working…" forever. (Node's own
 * `mkdir(…, { recursive: true })` spins without end under /proc, where mkdir answers ENOENT
 * although the parent exists: the walk below creates one level at a time instead.)
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, rmdir, stat, statfs, unlink } from 'node:fs/promises';
import path from 'node:path';
import { formatBytes } from '../../../common/format.js';
import { KvmError } from './errors.js';

export const DEFAULT_FS_TIMEOUT_MS = 30_000;

export interface PrepareTargetOptions {
  directory: string;
  /** Mode of the directories made here. */
  dirMode: number;
  /** Bytes the restore will write at most; refused when the filesystem has less free. */
  neededBytes: number;
  signal?: AbortSignal;
  /** Deadline of each filesystem call (default 30 s). */
  timeoutMs?: number;
}

/** Kernel filesystems that hold no files of ours (statfs f_type, linux/magic.h). */
const PSEUDO_FILESYSTEMS = new Map<number, string>([
  [0x9fa0, 'proc'],
  [0x62656572, 'sysfs'],
  [0x1cd1, 'devpts'],
  [0x27e0eb, 'cgroup'],
  [0x63677270, 'cgroup2'],
  [0x64626720, 'debugfs'],
  [0x74726163, 'tracefs'],
  [0x73636673, 'securityfs'],
  [0xcafe4a11, 'bpf'],
  [0x6165676c, 'pstore'],
  [0x62656570, 'configfs'],
  [0xde5e81e4, 'efivarfs'],
  [0xf97cff8c, 'selinuxfs'],
  [0x42494e4d, 'binfmt_misc'],
  [0x65735543, 'fusectl'],
]);

const errno = (err: unknown): string | undefined => (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string' ? err.code : undefined);

/**
 * Runs one filesystem call that may block (a hung NFS server, a special file) with a deadline
 * and the signal. The call itself cannot be taken back from libuv's thread; the task is
 * released from waiting on it.
 */
export async function boundedFs<T>(what: string, target: string, call: () => Promise<T>, signal: AbortSignal | undefined, timeoutMs = DEFAULT_FS_TIMEOUT_MS): Promise<T> {
  if (signal?.aborted) throw new KvmError('KVM_CANCELLED', 'the restore was cancelled');
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const guard = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new KvmError(
            'KVM_RESTORE_TARGET',
            `restore target ${target} did not answer within ${timeoutMs >= 1000 ? `${Math.round(timeoutMs / 1000)} s` : `${timeoutMs} ms`} (${what}); is it a hung network share or a special filesystem? Choose another directory`,
          ),
        ),
      timeoutMs,
    );
    onAbort = () => reject(new KvmError('KVM_CANCELLED', 'the restore was cancelled'));
    signal?.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([call(), guard]);
  } finally {
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener('abort', onAbort);
  }
}

/** Checks and makes the target directory; returns the directories it created, outermost first. */
export async function prepareRestoreTarget(o: PrepareTargetOptions): Promise<{ created: string[] }> {
  const dir = path.resolve(o.directory);
  const fs = <T>(what: string, call: () => Promise<T>): Promise<T> => boundedFs(what, dir, call, o.signal, o.timeoutMs);
  const refuse = (why: string): KvmError => new KvmError('KVM_RESTORE_TARGET', `restore target ${dir} ${why}`);
  const created: string[] = [];
  try {
    // Root first: the first part that is missing is made, and so is each below it.
    const parts = dir.split(path.sep).filter(Boolean);
    let missing = false;
    for (let i = 1; i <= parts.length; i++) {
      const p = path.sep + parts.slice(0, i).join(path.sep);
      if (!missing) {
        const st = await fs('stat', () => stat(p)).catch((err: unknown) => {
          if (errno(err) === 'ENOENT') return null;
          if (errno(err) === 'ENOTDIR') throw refuse(`is inside a file: a part of the path is not a directory; choose a directory`);
          if (errno(err) === 'EACCES') throw refuse(`cannot be reached: the node service's user may not enter ${path.dirname(p)} (permission denied)`);
          throw err;
        });
        if (st && !st.isDirectory()) throw refuse(`is inside a file: ${p} is not a directory; choose a directory`);
        if (st) continue;
        missing = true;
      }
      await fs('mkdir', () => mkdir(p, { mode: o.dirMode })).catch((err: unknown) => {
        const code = errno(err);
        // ENOENT although the parent exists: a filesystem that makes no directories (/proc).
        if (code === 'ENOENT' || code === 'EPERM' || code === 'EACCES') {
          throw refuse(`cannot be made: ${path.dirname(p)} does not allow new directories (${code === 'ENOENT' ? 'a kernel filesystem such as /proc' : 'permission denied'}); choose a directory on a disk or share the node may write to`);
        }
        if (code === 'EROFS') throw refuse(`cannot be made: ${path.dirname(p)} is on a read-only filesystem`);
        if (code === 'ENOSPC' || code === 'EDQUOT') throw refuse(`cannot be made: no space left in ${path.dirname(p)}`);
        throw err;
      });
      created.push(p);
    }
    const fsInfo = await fs('statfs', () => statfs(dir));
    const pseudo = PSEUDO_FILESYSTEMS.get(fsInfo.type);
    if (pseudo) throw refuse(`is on a kernel filesystem (${pseudo}), not storage; choose a directory on a disk or share`);
    await probeWritable(dir, fs, refuse);
    const free = fsInfo.bavail * fsInfo.bsize;
    if (free < o.neededBytes) {
      throw refuse(`has ${formatBytes(free)} free, but the restored disks need up to ${formatBytes(o.neededBytes)}; free space there or choose another directory`);
    }
    return { created };
  } catch (err) {
    await removeEmptyDirectories(created);
    if (err instanceof KvmError) throw err;
    throw refuse(`cannot be used: ${err instanceof Error ? err.message : String(err)}`);
  }
}

async function probeWritable(dir: string, fs: <T>(what: string, call: () => Promise<T>) => Promise<T>, refuse: (why: string) => KvmError): Promise<void> {
  const probe = path.join(dir, `.vplus-write-test-${randomBytes(4).toString('hex')}`);
  const handle = await fs('create a test file', () => open(probe, 'wx', 0o600)).catch((err: unknown) => {
    const code = errno(err);
    if (code === 'EROFS') throw refuse('is on a read-only filesystem');
    if (code === 'EACCES' || code === 'EPERM') throw refuse(`is not writable by the node service's user (permission denied)`);
    if (code === 'ENOSPC' || code === 'EDQUOT') throw refuse('has no space left');
    throw err;
  });
  await handle.close();
  await unlink(probe);
}

/** Removes directories a restore made (innermost first) while they are empty; others stay. */
export async function removeEmptyDirectories(created: readonly string[]): Promise<void> {
  for (const d of [...created].reverse()) {
    const removed = await rmdir(d).then(
      () => true,
      () => false,
    );
    if (!removed) return; // not empty (or gone): the ones above it hold it
  }
}
