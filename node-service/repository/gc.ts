/**
 * Garbage collection: mark every chunk the manifests reference, sweep the rest — but only
 * chunk files older than the grace period, so chunks of a backup still being written are
 * never taken. Runs under an exclusive lease (no backup or verify at the same time) and
 * records an epoch that a backup checks before committing (see BackupWriter).
 */
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { runBounded } from './concurrency.js';
import { ManifestCorruptError, isErrno, toRepositoryError } from './errors.js';
import { TEMP_PREFIX } from './file-system.js';
import { CHUNK_ID_RE, LAYOUT, forEachDataChunk, shardNames } from './format.js';
import type { RepositoryContext } from './repository-context.js';

export const DEFAULT_GC_GRACE_MS = 24 * 60 * 60_000;

export interface GcOptions {
  /** Unreferenced chunks younger than this are kept (default 24 h). */
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
  /** Unreferenced but younger than the grace period: kept this time. */
  keptRecentChunks: number;
  keptRecentBytes: number;
  removedTempFiles: number;
  removedStaleLeases: number;
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
      for (const d of m.disks) forEachDataChunk(d, (id) => referenced.add(id));
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

    const cutoff = ctx.clock.now() - graceMs;
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
      durationMs: 0,
    };
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
        throw toRepositoryError(err, ctx.repoPath, 'removing unreferenced chunks');
      }
    };
    const sweepDir = async (dir: string, chunkDir: boolean): Promise<void> => {
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
        if (st.mtimeMs >= cutoff) {
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
      await sweepDir(path.join(ctx.repoPath, LAYOUT.chunks, shard), true);
      shardsDone++;
      options.onProgress?.({ shardsDone, shardsTotal: shards.length, freedBytes: report.freedBytes });
    }
    // Temp files of interrupted manifest, lease and state writes.
    for (const dir of [LAYOUT.backups, LAYOUT.locks, LAYOUT.state]) await sweepDir(path.join(ctx.repoPath, dir), false);
    report.missingChunks = referenced.size - present;
    if (!dryRun) report.removedStaleLeases = await ctx.leases.removeStale();
    report.durationMs = Math.max(0, ctx.clock.now() - started);
    ctx.logger.info({ ...report }, 'garbage collection finished');
    return report;
  } finally {
    await lease.release();
  }
}
