/**
 * Garbage collection of the pack layer, under the exclusive lease (FORMAT.md "Packs: garbage
 * collection"). Mark: every blob of each point's object log, and every blob the versions
 * valid in a point need (point-needs.ts). Sweep, pack by pack: a pack none of whose
 * blobs is used is deleted; a pack with at least `repackUnusedPercent` of its bytes unused
 * is repacked (its used blobs, checked, copied as they are into new packs); small packs of
 * one type are merged. Then one consolidated index replaces every index file, written
 * before any old index or pack is deleted, so a crash at any step leaves a readable
 * repository. Packs written since a backup with an expired lease started are left alone.
 */
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { ObjectLockedError, RepositoryError, isErrno, toRepositoryError } from '../errors.js';
import { CLOCK_SKEW_MARGIN_MS } from '../gc.js';
import { LAYOUT } from '../format.js';
import { BlobReader } from './blob-reader.js';
import { blobCodec, derivePackKeys, type PackAccess } from './pack-access.js';
import { indexFile, listPackFiles, listTempFiles, packFile, writeIndexFile } from './pack-files.js';
import { DEFAULT_PACK_SIZE, PACK_LAYOUT, type IndexPack, type PackEntry, type PointManifest } from './pack-format.js';
import { walkPointNeeds } from './point-needs.js';
import { PackIndex } from './pack-index.js';
import { PackWriter } from './pack-writer.js';
import { PointStore } from './point-store.js';

export interface PackGcOptions {
  /** Unused packs younger than this are kept in any case (default 0). */
  graceMs?: number;
  dryRun?: boolean;
  signal?: AbortSignal;
  /** Repack a pack when at least this share of its bytes is unused (default 20). */
  repackUnusedPercent?: number;
  /** Packs smaller than this are merged when a type has two or more (default: a quarter of packSize). */
  smallPackBytes?: number;
  /** Target size of the packs a repack writes (default 8 MiB). */
  packSize?: number;
}

export interface PackGcReport {
  dryRun: boolean;
  points: number;
  referencedBlobs: number;
  /** Referenced but in no pack (verify names the affected points). */
  missingBlobs: number;
  packsBefore: number;
  packsAfter: number;
  packsDeleted: number;
  packsRepacked: number;
  packsWritten: number;
  /** Blobs dropped from the repository (unused copies in deleted or repacked packs). */
  blobsRemoved: number;
  /** Bytes of the packs removed minus bytes of the packs written. */
  freedBytes: number;
  /** Bytes of used blobs copied by repacking. */
  repackedBytes: number;
  /** Unused but kept: younger than the grace period, or written since a stalled backup started. */
  keptRecentPacks: number;
  /** Unused packs under object lock (object stores): kept, removed by a GC after `lockedUntil`; not counted as deleted or freed. */
  lockedPacks: number;
  /** When the first of them unlocks (ISO 8601), or null. */
  lockedUntil: string | null;
  /** Packs whose header cannot be read (kept; verify reports them). */
  unreadablePacks: number;
  indexFilesBefore: number;
  indexFilesAfter: number;
  removedTempFiles: number;
  durationMs: number;
}

type Plan = 'keep' | 'recent' | 'delete' | 'repack';

interface PackState {
  packId: string;
  entries: PackEntry[];
  size: number;
  mtimeMs: number;
  used: PackEntry[];
  usedBytes: number;
  plan: Plan;
}

