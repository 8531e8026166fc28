/**
 * What the NBD server serves. A backup is read through `BackupDataSource` (random-access
 * ranges of a disk, its size and its zero/data runs), implemented over the repository's
 * BackupReader; a `BlockDevice` is one disk of it as the server sees it: read-only, or
 * writable through a copy-on-write overlay (cow-overlay.ts).
 */
import type { BackupReader } from '../repository/backup-reader.js';
import type { DiskRun } from './nbd-protocol.js';

export type { DiskRun } from './nbd-protocol.js';

export interface BackupDataSource {
  /** Disk names in manifest order. */
  readonly disks: readonly string[];
  diskSize(disk: string): number;
  /** `length` bytes at `offset` (shorter only at the end of the disk). */
  readRange(disk: string, offset: number, length: number): Promise<Buffer>;
  /** The whole disk as consecutive runs, in order: zero chunks are zero runs, the rest data. */
  runs(disk: string): readonly DiskRun[];
}

export interface BlockDevice {
  readonly size: number;
  readonly writable: boolean;
  read(offset: number, length: number): Promise<Buffer>;
  /** Runs covering [offset, offset + length) clipped to the device, in order, the first at `offset`. */
  runs(offset: number, length: number): DiskRun[];
  write(offset: number, data: Buffer): Promise<void>;
  /** Makes the range read as zeros (TRIM and WRITE_ZEROES). */
  zero(offset: number, length: number): Promise<void>;
  /** Makes completed writes durable. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

/** The error a device raises for a request it must refuse (mapped to NBD_EPERM). */
export class ReadOnlyDeviceError extends Error {
  constructor() {
    super('the export is read-only (served without a copy-on-write overlay)');
    this.name = 'ReadOnlyDeviceError';
  }
}

/** Only the chosen disks of a backup. */
export function restrictDisks(source: BackupDataSource, disks: readonly string[] | undefined): BackupDataSource {
  if (!disks) return source;
  const missing = disks.filter((d) => !source.disks.includes(d));
  if (missing.length > 0) throw Object.assign(new Error(`the backup has no disk ${missing.join(', ')} (it has ${source.disks.join(', ')})`), { code: 'MOUNT_NO_SUCH_DISK' });
  return { ...source, disks: source.disks.filter((d) => disks.includes(d)) };
}

/** A backup's disks as a data source: ranges through the reader's chunk cache, runs from the manifest. */
export function backupReaderSource(reader: BackupReader): BackupDataSource {
  const runsByDisk = new Map<string, DiskRun[]>();
  return {
    disks: reader.manifest.disks.map((d) => d.name),
    diskSize: (disk) => reader.disk(disk).size,
    readRange: (disk, offset, length) => reader.readRange(disk, offset, length),
    runs: (disk) => {
      let runs = runsByDisk.get(disk);
      if (!runs) {
        const d = reader.disk(disk);
        runs = [];
        let offset = 0;
        for (const e of d.chunks) {
          const zero = typeof e === 'number';
          const length = Math.min(d.size - offset, (zero ? e : 1) * d.chunkSize);
          if (length <= 0) break;
          appendRun(runs, { offset, length, zero });
          offset += length;
        }
        runsByDisk.set(disk, runs);
      }
      return runs;
    },
  };
}

/** Appends a run, merging it into the previous one when both are of the same kind. */
export function appendRun(runs: DiskRun[], run: DiskRun): void {
  if (run.length <= 0) return;
  const last = runs[runs.length - 1];
  if (last && last.zero === run.zero && last.offset + last.length === run.offset) last.length += run.length;
  else runs.push({ ...run });
}

/** The runs of a sorted, contiguous run list that overlap [offset, offset + length), clipped to it. */
export function runsIn(all: readonly DiskRun[], offset: number, length: number): DiskRun[] {
  const end = offset + length;
  let lo = 0;
  let hi = all.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const r = all[mid];
    if (r && r.offset + r.length <= offset) lo = mid + 1;
    else hi = mid;
  }
  const out: DiskRun[] = [];
  for (let i = lo; i < all.length; i++) {
    const r = all[i];
    if (!r || r.offset >= end) break;
    const from = Math.max(offset, r.offset);
    const to = Math.min(end, r.offset + r.length);
    if (to > from) out.push({ offset: from, length: to - from, zero: r.zero });
  }
  return out;
}

/** One disk of a backup, read-only: writes are refused (NBD_EPERM), flush has nothing to do. */
export class ReadOnlyDisk implements BlockDevice {
  readonly writable = false;
  readonly size: number;

  constructor(
    private readonly source: BackupDataSource,
    readonly disk: string,
  ) {
    this.size = source.diskSize(disk);
  }

  read(offset: number, length: number): Promise<Buffer> {
    return this.source.readRange(this.disk, offset, length);
  }

  runs(offset: number, length: number): DiskRun[] {
    return runsIn(this.source.runs(this.disk), offset, Math.min(length, this.size - offset));
  }

  write(): Promise<void> {
    return Promise.reject(new ReadOnlyDeviceError());
  }

  zero(): Promise<void> {
    return Promise.reject(new ReadOnlyDeviceError());
  }

  async flush(): Promise<void> {}

  async close(): Promise<void> {}
}
