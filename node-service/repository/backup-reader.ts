/**
 * Reading one backup: a disk as an ordered byte stream, as data extents (zero chunks
 * skipped), restored into a sparse file, or by random-access ranges through a small chunk
 * cache (the mount feature). Every backup is a complete index, so none of this looks at
 * any other backup.
 */
import { fchmod } from 'node:fs';
import { chmod } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import type { ChunkReader } from './chunk-store.js';
import { mapOrdered, runBounded } from './concurrency.js';
import { DiskNotFoundError, InvalidArgumentError, RestoreTargetError } from './errors.js';
import type { RepositoryFileSystem } from './file-system.js';
import { chunkLength, composeSlot, expandChunks, forEachDataChunk, type BackupManifest, type ChunkSlot, type DiskManifest, type OverlayChunk } from './format.js';

export interface ReaderContext {
  fs: RepositoryFileSystem;
  chunks: ChunkReader;
  /** Chunks fetched concurrently when streaming or restoring. */
  readAhead: number;
  /** Decoded chunks kept for readRange. */
  cacheChunks: number;
  /**
   * readRange that goes on where the previous one of the disk ended fetches this many of the
   * next chunks ahead (0: none). For sequential readers such as a mounted filesystem's file
   * reads; the cache must hold them (cacheChunks > this).
   */
  sequentialPrefetch?: number;
}

export interface RestoreProgress {
  disk: string;
  bytesDone: number;
  bytesTotal: number;
}

/** Restored images hold a whole VM's data: readable by their owner only unless the admin says otherwise. */
export const RESTORED_FILE_MODE = 0o600;

export interface RestoreFileOptions {
  /** Permission bits of the restored file (default RESTORED_FILE_MODE), also when it existed before. */
  mode?: number;
}

const fchmodAsync = promisify(fchmod);

/**
 * Where a restore puts each data chunk of a disk, for an image format with a layout of its
 * own (qcow2: platforms/kvm/qcow2-writer.ts), planned before the first byte so the worker
 * threads write every chunk at its final place in parallel.
 */
export interface RestoreLayout {
  /** The file is truncated to this size first: what is not written reads as zeros (a hole). */
  readonly fileSize: number;
  /** The unit (a multiple of 4 KiB) whose data-or-zero state `written` reports. */
  readonly clusterSize: number;
  /** The file position of the data chunk at disk offset `offset`. */
  position(offset: number): number;
  /** A chunk is written: one byte per cluster of it, 1 where it holds data (all-zero clusters were not written). */
  written(offset: number, nonZeroClusters: Uint8Array): void;
  /** Every chunk is written: the layout's own metadata, written through `write` before the file is synced. */
  finish(write: (data: Uint8Array, position: number) => Promise<void>): Promise<void>;
}

/** A raw image: every chunk at its own offset, all-zero 4 KiB blocks left as holes, no metadata. */
function rawLayout(size: number): RestoreLayout {
  return { fileSize: size, clusterSize: 4096, position: (offset) => offset, written: () => undefined, finish: () => Promise.resolve() };
}

/** A data chunk to restore: its slot (an id, or an overlay composed on this thread), offset and length. */
interface DataChunk {
  slot: string | OverlayChunk;
  offset: number;
  length: number;
}

function dataChunksOf(disk: DiskManifest): DataChunk[] {
  const list: DataChunk[] = [];
  forEachDataChunk(disk, (slot, _index, offset, length) => list.push({ slot, offset, length }));
  return list;
}

/** Writes the clusters of `plain` that hold data (runs of them at once) at `position`; returns the cluster map. */
async function writeDataClusters(out: { write(data: Uint8Array, position: number): Promise<void> }, plain: Buffer, position: number, clusterSize: number): Promise<Uint8Array> {
  const map = nonZeroClustersOf(plain, clusterSize);
  for (let i = 0; i < map.length; ) {
    if (map[i] !== 1) {
      i++;
      continue;
    }
    let j = i;
    while (j < map.length && map[j] === 1) j++;
    await out.write(plain.subarray(i * clusterSize, j * clusterSize), position + i * clusterSize);
    i = j;
  }
  return map;
}

function nonZeroClustersOf(plain: Buffer, clusterSize: number): Uint8Array {
  const map = new Uint8Array(Math.ceil(plain.length / clusterSize));
  for (let i = 0; i < map.length; i++) {
    const from = i * clusterSize;
    const to = Math.min(plain.length, from + clusterSize);
    for (let j = from; j < to; j++) {
      if (plain[j] !== 0) {
        map[i] = 1;
        break;
      }
    }
  }
  return map;
}

