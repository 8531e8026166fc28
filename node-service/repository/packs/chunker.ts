/**
 * Cutting file content into blobs. Content-defined chunking (FastCDC: a gear rolling hash
 * with normalized chunking) for file content: a cut depends on the bytes around it, not on
 * their offset, so an edit that inserts or removes bytes (an Office file is a zip whose
 * members move when one changes) re-stores only the blobs around the edit; the same, with
 * smaller blobs, for object logs, which change at their start and grow at their end.
 * The gear table comes from a repository secret, so blob sizes do not reveal known files.
 */
import { hkdfSync } from 'node:crypto';

export interface CdcParams {
  min: number;
  avg: number;
  max: number;
}

/** Blobs of 256 KiB to 4 MiB, 1 MiB on average: the VM chunk size, one index entry per MiB. */
export const DEFAULT_CDC: CdcParams = { min: 256 * 1024, avg: 1024 * 1024, max: 4 * 1024 * 1024 };

/** Object logs: 16 KiB to 256 KiB, 64 KiB on average, so a point re-stores little more than what changed. */
export const METADATA_CDC: CdcParams = { min: 16 * 1024, avg: 64 * 1024, max: 256 * 1024 };

export function gearTable(seed: Buffer): Uint32Array {
  const bytes = Buffer.from(hkdfSync('sha256', seed, Buffer.alloc(0), 'vplus/packs/v1/gear-table', 1024));
  const table = new Uint32Array(256);
  for (let i = 0; i < 256; i++) table[i] = bytes.readUInt32LE(i * 4);
  return table;
}

/** A mask of `bits` ones in the high bits of the 32-bit hash (they depend on the most bytes). */
function highMask(bits: number): number {
  return (((1 << bits) - 1) << (32 - bits)) | 0;
}

export class Cdc {
  private readonly maskS: number;
  private readonly maskL: number;

  constructor(
    private readonly gear: Uint32Array,
    readonly params: CdcParams = DEFAULT_CDC,
  ) {
    if (!(params.min > 0 && params.min <= params.avg && params.avg <= params.max)) throw new Error('CDC sizes must be 0 < min ≤ avg ≤ max');
    const bits = Math.round(Math.log2(params.avg));
    // Normalized chunking (level 2): harder to cut before the average size, easier after.
    this.maskS = highMask(Math.min(31, bits + 2));
    this.maskL = highMask(Math.max(1, bits - 2));
  }

  /** Length of the first blob of `buf[0, length)`; with fewer than `max` bytes and no cut point, all of them. */
  cut(buf: Uint8Array, length: number): number {
    const { min, avg, max } = this.params;
    if (length <= min) return length;
    const normal = Math.min(avg, length);
    const end = Math.min(max, length);
    const gear = this.gear;
    let fp = 0;
    let i = min;
    for (; i < normal; i++) {
      fp = ((fp << 1) + gear[buf[i]!]!) | 0;
      if ((fp & this.maskS) === 0) return i + 1;
    }
    for (; i < end; i++) {
      fp = ((fp << 1) + gear[buf[i]!]!) | 0;
      if ((fp & this.maskL) === 0) return i + 1;
    }
    return end;
  }

  /** Cuts a buffer into blobs (views of it, no copy). */
  *splitBuffer(buf: Uint8Array): Generator<Buffer> {
    const whole = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
    for (let off = 0; off < whole.length; ) {
      const n = this.cut(whole.subarray(off), whole.length - off);
      yield whole.subarray(off, off + n);
      off += n;
    }
  }

  /** Cuts a stream of bytes into blobs (each a buffer of its own). */
  async *split(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): AsyncGenerator<Buffer> {
    const max = this.params.max;
    // Grows with the content: most files are small, and a 2 × max buffer per file would cost more than the file.
    let pending = Buffer.allocUnsafe(0);
    let len = 0;
    const take = (n: number): Buffer => {
      const out = Buffer.allocUnsafe(n);
      pending.copy(out, 0, 0, n);
      pending.copyWithin(0, n, len);
      len -= n;
      return out;
    };
    for await (const piece of source) {
      let off = 0;
      while (off < piece.length) {
        if (len === pending.length) {
          const grown = Buffer.allocUnsafe(Math.min(2 * max, Math.max(pending.length * 2, len + piece.length - off)));
          pending.copy(grown, 0, 0, len);
          pending = grown;
        }
        const n = Math.min(piece.length - off, pending.length - len);
        pending.set(piece.subarray(off, off + n), len);
        len += n;
        off += n;
        while (len >= max) yield take(this.cut(pending, len));
      }
    }
    while (len > 0) yield take(this.cut(pending, len));
  }
}

/** Cuts a stream into pieces of exactly `size` bytes (the last may be shorter). */
export async function* fixedPieces(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, size: number): AsyncGenerator<Buffer> {
  let pending = Buffer.allocUnsafe(size);
  let len = 0;
  for await (const piece of source) {
    let off = 0;
    while (off < piece.length) {
      const n = Math.min(piece.length - off, size - len);
      pending.set(piece.subarray(off, off + n), len);
      len += n;
      off += n;
      if (len === size) {
        yield pending;
        pending = Buffer.allocUnsafe(size);
        len = 0;
      }
    }
  }
  if (len > 0) yield pending.subarray(0, len);
}
