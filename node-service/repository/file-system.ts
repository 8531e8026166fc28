import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { isErrno } from './errors.js';

export interface FileStat {
  size: number;
  mtimeMs: number;
  isFile: boolean;
  isDirectory: boolean;
}

export interface ReadableFile {
  /** Reads up to `into.length` bytes at `position`; returns the count (short only at end of file). */
  read(into: Buffer, position: number): Promise<number>;
  size(): Promise<number>;
  close(): Promise<void>;
}

export interface WritableFile {
  /** The OS file descriptor, when there is one: restore lets worker threads write to it directly. */
  readonly fd?: number;
  /** A second descriptor of the same file opened O_DIRECT, when asked for and the filesystem suits it. */
  readonly directFd?: number;
  write(data: Uint8Array, position: number): Promise<void>;
  truncate(size: number): Promise<void>;
  sync(): Promise<void>;
  close(): Promise<void>;
}

/** Options of a write; a directory ignores them. */
export interface WriteOptions {
  /** Object stores with object lock: the object's retain-until date (ms), instead of the destination's default. */
  retainUntilMs?: number | undefined;
}

/** Prefix of temporary files; garbage collection removes old ones. */
export const TEMP_PREFIX = '.tmp-';

/**
 * Every filesystem side effect of the repository goes through this adapter, so tests can
 * inject faults (ENOSPC, EIO) and the logic stays readable. Errors are raw errno errors;
 * callers turn them into typed errors that name the destination.
 */
export interface RepositoryFileSystem {
  readFile(file: string): Promise<Buffer>;
  /**
   * Crash-safe write: a fresh temp file in the same directory, fsync, rename over `file`.
   * The directory itself is not fsynced (callers batch that with `syncDir`).
   */
  writeFileAtomic(file: string, data: Uint8Array, options?: WriteOptions): Promise<void>;
  syncDir(dir: string): Promise<void>;
  /**
   * Makes durable, with their directory entries, the files other threads wrote into `dirs`
   * under `root` (threadWrites). Absent where every write is durable on return (object stores).
   */
  flush?(root: string, dirs: Iterable<string>): Promise<void>;
  /**
   * A local directory: other threads may write files under the repository themselves, with
   * synchronous calls and the same temp-and-rename (chunk-file-io.ts writeChunkFile), `durable`
   * saying whether each file needs its own fdatasync (false: `flush` will syncfs). Absent (or
   * undefined) where every write must go through this interface (object stores; tests that
   * inject faults into writeFileAtomic).
   */
  threadWrites?(): Promise<{ durable: boolean } | undefined>;
  stat(file: string): Promise<FileStat>;
  readdir(dir: string): Promise<string[]>;
  /** Creates one directory level; an existing directory is not an error. */
  mkdir(dir: string): Promise<void>;
  unlink(file: string): Promise<void>;
  setMtime(file: string, mtimeMs: number): Promise<void>;
  openRead(file: string): Promise<ReadableFile>;
  /**
   * Opens (creating if needed) a file for positional writes. With `direct`, also a descriptor
   * that bypasses the page cache, where that is known to work well (local ext4 and XFS).
   */
  openWrite(file: string, options?: { direct?: boolean }): Promise<WritableFile>;
}

const FILE_MODE = 0o600;
const DIR_MODE = 0o700;

/**
 * Whether `sync -f` (coreutils' syncfs(2): one call flushes a whole filesystem) runs here;
 * asked once per process.
 */
let syncfsProbe: Promise<boolean> | undefined;
function syncfsWorks(): Promise<boolean> {
  syncfsProbe ??= new Promise((resolve) => execFile('sync', ['--version'], { timeout: 10_000 }, (err) => resolve(!err)));
  return syncfsProbe;
}

export class NodeFileSystem implements RepositoryFileSystem {
  /** `syncfs: false` flushes file by file, as where `sync -f` is missing. */
  constructor(private readonly options: { syncfs?: boolean } = {}) {}

  async readFile(file: string): Promise<Buffer> {
    return fsp.readFile(file);
  }

  async threadWrites(): Promise<{ durable: boolean } | undefined> {
    return { durable: !(this.options.syncfs !== false && (await syncfsWorks())) };
  }

  /**
   * One syncfs of the filesystem holding `root` when the files' own fdatasync was left out: it
   * writes their data and commits the journal with their directory entries (measured: 2,600
   * files of 20 KiB, 535–646 ms with an fdatasync each, 193–258 ms with one syncfs).
   * Otherwise (no `sync -f`) each file was synced as it was written: only the directories.
   */
  async flush(root: string, dirs: Iterable<string>): Promise<void> {
    const list = [...dirs];
    if (list.length === 0) return;
    if (this.options.syncfs !== false && (await syncfsWorks())) {
      await new Promise<void>((resolve, reject) =>
        execFile('sync', ['-f', root], { timeout: 10 * 60_000 }, (err, _stdout, stderr) => {
          if (!err) return resolve();
          reject(Object.assign(new Error(`sync -f ${root} failed: ${stderr.trim() || err.message}`), { code: 'EIO' }));
        }),
      );
      return;
    }
    await Promise.all(list.map((dir) => this.syncDir(dir)));
  }

