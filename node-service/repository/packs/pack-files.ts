/**
 * The files of the pack layer on the destination: listing packs, reading a pack's header
 * from its tail, writing packs and index files (temp, fsync, rename; named by the SHA-256
 * of their bytes), and reading every index file.
 */
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { isErrno, toRepositoryError } from '../errors.js';
import { TEMP_PREFIX } from '../file-system.js';
import type { PackAccess } from './pack-access.js';
import {
  HEX64_RE,
  INDEX_LABEL,
  INDEX_MAGIC,
  PACKS_FORMAT_VERSION,
  PACK_HEADER_LABEL,
  PACK_HEADER_MAGIC,
  PACK_LAYOUT,
  PACK_TRAILER_BYTES,
  decodeIndex,
  decodePackHeader,
  encodeIndex,
  encodePackHeader,
  indexRelPath,
  packRelPath,
  type IndexContent,
  type PackEntry,
} from './pack-format.js';
import { SealedFileError, seal, unseal } from './sealed.js';

type Access = Pick<PackAccess, 'repoPath' | 'fs'>;

export const packFile = (a: Pick<PackAccess, 'repoPath'>, packId: string): string => path.join(a.repoPath, packRelPath(packId));
export const indexFile = (a: Pick<PackAccess, 'repoPath'>, indexId: string): string => path.join(a.repoPath, indexRelPath(indexId));

async function readdirOrEmpty(a: Access, dir: string, action: string): Promise<string[]> {
  try {
    return await a.fs.readdir(dir);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return [];
    throw toRepositoryError(err, a.repoPath, action);
  }
}

/** Whether the repository has any file of the pack layer (a VM-only repository has none). */
export async function hasPackLayer(a: Access): Promise<boolean> {
  for (const dir of Object.values(PACK_LAYOUT)) {
    if ((await readdirOrEmpty(a, path.join(a.repoPath, dir), 'listing the pack layer')).length > 0) return true;
  }
  return false;
}

/** Every pack file on the destination (ids), and the directories holding temp files. */
export async function listPackFiles(a: Access): Promise<{ packs: string[]; shardDirs: string[] }> {
  const root = path.join(a.repoPath, PACK_LAYOUT.packs);
  const packs: string[] = [];
  const shardDirs: string[] = [];
  for (const shard of await readdirOrEmpty(a, root, 'listing packs')) {
    if (!/^[0-9a-f]{2}$/.test(shard)) continue;
    const dir = path.join(root, shard);
    shardDirs.push(dir);
    for (const name of await readdirOrEmpty(a, dir, 'listing packs')) if (HEX64_RE.test(name) && name.startsWith(shard)) packs.push(name);
  }
  return { packs: packs.sort(), shardDirs };
}

/** Names of temp files in `dir` (left by interrupted writes). */
export async function listTempFiles(a: Access, dir: string): Promise<string[]> {
  return (await readdirOrEmpty(a, dir, 'listing temporary files')).filter((n) => n.startsWith(TEMP_PREFIX)).map((n) => path.join(dir, n));
}

/** A pack file's blobs, read from its sealed header at the end of the file. */
export async function readPackHeader(a: Access, sealKey: Buffer | null, packId: string): Promise<PackEntry[]> {
  const file = packFile(a, packId);
  let fh;
  try {
    fh = await a.fs.openRead(file);
  } catch (err) {
    throw toRepositoryError(err, a.repoPath, `opening pack ${packId}`);
  }
  try {
    const size = await fh.size();
    if (size < PACK_TRAILER_BYTES) throw new SealedFileError('pack too short');
    const trailer = Buffer.alloc(PACK_TRAILER_BYTES);
    await fh.read(trailer, size - PACK_TRAILER_BYTES);
    const headerLength = trailer.readUInt32LE(0);
    if (headerLength > size - PACK_TRAILER_BYTES) throw new SealedFileError('pack header length out of range');
    const sealed = Buffer.alloc(headerLength);
    await fh.read(sealed, size - PACK_TRAILER_BYTES - headerLength);
    return parsePackHeader(sealed, sealKey, size - PACK_TRAILER_BYTES - headerLength);
  } finally {
    await fh.close();
  }
}

