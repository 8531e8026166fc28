/**
 * Overlay planning (FORMAT.md "Overlays"): which partly changed chunks of an incremental are
 * stored as overlays of the previous backup's chunk, and what an incremental will read.
 */
import { dirtyRangesByChunk, sortRanges, type ChunkOverlay } from './disk-source.js';
import { chunkLength, expandChunks, type ByteRange, type ChunkSlot, type DiskManifest } from './format.js';

/**
 * An overlay (format.ts OverlayChunk) holds at most this many parts and covers at most half
 * of its chunk; a change beyond that stores the chunk whole again. Bounds what a restore
 * reads for one chunk: its base and a few small parts. FORMAT.md "Overlays".
 */
export const OVERLAY_MAX_PARTS = 8;

/**
 * How a partly changed chunk is stored as an overlay of its previous slot, if it can be: the
 * previous base (null for a chunk that was zero: the all-zero chunk of its length), the
 * previous parts no dirty range touches (a touched one is read again in full, so parts never
 * overlap), the ranges to read. Undefined when the base is damaged, or the overlay would pass
 * OVERLAY_MAX_PARTS or half of the chunk.
 *
 * A damaged part is touched too: its range is read again, and as the bytes there are the
 * ones it held (a clean chunk, `dirty` empty) it gets the same id and is stored again, which
 * heals every older backup that has it.
 */
export function overlayOf(previous: ChunkSlot | undefined, dirty: readonly ByteRange[] | undefined, length: number, damaged: ReadonlySet<string>): ChunkOverlay | undefined {
  if (previous === undefined) return undefined;
  if (!dirty?.length && (previous === null || typeof previous === 'string')) return undefined;
  const base = previous === null ? null : typeof previous === 'string' ? previous : previous.base;
  if (base !== null && damaged.has(base)) return undefined;
  let ranges = sortRanges(dirty ?? []);
  let keep = previous === null || typeof previous === 'string' ? [] : [...previous.over];
  for (;;) {
    const touched = keep.filter(([offset, len, id]) => damaged.has(id) || ranges.some((r) => r.offset < offset + len && offset < r.offset + r.length));
    if (touched.length === 0) break;
    keep = keep.filter((p) => !touched.includes(p));
    ranges = sortRanges([...ranges, ...touched.map(([offset, len]) => ({ offset, length: len }))]);
  }
  if (ranges.length === 0) return undefined; // nothing changed and nothing damaged: reused as it is
  if (keep.length + ranges.length > OVERLAY_MAX_PARTS) return undefined;
  const covered = ranges.reduce((sum, r) => sum + r.length, 0) + keep.reduce((sum, p) => sum + p[1], 0);
  if (covered * 2 > length) return undefined;
  return { base, keep, ranges };
}

/**
 * The bytes an incremental of a disk reads from a random-access source with `partialChunks:
 * 'read'` and overlays (for a progress bar's total): the ranges of each chunk stored as an
 * overlay or patched over a chunk that was zero, whole chunks for the rest of the dirty ones
 * that hold allocated data. Chunks on the
 * damaged list, unknown here, make the real figure larger.
 */
export function incrementalReadBytes(previous: DiskManifest, dirty: readonly ByteRange[], allocated: readonly ByteRange[], size: number): number {
  const { chunkSize } = previous;
  const prevSlots = expandChunks(previous);
  const alloc = sortRanges(allocated);
  const none = new Set<string>();
  let total = 0;
  let a = 0;
  for (const [c, inChunk] of [...dirtyRangesByChunk(dirty, size, chunkSize)].sort((x, y) => x[0] - y[0])) {
    const start = c * chunkSize;
    const length = chunkLength(size, chunkSize, c);
    while (a < alloc.length && alloc[a]!.offset + alloc[a]!.length <= start) a++;
    if (a >= alloc.length || alloc[a]!.offset >= start + length) continue; // read as zero, not at all
    const sameLength = c < prevSlots.length && chunkLength(previous.size, chunkSize, c) === length;
    const o = sameLength ? overlayOf(prevSlots[c], inChunk, length, none) : undefined;
    const dirtyBytes = inChunk.reduce((s, r) => s + r.length, 0);
    // An overlay reads its ranges; a chunk that was zero and changed in more than 8 places, its
    // dirty ranges (patched over zeros).
    if (o) total += o.ranges.reduce((s, r) => s + r.length, 0);
    else if (sameLength && prevSlots[c] === null && dirtyBytes * 2 <= length) total += dirtyBytes;
    else total += length;
  }
  return total;
}
