/**
 * Where a disk's bytes come from during a backup, and the chunk-by-chunk plan built from it.
 * Three shapes: random access (NBD export, a file) where the writer reads exactly the chunks
 * it needs; ordered extents (allocated data only; the rest is a hole); a plain byte stream.
 */
import { Readable } from 'node:stream';
import { InvalidArgumentError, SourceError } from './errors.js';
import type { RepositoryFileSystem } from './file-system.js';
import { NodeFileSystem } from './file-system.js';
import { chunkCount, chunkLength, type ByteRange, type ChunkSlot } from './format.js';

export interface DiskExtent {
  offset: number;
  data: Uint8Array;
}

export interface RandomAccessSource {
  kind: 'random-access';
  /** Fills `into` from `position`; returns bytes read (short only at the end of the disk; the rest is zero). */
  read(into: Buffer, position: number): Promise<number>;
  /** Allocated ranges (e.g. NBD block status); chunks outside all of them are zero and are not read. */
  allocated?: readonly ByteRange[];
}

export interface ExtentSource {
  kind: 'extents';
  /** Data extents in ascending, non-overlapping order; anything not covered reads as zero. */
  extents: AsyncIterable<DiskExtent> | Iterable<DiskExtent>;
}

export interface StreamSource {
  kind: 'stream';
  /** The whole disk image from offset 0, exactly `size` bytes. */
  stream: AsyncIterable<Uint8Array>;
}

/** A Node Readable is accepted directly as a stream source. */
export type DiskSource = RandomAccessSource | ExtentSource | StreamSource | Readable;

/** One step of writing a disk, produced in chunk order. */
export type ChunkTask =
  | { index: number; length: number; kind: 'reuse'; id: ChunkSlot }
  | (ChunkOverlay & { index: number; length: number; kind: 'overlay'; /** The ranges' new bytes, read from the source, one buffer per range. */ load: () => Promise<Buffer[]>; sourceBytes: number })
  | { index: number; length: number; kind: 'zero' }
  | { index: number; length: number; kind: 'data'; load: () => Promise<Buffer>; /** Bytes read from the source (default: length). */ sourceBytes?: number };

/**
 * A dirty chunk of an incremental that changed only in part: its new content is the
 * previous backup's chunk with the dirty ranges read from the source on top, so only the
 * changed bytes cross the wire (a scattered 64 KiB write no longer costs a whole chunk).
 */
export interface ChunkPatch {
  /**
   * The previous content of the chunk (its plaintext, or zeroes), in a buffer the task may
   * own; null when it cannot be had (a damaged chunk): the chunk is then read whole.
   */
  base: () => Promise<Buffer | null>;
  /** Dirty ranges relative to the chunk's start, sorted and merged. */
  ranges: readonly ByteRange[];
}

/**
 * A dirty chunk of an incremental stored as an overlay (format.ts OverlayChunk): the previous
 * backup's base, its parts the change left alone, and the ranges to read from the source,
 * each stored as a part of its own. Nothing of the previous content is read.
 */
export interface ChunkOverlay {
  /** The previous chunk's id; null when it was zero (the base is then the all-zero chunk of its length). */
  base: string | null;
  keep: readonly [number, number, string][];
  /** Relative to the chunk's start, sorted and merged; none overlaps a kept part. */
  ranges: readonly ByteRange[];
}

export interface ChunkPlan {
  size: number;
  chunkSize: number;
  /** The previous backup's entry for chunks that are clean (not dirty), else undefined. */
  reuse(index: number): ChunkSlot | undefined;
  /** For a dirty chunk best stored as an overlay (random-access sources only). */
  overlay?(index: number): ChunkOverlay | undefined;
  /** For a dirty chunk that is cheaper to patch than to read whole (random-access sources only). */
  patch?(index: number): ChunkPatch | undefined;
}

/** Hands out chunk buffers; buffers come back through `release` to be reused. */
export interface BufferPool {
  take(length: number, zeroed: boolean): Buffer;
  release(buf: Buffer): void;
}

export function normalizeSource(source: DiskSource): RandomAccessSource | ExtentSource | StreamSource {
  if (source instanceof Readable) return { kind: 'stream', stream: source };
  return source;
}

export async function* planChunks(
  disk: string,
  source: DiskSource,
  plan: ChunkPlan,
  buffers: BufferPool,
): AsyncGenerator<ChunkTask> {
  const src = normalizeSource(source);
  switch (src.kind) {
    case 'random-access':
      yield* planRandomAccess(disk, src, plan, buffers);
      return;
    case 'extents':
      yield* planExtents(disk, src, plan, buffers);
      return;
    case 'stream':
      yield* planStream(disk, src, plan, buffers);
      return;
  }
}

