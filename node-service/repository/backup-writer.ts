/**
 * Writes one backup: disks chunk by chunk (zero chunks skipped, known chunks deduplicated,
 * clean chunks of an incremental reused from the previous manifest without reading), then
 * the manifest, last. Until commit() the backup does not exist; chunks it wrote before a
 * crash or abort() are orphans that garbage collection removes after its grace period.
 */
import * as path from 'node:path';
import { ChunkDecodeError, type EncodedChunk } from './chunk-codec.pool.js';
import { GcRaceError, InvalidArgumentError, WriterClosedError, isErrno, toRepositoryError } from './errors.js';
import { runBounded } from './concurrency.js';
import { dirtyChunkMap, dirtyRangesByChunk, planChunks, type ChunkOverlay, type ChunkPatch, type ChunkTask, type DiskSource } from './disk-source.js';
import { ChunkBuffers, isZero } from './chunk-buffers.js';
import { overlayOf } from './overlay-plan.js';
import {
  ALLOWED_CHUNK_SIZES,
  FORMAT_VERSION,
  MANIFEST_FORMAT,
  MANIFEST_VERSION_OVERLAYS,
  chunkCount,
  chunkLength,
  chunkRelPath,
  compactChunks,
  composeSlot,
  expandChunks,
  forEachChunkObject,
  hasOverlays,
  objectsOf,
  type BackupManifest,
  type ChunkSlot,
  type OverlayChunk,
  type BackupSummary,
  type DiskManifest,
} from './format.js';
import type { Lease } from './locks.js';
import type { RepositoryLogger } from './logger.js';
import type { BackupWriterOptions, DiskProgress, WriteDiskOptions, WriterContext } from './backup-writer.types.js';

export type { BackupWriterOptions, DiskProgress, IncrementalChanges, WriteDiskOptions, WriterContext } from './backup-writer.types.js';

type WriterState = 'open' | 'writing' | 'committing' | 'committed' | 'aborted' | 'failed';

export class BackupWriter {
  readonly id: string;
  private state: WriterState = 'open';
  private readonly disks: DiskManifest[] = [];
  private readonly written = new Set<string>();
  private readonly storing = new Map<string, Promise<void>>();
  private readonly touchedShards = new Set<string>();
  private parent: string | null = null;
  private readonly startedMs: number;
  private readonly totals = { logical: 0, data: 0, newBytes: 0, newStored: 0, newChunks: 0, reused: 0, read: 0 };
  private readonly log: RepositoryLogger;
  /** Damaged chunks this backup stored again from the source (healing older backups too). */
  private readonly healed = new Set<string>();
  /** Chunks of the previous backup found damaged while patching (not on the damaged list yet). */
  private readonly foundDamaged = new Set<string>();

  constructor(
    private readonly ctx: WriterContext,
    private readonly lease: Lease,
    private readonly options: BackupWriterOptions,
  ) {
    this.id = options.id;
    this.startedMs = ctx.clock.now();
    this.log = ctx.logger.child({ backup: options.id });
  }

  /**
   * Stores one disk. `size` is the disk's size in bytes; `source` supplies its content.
   * With `changes`, chunks no dirty range touches are taken from the previous backup.
   */
  async writeDisk(name: string, size: number, source: DiskSource, options: WriteDiskOptions = {}): Promise<DiskManifest> {
    if (this.state !== 'open') {
      throw this.state === 'writing'
        ? new InvalidArgumentError('writeDisk() was called while another disk of the same backup is being written; write disks one after another')
        : new WriterClosedError(this.id, this.state);
    }
    if (!Number.isSafeInteger(size) || size < 0) throw new InvalidArgumentError(`disk "${name}": invalid size ${size}`);
    if (name.length === 0 || name.length > 255) throw new InvalidArgumentError('disk names must be 1 to 255 characters');
    if (this.disks.some((d) => d.name === name)) throw new InvalidArgumentError(`disk "${name}" was already written to this backup`);
    this.state = 'writing';
    try {
      const disk = await this.storeDisk(name, size, source, options);
      this.disks.push(disk);
      this.state = 'open';
      return disk;
    } catch (err) {
      // A failed backup is over: release the lease now so it does not block GC.
      this.state = 'failed';
      await this.lease.release();
      throw err;
    }
  }

