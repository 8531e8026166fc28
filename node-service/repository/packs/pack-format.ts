/**
 * The pack layer's on-disk format (FORMAT.md "Packs, index and points"): layout, the pack
 * file's header and trailer, index files and point manifests. Pack layer version 1; every
 * file carries that version in its envelope, so a reader refuses a newer file by name
 * instead of misreading it.
 */
import * as path from 'node:path';
import { z } from 'zod';
import { BACKUP_ID_RE, CHUNK_ID_RE, type JsonValue } from '../format.js';

export const PACKS_FORMAT_VERSION = 1;

export const PACK_LAYOUT = {
  packs: 'packs',
  index: 'index',
  points: 'points',
} as const;

export const POINT_SUFFIX = '.point';
export const PACK_HEADER_MAGIC = 'VPPH';
export const INDEX_MAGIC = 'VPIX';
export const POINT_MAGIC = 'VPPT';
export const PACK_HEADER_LABEL = 'pack-header';
export const INDEX_LABEL = 'index';
export const pointLabel = (id: string): string => `point:${id}`;

/** Data blobs (file content) and metadata blobs (databases, reference lists) go to separate packs: they age differently. */
export type BlobType = 'data' | 'meta';
const TYPE_CODE: Record<BlobType, number> = { data: 0, meta: 1 };
const typeOf = (code: number): BlobType | null => (code === 0 ? 'data' : code === 1 ? 'meta' : null);

/** Packs are closed at this size (8 MiB): few files for many small items, little to repack for a few unused ones. */
export const DEFAULT_PACK_SIZE = 8 * 1024 * 1024;

export const HEX64_RE = CHUNK_ID_RE;
export const POINT_ID_RE = BACKUP_ID_RE;

export function packRelPath(packId: string): string {
  return path.join(PACK_LAYOUT.packs, packId.slice(0, 2), packId);
}

export function indexRelPath(indexId: string): string {
  return path.join(PACK_LAYOUT.index, indexId);
}

export function pointRelPath(pointId: string): string {
  return path.join(PACK_LAYOUT.points, pointId + POINT_SUFFIX);
}

/** One blob in a pack. `offset` is where its (chunk-envelope) bytes start; `length` their stored size. */
export interface PackEntry {
  type: BlobType;
  id: string;
  offset: number;
  length: number;
  plainLength: number;
}

const ENTRY_BYTES = 1 + 32 + 4 + 4;

/** A pack header's plaintext: the blobs in file order (offsets follow from the lengths). */
export function encodePackHeader(entries: readonly PackEntry[]): Buffer {
  const out = Buffer.alloc(4 + entries.length * ENTRY_BYTES);
  out.writeUInt32LE(entries.length, 0);
  let o = 4;
  for (const e of entries) {
    out[o] = TYPE_CODE[e.type];
    out.write(e.id, o + 1, 32, 'hex');
    out.writeUInt32LE(e.length, o + 33);
    out.writeUInt32LE(e.plainLength, o + 37);
    o += ENTRY_BYTES;
  }
  return out;
}

/** The entries of a pack header; throws on anything inconsistent with a pack of `blobBytes` bytes of blobs. */
export function decodePackHeader(plain: Buffer, blobBytes: number): PackEntry[] {
  if (plain.length < 4) throw new Error('pack header truncated');
  const n = plain.readUInt32LE(0);
  if (plain.length !== 4 + n * ENTRY_BYTES) throw new Error('pack header length does not match its entry count');
  const out: PackEntry[] = [];
  let offset = 0;
  for (let i = 0, o = 4; i < n; i++, o += ENTRY_BYTES) {
    const type = typeOf(plain[o] ?? 255);
    if (!type) throw new Error('unknown blob type in pack header');
    const length = plain.readUInt32LE(o + 33);
    out.push({ type, id: plain.toString('hex', o + 1, o + 33), offset, length, plainLength: plain.readUInt32LE(o + 37) });
    offset += length;
  }
  if (offset !== blobBytes) throw new Error(`pack header covers ${offset} bytes of blobs, the pack holds ${blobBytes}`);
  return out;
}

/** Trailer: the sealed header's length as the file's last 4 bytes (restic's layout: blobs, header, length). */
export const PACK_TRAILER_BYTES = 4;

export interface IndexPack {
  packId: string;
  entries: PackEntry[];
}

export interface IndexContent {
  /** Index files this one replaces (garbage collection's consolidated index); readers ignore those. */
  supersedes: string[];
  packs: IndexPack[];
}

