/**
 * Copies one VM backup from a repository to another (FORMAT.md "Copies"): the same backup
 * (id, group, createdAt, kind, source, disks, summary) in the target, sending only the
 * chunks the target lacks. Chunk ids depend on each repository's keys, so a chunk is in
 * general read from the source, decoded, and encoded (and re-hashed) for the target; when
 * both repositories name and encode chunks alike (both unencrypted, or the same keys) the
 * chunk file is copied as it is. The target copy is written like a backup: under a shared
 * backup lease, with the GC epoch check, manifest last, so it exists exactly when its
 * manifest does; an interrupted copy leaves chunks and a journal (`state/copy-…`) from which
 * the next run resumes without reading again what it had sent.
 */
import * as path from 'node:path';
import { headerFits } from './chunk-codec.js';
import { ENVELOPE_HEADER_BYTES } from './chunk-format.js';
import { runBounded } from './concurrency.js';
import { readDamagedChunks } from './damaged-chunks.js';
import { BackupExistsError, ChunkCorruptError, ChunkMissingError, InvalidArgumentError, RepositoryError, isErrno, toRepositoryError } from './errors.js';
import { BACKUP_ID_RE, MIB, chunkLength, chunkRelPath, expandChunks, forEachChunkObject, objectsOf, type BackupManifest, type ChunkSlot, type DiskManifest } from './format.js';
import { CopyJournal, JOURNAL_BATCH, JOURNAL_INTERVAL_MS } from './copy-journal.js';
import { readGcEpoch } from './gc.js';
import type { CopyAccess } from './repository-context.js';
import { backupInfoOf, type BackupInfo, type Repository } from './repository.js';

export interface CopyProgress {
  /** Distinct non-zero chunks handled so far (copied or skipped). */
  chunksDone: number;
  chunksTotal: number;
  /** Plaintext bytes of the chunks handled so far. */
  bytesDone: number;
  bytesTotal: number;
}

export interface CopyOptions {
  signal?: AbortSignal;
  /** Called as chunks complete, at most every `progressIntervalMs` (default 250) and once at the end. */
  onProgress?: (progress: CopyProgress) => void;
  progressIntervalMs?: number;
  /** Chunks in flight (default: bounded by the target's threads and by memory). */
  maxInFlight?: number;
  /** How often the journal is written: after `batch` chunks (default 256) or `intervalMs` (default 5 s), whichever comes first. */
  journal?: { batch?: number; intervalMs?: number };
}

export interface CopyReport {
  /** The backup's id, the same in both repositories. */
  repoBackupId: string;
  /** Distinct non-zero chunks the backup references. */
  chunks: number;
  /** Chunk files this run wrote to the target. */
  copiedChunks: number;
  /** Chunks the target already had (deduplicated, or sent by an interrupted earlier run). */
  skippedChunks: number;
  /** Of the copied chunks, those whose file was copied as it is (no decode and encode). */
  rawCopiedChunks: number;
  /** Chunks read from the source (the rest were known to the target through a journal or an earlier copy). */
  readChunks: number;
  /** Bytes written to the target: chunk files as stored, plus the manifest. */
  bytesSent: number;
  logicalBytes: number;
  /** True when an earlier interrupted copy of this backup had already sent part of it. */
  resumed: boolean;
  /** False when the target already held the backup (nothing was done). */
  created: boolean;
  /** The backup as the target lists it. */
  backup: BackupInfo;
  durationMs: number;
}

/** Chunk buffers in flight stay under this (a chunk costs up to three buffers: stored file, plaintext, new file). */
const IN_FLIGHT_BUDGET = 96 * MIB;

/**
 * Copies backup `backupId` from `source` to `target`. Idempotent: a backup already in the
 * target is left alone (`created: false`). Fails with REPO_GC_RACE rather than commit a copy
 * with holes when garbage collection ran on the target while the copy stalled.
 */