async function* planRandomAccess(
  disk: string,
  src: RandomAccessSource,
  plan: ChunkPlan,
  buffers: BufferPool,
): AsyncGenerator<ChunkTask> {
  const { size, chunkSize } = plan;
  const n = chunkCount(size, chunkSize);
  const allocated = src.allocated ? sortRanges(src.allocated) : null;
  let r = 0;
  for (let index = 0; index < n; index++) {
    const offset = index * chunkSize;
    const length = chunkLength(size, chunkSize, index);
    const reused = plan.reuse(index);
    if (reused !== undefined) {
      yield { index, length, kind: 'reuse', id: reused };
      continue;
    }
    if (allocated) {
      while (r < allocated.length && end(allocated[r]!) <= offset) r++;
      const next = allocated[r];
      if (next === undefined || next.offset >= offset + length) {
        yield { index, length, kind: 'zero' };
        continue;
      }
    }
    const overlay = plan.overlay?.(index);
    if (overlay) {
      yield {
        index,
        length,
        kind: 'overlay',
        ...overlay,
        sourceBytes: overlay.ranges.reduce((sum, r) => sum + r.length, 0),
        load: async () => {
          const parts: Buffer[] = [];
          for (const r of overlay.ranges) {
            const part = Buffer.allocUnsafeSlow(r.length);
            let got: number;
            try {
              got = await src.read(part, offset + r.offset);
            } catch (err) {
              throw new SourceError(disk, `read at offset ${offset + r.offset} failed: ${errMessage(err)}`, err);
            }
            if (got < r.length) part.fill(0, got);
            parts.push(part);
          }
          return parts;
        },
      };
      continue;
    }
    // A whole chunk is read as one range over a fresh buffer; a patched one as its dirty
    // ranges over the previous backup's content.
    const whole: readonly ByteRange[] = [{ offset: 0, length }];
    const patch: ChunkPatch = plan.patch?.(index) ?? { base: () => Promise.resolve(buffers.take(length, false)), ranges: whole };
    const task: Extract<ChunkTask, { kind: 'data' }> = {
      index,
      length,
      kind: 'data',
      sourceBytes: patch.ranges.reduce((sum, r) => sum + r.length, 0),
      load: async () => {
        let buf = await patch.base();
        let ranges = patch.ranges;
        if (buf === null) {
          buf = buffers.take(length, false);
          ranges = whole;
          task.sourceBytes = length;
        }
        for (const r of ranges) {
          const part = buf.subarray(r.offset, r.offset + r.length);
          let got: number;
          try {
            got = await src.read(part, offset + r.offset);
          } catch (err) {
            buffers.release(buf);
            throw new SourceError(disk, `read at offset ${offset + r.offset} failed: ${errMessage(err)}`, err);
          }
          if (got < r.length) part.fill(0, got);
        }
        return buf;
      },
    };
    yield task;
  }
}

async function* planExtents(
  disk: string,
  src: ExtentSource,
  plan: ChunkPlan,
  buffers: BufferPool,
): AsyncGenerator<ChunkTask> {
  const { size, chunkSize } = plan;
  const n = chunkCount(size, chunkSize);
  let index = 0;
  let current: Buffer | null = null;
  let lastEnd = 0;

  function* emitUntil(target: number): Generator<ChunkTask> {
    while (index < target) {
      const length = chunkLength(size, chunkSize, index);
      const reused = plan.reuse(index);
      if (reused !== undefined) yield { index, length, kind: 'reuse', id: reused };
      else if (current === null) yield { index, length, kind: 'zero' };
      else {
        const buf: Buffer = current;
        yield { index, length, kind: 'data', load: () => Promise.resolve(buf) };
      }
      current = null;
      index++;
    }
  }

  try {
    for await (const extent of src.extents) {
      const { offset, data } = extent;
      if (!Number.isSafeInteger(offset) || offset < lastEnd) {
        throw new SourceError(disk, `extent at offset ${offset} overlaps or is out of order (previous ended at ${lastEnd})`);
      }
      if (offset + data.length > size) {
        throw new SourceError(disk, `extent at offset ${offset} (+${data.length}) goes past the disk size ${size}`);
      }
      lastEnd = offset + data.length;
      let pos = 0;
      while (pos < data.length) {
        const at = offset + pos;
        const c = Math.floor(at / chunkSize);
        yield* emitUntil(c);
        const within = at - c * chunkSize;
        const take = Math.min(data.length - pos, chunkLength(size, chunkSize, c) - within);
        if (plan.reuse(c) === undefined) {
          current ??= buffers.take(chunkLength(size, chunkSize, c), true);
          current.set(data.subarray(pos, pos + take), within);
        }
        pos += take;
      }
    }
  } catch (err) {
    if (current) buffers.release(current);
    throw err instanceof SourceError ? err : new SourceError(disk, errMessage(err), err);
  }
  yield* emitUntil(n);
}