export interface RestoreResult {
  size: number;
  /** Bytes actually written (non-zero chunks); the rest is left as holes. */
  dataBytes: number;
}

export class BackupReader {
  private readonly cache = new Map<string, Buffer>();
  private readonly loading = new Map<string, Promise<Buffer>>();
  private readonly slotsByDisk = new Map<string, ChunkSlot[]>();

  constructor(
    readonly manifest: BackupManifest,
    private readonly ctx: ReaderContext,
  ) {}

  get id(): string {
    return this.manifest.id;
  }

  disk(name: string): DiskManifest {
    const d = this.manifest.disks.find((x) => x.name === name);
    if (!d) throw new DiskNotFoundError(this.manifest.id, name);
    return d;
  }

  /** The whole disk as a byte stream, zero regions included (generated, not read). */
  readDisk(name: string): Readable {
    const disk = this.disk(name);
    const slots = this.slots(disk);
    const indices = slots.keys();
    const chunks = this.ctx.chunks;
    const fetch = async (i: number): Promise<Buffer> => {
      const slot = slots[i];
      const length = chunkLength(disk.size, disk.chunkSize, i);
      if (slot === null || slot === undefined) return Buffer.alloc(length);
      return composeSlot(slot, length, async (id, len) => (await chunks.fetch(id, len)).plain);
    };
    return Readable.from(mapOrdered(indices, this.ctx.readAhead, fetch), { objectMode: false, highWaterMark: disk.chunkSize });
  }

  /** The disk's non-zero chunks in order, as (offset, data) extents. */
  async *readExtents(name: string): AsyncGenerator<{ offset: number; data: Buffer }> {
    const list = dataChunksOf(this.disk(name));
    yield* mapOrdered(list, this.ctx.readAhead, async (c) => ({ offset: c.offset, data: await this.plainOf(c) }));
  }

  /**
   * Restores a disk into a raw image file, leaving zero chunks and all-zero 4 KiB blocks as
   * holes (the file is truncated first). Chunks are read, decoded and written by the worker
   * threads in parallel, bypassing the page cache where the filesystem allows (O_DIRECT);
   * fsyncs before returning. The file gets `options.mode` (0600) before any data is written.
   */
  async restoreToFile(name: string, file: string, onProgress?: (p: RestoreProgress) => void, options: RestoreFileOptions = {}): Promise<RestoreResult> {
    return this.restoreToLayout(name, file, rawLayout(this.disk(name).size), onProgress, options);
  }

  /**
   * Restores a disk into an image file laid out by `layout`: each data chunk is decoded and
   * written by a worker thread at `layout.position(offset)` (O_DIRECT where it can, all-zero
   * 4 KiB blocks skipped), its cluster map handed to `layout.written`; then `layout.finish`
   * writes the metadata and the file is fsynced (restoreToFile is this with a raw layout); `signal`
   * stops it between chunks (it rejects with the signal's reason).
   */
  async restoreToLayout(
    name: string,
    file: string,
    layout: RestoreLayout,
    onProgress?: (p: RestoreProgress) => void,
    options: RestoreFileOptions & { signal?: AbortSignal } = {},
  ): Promise<RestoreResult> {
    const disk = this.disk(name);
    const list = dataChunksOf(disk);
    const where = `restoring disk ${name} to ${file}`;
    const targetError = (err: unknown): unknown => (err instanceof RestoreTargetError ? err : new RestoreTargetError(file, where, err));
    const out = await this.ctx.fs.openWrite(file, { direct: true }).catch((err: unknown) => {
      throw targetError(err);
    });
    let dataBytes = 0;
    try {
      try {
        const mode = options.mode ?? RESTORED_FILE_MODE;
        await (out.fd !== undefined ? fchmodAsync(out.fd, mode) : chmod(file, mode));
        await out.truncate(0);
        await out.truncate(layout.fileSize);
      } catch (err) {
        throw targetError(err);
      }
      let done = disk.size - list.reduce((s, c) => s + c.length, 0);
      const { fd, directFd } = out;
      const { clusterSize } = layout;
      options.signal?.throwIfAborted();
      await runBounded(list, this.ctx.readAhead, async (c) => {
        options.signal?.throwIfAborted();
        const position = layout.position(c.offset);
        if (fd !== undefined && typeof c.slot === 'string') {
          layout.written(c.offset, await this.ctx.chunks.writeClustersTo(c.slot, c.length, { fd, directFd, position, target: file, clusterSize }));
        } else {
          const plain = await this.plainOf(c);
          try {
            layout.written(c.offset, await writeDataClusters(out, plain, position, clusterSize));
          } catch (err) {
            throw targetError(err);
          }
        }
        dataBytes += c.length;
        done += c.length;
        onProgress?.({ disk: name, bytesDone: done, bytesTotal: disk.size });
      });
      options.signal?.throwIfAborted();
      try {
        await layout.finish((data, position) => out.write(data, position));
        await out.sync();
      } catch (err) {
        throw targetError(err);
      }
    } finally {
      await out.close();
    }
    return { size: disk.size, dataBytes };
  }