  /** Makes the backup visible: makes its chunk files durable, then writes the manifest (last). */
  async commit(): Promise<BackupManifest> {
    if (this.state !== 'open') throw new WriterClosedError(this.id, this.state);
    this.state = 'committing';
    try {
      const fs = this.ctx.fs;
      const dirs = [...this.touchedShards];
      await (fs.flush ? fs.flush(this.ctx.repoPath, dirs) : Promise.all(dirs.map((dir) => fs.syncDir(dir)))).catch((err: unknown) => {
        throw toRepositoryError(err, this.ctx.repoPath, 'flushing chunk files');
      });
      await this.checkNoGcRace();
      const manifest: BackupManifest = {
        format: MANIFEST_FORMAT,
        version: this.disks.some(hasOverlays) ? MANIFEST_VERSION_OVERLAYS : FORMAT_VERSION,
        id: this.id,
        repositoryId: this.ctx.repositoryId,
        createdAt: new Date(this.startedMs).toISOString(),
        group: this.options.group,
        kind: this.parent === null ? 'full' : 'incremental',
        parent: this.parent,
        source: this.options.source,
        disks: this.disks,
        summary: this.summary(),
      };
      const lock = this.ctx.retention ? await this.ctx.retention.finish(this.disks, this.written) : undefined;
      await this.ctx.manifests.write(manifest, lock ? { retainUntilMs: lock.retainUntilMs } : {});
      if (lock) this.log.info({ retainUntil: new Date(lock.retainUntilMs).toISOString(), extendedChunks: lock.extended }, 'backup locked (object lock)');
      this.state = 'committed';
      this.log.info({ summary: manifest.summary, healedChunks: this.healed.size }, 'backup committed');
      return manifest;
    } catch (err) {
      this.state = 'failed';
      throw err;
    } finally {
      await this.lease.release();
    }
  }

  /** Abandons the backup. Chunks already written stay until GC (another backup may share them). */
  async abort(): Promise<void> {
    if (this.state === 'committed' || this.state === 'aborted') return;
    this.state = 'aborted';
    await this.lease.release();
    this.log.info({}, 'backup aborted');
  }

  get status(): WriterState {
    return this.state;
  }

  /** Damaged chunks this backup stored again, healing the older backups that use them. */
  get healedChunks(): string[] {
    return [...this.healed].sort();
  }

  /** Chunks of the previous backup that turned out damaged (read whole from the source instead); run verify. */
  get damagedChunksFound(): string[] {
    return [...this.foundDamaged].sort();
  }

  private summary(): BackupSummary {
    return {
      logicalBytes: this.totals.logical,
      dataBytes: this.totals.data,
      newBytes: this.totals.newBytes,
      newStoredBytes: this.totals.newStored,
      newChunks: this.totals.newChunks,
      reusedBytes: this.totals.reused,
      readBytes: this.totals.read,
      durationMs: Math.max(0, this.ctx.clock.now() - this.startedMs),
    };
  }