async function* planStream(
  disk: string,
  src: StreamSource,
  plan: ChunkPlan,
  buffers: BufferPool,
): AsyncGenerator<ChunkTask> {
  const { size, chunkSize } = plan;
  const n = chunkCount(size, chunkSize);
  let index = 0;
  let fill = 0;
  let current: Buffer | null = null;
  let position = 0;
  try {
    for await (const piece of src.stream) {
      let pos = 0;
      while (pos < piece.length) {
        if (index >= n) throw new SourceError(disk, `the stream is longer than the disk size ${size}`);
        const length = chunkLength(size, chunkSize, index);
        const take = Math.min(piece.length - pos, length - fill);
        const reused = plan.reuse(index);
        if (reused === undefined) {
          current ??= buffers.take(length, false);
          current.set(piece.subarray(pos, pos + take), fill);
        }
        fill += take;
        pos += take;
        position += take;
        if (fill === length) {
          if (reused !== undefined) yield { index, length, kind: 'reuse', id: reused };
          else {
            const buf: Buffer = current ?? buffers.take(length, true);
            yield { index, length, kind: 'data', load: () => Promise.resolve(buf) };
          }
          current = null;
          fill = 0;
          index++;
        }
      }
    }
  } catch (err) {
    if (current) buffers.release(current);
    throw err instanceof SourceError ? err : new SourceError(disk, errMessage(err), err);
  }
  if (index < n) throw new SourceError(disk, `the stream ended at byte ${position} of ${size}`);
}

function end(r: ByteRange): number {
  return r.offset + r.length;
}

/** Sorted, merged copy of a list of ranges (empty ranges dropped). */
export function sortRanges(ranges: readonly ByteRange[]): ByteRange[] {
  for (const r of ranges) {
    if (!Number.isSafeInteger(r.offset) || !Number.isSafeInteger(r.length) || r.offset < 0 || r.length < 0) {
      throw new InvalidArgumentError(`invalid byte range ${JSON.stringify(r)}`);
    }
  }
  const sorted = ranges.filter((r) => r.length > 0).sort((a, b) => a.offset - b.offset);
  const out: ByteRange[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r.offset <= end(last)) last.length = Math.max(end(last), end(r)) - last.offset;
    else out.push({ offset: r.offset, length: r.length });
  }
  return out;
}

/** The dirty ranges inside each chunk they touch, relative to the chunk's start. */
export function dirtyRangesByChunk(ranges: readonly ByteRange[], size: number, chunkSize: number): Map<number, ByteRange[]> {
  const out = new Map<number, ByteRange[]>();
  for (const r of sortRanges(ranges)) {
    const stop = Math.min(end(r), size);
    for (let pos = r.offset; pos < stop; ) {
      const c = Math.floor(pos / chunkSize);
      const chunkEnd = Math.min((c + 1) * chunkSize, stop);
      const list = out.get(c) ?? [];
      list.push({ offset: pos - c * chunkSize, length: chunkEnd - pos });
      out.set(c, list);
      pos = chunkEnd;
    }
  }
  return out;
}

/** Marks every chunk a set of dirty ranges touches. */
export function dirtyChunkMap(ranges: readonly ByteRange[], size: number, chunkSize: number): Uint8Array {
  const map = new Uint8Array(chunkCount(size, chunkSize));
  for (const r of sortRanges(ranges)) {
    if (r.offset >= size) continue;
    const last = Math.min(end(r), size) - 1;
    for (let c = Math.floor(r.offset / chunkSize); c <= Math.floor(last / chunkSize); c++) map[c] = 1;
  }
  return map;
}

/** The chunk-aligned ranges a caller must supply for an extents source when only `dirty` changed. */
export function alignToChunks(ranges: readonly ByteRange[], size: number, chunkSize: number): ByteRange[] {
  const map = dirtyChunkMap(ranges, size, chunkSize);
  const out: ByteRange[] = [];
  for (let c = 0; c < map.length; c++) {
    if (!map[c]) continue;
    const offset = c * chunkSize;
    const length = chunkLength(size, chunkSize, c);
    const last = out[out.length - 1];
    if (last && end(last) === offset) last.length += length;
    else out.push({ offset, length });
  }
  return out;
}

export interface FileSource {
  source: RandomAccessSource;
  size: number;
  close(): Promise<void>;
}

/** A disk image file (raw) as a random-access source. */
export async function openFileSource(file: string, fs: RepositoryFileSystem = new NodeFileSystem()): Promise<FileSource> {
  const handle = await fs.openRead(file);
  const size = await handle.size();
  return {
    source: { kind: 'random-access', read: (into, position) => handle.read(into, position) },
    size,
    close: () => handle.close(),
  };
}

function errMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