export async function collectPackGarbage(access: PackAccess, options: PackGcOptions = {}): Promise<PackGcReport> {
  const dryRun = options.dryRun ?? false;
  const started = access.clock.now();
  const packSize = options.packSize ?? DEFAULT_PACK_SIZE;
  const threshold = (options.repackUnusedPercent ?? 20) / 100;
  const smallBytes = options.smallPackBytes ?? Math.floor(packSize / 4);
  options.signal?.throwIfAborted();
  const lease = await access.leases.acquire('exclusive', 'gc');
  try {
    if (!dryRun) await recordEpoch(access, started);
    const keys = derivePackKeys(access);
    const scan = await new PointStore(access, keys.sealKey).scan();
    if (scan.damaged.length > 0) {
      throw new RepositoryError(
        'MANIFEST_CORRUPT',
        `garbage collection of packs stopped before deleting anything, because ${scan.damaged.length} backup point manifest(s) cannot be read (${scan.damaged.map((d) => d.id).join(', ')}) and their blobs would be lost; remove or restore those manifests first`,
        { path: access.repoPath },
      );
    }
    const index = await PackIndex.load(access, keys.sealKey);
    const { packs: onDisk, shardDirs } = await listPackFiles(access);
    const unindexed = await index.addUnindexed(access, keys.sealKey, onDisk);
    const reader = new BlobReader(access, index, blobCodec(access), keys.sealKey);
    const referenced = await markReferenced(scan.points, reader);

    const present = new Set(onDisk);
    // One used copy per blob: the first pack on the destination that holds it.
    const chosen = new Map<string, string>();
    for (const [packId, entries] of index.packs) {
      if (!present.has(packId)) continue;
      for (const e of entries) if (referenced.has(e.id) && !chosen.has(e.id)) chosen.set(e.id, packId);
    }
    const cutoff = await writerCutoff(access, options.graceMs ?? 0);
    const states: PackState[] = [];
    for (const packId of onDisk) {
      const entries = index.packs.get(packId);
      if (!entries) continue; // header unreadable: kept
      const st = await access.fs.stat(packFile(access, packId)).catch((err: unknown) => {
        if (isErrno(err, 'ENOENT')) return null;
        throw toRepositoryError(err, access.repoPath, 'inspecting packs');
      });
      if (!st) continue;
      const seen = new Set<string>();
      // A second copy of a blob in the same pack is never the used one.
      const used = entries.filter((e) => chosen.get(e.id) === packId && !seen.has(e.id) && seen.add(e.id));
      const usedBytes = used.reduce((n, e) => n + e.length, 0);
      const plan: Plan =
        st.mtimeMs >= cutoff ? (used.length === entries.length ? 'keep' : 'recent') : used.length === 0 ? 'delete' : (st.size - usedBytes) / st.size >= threshold ? 'repack' : 'keep';
      states.push({ packId, entries, size: st.size, mtimeMs: st.mtimeMs, used, usedBytes, plan });
    }
    for (const type of ['data', 'meta'] as const) {
      const small = states.filter((s) => s.plan === 'keep' && s.size < smallBytes && s.mtimeMs < cutoff && s.entries[0]?.type === type);
      if (small.length >= 2) for (const s of small) s.plan = 'repack';
    }

    const report: PackGcReport = {
      dryRun,
      points: scan.points.length,
      referencedBlobs: referenced.size,
      missingBlobs: [...referenced].filter((id) => !chosen.has(id)).length,
      packsBefore: onDisk.length,
      packsAfter: 0,
      packsDeleted: 0,
      packsRepacked: 0,
      packsWritten: 0,
      blobsRemoved: 0,
      freedBytes: 0,
      repackedBytes: 0,
      keptRecentPacks: states.filter((s) => s.plan === 'recent').length,
      lockedPacks: 0,
      lockedUntil: null,
      unreadablePacks: index.unreadablePacks.length,
      indexFilesBefore: index.files.length + index.supersededFiles.length + index.damagedFiles.length,
      indexFilesAfter: 0,
      removedTempFiles: 0,
      durationMs: 0,
    };

    const writer = new PackWriter(access, keys.sealKey, { packSize, writeIndex: false });
    for (const s of states.filter((x) => x.plan === 'repack')) {
      options.signal?.throwIfAborted();
      if (!(await repackInto(access, reader, s, writer, dryRun))) s.plan = 'keep';
      else report.repackedBytes += s.usedBytes;
    }
    if (!dryRun) await writer.finish();

    const removed = states.filter((s) => s.plan === 'delete' || s.plan === 'repack');
    report.packsDeleted = states.filter((s) => s.plan === 'delete').length;
    report.packsRepacked = states.filter((s) => s.plan === 'repack').length;
    report.packsWritten = writer.written.length;
    for (const s of removed) {
      report.blobsRemoved += s.entries.length - (s.plan === 'repack' ? s.used.length : 0);
      report.freedBytes += s.size;
    }
    // A dry run writes nothing: the used bytes it would copy stand in for the packs it would write.
    report.freedBytes -= dryRun ? report.repackedBytes : writer.packBytes;

    const removedIds = new Set(removed.map((s) => s.packId));
    const keptPacks: IndexPack[] = [];
    for (const [packId, entries] of index.packs) if (present.has(packId) && !removedIds.has(packId)) keptPacks.push({ packId, entries });
    report.packsAfter = keptPacks.length + writer.written.length;
    const oldIndex = [...index.files, ...index.supersededFiles, ...index.damagedFiles.map((d) => d.id)];
    // Consolidate whenever the index is not already exactly one file listing exactly the packs present.
    const rewrite = removed.length > 0 || writer.written.length > 0 || oldIndex.length !== (report.packsAfter > 0 ? 1 : 0) || unindexed.length > 0 || keptPacks.length !== index.packs.size;
    report.indexFilesAfter = rewrite ? 1 : oldIndex.length;
    if (!dryRun) {
      if (rewrite) {
        // The new index first, then the old index files, then the packs: never an index naming a deleted pack.
        const newIndex = await writeIndexFile(access, keys.sealKey, { supersedes: oldIndex, packs: [...keptPacks, ...writer.written] });
        for (const id of oldIndex) if (id !== newIndex) await unlinkIfPresent(access, indexFile(access, id));
        await syncDir(access, path.join(access.repoPath, PACK_LAYOUT.index));
      }
      let soonestUnlock = Number.POSITIVE_INFINITY;
      for (const s of removed) {
        const lockedUntilMs = await unlinkIfPresent(access, packFile(access, s.packId));
        if (lockedUntilMs === null) continue;
        // Still there: neither deleted nor freed (a repacked one's blobs now have a second copy until it goes).
        report.lockedPacks++;
        if (s.plan === 'delete') report.packsDeleted--;
        else report.packsRepacked--;
        report.freedBytes -= s.size;
        soonestUnlock = Math.min(soonestUnlock, lockedUntilMs);
      }
      if (report.lockedPacks > 0) report.lockedUntil = new Date(soonestUnlock).toISOString();
      const dirs = new Set(removed.map((s) => path.dirname(packFile(access, s.packId))));
      for (const dir of dirs) await syncDir(access, dir);
      report.removedTempFiles = await removeOldTempFiles(access, [...shardDirs, ...Object.values(PACK_LAYOUT).map((d) => path.join(access.repoPath, d))], cutoff);
    }
    report.durationMs = Math.max(0, access.clock.now() - started);
    access.logger.info({ ...report }, 'pack garbage collection finished');
    return report;
  } finally {
    await lease.release();
  }
}