  private async storeDisk(name: string, size: number, source: DiskSource, options: WriteDiskOptions): Promise<DiskManifest> {
    const { changes } = options;
    let chunkSize = options.chunkSize ?? this.ctx.defaultChunkSize;
    let reuse: (index: number) => ChunkSlot | undefined = () => undefined;
    let patch: ((index: number) => ChunkPatch | undefined) | undefined;
    let overlay: ((index: number) => ChunkOverlay | undefined) | undefined;
    /** The all-zero chunk of a length (the base of an overlay on a chunk that was zero), stored once. */
    const zeroIds = new Map<number, Promise<string>>();
    const zeroChunk = (length: number): Promise<string> => {
      let id = zeroIds.get(length);
      if (!id) {
        id = this.storeZeroChunk(length);
        zeroIds.set(length, id);
      }
      return id;
    };

    if (changes) {
      const prev = changes.previous;
      if (prev.repositoryId !== this.ctx.repositoryId) {
        throw new InvalidArgumentError(`the previous backup ${prev.id} belongs to another repository; run a full backup`);
      }
      // Our lease keeps GC away from now on, but a backup pruned and collected before we
      // started may have lost its chunks: only a backup that still exists protects them.
      if (!(await this.ctx.manifests.exists(prev.id))) {
        throw new InvalidArgumentError(`the previous backup ${prev.id} no longer exists (pruned); run a full backup instead`);
      }
      const prevDisk = prev.disks.find((d) => d.name === (changes.previousDisk ?? name));
      if (prevDisk) {
        chunkSize = prevDisk.chunkSize;
        const prevSlots = expandChunks(prevDisk);
        const dirty = dirtyChunkMap(changes.dirty, size, chunkSize);
        const damaged = await this.healZeroChunks(chunkSize, chunkLength(size, chunkSize, chunkCount(size, chunkSize) - 1), zeroChunk);
        const sound = (slot: ChunkSlot, length: number): boolean => objectsOf(slot, length).every((o) => !damaged.has(o.id));
        /** The previous slot of a chunk whose length did not change (a resized disk's last chunk is read again). */
        const previousOf = (index: number): ChunkSlot | undefined => {
          if (index >= prevSlots.length) return undefined;
          if (chunkLength(prevDisk.size, chunkSize, index) !== chunkLength(size, chunkSize, index)) return undefined;
          return prevSlots[index];
        };
        reuse = (index) => {
          if (dirty[index]) return undefined;
          const slot = previousOf(index);
          // A known-bad chunk is read from the source again, never carried over.
          if (slot === undefined || !sound(slot, chunkLength(size, chunkSize, index))) return undefined;
          return slot;
        };
        const rangesIn = dirtyRangesByChunk(changes.dirty, size, chunkSize);
        if (options.overlays !== false) overlay = (index) => overlayOf(previousOf(index), rangesIn.get(index), chunkLength(size, chunkSize, index), damaged);
        const readWhole = (options.partialChunks ?? this.ctx.partialChunks ?? 'patch') === 'read';
        patch = (index) => {
          const dirtyHere = rangesIn.get(index);
          const prevSlot = previousOf(index);
          if (!dirtyHere || prevSlot === undefined) return undefined;
          // 'read' reads a changed chunk whole rather than load its previous content; a chunk that
          // was zero has none to load (its clean rest is still zero), so it is patched anyway.
          if (readWhole && prevSlot !== null) return undefined;
          const length = chunkLength(size, chunkSize, index);
          // Mostly dirty: reading the whole chunk is as cheap and needs no base.
          if (dirtyHere.reduce((s, r) => s + r.length, 0) * 2 > length) return undefined;
          if (prevSlot !== null && !sound(prevSlot, length)) return undefined;
          return {
            ranges: dirtyHere,
            base: async () => {
              if (prevSlot === null) return buffers.take(length, true);
              try {
                return await composeSlot(prevSlot, length, async (id, len) => {
                  const loaded = await this.ctx.pool.load(id, { verify: true, expectedLength: len });
                  if (!loaded.plain) throw new Error(`chunk ${id} came back without its content`);
                  return loaded.plain;
                });
              } catch (err) {
                // A damaged base is no reason to fail: read the whole chunk from the source.
                if (!(err instanceof ChunkDecodeError) || (!err.corrupt && err.errno !== 'ENOENT')) throw err;
                for (const o of objectsOf(prevSlot, length)) this.foundDamaged.add(o.id);
                this.log.warn({ chunk: typeof prevSlot === 'string' ? prevSlot : prevSlot.base, err: err.message }, 'a chunk of the previous backup is damaged; reading the whole chunk from the source');
                return null;
              }
            },
          };
        };
        this.parent ??= prev.id;
        await this.ctx.retention?.begin(prev);
      } else {
        this.log.info({ disk: name }, 'disk not in the previous backup; reading it in full');
      }
    }
    if (!ALLOWED_CHUNK_SIZES.includes(chunkSize)) throw new InvalidArgumentError(`unsupported chunk size ${chunkSize}`);
    await this.ctx.retention?.begin(null);

    const n = chunkCount(size, chunkSize);
    const slots: ChunkSlot[] = new Array<ChunkSlot>(n).fill(null);
    const buffers = new ChunkBuffers(chunkSize, this.options.maxInFlight + 2);
    // Chunk files already written, handed back to the workers to encode the next ones into.
    const spares: Buffer[] = [];
    const progress: DiskProgress = { disk: name, bytesDone: 0, bytesTotal: size, readBytes: 0, newBytes: 0 };
    const interval = options.progressIntervalMs ?? 250;
    let lastReport = -Infinity;
    const report = (force: boolean): void => {
      if (!options.onProgress) return;
      const now = this.ctx.clock.now();
      if (!force && now - lastReport < interval) return;
      lastReport = now;
      options.onProgress({ ...progress });
    };

    /** Encodes and stores (unless known) one chunk's plaintext; returns its id. */
    const storeData = async (buf: Buffer, length: number): Promise<string> => {
      const known = this.ctx.knownChunks;
      const direct = this.ctx.chunkWrites;
      let enc = await this.encode(buf, known === undefined, spares.pop(), direct);
      // Never deduplicate against a known-bad chunk: store it again (same id, new file).
      if (enc.exists && this.ctx.damaged.has(enc.id) && !this.written.has(enc.id)) {
        enc = await this.encode(enc.plain, false, undefined, direct);
        this.healed.add(enc.id);
      }
      if (known?.has(enc.id)) {
        if (!this.ctx.damaged.has(enc.id)) enc = { id: enc.id, exists: true, plain: enc.plain };
        else if (!this.written.has(enc.id)) this.healed.add(enc.id);
      }
      buffers.release(enc.plain);
      const stored = enc.written !== undefined ? this.recordStored(enc.id, enc.written, length) : enc.payload ? await this.storeChunk(enc.id, enc.payload, length) : false;
      // Only a buffer with room for a whole chunk is worth handing back (an overlay part's is small).
      if (enc.payload && enc.payload.buffer.byteLength >= chunkSize && spares.length < this.options.maxInFlight) spares.push(enc.payload);
      if (stored) progress.newBytes += length;
      else this.totals.reused += length;
      return enc.id;
    };

    const handle = async (task: ChunkTask): Promise<void> => {
      if (task.kind === 'reuse') {
        slots[task.index] = task.id;
        if (task.id !== null) {
          this.totals.reused += task.length;
          this.totals.data += task.length;
        }
      } else if (task.kind === 'data') {
        const buf = await task.load();
        progress.readBytes += task.sourceBytes ?? task.length;
        this.totals.read += task.sourceBytes ?? task.length;
        if (isZero(buf)) {
          buffers.release(buf);
        } else {
          slots[task.index] = await storeData(buf, task.length);
          this.totals.data += task.length;
        }
      } else if (task.kind === 'overlay') {
        const parts = await task.load();
        progress.readBytes += task.sourceBytes;
        this.totals.read += task.sourceBytes;
        const over: OverlayChunk['over'] = [...task.keep];
        for (const [i, r] of task.ranges.entries()) over.push([r.offset, r.length, await storeData(parts[i]!, r.length)]);
        over.sort((a, b) => a[0] - b[0]);
        slots[task.index] = { base: task.base ?? (await zeroChunk(task.length)), over };
        this.totals.data += task.length;
        this.totals.reused += task.length - task.sourceBytes;
      }
      progress.bytesDone += task.length;
      report(false);
    };

    await runBounded(planChunks(name, source, { size, chunkSize, reuse, ...(patch ? { patch } : {}), ...(overlay ? { overlay } : {}) }, buffers), this.options.maxInFlight, handle);
    report(true);
    this.totals.logical += size;
    return { name, size, chunkSize, chunks: compactChunks(slots) };
  }

