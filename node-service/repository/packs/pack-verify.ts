/**
 * Verify of the pack layer: every point manifest is read, every pack is read whole and
 * checked against its name (SHA-256), its header against the index, and every blob in it is
 * decrypted, decompressed and re-hashed. Each damaged or missing blob is reported with the
 * role it plays (file content, a metadata database, a reference list) and exactly the
 * points that need it; a damaged pack with every point that needs one of its blobs.
 */
import { createHash } from 'node:crypto';
import { runBounded } from '../concurrency.js';
import { RepositoryError, isErrno } from '../errors.js';
import { inSubset } from '../verify.js';
import { BlobReader } from './blob-reader.js';
import { blobCodec, derivePackKeys, type PackAccess } from './pack-access.js';
import { listPackFiles, packFile, splitPack } from './pack-files.js';
import type { PackEntry } from './pack-format.js';
import { walkPointNeeds } from './point-needs.js';
import { PackIndex } from './pack-index.js';
import { PointStore } from './point-store.js';

export interface PackVerifyOptions {
  /** Packs checked at once (default 2). */
  parallelism?: number;
  /** Only packs whose id falls in this part (as verify's chunk subsets); manifests and the index are always checked. */
  subset?: { part: number; of: number };
  signal?: AbortSignal;
  onProgress?: (p: { packsDone: number; packsTotal: number; bytesDone: number }) => void;
}

/** File content, or an object log (a point's metadata). */
export type BlobRole = 'content' | 'metadata';

export interface BlobProblem {
  blobId: string;
  /** The pack that holds it, or null when no pack does. */
  packId: string | null;
  kind: 'missing' | 'corrupt' | 'unreadable';
  role: BlobRole;
  detail: string;
  /** Every point that needs the blob, oldest first. */
  points: string[];
}

export interface PackVerifyReport {
  ok: boolean;
  pointsChecked: number;
  packsChecked: number;
  blobsChecked: number;
  /** Bytes of packs read. */
  bytesChecked: number;
  problems: BlobProblem[];
  /** Packs that are not what their name says (any flipped byte), or whose header is unreadable. */
  damagedPacks: { packId: string; detail: string; points: string[] }[];
  damagedPoints: { pointId: string; detail: string }[];
  /** Points whose object log (and every newer one of the object) cannot be read: what they need is unknown. */
  unreadableLogs: { pointId: string; detail: string }[];
  damagedIndexFiles: { indexId: string; detail: string }[];
  /** Every point that cannot be restored in full, sorted. */
  affectedPoints: string[];
  /** Every point whose manifest was read, sorted. */
  points: string[];
  subset: { part: number; of: number } | null;
  durationMs: number;
}

interface Need {
  role: BlobRole;
  points: Set<number>;
}

