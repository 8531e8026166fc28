/**
 * Backup points of protected objects (M365 drives, libraries, later mailboxes) as a caller
 * sees them: listing (re-import reads only this), retention per object, deleting one, and
 * reading a point's blobs back. Retention and delete remove manifests only; GC frees the
 * blobs no remaining point needs, as for VM backups.
 */
import { createHash } from 'node:crypto';
import { InvalidArgumentError } from '../errors.js';
import type { JsonValue } from '../format.js';
import { applyRetention, type RetentionPolicy } from '../retention.js';
import { BlobReader } from './blob-reader.js';
import { blobCodec, derivePackKeys, type PackAccess } from './pack-access.js';
import { BlobCorruptError, PointNotFoundError } from './pack-errors.js';
import { POINT_ID_RE, type PointManifest, type StoredObject } from './pack-format.js';
import { decodeObjectLog, type LogEntry } from './object-log.js';
import { listPackFiles, packFile } from './pack-files.js';
import { PackIndex } from './pack-index.js';
import { PointStore } from './point-store.js';

export interface PointInfo {
  id: string;
  objectKey: string;
  createdAt: string;
  kind: 'full' | 'incremental';
  parent: string | null;
  source: JsonValue;
  summary: Record<string, number>;
}

export interface PointPruneOptions {
  dryRun?: boolean;
  /** Only these objects (default: all). */
  objectKeys?: readonly string[];
  utcOffsetMinutes?: number;
  protectedIds?: ReadonlySet<string>;
}

export interface PointPruneReport {
  dryRun: boolean;
  kept: { id: string; objectKey: string; createdAt: string; reasons: string[] }[];
  removed: { id: string; objectKey: string; createdAt: string; reasons: string[] }[];
  /** Points whose manifest cannot be read: never removed by prune. */
  damaged: string[];
}

const infoOf = (m: PointManifest): PointInfo => ({
  id: m.id,
  objectKey: m.objectKey,
  createdAt: m.createdAt,
  kind: m.kind,
  parent: m.parent,
  source: m.source,
  summary: m.summary,
});

/** The point layer of an open repository (Repository.points()). */
export class Points {
  private readonly store: PointStore;
  private readonly sealKey: Buffer | null;
  private reader: Promise<BlobReader> | undefined;

  constructor(
    private readonly access: PackAccess,
    /** Manifests already read (they never change), shared across calls by the repository. */
    manifests?: Map<string, PointManifest>,
  ) {
    this.sealKey = derivePackKeys(access).sealKey;
    this.store = new PointStore(access, this.sealKey, manifests);
  }

  /** Every readable point, oldest first (optionally of one object); damaged manifests are logged and left out. */
  async list(objectKey?: string): Promise<PointInfo[]> {
    const scan = await this.store.scan(objectKey === undefined ? undefined : (m) => m.objectKey === objectKey);
    for (const d of scan.damaged) this.access.logger.warn({ point: d.id, detail: d.detail }, 'backup point manifest cannot be read');
    return scan.points.map(infoOf);
  }

  /** list() plus the ids of the manifests that cannot be read (re-import reports them). */
  async scan(): Promise<{ points: PointInfo[]; damaged: { id: string; detail: string }[] }> {
    const scan = await this.store.scan();
    return { points: scan.points.map(infoOf), damaged: scan.damaged };
  }

  load(pointId: string): Promise<PointManifest> {
    return this.store.load(pointId);
  }

  /** The newest readable point of an object, or null. */
  async latest(objectKey: string): Promise<PointManifest | null> {
    const list = await this.list(objectKey);
    const last = list[list.length - 1];
    return last ? this.store.load(last.id) : null;
  }