/** The entries of a sealed pack header, for a pack with `blobBytes` bytes of blobs before it. */
export function parsePackHeader(sealed: Buffer, sealKey: Buffer | null, blobBytes: number): PackEntry[] {
  const plain = unseal(sealed, PACK_HEADER_MAGIC, PACKS_FORMAT_VERSION, PACK_HEADER_LABEL, sealKey);
  try {
    return decodePackHeader(plain, blobBytes);
  } catch (err) {
    throw new SealedFileError(err instanceof Error ? err.message : String(err));
  }
}

/** Splits a whole pack file into its blob region and parsed header (verify reads packs whole). */
export function splitPack(raw: Buffer, sealKey: Buffer | null): PackEntry[] {
  if (raw.length < PACK_TRAILER_BYTES) throw new SealedFileError('pack too short');
  const headerLength = raw.readUInt32LE(raw.length - PACK_TRAILER_BYTES);
  const blobBytes = raw.length - PACK_TRAILER_BYTES - headerLength;
  if (blobBytes < 0) throw new SealedFileError('pack header length out of range');
  return parsePackHeader(raw.subarray(blobBytes, raw.length - PACK_TRAILER_BYTES), sealKey, blobBytes);
}

/** The tail of a pack (sealed header + trailer) for blobs laid out as `entries`. */
export function packTail(entries: readonly PackEntry[], sealKey: Buffer | null): Buffer {
  const sealed = seal(PACK_HEADER_MAGIC, PACKS_FORMAT_VERSION, PACK_HEADER_LABEL, encodePackHeader(entries), sealKey);
  const trailer = Buffer.alloc(PACK_TRAILER_BYTES);
  trailer.writeUInt32LE(sealed.length, 0);
  return Buffer.concat([sealed, trailer]);
}

/** Writes a complete pack (its bytes end with the tail) under the SHA-256 of its bytes; the shard directory is not fsynced. */
export async function writePackFile(a: Access, bytes: Buffer, made: Set<string>): Promise<{ packId: string; dir: string }> {
  const packId = createHash('sha256').update(bytes).digest('hex');
  const file = packFile(a, packId);
  const dir = path.dirname(file);
  try {
    for (const d of [path.dirname(dir), dir]) {
      if (made.has(d)) continue;
      await a.fs.mkdir(d);
      made.add(d);
    }
    await a.fs.writeFileAtomic(file, bytes);
  } catch (err) {
    throw toRepositoryError(err, a.repoPath, 'writing a pack');
  }
  return { packId, dir };
}

/** Writes an index file (named by its SHA-256) and fsyncs the index directory. */
export async function writeIndexFile(a: Access, sealKey: Buffer | null, content: IndexContent): Promise<string> {
  const bytes = seal(INDEX_MAGIC, PACKS_FORMAT_VERSION, INDEX_LABEL, encodeIndex(content), sealKey);
  const id = createHash('sha256').update(bytes).digest('hex');
  const dir = path.join(a.repoPath, PACK_LAYOUT.index);
  try {
    await a.fs.mkdir(dir);
    await a.fs.writeFileAtomic(indexFile(a, id), bytes);
    await a.fs.syncDir(dir);
  } catch (err) {
    throw toRepositoryError(err, a.repoPath, 'writing the pack index');
  }
  return id;
}

export interface IndexFiles {
  /** Readable index files, superseded ones included. */
  files: { id: string; content: IndexContent }[];
  damaged: { id: string; detail: string }[];
  /** Ids named in some readable file's `supersedes`. */
  superseded: Set<string>;
}

export async function readIndexFiles(a: Access, sealKey: Buffer | null): Promise<IndexFiles> {
  const dir = path.join(a.repoPath, PACK_LAYOUT.index);
  const out: IndexFiles = { files: [], damaged: [], superseded: new Set() };
  for (const name of (await readdirOrEmpty(a, dir, 'listing the pack index')).sort()) {
    if (!HEX64_RE.test(name)) continue;
    let raw: Buffer;
    try {
      raw = await a.fs.readFile(path.join(dir, name));
    } catch (err) {
      if (isErrno(err, 'ENOENT')) continue;
      throw toRepositoryError(err, a.repoPath, 'reading the pack index');
    }
    try {
      const content = decodeIndex(unseal(raw, INDEX_MAGIC, PACKS_FORMAT_VERSION, INDEX_LABEL, sealKey));
      out.files.push({ id: name, content });
      for (const s of content.supersedes) out.superseded.add(s);
    } catch (err) {
      out.damaged.push({ id: name, detail: err instanceof Error ? err.message : String(err) });
    }
  }
  return out;
}