  /**
   * The damaged list as an incremental sees it: an all-zero chunk on it (an overlay's base over
   * a chunk that was zero) is stored again from zeros first, which heals every backup using it,
   * and is then sound.
   */
  private async healZeroChunks(chunkSize: number, lastLength: number, zeroChunk: (length: number) => Promise<string>): Promise<ReadonlySet<string>> {
    const damaged = this.ctx.damaged;
    if (damaged.size === 0) return damaged;
    const sound = new Set(damaged);
    for (const length of new Set([chunkSize, lastLength])) {
      const { id } = await this.ctx.pool.encode(Buffer.alloc(length), false);
      if (damaged.has(id)) sound.delete(await zeroChunk(length));
    }
    return sound;
  }

  /** Makes sure the all-zero chunk of `length` bytes is stored (healing a damaged one); returns its id. */
  private async storeZeroChunk(length: number): Promise<string> {
    const known = this.ctx.knownChunks;
    let enc = await this.ctx.pool.encode(Buffer.alloc(length), known === undefined);
    const damaged = this.ctx.damaged.has(enc.id) && !this.written.has(enc.id);
    if (damaged) {
      if (!enc.payload) enc = await this.ctx.pool.encode(enc.plain, false);
      this.healed.add(enc.id);
    } else if (known?.has(enc.id)) return enc.id;
    if (enc.payload) await this.storeChunk(enc.id, enc.payload, length);
    return enc.id;
  }