/** Every blob the points need; stops (throws) when what a point needs cannot be known. */
async function markReferenced(points: readonly PointManifest[], reader: BlobReader): Promise<Set<string>> {
  const referenced = new Set<string>();
  const { unknown } = await walkPointNeeds(points, reader, {
    metadata: (b) => referenced.add(b),
    content: (b) => referenced.add(b),
  });
  if (unknown.length > 0) {
    throw new RepositoryError(
      'CHUNK_CORRUPT',
      `garbage collection of packs stopped before deleting anything: what backup point${unknown.length === 1 ? '' : 's'} ${unknown.map((u) => u.pointId).join(', ')} need${unknown.length === 1 ? 's' : ''} cannot be read (${unknown[0]!.detail}); run verify`,
    );
  }
  return referenced;
}

/** Copies the pack's used blobs, each checked first; false (pack kept) when one is damaged. */
async function repackInto(access: PackAccess, reader: BlobReader, s: PackState, writer: PackWriter, dryRun: boolean): Promise<boolean> {
  const file = packFile(access, s.packId);
  let raw: Buffer;
  try {
    raw = await access.fs.readFile(file);
  } catch (err) {
    throw toRepositoryError(err, access.repoPath, `reading pack ${s.packId} to repack it`);
  }
  const copies: { e: PackEntry; bytes: Buffer }[] = [];
  for (const e of s.used) {
    const bytes = raw.subarray(e.offset, e.offset + e.length);
    try {
      reader.decode(e.id, bytes, file, e.plainLength, true);
    } catch (err) {
      access.logger.warn({ pack: s.packId, blob: e.id, err }, 'a used blob is damaged: pack kept as it is (verify reports it)');
      return false;
    }
    copies.push({ e, bytes: Buffer.from(bytes) });
  }
  if (!dryRun) for (const { e, bytes } of copies) await writer.add(e.type, e.id, bytes, e.plainLength);
  return true;
}