  /** Applies a retention policy per object; with dryRun only reports. Blobs are freed by gc(). */
  async prune(policy: RetentionPolicy, options: PointPruneOptions = {}): Promise<PointPruneReport> {
    const dryRun = options.dryRun ?? false;
    const scan = await this.store.scan((m) => !options.objectKeys || options.objectKeys.includes(m.objectKey));
    const decisions = applyRetention(
      scan.points.map((m) => ({ id: m.id, group: m.objectKey, createdAt: m.createdAt })),
      policy,
      this.access.clock.now(),
      { utcOffsetMinutes: options.utcOffsetMinutes ?? 0, ...(options.protectedIds ? { isProtected: (id: string) => options.protectedIds!.has(id) } : {}) },
    );
    const item = (d: (typeof decisions)[number]) => ({ id: d.id, objectKey: d.group, createdAt: d.createdAt, reasons: d.reasons });
    const kept = decisions.filter((d) => d.keep).map(item);
    const removed = decisions.filter((d) => !d.keep).map(item);
    if (!dryRun && removed.length > 0) await this.store.remove(removed.map((r) => r.id));
    this.access.logger.info({ dryRun, kept: kept.length, removed: removed.length }, 'backup point prune finished');
    return { dryRun, kept, removed, damaged: scan.damaged.map((d) => d.id) };
  }

  /** Removes one point (its manifest). False when it was already gone. */
  async delete(pointId: string): Promise<boolean> {
    if (!POINT_ID_RE.test(pointId)) throw new InvalidArgumentError(`"${pointId}" is not a backup point id`);
    if (!(await this.store.exists(pointId))) return false;
    await this.store.remove([pointId]);
    this.access.logger.info({ point: pointId }, 'backup point deleted');
    return true;
  }

  /** Reads blobs back (loads the index once). */
  blobs(): Promise<BlobReader> {
    this.reader ??= PackIndex.load(this.access, this.sealKey).then((index) => new BlobReader(this.access, index, blobCodec(this.access), this.sealKey));
    return this.reader;
  }

  /** A point's object log, entry by entry (object-log.ts), checked against the size and SHA-256 in its manifest. */
  async *readLog(pointId: string): AsyncGenerator<LogEntry> {
    const m = await this.store.load(pointId);
    const reader = await this.blobs();
    const checked = async function* (): AsyncGenerator<Buffer> {
      const hash = createHash('sha256');
      let size = 0;
      for await (const b of reader.readMany(m.metadata.blobs)) {
        hash.update(b);
        size += b.length;
        yield b;
      }
      if (size !== m.metadata.size || hash.digest('hex') !== m.metadata.sha256) {
        throw new BlobCorruptError(reader.describe(m.metadata.blobs[0]), m.metadata.blobs[0] ?? '-', `the log of point ${pointId} does not match its manifest`);
      }
    };
    yield* decodeObjectLog(checked());
  }

  /** File content by its blob ids, in order. */
  async *readContent(blobIds: readonly string[], readAhead = 4): AsyncGenerator<Buffer> {
    yield* (await this.blobs()).readMany(blobIds, readAhead);
  }

  /** Reads a stored object whole. */
  async readObject(obj: StoredObject, what: string): Promise<Buffer> {
    return (await this.blobs()).readObject(obj, what);
  }

  /** Every pack on the destination with its blobs, as the packs' index and headers list them (stats, tests). */
  async inventory(): Promise<{ packId: string; size: number; blobs: { id: string; type: 'data' | 'meta'; length: number }[] }[]> {
    const index = await PackIndex.load(this.access, this.sealKey);
    const { packs } = await listPackFiles(this.access);
    await index.addUnindexed(this.access, this.sealKey, packs);
    const out = [];
    for (const packId of packs) {
      const size = (await this.access.fs.stat(packFile(this.access, packId))).size;
      out.push({ packId, size, blobs: (index.packs.get(packId) ?? []).map((e) => ({ id: e.id, type: e.type, length: e.length })) });
    }
    return out;
  }

  async exists(pointId: string): Promise<boolean> {
    if (!POINT_ID_RE.test(pointId)) throw new PointNotFoundError(this.access.repoPath, pointId);
    return this.store.exists(pointId);
  }
}