  /** The pool's encode; a chunk file the worker failed to write is the destination's error. */
  private async encode(buf: Buffer, check: boolean, spare: Buffer | undefined, store: { durable: boolean } | undefined): Promise<EncodedChunk> {
    try {
      return await this.ctx.pool.encode(buf, check, spare, store);
    } catch (err) {
      if (!(err instanceof ChunkDecodeError) || err.where !== 'write') throw err;
      throw toRepositoryError(Object.assign(new Error(err.message), { code: err.errno }), this.ctx.repoPath, `writing a chunk file of backup ${this.id}`);
    }
  }

  /** Books a chunk file a codec worker wrote; returns whether it is new to this backup. */
  private recordStored(id: string, fileBytes: number, plainLength: number): boolean {
    if (this.written.has(id)) return false;
    this.written.add(id);
    this.touchedShards.add(path.dirname(path.join(this.ctx.repoPath, chunkRelPath(id))));
    this.totals.newChunks += 1;
    this.totals.newBytes += plainLength;
    this.totals.newStored += fileBytes;
    return true;
  }

  /** Writes a chunk file unless this backup already has; returns whether it wrote it. */
  private async storeChunk(id: string, payload: Buffer, plainLength: number): Promise<boolean> {
    if (this.written.has(id)) return false;
    const pending = this.storing.get(id);
    if (pending) {
      await pending;
      return false;
    }
    const file = path.join(this.ctx.repoPath, chunkRelPath(id));
    const retention = this.ctx.retention;
    const write = this.ctx.fs.writeFileAtomic(file, payload, retention ? { retainUntilMs: retention.retainUntilMs } : {}).catch((err: unknown) => {
      throw toRepositoryError(err, this.ctx.repoPath, `writing chunk ${id.slice(0, 12)}… of backup ${this.id}`);
    });
    this.storing.set(id, write);
    try {
      await write;
    } finally {
      this.storing.delete(id);
    }
    this.written.add(id);
    this.touchedShards.add(path.dirname(file));
    this.totals.newChunks += 1;
    this.totals.newBytes += plainLength;
    this.totals.newStored += payload.length;
    return true;
  }

  /**
   * The lease keeps GC away; if GC ran anyway (our lease lapsed, e.g. the process was
   * suspended), make sure every chunk we reuse without having written it still exists.
   */
  private async checkNoGcRace(): Promise<void> {
    const epoch = await this.ctx.readGcEpoch();
    if (epoch === this.options.gcEpoch && !this.lease.lapsed) return;
    const ids = new Set<string>();
    for (const d of this.disks) forEachChunkObject(d, (id) => !this.written.has(id) && ids.add(id));
    let missing = 0;
    await runBounded(ids.values(), 16, async (id) => {
      try {
        await this.ctx.fs.stat(path.join(this.ctx.repoPath, chunkRelPath(id)));
      } catch (err) {
        if (!isErrno(err, 'ENOENT')) throw toRepositoryError(err, this.ctx.repoPath, 'checking reused chunks');
        missing++;
      }
    });
    if (missing > 0) throw new GcRaceError(this.id, missing);
    this.log.warn({ epoch }, 'garbage collection ran during this backup; all reused chunks are still present');
  }
}
