/**
 * The file side of the codec worker threads: reading chunk files into reused memory, and
 * writing restored chunks into their target file (sparse, O_DIRECT where it can), so that on
 * restore and verify the data never crosses to the main thread.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, constants as fsConstants, fdatasyncSync, fstatSync, openSync, readFileSync, readSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import * as path from 'node:path';

/**
 * Writes a chunk file as RepositoryFileSystem.writeFileAtomic does (a `.tmp-` file beside it,
 * mode 0600, fdatasync when `durable`, rename over `file`), with synchronous calls: in a
 * codec worker that is cheaper than four round trips through the main thread's event loop.
 * A failure removes the temp file and throws ChunkIoError('write') with the errno.
 */
export function writeChunkFile(file: string, data: Buffer, durable: boolean): void {
  const tmp = path.join(path.dirname(file), `.tmp-${randomBytes(8).toString('hex')}`);
  let fd: number | undefined;
  try {
    fd = openSync(tmp, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, 0o600);
    pwriteAll(fd, data, 0, data.length, 0);
    if (durable) fdatasyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, file);
  } catch (err) {
    if (fd !== undefined) closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      // Gone already, or the disk just failed: GC removes old temp files.
    }
    throw new ChunkIoError('write', err);
  }
}

/** Reading the chunk file ('read') or writing the restore target ('write') failed. */
export class ChunkIoError extends Error {
  override readonly name = 'ChunkIoError';
  /** The errno code, e.g. ENOENT. */
  readonly errno: string | undefined;
  constructor(
    readonly where: 'read' | 'write',
    cause: unknown,
  ) {
    super(cause instanceof Error ? cause.message : String(cause));
    this.errno = errnoOf(cause);
  }
}

/** Where a restored chunk goes: `fd` at `position`, and `directFd` (the same file opened O_DIRECT) if given. */
export interface RestoreTarget {
  fd: number;
  directFd?: number | undefined;
  position: number;
}

function errnoOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

// The global exists in every Node; the project's lib (ES2023, no DOM) does not declare it.
declare const WebAssembly: { Memory: new (d: { initial: number; maximum: number }) => { buffer: ArrayBuffer } };

/** O_DIRECT wants block-aligned offsets, lengths and memory. */
const BLOCK = 4096;
const WASM_PAGE = 65536;
/** Room for a slightly larger chunk file next time, so the read buffer is rarely replaced. */
const READ_HEADROOM = 64 * 1024;
const ZERO_BLOCK = Buffer.alloc(BLOCK);

function isZeroBlock(buf: Buffer, at: number): boolean {
  const end = Math.min(buf.length, at + BLOCK);
  return buf.compare(ZERO_BLOCK, 0, end - at, at, end) === 0;
}

function pwriteAll(fd: number, buf: Buffer, from: number, length: number, position: number): void {
  let off = 0;
  while (off < length) off += writeSync(fd, buf, from + off, length - off, position + off);
}

/** Per worker thread: its reused read and write buffers. */
export class ChunkFileIo {
  private readBuf = Buffer.alloc(0);
  private alignedBuf = Buffer.alloc(0);

  /** The whole chunk file in a buffer of its own (to hand to another thread). */
  readOwned(file: string): Buffer {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new ChunkIoError('read', err);
    }
  }

  /** The whole chunk file in memory reused by the next call: no fresh memory, so no page faults, per chunk. */
  readReused(file: string): Buffer {
    let fd: number | undefined;
    try {
      fd = openSync(file, 'r');
      const size = fstatSync(fd).size;
      if (this.readBuf.length < size) this.readBuf = Buffer.allocUnsafeSlow(size + READ_HEADROOM);
      let off = 0;
      while (off < size) {
        const n = readSync(fd, this.readBuf, off, size - off, off);
        if (n === 0) break;
        off += n;
      }
      return this.readBuf.subarray(0, off);
    } catch (err) {
      throw new ChunkIoError('read', err);
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }

  /** `n` bytes of reused page-aligned memory (a WebAssembly memory starts on a page boundary). */
  readonly aligned = (n: number): Buffer => {
    if (this.alignedBuf.length < n) {
      const pages = Math.ceil(n / WASM_PAGE);
      this.alignedBuf = Buffer.from(new WebAssembly.Memory({ initial: pages, maximum: pages }).buffer, 0, pages * WASM_PAGE);
    }
    return this.alignedBuf.subarray(0, n);
  };

  /**
   * Writes `plain` at `target.position` of a restore target that was truncated to its size,
   * skipping all-zero blocks so they stay holes (sparse output). With `directFd` whole blocks
   * bypass the page cache: a multi-GB restore neither waits for dirty-page writeback nor
   * evicts the host's cache. A filesystem that refuses a direct write (EINVAL) gets that
   * range through `fd`. With `clusterSize` (a multiple of 4 KiB) it returns which clusters
   * of `plain` hold data (1) and which are all zero (0), one byte each: a qcow2 restore
   * leaves the zero ones unallocated.
   */
  writeSparse(target: RestoreTarget, plain: Buffer, clusterSize?: number): Uint8Array | undefined {
    try {
      return this.write(target, plain, clusterSize);
    } catch (err) {
      throw new ChunkIoError('write', err);
    }
  }

  private write(target: RestoreTarget, data: Buffer, clusterSize?: number): Uint8Array | undefined {
    const { fd, directFd, position } = target;
    const direct = directFd !== undefined && position % BLOCK === 0;
    let plain = data;
    if (direct && plain.buffer !== this.alignedBuf.buffer) {
      const a = this.aligned(plain.length);
      plain.copy(a);
      plain = a;
    }
    const n = plain.length;
    const clusters = clusterSize === undefined ? undefined : new Uint8Array(Math.ceil(n / clusterSize));
    let b = 0;
    while (b < n) {
      while (b < n && isZeroBlock(plain, b)) b += BLOCK;
      if (b >= n) break;
      let e = b;
      while (e < n && !isZeroBlock(plain, e)) e += BLOCK;
      e = Math.min(e, n);
      if (clusters !== undefined && clusterSize !== undefined) clusters.fill(1, Math.floor(b / clusterSize), Math.floor((e - 1) / clusterSize) + 1);
      let viaCache = b;
      if (directFd !== undefined && direct) {
        const whole = b + Math.floor((e - b) / BLOCK) * BLOCK;
        try {
          if (whole > b) pwriteAll(directFd, plain, b, whole - b, position + b);
          viaCache = whole;
        } catch (err) {
          if (errnoOf(err) !== 'EINVAL') throw err;
        }
      }
      if (viaCache < e) pwriteAll(fd, plain, viaCache, e - viaCache, position + viaCache);
      b = e;
    }
    return clusters;
  }
}
