/**
 * The little a disk reader needs from a disk: random reads and a size. A backup's disk is
 * served over NBD later; tests and tools use a file. Readers in this folder never write.
 */
import fs from 'node:fs/promises';

export interface BlockSource {
  /** Size in bytes. */
  readonly size: number;
  /** Fills `into` from `offset`; returns bytes read (short only at the end of the source). */
  read(into: Buffer, offset: number): Promise<number>;
}

export type DiskLayoutErrorCode = 'READ_FAILED' | 'INVALID_ARGUMENT';

/** A disk that could not be read at all (I/O), as opposed to content we cannot interpret. */
export class DiskLayoutError extends Error {
  readonly code: DiskLayoutErrorCode;

  constructor(code: DiskLayoutErrorCode, message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = new.target.name;
    this.code = code;
  }
}

/** `length` bytes from `offset`; whatever lies past the end of the source reads as zero. */
export async function readAt(source: BlockSource, offset: number, length: number): Promise<Buffer> {
  if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
    throw new DiskLayoutError('INVALID_ARGUMENT', `cannot read ${length} bytes at offset ${offset}`);
  }
  const out = Buffer.alloc(length);
  let done = 0;
  const end = Math.min(length, Math.max(0, source.size - offset));
  while (done < end) {
    let n: number;
    try {
      n = await source.read(out.subarray(done, end), offset + done);
    } catch (err) {
      throw new DiskLayoutError('READ_FAILED', `reading the disk at offset ${offset + done} failed: ${err instanceof Error ? err.message : String(err)}`, err);
    }
    if (n <= 0) break;
    done += n;
  }
  return out;
}

/** Where a range of a volume lives on a source. */
export interface SourceExtent {
  source: BlockSource;
  offset: number;
  length: number;
}

/** Several ranges, one after the other, as one source (a partition is one, an LV one or more). */
export function concatSource(extents: readonly SourceExtent[]): BlockSource {
  const size = extents.reduce((sum, e) => sum + e.length, 0);
  return {
    size,
    async read(into, offset) {
      let done = 0;
      let base = 0;
      for (const e of extents) {
        const want = Math.min(into.length, size - offset) - done;
        if (want <= 0) break;
        const pos = offset + done;
        if (pos < base + e.length) {
          const n = Math.min(want, base + e.length - pos);
          const chunk = await readAt(e.source, e.offset + (pos - base), n);
          chunk.copy(into, done);
          done += n;
        }
        base += e.length;
      }
      return done;
    },
  };
}

/** A window of a source (a partition of a disk). */
export function sliceSource(source: BlockSource, offset: number, length: number): BlockSource {
  return concatSource([{ source, offset, length }]);
}

/** A raw disk image file, read-only. */
export async function openFileBlockSource(file: string): Promise<BlockSource & { close(): Promise<void> }> {
  const handle = await fs.open(file, 'r');
  const { size } = await handle.stat();
  return {
    size,
    read: async (into, offset) => (await handle.read(into, 0, into.length, offset)).bytesRead,
    close: () => handle.close(),
  };
}
