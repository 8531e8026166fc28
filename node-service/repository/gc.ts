/**
 * Garbage collection: mark every chunk the manifests reference, sweep the rest. It runs
 * under an exclusive lease, so no backup is writing: every unreferenced chunk is garbage at
 * once, including what a crashed or failed backup left. The one exception is a backup whose
 * lease expired without its process being known to be gone (another host, a suspended
 * process): chunks written since it started are kept. GC also records an epoch that a
 * backup checks before committing (see BackupWriter), the second line of defence.
 */
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { runBounded } from './concurrency.js';
import { ManifestCorruptError, ObjectLockedError, isErrno, toRepositoryError } from './errors.js';
import { TEMP_PREFIX } from './file-system.js';
import { CHUNK_ID_RE, LAYOUT, forEachChunkObject, shardNames } from './format.js';
import type { RepositoryContext } from './repository-context.js';
import { isObjectStore } from './s3/object-store.js';

/** No fixed grace by default: the exclusive lease already keeps running backups out. */
export const DEFAULT_GC_GRACE_MS = 0;
/** Margin for clock skew between this node and the destination (file mtimes are the destination's). */
export const CLOCK_SKEW_MARGIN_MS = 10 * 60_000;
/** Temp files of leases and state younger than this may belong to a party taking a lease right now. */
const METADATA_TEMP_GRACE_MS = 10 * 60_000;

export interface GcOptions {
  /** Unreferenced chunks younger than this are kept in any case (default 0). */
  graceMs?: number;
  /** Report what would be freed without deleting anything. */
  dryRun?: boolean;
  onProgress?: (p: { shardsDone: number; shardsTotal: number; freedBytes: number }) => void;
  /** Stops between chunk directories (safe: only unreferenced chunks are ever removed). */
  signal?: AbortSignal;
}

export interface GcReport {
  dryRun: boolean;
  referencedChunks: number;
  /** Referenced by a manifest but not on disk (verify names the affected backups). */
  missingChunks: number;
  removedChunks: number;
  freedBytes: number;
  /**
   * Unreferenced but kept this time: younger than the grace period, or written since a
   * backup started whose lease expired while its process may still run.
   */
  keptRecentChunks: number;
  keptRecentBytes: number;
  removedTempFiles: number;
  removedStaleLeases: number;
  /** Unreferenced objects still under object lock (object stores): removed by a later GC, once the lock ends. */
  locked: number;
  /** When the first of them can go (ISO 8601), or null. */
  lockedUntil: string | null;
  durationMs: number;
}

export async function readGcEpoch(ctx: Pick<RepositoryContext, 'repoPath' | 'fs'>): Promise<string | null> {
  try {
    const raw = await ctx.fs.readFile(path.join(ctx.repoPath, LAYOUT.lastGc));
    const parsed = JSON.parse(raw.toString('utf8')) as { epoch?: unknown };
    return typeof parsed.epoch === 'string' ? parsed.epoch : null;
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return null;
    if (err instanceof SyntaxError) return 'unreadable';
    throw toRepositoryError(err, ctx.repoPath, 'reading the garbage collection state');
  }
}

