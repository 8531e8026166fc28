/**
 * Restores one disk of a backup straight into a qcow2 file, every byte written once: the
 * backup's disk is served by our NBD server (mount/nbd-server.ts) on a private unix socket,
 * and `qemu-img convert` reads it from there into the qcow2. qemu-img asks for
 * NBD_CMD_BLOCK_STATUS (base:allocation), which the server answers from the manifest's zero
 * runs: it never reads those and leaves them unallocated; zero 4 KiB blocks inside data chunks
 * stay holes too (its zero detection). The chunks are decoded by the repository's worker
 * threads, many at once (qemu-img keeps 16 requests in flight and the reader decodes the next
 * chunks ahead); qemu-img writes in order. Before, a qcow2 restore wrote a sparse raw file and
 * converted it: twice the writes, and one disk's data of extra room (see FORMAT.md, "Restore").
 */
import { constants } from 'node:fs';
import { chmod, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { backupReaderSource, restrictDisks, type BackupDataSource } from '../../mount/block-device.js';
import { serveBackup } from '../../mount/nbd-server.js';
import { forEachDataChunk } from '../../repository/format.js';
import type { Repository, RestoreProgress, RestoreResult } from '../../repository/index.js';
import type { CommandRunner } from './command-runner.js';
import { KvmError } from './errors.js';

export interface Qcow2RestoreOptions {
  repository: Repository;
  backupId: string;
  disk: string;
  /** The qcow2 file to write (made here with `fileMode` before qemu-img opens it). */
  target: string;
  fileMode: number;
  runner: CommandRunner;
  onProgress?: (p: RestoreProgress) => void;
  signal?: AbortSignal;
}

/** Requests qemu-img keeps in flight (its -m): enough to keep every decoding thread busy. */
const CONVERT_COROUTINES = 16;
/** Decoded chunks the reader keeps: qemu-img's requests (2 MiB each) plus the chunks decoded ahead; bounds the memory (< 300 MB in all). */
const CACHE_CHUNKS = 40;
const PREFETCH_CHUNKS = 6;

export async function restoreDiskToQcow2(o: Qcow2RestoreOptions): Promise<RestoreResult> {
  const reader = await o.repository.openBackup(o.backupId, { cacheChunks: CACHE_CHUNKS, sequentialPrefetch: PREFETCH_CHUNKS });
  const manifest = reader.disk(o.disk);
  let dataBytes = 0;
  forEachDataChunk(manifest, (_id, _i, _off, length) => (dataBytes += length));
  const base = restrictDisks(backupReaderSource(reader), [o.disk]);
  // Zero runs count as done from the start (qemu-img skips them); data as qemu-img reads it.
  let done = manifest.size - dataBytes;
  // qemu-img only sees EIO: the repository's own error (a damaged chunk, a lost share) is kept for the message.
  let readFailure: unknown;
  const source: BackupDataSource = {
    ...base,
    readRange: async (disk, offset, length) => {
      try {
        const data = await base.readRange(disk, offset, length);
        done = Math.min(manifest.size, done + data.length);
        o.onProgress?.({ disk: o.disk, bytesDone: done, bytesTotal: manifest.size });
        return data;
      } catch (err) {
        readFailure ??= err;
        throw err;
      }
    },
  };
  // The socket serves the whole disk to whoever connects: a directory only we can enter (mkdtemp: 0700).
  const sockDir = await mkdtemp(path.join(tmpdir(), 'vplus-restore-'));
  const socketPath = path.join(sockDir, 'nbd.sock');
  try {
    const server = await serveBackup(source, { socketPath, maxInFlightPerClient: CONVERT_COROUTINES });
    try {
      // qemu-img creates its output by the umask (0644): it writes into a file made private first.
      await writeFile(o.target, '', { mode: o.fileMode });
      await chmod(o.target, o.fileMode);
      const uri = `nbd+unix:///${encodeURIComponent(o.disk)}?socket=${socketPath}`;
      // O_DIRECT writes (cache=none) where the filesystem takes them: a third of the CPU time of
      // writing through the page cache, which matters with the decoding threads on the same cores.
      const cache = (await directIoWorks(o.target)) ? ['-t', 'none'] : [];
      await o.runner.run('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'qcow2', ...cache, '-m', String(CONVERT_COROUTINES), uri, o.target], { ...(o.signal ? { signal: o.signal } : {}) }).catch((err: unknown) => {
        if (o.signal?.aborted) throw new KvmError('KVM_CANCELLED', 'the restore was cancelled');
        throw readFailure ?? err;
      });
      await chmod(o.target, o.fileMode);
      // qemu-img does not flush its output by default: the restore is durable before it is renamed into place.
      const fh = await open(o.target, 'r+');
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
    } finally {
      await server.close();
    }
  } finally {
    await rm(sockDir, { recursive: true, force: true });
  }
  o.onProgress?.({ disk: o.disk, bytesDone: manifest.size, bytesTotal: manifest.size });
  return { size: manifest.size, dataBytes };
}

/** Whether the file's filesystem accepts O_DIRECT (tmpfs and some FUSE filesystems refuse it). */
async function directIoWorks(file: string): Promise<boolean> {
  if (constants.O_DIRECT === undefined) return false;
  try {
    await (await open(file, constants.O_RDWR | constants.O_DIRECT)).close();
    return true;
  } catch {
    return false;
  }
}