  /** Random access: `length` bytes at `offset` (shorter only at the end of the disk). */
  async readRange(name: string, offset: number, length: number): Promise<Buffer> {
    const disk = this.disk(name);
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
      throw new InvalidArgumentError(`invalid range ${offset}+${length}`);
    }
    const endPos = Math.min(disk.size, offset + length);
    if (endPos <= offset) return Buffer.alloc(0);
    const out = Buffer.alloc(endPos - offset);
    const slots = this.slots(disk);
    const first = Math.floor(offset / disk.chunkSize);
    const last = Math.floor((endPos - 1) / disk.chunkSize);
    const parts: Promise<void>[] = [];
    for (let i = first; i <= last; i++) {
      const slot = slots[i];
      if (slot === null || slot === undefined) continue; // zero chunk: `out` is already zero there
      const chunkStart = i * disk.chunkSize;
      const from = Math.max(offset, chunkStart);
      const to = Math.min(endPos, chunkStart + disk.chunkSize);
      parts.push(
        this.cached(slot, chunkLength(disk.size, disk.chunkSize, i)).then((plain) => {
          plain.copy(out, from - offset, from - chunkStart, to - chunkStart);
        }),
      );
    }
    this.prefetchAfter(disk, slots, first, last);
    await Promise.all(parts);
    return out;
  }

  /** Where each disk's last readRange ended (chunk index), for sequential prefetch. */
  private readonly lastChunk = new Map<string, number>();

  private prefetchAfter(disk: DiskManifest, slots: ChunkSlot[], first: number, last: number): void {
    const n = Math.min(this.ctx.sequentialPrefetch ?? 0, this.ctx.cacheChunks - (last - first + 1) - 1);
    const previous = this.lastChunk.get(disk.name);
    this.lastChunk.set(disk.name, last);
    if (n <= 0 || previous === undefined || (first !== previous && first !== previous + 1)) return;
    for (let i = last + 1; i <= last + n && i < slots.length; i++) {
      const slot = slots[i];
      if (slot === null || slot === undefined || this.cache.has(cacheKey(slot)) || this.loading.has(cacheKey(slot))) continue;
      // Fire and forget: a failure shows when the chunk is really read.
      this.cached(slot, chunkLength(disk.size, disk.chunkSize, i)).catch(() => undefined);
    }
  }

  /** A data chunk's plaintext (an overlay composed from its base and parts). */
  private plainOf(c: DataChunk): Promise<Buffer> {
    return composeSlot(c.slot, c.length, async (id, length) => (await this.ctx.chunks.fetch(id, length)).plain);
  }

  private slots(disk: DiskManifest): ChunkSlot[] {
    let s = this.slotsByDisk.get(disk.name);
    if (!s) {
      s = expandChunks(disk);
      this.slotsByDisk.set(disk.name, s);
    }
    return s;
  }

  private async cached(slot: string | OverlayChunk, length: number): Promise<Buffer> {
    const id = cacheKey(slot);
    const hit = this.cache.get(id);
    if (hit) {
      // Map order is insertion order: re-insert to mark as most recently used.
      this.cache.delete(id);
      this.cache.set(id, hit);
      return hit;
    }
    const inflight = this.loading.get(id);
    if (inflight) return inflight;
    const load = this.plainOf({ slot, offset: 0, length });
    this.loading.set(id, load);
    try {
      const plain = await load;
      this.cache.set(id, plain);
      while (this.cache.size > this.ctx.cacheChunks) {
        const oldest = this.cache.keys().next().value;
        if (oldest === undefined) break;
        this.cache.delete(oldest);
      }
      return plain;
    } finally {
      this.loading.delete(id);
    }
  }
}

/** The decoded-chunk cache's key of a slot: its id, or an overlay's ids. */
function cacheKey(slot: string | OverlayChunk): string {
  return typeof slot === 'string' ? slot : `${slot.base}+${slot.over.map((p) => p[2]).join('+')}`;
}