export async function copyBackup(source: Repository, target: Repository, backupId: string, options: CopyOptions = {}): Promise<CopyReport> {
  if (!BACKUP_ID_RE.test(backupId)) throw new InvalidArgumentError(`"${backupId}" is not a backup id`);
  if (source.id === target.id && source.path === target.path) {
    throw new InvalidArgumentError(`the source and the target of the copy are the same repository (${source.path})`);
  }
  const signal = options.signal;
  signal?.throwIfAborted();
  const src = source.copyAccess();
  const dst = target.copyAccess();
  const started = dst.clock.now();
  const manifest = await source.loadManifest(backupId);
  const stats = chunkStats(manifest);
  const log = dst.logger.child({ copy: backupId, from: source.path });

  const existing = await existingCopy(target, dst, manifest);
  if (existing) {
    await CopyJournal.discard(dst, src.repositoryId, backupId, log);
    log.info({}, 'the target already holds this backup; nothing to copy');
    return {
      repoBackupId: backupId,
      chunks: stats.chunks,
      copiedChunks: 0,
      skippedChunks: stats.chunks,
      rawCopiedChunks: 0,
      readChunks: 0,
      bytesSent: 0,
      logicalBytes: manifest.summary.logicalBytes,
      resumed: false,
      created: false,
      backup: backupInfoOf(existing),
      durationMs: Math.max(0, dst.clock.now() - started),
    };
  }

  const lease = await dst.leases.acquire('shared', 'backup', `copy of ${backupId}`);
  let journal: CopyJournal | undefined;
  let committed = false;
  try {
    const gcEpoch = await readGcEpoch(dst);
    const damagedList = await readDamagedChunks(dst);
    if (damagedList.unreadable) log.warn({}, 'the list of damaged chunks of the target is unreadable; the next verify rewrites it');
    const damaged = damagedList.chunks;
    const raw = sameChunkEncoding(src, dst);
    // Listed after the lease is taken: GC cannot remove any of them now.
    const known = dst.listChunks ? await dst.listChunks() : undefined;
    const inTarget = async (id: string, length: number): Promise<boolean> => (known ? known.has(id) : present(dst, id, length));
    journal = await CopyJournal.open(dst, src.repositoryId, backupId, log, { batch: options.journal?.batch ?? JOURNAL_BATCH, intervalMs: options.journal?.intervalMs ?? JOURNAL_INTERVAL_MS });
    const resumed = journal.earlier.size > 0;
    const reference = raw ? null : await positionalHints(source, target, manifest, log);
    const hints = reference?.hints ?? null;
    // Object lock: what the copy writes and reuses stays locked at least as long as the copy.
    const retention = dst.retention?.();
    await retention?.begin(reference?.targetCopy ?? null);

    /** Source id → target id of every chunk handled (not kept when both are the same). */
    const mapped = new Map<string, string>();
    /** Target chunks this copy wrote: the GC race check need not look for them. */
    const written = new Set<string>();
    const touchedShards = new Set<string>();
    const totals = { copied: 0, raw: 0, read: 0, sent: 0 };
    const progress: CopyProgress = { chunksDone: 0, chunksTotal: stats.chunks, bytesDone: 0, bytesTotal: stats.bytes };
    const interval = options.progressIntervalMs ?? 250;
    let lastReport = -Infinity;
    const report = (force: boolean): void => {
      if (!options.onProgress) return;
      const now = dst.clock.now();
      if (!force && now - lastReport < interval) return;
      lastReport = now;
      options.onProgress({ ...progress });
    };

    const store = async (id: string, payload: Buffer): Promise<void> => {
      const file = path.join(dst.repoPath, chunkRelPath(id));
      try {
        await dst.fs.writeFileAtomic(file, payload, retention ? { retainUntilMs: retention.retainUntilMs } : {});
      } catch (err) {
        throw toRepositoryError(err, dst.repoPath, `writing chunk ${id.slice(0, 12)}… of the copy of backup ${backupId}`);
      }
      written.add(id);
      touchedShards.add(path.dirname(file));
      totals.copied++;
      totals.sent += payload.length;
    };

    const copyChunk = async (task: ChunkTask): Promise<void> => {
      signal?.throwIfAborted();
      const { id, length } = task;
      if (raw) {
        if (damaged.has(id) || !(await inTarget(id, length))) {
          const file = path.join(src.repoPath, chunkRelPath(id));
          let stored: Buffer;
          try {
            stored = await src.fs.readFile(file);
          } catch (err) {
            if (isErrno(err, 'ENOENT')) throw new ChunkMissingError(file, id);
            throw toRepositoryError(err, src.repoPath, `reading chunk ${id}`);
          }
          totals.read++;
          // Never spread damage: the file is decoded and re-hashed before it is sent.
          let plainLength: number;
          try {
            plainLength = (await src.pool.decode(id, Buffer.from(stored), true)).length;
          } catch (err) {
            throw new ChunkCorruptError(file, id, err instanceof Error ? err.message : String(err));
          }
          if (plainLength !== length) throw new ChunkCorruptError(file, id, `it holds ${plainLength} bytes where ${length} are expected`);
          await store(id, stored);
          totals.raw++;
          journal?.add(id, id);
        }
      } else {
        let targetId = task.hint ?? journal?.earlier.get(id);
        if (targetId !== undefined && damaged.has(targetId)) targetId = undefined;
        // A hint comes from a copy in the target, whose manifest keeps its chunks; a journal
        // entry only from an interrupted run, whose chunks GC may have removed since.
        if (targetId !== undefined && task.hint === undefined && !(await inTarget(targetId, length))) targetId = undefined;
        if (targetId === undefined) {
          const { plain } = await src.chunks.fetch(id, length);
          totals.read++;
          let enc = await dst.pool.encode(plain, known === undefined);
          // Never deduplicate against a known-bad chunk: store it again (same id, new file).
          if (enc.exists && damaged.has(enc.id) && !written.has(enc.id)) enc = await dst.pool.encode(enc.plain, false);
          else if (known?.has(enc.id) && !damaged.has(enc.id)) enc = { id: enc.id, exists: true, plain: enc.plain };
          targetId = enc.id;
          if (enc.payload) await store(enc.id, enc.payload);
          journal?.add(id, enc.id);
        }
        mapped.set(id, targetId);
      }
      progress.chunksDone++;
      progress.bytesDone += length;
      report(false);
      await journal?.maybeFlush();
    };

    const maxChunk = Math.max(1, ...manifest.disks.map((d) => d.chunkSize));
    // Two codec pools feed each other here (a backup has one): fewer chunks in flight than a
    // backup keeps the same speed (measured) and the process under 300 MiB.
    const limit = Math.max(1, options.maxInFlight ?? Math.max(2, Math.min(dst.pool.threads * 2 + 2, Math.floor(IN_FLIGHT_BUDGET / (3 * maxChunk)))));
    await runBounded(chunkTasks(manifest, hints), limit, copyChunk);
    signal?.throwIfAborted();
    report(true);

    const disks: DiskManifest[] = raw
      ? manifest.disks
      : manifest.disks.map((d) => ({
          ...d,
          chunks: d.chunks.map((e) => {
            if (typeof e === 'number') return e; // a zero run stays a zero run
            const to = (id: string): string => {
              const t = mapped.get(id);
              if (t === undefined) throw new Error(`internal error: chunk ${id} of disk ${d.name} was not copied`);
              return t;
            };
            return typeof e === 'string' ? to(e) : { base: to(e.base), over: e.over.map(([offset, length, id]): [number, number, string] => [offset, length, to(id)]) };
          }),
        }));
    const copy: BackupManifest = { ...manifest, repositoryId: dst.repositoryId, disks };

    await Promise.all(
      [...touchedShards].map((dir) =>
        dst.fs.syncDir(dir).catch((err: unknown) => {
          throw toRepositoryError(err, dst.repoPath, 'flushing chunk directories');
        }),
      ),
    );
    await checkNoGcRace(dst, copy, written, gcEpoch, lease.lapsed);
    let created = true;
    try {
      const lock = retention ? await retention.finish(copy.disks, written) : undefined;
      await dst.manifests.write(copy, lock ? { retainUntilMs: lock.retainUntilMs } : {});
    } catch (err) {
      // A concurrent copy of the same backup committed first: the same backup, nothing lost.
      if (!(err instanceof BackupExistsError)) throw err;
      created = false;
    }
    committed = true;
    if (created) {
      try {
        totals.sent += (await dst.fs.stat(dst.manifests.fileOf(backupId))).size;
      } catch (err) {
        log.warn({ err }, 'could not read the size of the manifest just written');
      }
    }
    await journal.remove();
    const result: CopyReport = {
      repoBackupId: backupId,
      chunks: stats.chunks,
      copiedChunks: totals.copied,
      skippedChunks: stats.chunks - totals.copied,
      rawCopiedChunks: totals.raw,
      readChunks: totals.read,
      bytesSent: totals.sent,
      logicalBytes: manifest.summary.logicalBytes,
      resumed,
      created,
      backup: backupInfoOf(created ? copy : await target.loadManifest(backupId)),
      durationMs: Math.max(0, dst.clock.now() - started),
    };
    log.info({ chunks: result.chunks, copied: result.copiedChunks, raw: result.rawCopiedChunks, read: result.readChunks, resumed, created }, 'backup copied');
    return result;
  } finally {
    // An interrupted copy keeps what it learnt for the next run (best effort).
    if (!committed) await journal?.flush().catch((err: unknown) => log.warn({ err }, 'could not save the copy journal'));
    await lease.release();
  }
}

