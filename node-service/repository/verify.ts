/**
 * Verify: re-read, decrypt, decompress and re-hash every chunk the backups reference (or a
 * rotating subset), in parallel, and report exactly which backups each bad chunk affects.
 */
import { runBounded } from './concurrency.js';
import { readDamagedChunks, writeDamagedChunks, type DamagedChunk } from './damaged-chunks.js';
import { ChunkCorruptError, ChunkMissingError, InvalidArgumentError, RepositoryError } from './errors.js';
import { forEachChunkObject } from './format.js';
import type { RepositoryContext } from './repository-context.js';

export interface VerifyOptions {
  /** Chunks verified concurrently (default: 4 per worker thread). */
  parallelism?: number;
  /**
   * Verify only the chunks whose id falls in part `part` of `of` equal parts. Running with
   * part = run number mod `of` covers every chunk once every `of` runs. Manifests are always checked.
   */
  subset?: { part: number; of: number };
  onProgress?: (p: VerifyProgress) => void;
  /** Stops verifying at the next chunk; the promise rejects with the signal's reason. */
  signal?: AbortSignal;
}

export interface VerifyProgress {
  chunksDone: number;
  chunksTotal: number;
  bytesDone: number;
  /** Plaintext bytes of the selected chunks. */
  bytesTotal: number;
}

export interface VerifyProblem {
  chunkId: string;
  kind: 'missing' | 'corrupt' | 'unreadable';
  detail: string;
  /** Every backup that references the chunk, oldest first. */
  backups: string[];
  /**
   * False for damage an earlier verify found in a part of the chunks this (subset) run did
   * not check: it is still on the list of damaged chunks and still affects those backups.
   */
  checkedNow: boolean;
}

export interface VerifyReport {
  ok: boolean;
  backupsChecked: number;
  /** Distinct chunks referenced by all backups. */
  chunksReferenced: number;
  chunksChecked: number;
  /** Plaintext bytes re-hashed. */
  bytesChecked: number;
  /** Bytes read from the destination. */
  storedBytesRead: number;
  durationMs: number;
  subset: { part: number; of: number } | null;
  /** Damaged chunks still referenced: found now, or by an earlier run in a part not checked now. */
  problems: VerifyProblem[];
  damagedManifests: { backupId: string; detail: string }[];
  /** Every backup that cannot be restored in full, sorted. */
  affectedBackups: string[];
  /** Every backup whose manifest was read, sorted (with damagedManifests: every backup on the destination). */
  backups: string[];
  /** Chunks on the damaged list before this run that were found intact now (re-stored by a backup since). */
  healedChunks: number;
}

export function inSubset(chunkId: string, subset: { part: number; of: number }): boolean {
  return Number.parseInt(chunkId.slice(0, 8), 16) % subset.of === subset.part;
}

