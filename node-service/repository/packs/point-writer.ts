/**
 * Writes one backup point of an object (a OneDrive, a library…) into the pack layer: blobs
 * deduplicated against the repository index and appended to packs, the object's log (its
 * metadata, naming the blobs each point needs), then at commit the index file and the point
 * manifest, last.
 * Until commit() the point does not exist; packs written before a crash or abort() are
 * either indexed (a later backup reuses their blobs) or orphans GC removes.
 */
import { createHash } from 'node:crypto';
import type { ChunkCodec } from '../chunk-codec.js';
import { InvalidArgumentError, WriterClosedError } from '../errors.js';
import { newBackupId, type JsonValue } from '../format.js';
import { readGcEpoch } from '../gc.js';
import type { Lease } from '../locks.js';
import { Cdc, METADATA_CDC, gearTable } from './chunker.js';
import { encodeObjectLog, type LogClosure, type LogEnd, type LogPoint, type LogVersion } from './object-log.js';
import { blobCodec, derivePackKeys, type PackAccess, type PackKeys } from './pack-access.js';
import { PointExistsError, PointGcRaceError } from './pack-errors.js';
import { packFile } from './pack-files.js';
import { HEX64_RE, PACKS_FORMAT_VERSION, POINT_FORMAT, POINT_ID_RE, type BlobType, type PointManifest, type StoredObject } from './pack-format.js';
import { PackIndex } from './pack-index.js';
import { PackWriter } from './pack-writer.js';
import { PointStore } from './point-store.js';

export interface StartPointOptions {
  /** The protected object (retention group), e.g. "m365:<tenant>:drive:<id>". */
  objectKey: string;
  id?: string;
  kind?: 'full' | 'incremental';
  parent?: string | null;
  source?: JsonValue;
  /** Pack target size (tests use small packs). */
  packSize?: number;
}

export interface StoredContent {
  /** Blob ids in order; empty for an empty file. */
  blobs: string[];
  size: number;
  /** SHA-256 of the content (what a restore is checked against). */
  sha256: string;
}

export interface PointWriteStats {
  newBlobs: number;
  /** Plaintext bytes of the blobs this point added. */
  newBytes: number;
  /** Of newBytes, the metadata (databases, reference lists). */
  newMetadataBytes: number;
  /** Bytes of the packs this point wrote (blobs, headers, trailers). */
  newStoredBytes: number;
  packs: number;
  reusedBlobs: number;
  reusedBytes: number;
}

export type ByteSource = Uint8Array | AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

function asIterable(source: ByteSource): AsyncIterable<Uint8Array> | Iterable<Uint8Array> {
  return source instanceof Uint8Array ? [source] : source;
}

export class PointWriter {
  private readonly codec: ChunkCodec;
  private readonly cdc: Cdc;
  private readonly metaCdc: Cdc;
  private readonly packs: PackWriter;
  private readonly ownBlobs = new Set<string>();
  private state: 'open' | 'committed' | 'aborted' = 'open';
  private readonly startedMs: number;
  readonly stats: PointWriteStats = { newBlobs: 0, newBytes: 0, newMetadataBytes: 0, newStoredBytes: 0, packs: 0, reusedBlobs: 0, reusedBytes: 0 };

  private constructor(
    private readonly access: PackAccess,
    private readonly keys: PackKeys,
    private readonly points: PointStore,
    private readonly index: PackIndex,
    private readonly lease: Lease,
    private readonly gcEpoch: string | null,
    readonly id: string,
    private readonly options: StartPointOptions,
  ) {
    this.codec = blobCodec(access);
    const gear = gearTable(keys.gearSeed);
    this.cdc = new Cdc(gear);
    this.metaCdc = new Cdc(gear, METADATA_CDC);
    this.startedMs = access.clock.now();
    this.packs = new PackWriter(access, keys.sealKey, {
      ...(options.packSize ? { packSize: options.packSize } : {}),
      onPack: (p, bytes) => {
        this.index.add(p.packId, p.entries);
        this.stats.packs++;
        this.stats.newStoredBytes += bytes;
      },
    });
  }

  /** Takes a shared lease (as a VM backup does) and loads the index to deduplicate against. */
  static async start(access: PackAccess, options: StartPointOptions): Promise<PointWriter> {
    const id = options.id ?? newBackupId(access.clock.now());
    if (!POINT_ID_RE.test(id)) throw new InvalidArgumentError(`invalid backup point id "${id}" (letters, digits, . _ - only)`);
    if (options.objectKey.length === 0 || options.objectKey.length > 512) throw new InvalidArgumentError('the object key must be 1 to 512 characters');
    const keys = derivePackKeys(access);
    const points = new PointStore(access, keys.sealKey);
    if (await points.exists(id)) throw new PointExistsError(access.repoPath, id);
    const lease = await access.leases.acquire('shared', 'backup', `point ${id}`);
    try {
      const gcEpoch = await readGcEpoch(access);
      const index = await PackIndex.load(access, keys.sealKey);
      return new PointWriter(access, keys, points, index, lease, gcEpoch, id, options);
    } catch (err) {
      await lease.release();
      throw err;
    }
  }

  /** When the point started: its point in time (ISO 8601). */
  get createdAt(): string {
    return new Date(this.startedMs).toISOString();
  }

  /** Whether the repository holds blob `id` (so a caller may reference it without storing it again). */
  hasBlob(id: string): boolean {
    return this.index.has(id);
  }