export async function collectGarbage(ctx: RepositoryContext, options: GcOptions = {}): Promise<GcReport> {
  const graceMs = options.graceMs ?? DEFAULT_GC_GRACE_MS;
  const dryRun = options.dryRun ?? false;
  const started = ctx.clock.now();
  options.signal?.throwIfAborted();
  const lease = await ctx.leases.acquire('exclusive', 'gc');
  try {
    if (!dryRun) {
      const stateFile = path.join(ctx.repoPath, LAYOUT.lastGc);
      const state = { epoch: randomBytes(8).toString('hex'), startedAt: new Date(started).toISOString() };
      try {
        await ctx.fs.writeFileAtomic(stateFile, Buffer.from(JSON.stringify(state)));
        await ctx.fs.syncDir(path.dirname(stateFile));
      } catch (err) {
        throw toRepositoryError(err, ctx.repoPath, 'recording the garbage collection state');
      }
    }

    const referenced = new Set<string>();
    const { damaged } = await ctx.manifests.each((m) => {
      for (const d of m.disks) forEachChunkObject(d, (id) => referenced.add(id));
    });
    if (damaged.length > 0) {
      const first = damaged[0];
      throw new ManifestCorruptError(
        first ? ctx.manifests.fileOf(first.id) : ctx.repoPath,
        `garbage collection stopped before deleting anything, because ${damaged.length} manifest(s) cannot be read (${damaged
          .map((d) => d.id)
          .join(', ')}) and their chunks would be lost; remove or restore those manifests first`,
      );
    }

    const now = ctx.clock.now();
    // Backups whose leases expired but whose processes may live on (not known dead):
    // whatever they wrote since they started must stay.
    const maybeAlive = (await ctx.leases.list()).filter((l) => l.staleReason === 'expired' && l.info.purpose === 'backup');
    // No fixed grace and no writer that may live: every unreferenced file goes, whatever
    // its mtime says (the destination's clock may run ahead of ours).
    let cutoff = graceMs > 0 ? now - graceMs : Number.POSITIVE_INFINITY;
    for (const l of maybeAlive) {
      const since = Date.parse(l.info.createdAt);
      cutoff = Math.min(cutoff, (Number.isFinite(since) ? since : l.refreshedMs - 30 * 24 * 3_600_000) - CLOCK_SKEW_MARGIN_MS);
    }
    if (maybeAlive.length > 0) {
      ctx.logger.warn({ leases: maybeAlive.map((l) => l.info.id), keepSince: new Date(cutoff).toISOString() }, 'expired backup leases whose holders may still run: keeping what they may have written');
    }
    const metadataCutoff = Math.min(cutoff, now - METADATA_TEMP_GRACE_MS);
    const report: GcReport = {
      dryRun,
      referencedChunks: referenced.size,
      missingChunks: 0,
      removedChunks: 0,
      freedBytes: 0,
      keptRecentChunks: 0,
      keptRecentBytes: 0,
      removedTempFiles: 0,
      removedStaleLeases: 0,
      locked: 0,
      lockedUntil: null,
      durationMs: 0,
    };
    let soonestUnlock = Number.POSITIVE_INFINITY;
    let present = 0;
    const shards = shardNames();
    let shardsDone = 0;
    const remove = async (file: string): Promise<boolean> => {
      if (dryRun) return true;
      try {
        await ctx.fs.unlink(file);
        return true;
      } catch (err) {
        if (isErrno(err, 'ENOENT')) return false;
        if (err instanceof ObjectLockedError) {
          // Never a failure: it goes in a later GC, once its lock ends.
          report.locked++;
          soonestUnlock = Math.min(soonestUnlock, err.lockedUntilMs);
          return false;
        }
        throw toRepositoryError(err, ctx.repoPath, 'removing unreferenced chunks');
      }
    };
    const sweepDir = async (dir: string, chunkDir: boolean, dirCutoff: number): Promise<void> => {
      let names: string[];
      try {
        names = await ctx.fs.readdir(dir);
      } catch (err) {
        if (isErrno(err, 'ENOENT')) return;
        throw toRepositoryError(err, ctx.repoPath, 'listing chunks');
      }
      let changed = false;
      await runBounded(names, 16, async (name) => {
        const isTemp = name.startsWith(TEMP_PREFIX);
        const isChunk = chunkDir && CHUNK_ID_RE.test(name);
        if (!isTemp && !isChunk) return;
        if (isChunk && referenced.has(name)) {
          present++;
          return;
        }
        const file = path.join(dir, name);
        let st;
        try {
          st = await ctx.fs.stat(file);
        } catch (err) {
          if (isErrno(err, 'ENOENT')) return;
          throw toRepositoryError(err, ctx.repoPath, 'inspecting chunks');
        }
        if (st.mtimeMs >= dirCutoff) {
          if (isChunk) {
            report.keptRecentChunks++;
            report.keptRecentBytes += st.size;
          }
          return;
        }
        if (!(await remove(file))) return;
        changed = true;
        if (isTemp) report.removedTempFiles++;
        else {
          report.removedChunks++;
          report.freedBytes += st.size;
        }
      });
      if (changed && !dryRun) {
        try {
          await ctx.fs.syncDir(dir);
        } catch (err) {
          throw toRepositoryError(err, ctx.repoPath, 'flushing chunk directories');
        }
      }
    };
    for (const shard of shards) {
      options.signal?.throwIfAborted();
      await sweepDir(path.join(ctx.repoPath, LAYOUT.chunks, shard), true, cutoff);
      shardsDone++;
      options.onProgress?.({ shardsDone, shardsTotal: shards.length, freedBytes: report.freedBytes });
    }
    // Temp files of interrupted manifest, lease and state writes.
    await sweepDir(path.join(ctx.repoPath, LAYOUT.backups), false, cutoff);
    for (const dir of [LAYOUT.locks, LAYOUT.state]) await sweepDir(path.join(ctx.repoPath, dir), false, metadataCutoff);
    // Object stores have no temp files (a PUT is atomic); a crashed writer may leave a multipart upload instead.
    if (isObjectStore(ctx.fs) && !dryRun) report.removedTempFiles += await ctx.fs.abortStaleUploads(metadataCutoff);
    if (report.locked > 0) report.lockedUntil = new Date(soonestUnlock).toISOString();
    report.missingChunks = referenced.size - present;
    if (!dryRun) report.removedStaleLeases = await ctx.leases.removeStale();
    report.durationMs = Math.max(0, ctx.clock.now() - started);
    ctx.logger.info({ ...report }, 'garbage collection finished');
    return report;
  } finally {
    await lease.release();
  }
}
