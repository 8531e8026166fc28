/**
 * Repository format v1: names, layout and the JSON documents (config, manifest).
 * FORMAT.md is the human description of the same thing; keep them in step. The binary
 * header of chunk and manifest files is defined in chunk-format.ts (worker threads load it
 * without zod).
 */
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { z } from 'zod';
import type { ChunkIdHash } from './chunk-format.js';

export const FORMAT_NAME = 'vplus-repository';
/** The manifest format's base version (a repository config of version 1 or 2 holds it). */
export const FORMAT_VERSION = 1;
/**
 * A repository config's `version`: 1 (chunk ids by SHA-256), or 2 once its chunks are named by
 * BLAKE3 (`chunkId`), so a reader that knows only SHA-256 refuses it instead of finding every
 * chunk damaged. Readers take both. FORMAT.md "config.json".
 */
export const CONFIG_VERSIONS = [1, 2] as const;
export const CONFIG_VERSION_BLAKE3 = 2;
export const MANIFEST_FORMAT = 'vplus-backup';
/**
 * A manifest's JSON `version`: 1, or 2 once its chunk list holds an overlay entry
 * (OverlayChunk); readers take both. FORMAT.md "Overlays".
 */
export const MANIFEST_VERSION_OVERLAYS = 2;
/** At most this many newer parts on one overlay chunk (readers refuse more). */
export const MAX_OVERLAY_PARTS = 16;

export const MIB = 1024 * 1024;
/** Chosen by measurement, see FORMAT.md "Chunk size". */
export const DEFAULT_CHUNK_SIZE = 1 * MIB;
export const ALLOWED_CHUNK_SIZES: readonly number[] = [256 * 1024, 512 * 1024, 1 * MIB, 2 * MIB, 4 * MIB, 8 * MIB];
/** Chosen by measurement, see FORMAT.md "Compression". */
export const DEFAULT_COMPRESSION_LEVEL = 1;

/** scrypt defaults: 64 MiB of memory, about 0.2 s on a current core. */
export const DEFAULT_KDF = { N: 2 ** 16, r: 8, p: 1 } as const;

export const CHUNK_ID_RE = /^[0-9a-f]{64}$/;
export const BACKUP_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export const LAYOUT = {
  config: 'config.json',
  chunks: 'chunks',
  backups: 'backups',
  locks: 'locks',
  state: 'state',
  lastGc: path.join('state', 'last-gc.json'),
  damagedChunks: path.join('state', 'damaged-chunks.json'),
} as const;

export const MANIFEST_SUFFIX = '.manifest';

export function chunkRelPath(id: string): string {
  return path.join(LAYOUT.chunks, id.slice(0, 2), id);
}

export function shardNames(): string[] {
  const out: string[] = [];
  for (let i = 0; i < 256; i++) out.push(i.toString(16).padStart(2, '0'));
  return out;
}