  async writeFileAtomic(file: string, data: Uint8Array): Promise<void> {
    const tmp = path.join(path.dirname(file), `${TEMP_PREFIX}${randomBytes(8).toString('hex')}`);
    let renamed = false;
    try {
      const fh = await fsp.open(tmp, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, FILE_MODE);
      try {
        let off = 0;
        while (off < data.length) {
          const { bytesWritten } = await fh.write(data, off, data.length - off, off);
          off += bytesWritten;
        }
        await fh.datasync();
      } finally {
        await fh.close();
      }
      await fsp.rename(tmp, file);
      renamed = true;
    } finally {
      if (!renamed) await removeTempFile(tmp);
    }
  }

  async syncDir(dir: string): Promise<void> {
    const fh = await fsp.open(dir, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY);
    try {
      await fh.sync();
    } catch (err) {
      // Some network filesystems refuse fsync on a directory; their renames are synchronous.
      if (!isErrno(err, 'EINVAL', 'ENOTSUP', 'EBADF')) throw err;
    } finally {
      await fh.close();
    }
  }

  async stat(file: string): Promise<FileStat> {
    const st = await fsp.stat(file);
    return { size: st.size, mtimeMs: st.mtimeMs, isFile: st.isFile(), isDirectory: st.isDirectory() };
  }

  async readdir(dir: string): Promise<string[]> {
    return fsp.readdir(dir);
  }

  async mkdir(dir: string): Promise<void> {
    try {
      await fsp.mkdir(dir, { mode: DIR_MODE });
    } catch (err) {
      if (!isErrno(err, 'EEXIST')) throw err;
    }
  }

  async unlink(file: string): Promise<void> {
    await fsp.unlink(file);
  }

  async setMtime(file: string, mtimeMs: number): Promise<void> {
    const t = new Date(mtimeMs);
    await fsp.utimes(file, t, t);
  }

  async openRead(file: string): Promise<ReadableFile> {
    const fh = await fsp.open(file, 'r');
    return {
      read: async (into, position) => {
        let done = 0;
        while (done < into.length) {
          const { bytesRead } = await fh.read(into, done, into.length - done, position + done);
          if (bytesRead === 0) break;
          done += bytesRead;
        }
        return done;
      },
      size: async () => (await fh.stat()).size,
      close: () => fh.close(),
    };
  }

  async openWrite(file: string, options: { direct?: boolean } = {}): Promise<WritableFile> {
    const fh = await fsp.open(file, fsConstants.O_WRONLY | fsConstants.O_CREAT, FILE_MODE);
    const direct = options.direct ? await openDirect(file) : undefined;
    return {
      fd: fh.fd,
      ...(direct ? { directFd: direct.fd } : {}),
      write: async (data, position) => {
        let off = 0;
        while (off < data.length) {
          const { bytesWritten } = await fh.write(data, off, data.length - off, position + off);
          off += bytesWritten;
        }
      },
      truncate: (size) => fh.truncate(size),
      sync: () => fh.sync(),
      close: async () => {
        await direct?.close();
        await fh.close();
      },
    };
  }
}

/** ext2/3/4 and XFS: O_DIRECT is fast and well-behaved there (on NFS each direct write is a synchronous round trip). */
const DIRECT_IO_FILESYSTEMS = new Set([0xef53, 0x58465342]);

/** The file opened O_DIRECT on a filesystem that suits it, or undefined (then writes go through the page cache). */
async function openDirect(file: string): Promise<fsp.FileHandle | undefined> {
  const flag = fsConstants.O_DIRECT;
  if (flag === undefined) return undefined;
  try {
    const { type } = await fsp.statfs(file);
    if (!DIRECT_IO_FILESYSTEMS.has(type)) return undefined;
    return await fsp.open(file, fsConstants.O_WRONLY | flag);
  } catch (err) {
    // Refused (EINVAL on a filesystem without O_DIRECT): the page cache path is always there.
    if (isErrno(err, 'EINVAL', 'EOPNOTSUPP', 'ENOTSUP')) return undefined;
    throw err;
  }
}

/** Best-effort removal of a temp file after a failed write. */
async function removeTempFile(file: string): Promise<void> {
  // A temp file that cannot be removed now (ENOENT, or the disk just failed) is harmless:
  // nothing refers to it and garbage collection removes temp files older than its grace.
  await fsp.unlink(file).catch(() => undefined);
}