/** Files written after this time (ms) may belong to a backup whose lease expired while it still runs. */
async function writerCutoff(access: PackAccess, graceMs: number): Promise<number> {
  const now = access.clock.now();
  const maybeAlive = (await access.leases.list()).filter((l) => l.staleReason === 'expired' && l.info.purpose === 'backup');
  let cutoff = graceMs > 0 ? now - graceMs : Number.POSITIVE_INFINITY;
  for (const l of maybeAlive) {
    const since = Date.parse(l.info.createdAt);
    cutoff = Math.min(cutoff, (Number.isFinite(since) ? since : l.refreshedMs - 30 * 24 * 3_600_000) - CLOCK_SKEW_MARGIN_MS);
  }
  return cutoff;
}

async function recordEpoch(access: PackAccess, started: number): Promise<void> {
  const file = path.join(access.repoPath, LAYOUT.lastGc);
  const state = { epoch: randomBytes(8).toString('hex'), startedAt: new Date(started).toISOString() };
  try {
    await access.fs.writeFileAtomic(file, Buffer.from(JSON.stringify(state)));
    await access.fs.syncDir(path.dirname(file));
  } catch (err) {
    throw toRepositoryError(err, access.repoPath, 'recording the garbage collection state');
  }
}

/** Removes a file; under object lock keeps it and returns until when it is locked (else null). */
async function unlinkIfPresent(access: PackAccess, file: string): Promise<number | null> {
  try {
    await access.fs.unlink(file);
  } catch (err) {
    // Under object lock (object stores): it goes in a later GC, once the lock ends.
    if (err instanceof ObjectLockedError) {
      access.logger.info({ file, lockedUntil: new Date(err.lockedUntilMs).toISOString() }, 'unused pack file is under object lock; kept');
      return err.lockedUntilMs;
    }
    if (!isErrno(err, 'ENOENT')) throw toRepositoryError(err, access.repoPath, 'removing unused packs');
  }
  return null;
}

async function syncDir(access: PackAccess, dir: string): Promise<void> {
  try {
    await access.fs.syncDir(dir);
  } catch (err) {
    if (!isErrno(err, 'ENOENT')) throw toRepositoryError(err, access.repoPath, 'flushing pack directories');
  }
}

async function removeOldTempFiles(access: PackAccess, dirs: string[], cutoff: number): Promise<number> {
  let removed = 0;
  for (const dir of dirs) {
    for (const file of await listTempFiles(access, dir)) {
      const st = await access.fs.stat(file).catch(() => null);
      if (!st || st.mtimeMs >= cutoff) continue;
      await unlinkIfPresent(access, file);
      removed++;
    }
  }
  return removed;
}