export async function verifyRepository(ctx: RepositoryContext, options: VerifyOptions = {}): Promise<VerifyReport> {
  const subset = options.subset ?? null;
  if (subset && (!Number.isInteger(subset.of) || subset.of < 1 || !Number.isInteger(subset.part) || subset.part < 0 || subset.part >= subset.of)) {
    throw new InvalidArgumentError(`verify subset must be part 0..of-1 of of ≥ 1, got ${subset.part}/${subset.of}`);
  }
  const parallelism = Math.max(1, options.parallelism ?? ctx.threads * 4);
  const started = ctx.clock.now();
  // The lease keeps GC from deleting chunks under us. A read-only destination (an offsite
  // copy, a share mounted ro) cannot hold one, but then no GC can run there either.
  const lease = await ctx.leases.acquire('shared', 'verify').catch((err: unknown) => {
    if (err instanceof RepositoryError && err.code === 'REPO_READ_ONLY') return null;
    throw err;
  });
  try {
    const index = new Map<string, { length: number; backups: number[] }>();
    const { headers, damaged } = await ctx.manifests.each((m, bi) => {
      for (const disk of m.disks) {
        forEachChunkObject(disk, (id, length) => {
          const e = index.get(id);
          if (!e) index.set(id, { length, backups: [bi] });
          else if (e.backups[e.backups.length - 1] !== bi) e.backups.push(bi);
        });
      }
    });
    const selected = [...index.entries()].filter(([id]) => !subset || inSubset(id, subset));
    let bytesTotal = 0;
    for (const [, e] of selected) bytesTotal += e.length;
    const problems: VerifyProblem[] = [];
    const known = await readDamagedChunks(ctx);
    if (known.unreadable) ctx.logger.warn({}, 'the list of damaged chunks was unreadable; this verify rewrites it');
    let bytesChecked = 0;
    let storedBytesRead = 0;
    let chunksDone = 0;
    await runBounded(selected, parallelism, async ([id, e]) => {
      // Outside the try: a cancel is not a problem with the chunk.
      options.signal?.throwIfAborted();
      try {
        const stored = await ctx.chunks.check(id, e.length);
        storedBytesRead += stored;
        bytesChecked += e.length;
      } catch (err) {
        const kind = err instanceof ChunkMissingError ? 'missing' : err instanceof ChunkCorruptError ? 'corrupt' : 'unreadable';
        if (kind === 'unreadable' && !(err instanceof RepositoryError)) ctx.logger.error({ err, chunk: id }, 'verify: unexpected error');
        problems.push({
          chunkId: id,
          kind,
          detail: err instanceof Error ? err.message : String(err),
          backups: e.backups.map((bi) => headers[bi]?.id ?? '?'),
          checkedNow: true,
        });
      }
      chunksDone++;
      options.onProgress?.({ chunksDone, chunksTotal: selected.length, bytesDone: bytesChecked, bytesTotal });
    });
    const healedChunks = await recordDamage(ctx, known.chunks, problems, selected.map(([id]) => id), index, (bi) => headers[bi]?.id ?? '?');
    problems.sort((a, b) => a.chunkId.localeCompare(b.chunkId));
    const affected = new Set<string>();
    for (const p of problems) for (const b of p.backups) affected.add(b);
    for (const d of damaged) affected.add(d.id);
    const report: VerifyReport = {
      ok: problems.length === 0 && damaged.length === 0,
      backupsChecked: headers.length + damaged.length,
      chunksReferenced: index.size,
      chunksChecked: selected.length,
      bytesChecked,
      storedBytesRead,
      durationMs: Math.max(0, ctx.clock.now() - started),
      subset,
      problems,
      damagedManifests: damaged.map((d) => ({ backupId: d.id, detail: d.error.message })),
      affectedBackups: [...affected].sort(),
      backups: headers.map((h) => h.id).sort(),
      healedChunks,
    };
    ctx.logger.info({ ok: report.ok, chunks: report.chunksChecked, problems: problems.length }, 'verify finished');
    return report;
  } finally {
    await lease?.release();
  }
}

/**
 * Brings the damaged-chunk list up to date: what this run checked replaces what the list
 * said about those chunks; damage found earlier in parts not checked now stays (and is
 * added to `problems`, so the report tells the whole truth); chunks no backup references
 * any more leave the list. Returns how many listed chunks were found intact. A read-only
 * destination keeps its list as it is.
 */
async function recordDamage(
  ctx: RepositoryContext,
  before: ReadonlyMap<string, DamagedChunk>,
  problems: VerifyProblem[],
  checked: readonly string[],
  index: ReadonlyMap<string, { backups: number[] }>,
  backupId: (bi: number) => string,
): Promise<number> {
  const now = new Date(ctx.clock.now()).toISOString();
  const after = new Map<string, DamagedChunk>();
  const checkedSet = new Set(checked);
  const foundNow = new Set(problems.map((p) => p.chunkId));
  let healed = 0;
  for (const [id, entry] of before) {
    const e = index.get(id);
    if (!e) continue;
    if (checkedSet.has(id)) {
      if (!foundNow.has(id)) healed++;
      continue;
    }
    after.set(id, entry);
    problems.push({ chunkId: id, kind: entry.kind, detail: entry.detail, backups: e.backups.map(backupId), checkedNow: false });
  }
  for (const p of problems) {
    if (!p.checkedNow) continue;
    after.set(p.chunkId, { kind: p.kind, detail: p.detail.slice(0, 500), foundAt: before.get(p.chunkId)?.foundAt ?? now });
  }
  const unchanged = after.size === before.size && [...after.keys()].every((id) => before.has(id) && before.get(id)?.kind === after.get(id)?.kind);
  if (unchanged) return healed;
  try {
    await writeDamagedChunks(ctx, after, ctx.clock.now());
  } catch (err) {
    if (!(err instanceof RepositoryError && err.code === 'REPO_READ_ONLY')) throw err;
  }
  return healed;
}