const INDEX_ENTRY_BYTES = 1 + 32 + 4 + 4 + 4;

export function encodeIndex(content: IndexContent): Buffer {
  let size = 4 + content.supersedes.length * 32 + 4;
  for (const p of content.packs) size += 32 + 4 + p.entries.length * INDEX_ENTRY_BYTES;
  const out = Buffer.alloc(size);
  let o = out.writeUInt32LE(content.supersedes.length, 0);
  for (const id of content.supersedes) o += out.write(id, o, 32, 'hex');
  o = out.writeUInt32LE(content.packs.length, o);
  for (const p of content.packs) {
    o += out.write(p.packId, o, 32, 'hex');
    o = out.writeUInt32LE(p.entries.length, o);
    for (const e of p.entries) {
      out[o] = TYPE_CODE[e.type];
      out.write(e.id, o + 1, 32, 'hex');
      out.writeUInt32LE(e.offset, o + 33);
      out.writeUInt32LE(e.length, o + 37);
      out.writeUInt32LE(e.plainLength, o + 41);
      o += INDEX_ENTRY_BYTES;
    }
  }
  return out;
}

export function decodeIndex(plain: Buffer): IndexContent {
  let o = 0;
  const need = (n: number): void => {
    if (o + n > plain.length) throw new Error('index truncated');
  };
  need(4);
  const nSup = plain.readUInt32LE(o);
  o += 4;
  need(nSup * 32);
  const supersedes: string[] = [];
  for (let i = 0; i < nSup; i++, o += 32) supersedes.push(plain.toString('hex', o, o + 32));
  need(4);
  const nPacks = plain.readUInt32LE(o);
  o += 4;
  const packs: IndexPack[] = [];
  for (let p = 0; p < nPacks; p++) {
    need(36);
    const packId = plain.toString('hex', o, o + 32);
    const n = plain.readUInt32LE(o + 32);
    o += 36;
    need(n * INDEX_ENTRY_BYTES);
    const entries: PackEntry[] = [];
    for (let i = 0; i < n; i++, o += INDEX_ENTRY_BYTES) {
      const type = typeOf(plain[o] ?? 255);
      if (!type) throw new Error('unknown blob type in index');
      entries.push({ type, id: plain.toString('hex', o + 1, o + 33), offset: plain.readUInt32LE(o + 33), length: plain.readUInt32LE(o + 37), plainLength: plain.readUInt32LE(o + 41) });
    }
    packs.push({ packId, entries });
  }
  if (o !== plain.length) throw new Error('index has trailing bytes');
  return { supersedes, packs };
}

const jsonValueSchema: z.ZodType<JsonValue> = z.lazy(() =>
  z.union([z.string(), z.number(), z.boolean(), z.null(), z.array(jsonValueSchema), z.record(z.string(), jsonValueSchema)]),
);

const blobIds = z.array(z.string().regex(HEX64_RE));

/** An object stored as metadata blobs, in order (e.g. the object's SQLite database at this point). */
export const storedObjectSchema = z.object({
  blobs: blobIds,
  size: z.number().int().nonnegative(),
  /** SHA-256 of the object's bytes (inside the encrypted manifest), checked when it is read back. */
  sha256: z.string().regex(HEX64_RE),
});
export type StoredObject = z.infer<typeof storedObjectSchema>;

export const POINT_FORMAT = 'vplus-point';

export const pointManifestSchema = z.object({
  format: z.literal(POINT_FORMAT),
  version: z.literal(PACKS_FORMAT_VERSION),
  id: z.string().regex(POINT_ID_RE),
  repositoryId: z.string(),
  /** The protected object, e.g. "m365:<tenant>:drive:<drive id>"; retention groups by it. */
  objectKey: z.string().min(1).max(512),
  createdAt: z.string().datetime(),
  kind: z.enum(['full', 'incremental']),
  /** The point the object's metadata continued from (informational: every point is a complete view). */
  parent: z.string().nullable(),
  /** Opaque JSON for re-import (tenant, user, drive name…); the library never interprets it. */
  source: jsonValueSchema,
  /** The object's log at this point (object-log.ts): its metadata, and which blobs each of its points needs. */
  metadata: storedObjectSchema,
  /** Counts for listings and re-import (items, files, bytes, new blobs…); numbers only. */
  summary: z.record(z.string(), z.number()),
});
export type PointManifest = z.infer<typeof pointManifestSchema>;