export async function verifyPacks(access: PackAccess, options: PackVerifyOptions = {}): Promise<PackVerifyReport> {
  const started = access.clock.now();
  const subset = options.subset ?? null;
  const lease = await access.leases.acquire('shared', 'verify').catch((err: unknown) => {
    if (err instanceof RepositoryError && err.code === 'REPO_READ_ONLY') return null;
    throw err;
  });
  try {
    const keys = derivePackKeys(access);
    const scan = await new PointStore(access, keys.sealKey).scan();
    const ids = scan.points.map((p) => p.id);
    const index = await PackIndex.load(access, keys.sealKey);
    const { packs: onDisk } = await listPackFiles(access);
    await index.addUnindexed(access, keys.sealKey, onDisk);
    const reader = new BlobReader(access, index, blobCodec(access), keys.sealKey);

    const needs = new Map<string, Need>();
    const index0 = new Map(ids.map((id, i) => [id, i]));
    const need = (id: string, role: BlobRole, points: readonly string[]): void => {
      let n = needs.get(id);
      if (!n) needs.set(id, (n = { role, points: new Set() }));
      else if (role === 'metadata') n.role = 'metadata';
      for (const p of points) n.points.add(index0.get(p) ?? -1);
    };
    const problems: BlobProblem[] = [];
    const { unknown } = await walkPointNeeds(scan.points, reader, {
      metadata: (b, p) => need(b, 'metadata', [p]),
      content: (b, ps) => need(b, 'content', ps),
    });
    const pointsOf = (n: Need): string[] => [...n.points].sort((a, b) => a - b).map((i) => ids[i] ?? '?');
    for (const [id, n] of needs) {
      if (!index.has(id)) problems.push({ blobId: id, packId: null, kind: 'missing', role: n.role, detail: 'no pack holds it', points: pointsOf(n) });
    }

    const present = new Set(onDisk);
    const damagedPacks: PackVerifyReport['damagedPacks'] = index.unreadablePacks.map((u) => ({ packId: u.packId, detail: `header unreadable: ${u.detail}`, points: [] }));
    const selected = [...new Set([...onDisk, ...index.packs.keys()])].filter((id) => !subset || inSubset(id, subset)).sort();
    let packsDone = 0;
    let bytesChecked = 0;
    let blobsChecked = 0;
    await runBounded(selected, Math.max(1, options.parallelism ?? 2), async (packId) => {
      options.signal?.throwIfAborted();
      const entries = index.packs.get(packId) ?? [];
      const file = packFile(access, packId);
      const blobFailure = (e: PackEntry, kind: BlobProblem['kind'], detail: string): void => {
        const n = needs.get(e.id);
        if (n && index.get(e.id)?.packId === packId) problems.push({ blobId: e.id, packId, kind, role: n.role, detail, points: pointsOf(n) });
      };
      let raw: Buffer | null = null;
      if (present.has(packId)) {
        raw = await access.fs.readFile(file).catch((err: unknown) => {
          if (isErrno(err, 'ENOENT')) return null;
          for (const e of entries) blobFailure(e, 'unreadable', err instanceof Error ? err.message : String(err));
          return null;
        });
      }
      const damage: string[] = [];
      if (raw === null) {
        if (!present.has(packId)) for (const e of entries) blobFailure(e, 'missing', `its pack ${packId} is missing`);
      } else {
        bytesChecked += raw.length;
        if (createHash('sha256').update(raw).digest('hex') !== packId) damage.push('its content does not match its name');
        try {
          const header = splitPack(raw, keys.sealKey);
          if (!sameEntries(header, entries)) damage.push('its header disagrees with the index');
        } catch (err) {
          damage.push(`header: ${err instanceof Error ? err.message : String(err)}`);
        }
        let bad = 0;
        for (const e of entries) {
          blobsChecked++;
          try {
            if (e.offset + e.length > raw.length) throw new Error('beyond the end of the pack');
            reader.decode(e.id, raw.subarray(e.offset, e.offset + e.length), file, e.plainLength, true);
          } catch (err) {
            bad++;
            blobFailure(e, 'corrupt', err instanceof Error ? err.message : String(err));
          }
        }
        if (bad > 0) damage.push(`${bad} of its ${entries.length} blobs are damaged`);
      }
      if (damage.length > 0) {
        const affected = new Set<number>();
        for (const e of entries) for (const i of needs.get(e.id)?.points ?? []) affected.add(i);
        affected.delete(-1);
        damagedPacks.push({ packId, detail: damage.join('; '), points: [...affected].sort((a, b) => a - b).map((i) => ids[i] ?? '?') });
      }
      packsDone++;
      options.onProgress?.({ packsDone, packsTotal: selected.length, bytesDone: bytesChecked });
    });

    problems.sort((a, b) => a.blobId.localeCompare(b.blobId));
    damagedPacks.sort((a, b) => a.packId.localeCompare(b.packId));
    const affected = new Set<string>();
    for (const p of problems) for (const id of p.points) affected.add(id);
    for (const u of unknown) affected.add(u.pointId);
    for (const d of scan.damaged) affected.add(d.id);
    const report: PackVerifyReport = {
      ok: problems.length === 0 && damagedPacks.length === 0 && scan.damaged.length === 0 && index.damagedFiles.length === 0 && unknown.length === 0,
      pointsChecked: scan.points.length + scan.damaged.length,
      packsChecked: selected.length,
      blobsChecked,
      bytesChecked,
      problems,
      damagedPacks,
      damagedPoints: scan.damaged.map((d) => ({ pointId: d.id, detail: d.detail })),
      unreadableLogs: unknown.map((u) => ({ pointId: u.pointId, detail: u.detail })),
      damagedIndexFiles: index.damagedFiles.map((d) => ({ indexId: d.id, detail: d.detail })),
      affectedPoints: [...affected].sort(),
      points: [...ids].sort(),
      subset,
      durationMs: Math.max(0, access.clock.now() - started),
    };
    access.logger.info({ ok: report.ok, packs: report.packsChecked, problems: problems.length }, 'pack verify finished');
    return report;
  } finally {
    await lease?.release();
  }
}

function sameEntries(a: readonly PackEntry[], b: readonly PackEntry[]): boolean {
  return a.length === b.length && a.every((e, i) => {
    const o = b[i];
    return o !== undefined && o.id === e.id && o.type === e.type && o.offset === e.offset && o.length === e.length && o.plainLength === e.plainLength;
  });
}