interface ChunkTask {
  id: string;
  length: number;
  /** The target id, known from an earlier copy of a backup with the same chunk at the same place. */
  hint?: string;
}

function chunkStats(m: BackupManifest): { chunks: number; bytes: number } {
  const seen = new Set<string>();
  let bytes = 0;
  for (const d of m.disks) {
    forEachChunkObject(d, (id, length) => {
      if (seen.has(id)) return;
      seen.add(id);
      bytes += length;
    });
  }
  return { chunks: seen.size, bytes };
}

/** Each distinct chunk once, in disk order (lazily: a big disk's tasks are never all in memory). */
function* chunkTasks(m: BackupManifest, hints: Map<string, (index: number, id: string) => string | undefined> | null): Generator<ChunkTask> {
  const seen = new Set<string>();
  for (const d of m.disks) {
    const hint = hints?.get(d.name);
    let index = 0;
    for (const e of d.chunks) {
      if (typeof e === 'number') {
        index += e;
        continue;
      }
      const length = chunkLength(d.size, d.chunkSize, index);
      for (const o of objectsOf(e, length)) {
        if (seen.has(o.id)) continue;
        seen.add(o.id);
        // Only a chunk's base (or whole chunk) lines up with the earlier copy's at the same place.
        const h = o.length === length ? hint?.(index, o.id) : undefined;
        yield h === undefined ? { id: o.id, length: o.length } : { id: o.id, length: o.length, hint: h };
      }
      index += 1;
    }
  }
}

