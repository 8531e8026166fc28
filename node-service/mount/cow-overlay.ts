/**
 * Copy-on-write overlay over a read-only disk: writes go to a sparse temp file in a given
 * directory (the node's staging space) and an in-memory map of written ranges; reads merge
 * the overlay with the base. Filesystems can then replay their journals while the backup
 * stays untouched. The file is unlinked as soon as it is open, so it is gone when the
 * overlay closes, and also if the process dies. Byte-granular: no read-modify-write.
 */
import { randomBytes } from 'node:crypto';
import { open, unlink, type FileHandle } from 'node:fs/promises';
import * as path from 'node:path';
import { appendRun, type BlockDevice, type DiskRun } from './block-device.js';

/** A written range: data in the overlay file, or zeros (TRIM, WRITE_ZEROES) that need no file space. */
interface Extent {
  start: number;
  end: number;
  zero: boolean;
}

export interface Piece {
  start: number;
  end: number;
  /** base: read through to the backup; data: the overlay file; zero: zeros. */
  from: 'base' | 'data' | 'zero';
}

/** Sorted, non-overlapping written ranges; neighbours of the same kind are merged. */
export class OverlayExtents {
  private list: Extent[] = [];

  /** Number of extents (for tests and stats). */
  get count(): number {
    return this.list.length;
  }

  /** Bytes covered by the overlay. */
  get bytes(): number {
    return this.list.reduce((n, e) => n + e.end - e.start, 0);
  }

  set(start: number, end: number, zero: boolean): void {
    if (end <= start) return;
    const i = this.firstEndingAtOrAfter(start);
    const before: Extent[] = [];
    const after: Extent[] = [];
    let s = start;
    let e = end;
    let j = i;
    for (; j < this.list.length; j++) {
      const x = this.list[j];
      if (!x || x.start > end) break;
      if (x.zero === zero) {
        s = Math.min(s, x.start);
        e = Math.max(e, x.end);
      } else {
        if (x.start < start) before.push({ start: x.start, end: start, zero: x.zero });
        if (x.end > end) after.push({ start: end, end: x.end, zero: x.zero });
      }
    }
    this.list.splice(i, j - i, ...before, { start: s, end: e, zero }, ...after);
  }

  /** [start, end) cut into consecutive pieces by where each byte comes from. */
  pieces(start: number, end: number): Piece[] {
    const out: Piece[] = [];
    let at = start;
    for (let i = this.firstEndingAtOrAfter(start + 1); i < this.list.length && at < end; i++) {
      const x = this.list[i];
      if (!x || x.start >= end) break;
      if (x.start > at) out.push({ start: at, end: x.start, from: 'base' });
      const to = Math.min(end, x.end);
      out.push({ start: Math.max(at, x.start), end: to, from: x.zero ? 'zero' : 'data' });
      at = to;
    }
    if (at < end) out.push({ start: at, end, from: 'base' });
    return out;
  }

  /** Index of the first extent whose end is >= pos. */
  private firstEndingAtOrAfter(pos: number): number {
    let lo = 0;
    let hi = this.list.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const x = this.list[mid];
      if (x && x.end < pos) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

export class CowOverlay implements BlockDevice {
  readonly writable = true;
  readonly size: number;
  private readonly extents = new OverlayExtents();
  private closed = false;

  private constructor(
    private readonly base: BlockDevice,
    private readonly file: FileHandle,
  ) {
    this.size = base.size;
  }

  /** Creates the overlay's sparse file (mode 0600) in `dir` and unlinks it at once. */
  static async create(base: BlockDevice, dir: string): Promise<CowOverlay> {
    const file = path.join(dir, `.vplus-overlay-${randomBytes(8).toString('hex')}.img`);
    const handle = await open(file, 'wx+', 0o600);
    try {
      await unlink(file);
      await handle.truncate(base.size);
    } catch (err) {
      await handle.close();
      await unlink(file).catch(() => undefined); // already gone when only the truncate failed
      throw err;
    }
    return new CowOverlay(base, handle);
  }

  /** Bytes written to (or zeroed in) the overlay so far. */
  get overlayBytes(): number {
    return this.extents.bytes;
  }

  async read(offset: number, length: number): Promise<Buffer> {
    const end = Math.min(this.size, offset + length);
    if (end <= offset) return Buffer.alloc(0);
    const pieces = this.extents.pieces(offset, end);
    const only = pieces[0];
    if (pieces.length === 1 && only?.from === 'base') return this.base.read(offset, end - offset);
    const out = Buffer.alloc(end - offset);
    await Promise.all(
      pieces.map(async (p) => {
        if (p.from === 'zero') return;
        if (p.from === 'base') {
          const got = await this.base.read(p.start, p.end - p.start);
          got.copy(out, p.start - offset);
          return;
        }
        let done = 0;
        while (done < p.end - p.start) {
          const { bytesRead } = await this.file.read(out, p.start - offset + done, p.end - p.start - done, p.start + done);
          if (bytesRead === 0) break; // beyond what was ever written: stays zero
          done += bytesRead;
        }
      }),
    );
    return out;
  }

  runs(offset: number, length: number): DiskRun[] {
    const end = Math.min(this.size, offset + length);
    const out: DiskRun[] = [];
    for (const p of this.extents.pieces(offset, end)) {
      if (p.from === 'base') for (const r of this.base.runs(p.start, p.end - p.start)) appendRun(out, r);
      else appendRun(out, { offset: p.start, length: p.end - p.start, zero: p.from === 'zero' });
    }
    return out;
  }

  async write(offset: number, data: Buffer): Promise<void> {
    let done = 0;
    while (done < data.length) {
      const { bytesWritten } = await this.file.write(data, done, data.length - done, offset + done);
      done += bytesWritten;
    }
    // Marked only once the bytes are in the file: a concurrent read sees old or new data, never a mix of garbage.
    this.extents.set(offset, offset + data.length, false);
  }

  async zero(offset: number, length: number): Promise<void> {
    this.extents.set(offset, offset + length, true);
  }

  async flush(): Promise<void> {
    await this.file.datasync();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.file.close();
  }
}