  /** Stores one blob unless the repository has it; returns its id. */
  async putBlob(plain: Buffer, type: BlobType = 'data'): Promise<string> {
    this.assertOpen();
    const raw = this.codec.id(plain);
    const id = raw.toString('hex');
    if (this.index.has(id) || this.ownBlobs.has(id)) {
      this.stats.reusedBlobs++;
      this.stats.reusedBytes += plain.length;
      return id;
    }
    this.ownBlobs.add(id);
    this.stats.newBlobs++;
    this.stats.newBytes += plain.length;
    if (type === 'meta') this.stats.newMetadataBytes += plain.length;
    await this.packs.add(type, id, this.codec.encode(plain, raw), plain.length);
    return id;
  }

  /** Stores file content, cut into blobs by content-defined chunking. */
  async putContent(source: ByteSource): Promise<StoredContent> {
    return this.putPieces(source instanceof Uint8Array ? this.cdc.splitBuffer(source) : this.cdc.split(source), 'data');
  }

  /** Stores metadata as metadata blobs (content-defined, 64 KiB on average: what is unchanged since the last point is not stored again). */
  async putObject(source: ByteSource): Promise<StoredObject> {
    return this.putPieces(this.metaCdc.split(asIterable(source)), 'meta');
  }

  /** Stores the object's log (object-log.ts), the metadata a point manifest must name. */
  putObjectLog(input: { points: Iterable<LogPoint>; closures: Iterable<LogClosure>; versions: Iterable<LogVersion>; end: Pick<LogEnd, 'lastPoint' | 'data'> }): Promise<StoredObject> {
    return this.putObject(encodeObjectLog({ ...input, end: { ...input.end, objectKey: this.options.objectKey } }));
  }

  private async putPieces(pieces: AsyncIterable<Buffer> | Iterable<Buffer>, type: BlobType): Promise<StoredContent> {
    const hash = createHash('sha256');
    const blobs: string[] = [];
    let size = 0;
    for await (const piece of pieces) {
      hash.update(piece);
      size += piece.length;
      blobs.push(await this.putBlob(piece, type));
    }
    return { blobs, size, sha256: hash.digest('hex') };
  }

  /**
   * Commits the point: writes the open packs and their index, checks that every blob the
   * point needs (`blobs`: the content its log names for it) is held and was not collected
   * meanwhile, and writes the manifest. The point exists from then on.
   */
  async commit(input: { metadata: StoredObject; blobs: Iterable<string>; summary?: Record<string, number>; source?: JsonValue }): Promise<PointManifest> {
    this.assertOpen();
    const needed = new Set<string>(input.metadata.blobs);
    for (const id of validIds(input.blobs)) needed.add(id);
    const unknown = [...needed].filter((id) => !this.index.has(id) && !this.ownBlobs.has(id));
    if (unknown.length > 0) throw new InvalidArgumentError(`backup point ${this.id} references ${unknown.length} blob(s) the repository does not hold (first ${unknown[0]})`);
    await this.packs.finish();
    await this.checkNoGcRace(needed);
    const manifest: PointManifest = {
      format: POINT_FORMAT,
      version: PACKS_FORMAT_VERSION,
      id: this.id,
      repositoryId: this.access.repositoryId,
      objectKey: this.options.objectKey,
      createdAt: this.createdAt,
      kind: this.options.kind ?? 'full',
      parent: this.options.parent ?? null,
      source: input.source ?? this.options.source ?? null,
      metadata: input.metadata,
      summary: {
        ...input.summary,
        newBlobs: this.stats.newBlobs,
        newBytes: this.stats.newBytes,
        newMetadataBytes: this.stats.newMetadataBytes,
        newStoredBytes: this.stats.newStoredBytes,
        packs: this.stats.packs,
        durationMs: Math.max(0, this.access.clock.now() - this.startedMs),
      },
    };
    await this.points.write(manifest);
    this.state = 'committed';
    await this.lease.release();
    this.access.logger.info({ point: this.id, object: this.options.objectKey, ...this.stats }, 'backup point committed');
    return manifest;
  }

  /** Gives the point up: nothing is committed; what it stored stays for GC (a concurrent backup may share it). */
  async abort(): Promise<void> {
    if (this.state !== 'open') return;
    this.state = 'aborted';
    this.packs.discard();
    await this.lease.release();
  }

  /**
   * The lease keeps GC away; if GC ran anyway (our lease lapsed, e.g. the process was
   * suspended), every blob the point needs must still be listed and its pack present.
   */
  private async checkNoGcRace(needed: ReadonlySet<string>): Promise<void> {
    const epoch = await readGcEpoch(this.access);
    if (epoch === this.gcEpoch && !this.lease.lapsed) return;
    const fresh = await PackIndex.load(this.access, this.keys.sealKey);
    let missing = 0;
    const packs = new Map<string, boolean>();
    for (const id of needed) {
      const loc = fresh.get(id);
      if (!loc) {
        missing++;
        continue;
      }
      let present = packs.get(loc.packId);
      if (present === undefined) {
        present = await this.access.fs.stat(packFile(this.access, loc.packId)).then(
          () => true,
          () => false,
        );
        packs.set(loc.packId, present);
      }
      if (!present) missing++;
    }
    if (missing > 0) throw new PointGcRaceError(this.id, missing);
  }

  private assertOpen(): void {
    if (this.state !== 'open') throw new WriterClosedError(this.id, this.state);
  }
}

function* validIds(ids: Iterable<string>): Generator<string> {
  for (const id of ids) {
    if (!HEX64_RE.test(id)) throw new InvalidArgumentError(`"${id}" is not a blob id`);
    yield id;
  }
}