/** Both repositories name and encode a chunk alike: the chunk file can be copied as it is. */
function sameChunkEncoding(a: CopyAccess, b: CopyAccess): boolean {
  if (a.chunkIdHash !== b.chunkIdHash) return false;
  if (a.keys === null || b.keys === null) return a.keys === null && b.keys === null;
  return a.keys.chunkIdKey.equals(b.keys.chunkIdKey) && a.keys.chunkKey.equals(b.keys.chunkKey);
}

/** The target's copy of the backup, if it has one (checked to be the same backup). */
async function existingCopy(target: Repository, dst: CopyAccess, m: BackupManifest): Promise<BackupManifest | null> {
  if (!(await dst.manifests.exists(m.id))) return null;
  const there = await target.loadManifest(m.id);
  if (!sameBackup(there, m)) {
    throw new RepositoryError('BACKUP_EXISTS', `The target ${dst.repoPath} holds another backup with the id ${m.id} (a different VM or time); it was not overwritten.`, { path: dst.repoPath });
  }
  return there;
}

/** Two manifests describe the same backup (one a copy of the other): same point in time, group and disk layout. */
function sameBackup(a: BackupManifest, b: BackupManifest): boolean {
  if (a.id !== b.id || a.createdAt !== b.createdAt || a.group !== b.group || a.disks.length !== b.disks.length) return false;
  return a.disks.every((d, i) => {
    const e = b.disks[i];
    if (!e || e.name !== d.name || e.size !== d.size || e.chunkSize !== d.chunkSize || e.chunks.length !== d.chunks.length) return false;
    // Zero runs sit at the same places with the same lengths; chunk ids differ between repositories.
    return d.chunks.every((c, j) => {
      const t = e.chunks[j];
      if (typeof c === 'number' || typeof t === 'number') return c === t;
      if (typeof c === 'string' || typeof t === 'string') return typeof c === typeof t;
      return c.over.length === t!.over.length && c.over.every(([offset, length], k) => t!.over[k]![0] === offset && t!.over[k]![1] === length);
    });
  });
}