/** Time-sortable unique backup id: 20250102T030405Z-a1b2c3d4e5. */
export function newBackupId(nowMs: number): string {
  const iso = new Date(nowMs).toISOString(); // 2025-01-02T03:04:05.678Z
  const stamp = `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}T${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
  return `${stamp}-${randomBytes(5).toString('hex')}`;
}

const b64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/);

export const kdfParamsSchema = z.object({
  algorithm: z.literal('scrypt'),
  // Bounded so a hostile config cannot make open() allocate gigabytes.
  N: z
    .number()
    .int()
    .min(2 ** 10)
    .max(2 ** 22)
    .refine((n) => (n & (n - 1)) === 0, 'N must be a power of two'),
  r: z.number().int().min(1).max(32),
  p: z.number().int().min(1).max(16),
  salt: b64,
});
export type KdfParams = z.infer<typeof kdfParamsSchema>;

export const repositoryConfigSchema = z
  .object({
    format: z.literal(FORMAT_NAME),
    version: z.union([z.literal(1), z.literal(CONFIG_VERSION_BLAKE3)]),
    id: z.string().regex(/^[0-9a-f]{32}$/),
    createdAt: z.string(),
    chunkSize: z.number().int().refine((n) => ALLOWED_CHUNK_SIZES.includes(n), 'unsupported chunk size'),
    compression: z.object({ algorithm: z.literal('zstd'), level: z.number().int().min(0).max(19) }),
    /** Version 2: how chunks are named. Absent: SHA-256. */
    chunkId: z.object({ algorithm: z.enum(['sha256', 'blake3']) }).optional(),
    encryption: z
      .object({
        algorithm: z.literal('aes-256-gcm'),
        /** The keyed form of the chunk-id hash (says the same as `chunkId`, for readers of the encryption alone). */
        chunkId: z.enum(['hmac-sha256', 'blake3-keyed']),
        kdf: kdfParamsSchema,
        /** The 32-byte master key, AES-256-GCM-encrypted with the password key: nonce(12) | ct(32) | tag(16). */
        wrappedKey: b64,
      })
      .nullable(),
  })
  .superRefine((c, ctx) => {
    const hash = c.chunkId?.algorithm ?? 'sha256';
    if (hash === 'blake3' && c.version < CONFIG_VERSION_BLAKE3) ctx.addIssue({ code: 'custom', path: ['version'], message: 'BLAKE3 chunk ids need version 2' });
    if (c.encryption && c.encryption.chunkId !== keyedChunkId(hash)) ctx.addIssue({ code: 'custom', path: ['encryption', 'chunkId'], message: `encryption.chunkId must be ${keyedChunkId(hash)}` });
  });
export type RepositoryConfig = z.infer<typeof repositoryConfigSchema>;

/** The keyed name of a chunk-id hash, as `encryption.chunkId` records it. */
export function keyedChunkId(hash: ChunkIdHash): 'hmac-sha256' | 'blake3-keyed' {
  return hash === 'blake3' ? 'blake3-keyed' : 'hmac-sha256';
}

/** How a repository names its chunks. */
export function chunkIdHashOf(config: RepositoryConfig): ChunkIdHash {
  return config.chunkId?.algorithm ?? 'sha256';
}

/**
 * A chunk changed in part since an earlier backup: the earlier content (`base`, a chunk id)
 * with newer byte ranges on top, each stored as a chunk of its own: `[offset in the chunk,
 * length, id]`, sorted, not overlapping. FORMAT.md "Overlays".
 */
export interface OverlayChunk {
  base: string;
  over: [offset: number, length: number, id: string][];
}

/**
 * A chunk list entry: a chunk id (hex), a positive count of consecutive all-zero chunks, or
 * an overlay (manifest version 2).
 */
export type ChunkEntry = string | number | OverlayChunk;

/** One chunk of a disk: its id, an overlay, or null for a zero chunk. */
export type ChunkSlot = string | OverlayChunk | null;

/** A stored chunk object and its plaintext length. */
export interface ChunkObject {
  id: string;
  length: number;
}

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

const jsonValueSchema: z.ZodType<JsonValue> = z.lazy(() =>
  z.union([z.string(), z.number(), z.boolean(), z.null(), z.array(jsonValueSchema), z.record(z.string(), jsonValueSchema)]),
);

export const diskManifestSchema = z.object({
  name: z.string().min(1).max(255),
  size: z.number().int().nonnegative(),
  chunkSize: z.number().int().refine((n) => ALLOWED_CHUNK_SIZES.includes(n), 'unsupported chunk size'),
  // Validated by validateChunkList (a zod union per element is slow on a million entries).
  chunks: z.array(z.union([z.string(), z.number(), z.custom<OverlayChunk>((v) => typeof v === 'object' && v !== null && !Array.isArray(v))])),
});
export type DiskManifest = z.infer<typeof diskManifestSchema>;

export const backupSummarySchema = z.object({
  /** Sum of disk sizes. */
  logicalBytes: z.number().nonnegative(),
  /** Bytes in non-zero chunks (what a restore has to write). */
  dataBytes: z.number().nonnegative(),
  /** Plaintext bytes of chunks this backup added to the repository. */
  newBytes: z.number().nonnegative(),
  /** On-disk bytes of the chunk files this backup added. */
  newStoredBytes: z.number().nonnegative(),
  newChunks: z.number().int().nonnegative(),
  /** Bytes of chunks that were already stored (dedup) or reused from the previous backup without reading. */
  reusedBytes: z.number().nonnegative(),
  /** Bytes of the source that were actually read. */
  readBytes: z.number().nonnegative(),
  durationMs: z.number().nonnegative(),
});
export type BackupSummary = z.infer<typeof backupSummarySchema>;

export const backupManifestSchema = z.object({
  format: z.literal(MANIFEST_FORMAT),
  version: z.union([z.literal(FORMAT_VERSION), z.literal(MANIFEST_VERSION_OVERLAYS)]),
  id: z.string().regex(BACKUP_ID_RE),
  repositoryId: z.string(),
  createdAt: z.string().datetime(),
  /** Retention groups backups by this key (e.g. "vm:<uuid>"); prune applies a policy per group. */
  group: z.string().min(1).max(255),
  kind: z.enum(['full', 'incremental']),
  /** The backup whose chunk list an incremental reused (informational: every backup is a complete index). */
  parent: z.string().nullable(),
  /** Opaque metadata for re-import into a catalog: VM definition, names, policy, etc. */
  source: jsonValueSchema,
  disks: z.array(diskManifestSchema),
  summary: backupSummarySchema,
});
export type BackupManifest = z.infer<typeof backupManifestSchema>;

/**
 * Returns a description of the first problem in a disk's chunk list, or null if it is
 * consistent. Overlays only where `overlays` (a version 2 manifest) allows them.
 */
export function validateChunkList(disk: DiskManifest, overlays = true): string | null {
  const expected = chunkCount(disk.size, disk.chunkSize);
  let count = 0;
  for (const e of disk.chunks) {
    if (typeof e === 'string') {
      if (!CHUNK_ID_RE.test(e)) return `disk ${disk.name}: invalid chunk id`;
      count += 1;
    } else if (typeof e === 'number') {
      if (!Number.isSafeInteger(e) || e < 1) return `disk ${disk.name}: invalid zero run`;
      count += e;
    } else {
      if (!overlays) return `disk ${disk.name}: an overlay chunk in a version 1 manifest`;
      const problem = overlayProblem(e, chunkLength(disk.size, disk.chunkSize, count));
      if (problem) return `disk ${disk.name}: chunk ${count}: ${problem}`;
      count += 1;
    }
  }
  if (count !== expected) return `disk ${disk.name}: ${count} chunks listed, ${expected} expected for its size`;
  return null;
}

function overlayProblem(e: OverlayChunk, length: number): string | null {
  if (typeof e.base !== 'string' || !CHUNK_ID_RE.test(e.base)) return 'invalid overlay base';
  if (!Array.isArray(e.over) || e.over.length < 1 || e.over.length > MAX_OVERLAY_PARTS) return 'invalid overlay parts';
  let end = 0;
  for (const part of e.over) {
    if (!Array.isArray(part) || part.length !== 3) return 'invalid overlay part';
    const [offset, len, id] = part;
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(len) || offset < end || len < 1 || offset + len > length) return 'overlay parts out of order or outside the chunk';
    if (typeof id !== 'string' || !CHUNK_ID_RE.test(id)) return 'invalid overlay part id';
    end = offset + len;
  }
  return null;
}

/** The stored chunk objects a slot needs (none for a zero chunk), `length` being the chunk's. */
export function objectsOf(slot: ChunkSlot, length: number): ChunkObject[] {
  if (slot === null) return [];
  if (typeof slot === 'string') return [{ id: slot, length }];
  return [{ id: slot.base, length }, ...slot.over.map(([, len, id]) => ({ id, length: len }))];
}

/** Calls `fn` for every stored chunk object a disk's chunk list needs (an id may come more than once). */
export function forEachChunkObject(disk: DiskManifest, fn: (id: string, length: number) => void): void {
  forEachDataChunk(disk, (slot, _index, _offset, length) => {
    for (const o of objectsOf(slot, length)) fn(o.id, o.length);
  });
}

/** Whether two slots are the same content by reference (equal ids, equal overlay parts). */
export function sameSlot(a: ChunkSlot, b: ChunkSlot): boolean {
  if (a === null || b === null || typeof a === 'string' || typeof b === 'string') return a === b;
  return a.base === b.base && a.over.length === b.over.length && a.over.every((p, i) => p[0] === b.over[i]![0] && p[1] === b.over[i]![1] && p[2] === b.over[i]![2]);
}

/** The plaintext of a slot: the base's with each part written over it at its offset. */
export async function composeSlot(slot: string | OverlayChunk, length: number, fetch: (id: string, length: number) => Promise<Buffer>): Promise<Buffer> {
  if (typeof slot === 'string') return fetch(slot, length);
  const [base, ...parts] = await Promise.all([fetch(slot.base, length), ...slot.over.map(([, len, id]) => fetch(id, len))]);
  // Into a copy: `fetch` may hand out a cached buffer.
  const out = Buffer.allocUnsafe(length);
  base.copy(out);
  slot.over.forEach(([offset], i) => parts[i]!.copy(out, offset));
  return out;
}

export function chunkCount(size: number, chunkSize: number): number {
  return Math.ceil(size / chunkSize);
}

/** Length of chunk `index` of a disk (the last one may be short). */
export function chunkLength(size: number, chunkSize: number, index: number): number {
  return Math.min(chunkSize, size - index * chunkSize);
}

/** Expands a chunk list to one slot per chunk: the id or overlay, or null for a zero chunk. */
export function expandChunks(disk: Pick<DiskManifest, 'chunks'>): ChunkSlot[] {
  const out: ChunkSlot[] = [];
  for (const e of disk.chunks) {
    if (typeof e === 'number') for (let i = 0; i < e; i++) out.push(null);
    else out.push(e);
  }
  return out;
}

/** The inverse of expandChunks: consecutive zero chunks collapse into a run count. */
export function compactChunks(slots: readonly ChunkSlot[]): ChunkEntry[] {
  const out: ChunkEntry[] = [];
  let zeros = 0;
  for (const s of slots) {
    if (s === null) {
      zeros++;
      continue;
    }
    if (zeros > 0) out.push(zeros);
    zeros = 0;
    out.push(s);
  }
  if (zeros > 0) out.push(zeros);
  return out;
}

/** Whether a disk's chunk list holds an overlay (its manifest is then version 2). */
export function hasOverlays(disk: Pick<DiskManifest, 'chunks'>): boolean {
  return disk.chunks.some((e) => typeof e === 'object');
}

/** Calls `fn` for every non-zero chunk of a disk with its slot (an id or an overlay), index, offset and length. */
export function forEachDataChunk(
  disk: DiskManifest,
  fn: (slot: string | OverlayChunk, index: number, offset: number, length: number) => void,
): void {
  let index = 0;
  for (const e of disk.chunks) {
    if (typeof e === 'number') {
      index += e;
    } else {
      fn(e, index, index * disk.chunkSize, chunkLength(disk.size, disk.chunkSize, index));
      index += 1;
    }
  }
}

export interface ByteRange {
  offset: number;
  length: number;
}