/**
 * Target ids known without reading the source: the newest earlier backup of the same group
 * (its parent first) that both repositories hold lines up chunk by chunk with this one, so
 * where this backup has the source chunk that one has at the same place, the target has the
 * target chunk of its copy there. Per disk: (index, source id) → target id.
 */
async function positionalHints(
  source: Repository,
  target: Repository,
  m: BackupManifest,
  log: CopyAccess['logger'],
): Promise<{ hints: Map<string, (index: number, id: string) => string | undefined>; targetCopy: BackupManifest } | null> {
  const inTarget = new Set((await target.listBackups()).filter((b) => b.group === m.group && b.createdAt < m.createdAt).map((b) => b.id));
  const candidates = (await source.listBackups()).filter((b) => inTarget.has(b.id)).map((b) => b.id);
  const refId = m.parent !== null && candidates.includes(m.parent) ? m.parent : candidates[candidates.length - 1];
  if (refId === undefined) return null;
  let srcRef: BackupManifest;
  let dstRef: BackupManifest;
  try {
    [srcRef, dstRef] = await Promise.all([source.loadManifest(refId), target.loadManifest(refId)]);
  } catch (err) {
    // Pruned meanwhile, or damaged: no hints, every chunk is read.
    log.warn({ err, reference: refId }, 'the earlier copy cannot be used to skip reading unchanged chunks');
    return null;
  }
  if (!sameBackup(srcRef, dstRef)) return null;
  const hints = new Map<string, (index: number, id: string) => string | undefined>();
  for (const d of m.disks) {
    const i = srcRef.disks.findIndex((r) => r.name === d.name && r.chunkSize === d.chunkSize);
    const srcDisk = srcRef.disks[i];
    const dstDisk = dstRef.disks[i];
    if (!srcDisk || !dstDisk) continue;
    const from = expandChunks(srcDisk);
    const to = expandChunks(dstDisk);
    const baseOf = (slot: ChunkSlot | undefined): string | undefined => (slot === null || slot === undefined ? undefined : typeof slot === 'string' ? slot : slot.base);
    hints.set(d.name, (index, id) => (baseOf(from[index]) === id ? baseOf(to[index]) : undefined));
  }
  log.info({ reference: refId }, 'chunks unchanged since an earlier copy are taken from it without reading');
  return { hints, targetCopy: dstRef };
}

/** A chunk file of this id that fits `plainLength` bytes (header and size) is in the repository. */
async function present(r: CopyAccess, id: string, plainLength: number): Promise<boolean> {
  let file;
  try {
    file = await r.fs.openRead(path.join(r.repoPath, chunkRelPath(id)));
  } catch {
    return false; // absent or unreadable: store the chunk (again)
  }
  try {
    const header = Buffer.alloc(ENVELOPE_HEADER_BYTES);
    if ((await file.read(header, 0)) !== ENVELOPE_HEADER_BYTES) return false;
    return headerFits(header, await file.size(), plainLength, r.keys !== null);
  } catch {
    return false;
  } finally {
    await file.close().catch(() => undefined);
  }
}

/** As BackupWriter: if GC ran (or our lease lapsed), every chunk used without having been written must still be there. */
async function checkNoGcRace(dst: CopyAccess, copy: BackupManifest, written: ReadonlySet<string>, gcEpoch: string | null, lapsed: boolean): Promise<void> {
  const epoch = await readGcEpoch(dst);
  if (epoch === gcEpoch && !lapsed) return;
  const ids = new Set<string>();
  for (const d of copy.disks) forEachChunkObject(d, (id) => !written.has(id) && ids.add(id));
  let missing = 0;
  await runBounded(ids.values(), 16, async (id) => {
    try {
      await dst.fs.stat(path.join(dst.repoPath, chunkRelPath(id)));
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw toRepositoryError(err, dst.repoPath, 'checking reused chunks');
      missing++;
    }
  });
  if (missing > 0) {
    throw new RepositoryError(
      'REPO_GC_RACE',
      `The copy of backup ${copy.id} was not committed: garbage collection ran on ${dst.repoPath} while the copy was stalled and ${missing} chunk(s) it reuses are gone. Run the copy again.`,
      { path: dst.repoPath },
    );
  }
  dst.logger.warn({ epoch }, 'garbage collection ran during this copy; all reused chunks are still present');
}
