/**
 * Backup manifests: one file per backup in backups/, written last and atomically, so a
 * backup exists exactly when its manifest does. Envelope (FORMAT.md "Manifest files"):
 * header | zstd(JSON), then either AES-256-GCM (encrypted repositories) or a SHA-256 trailer.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { compress, decompress } from 'zstd-napi';
import {
  BackupLockedError,
  BackupNotFoundError,
  ManifestCorruptError,
  BackupExistsError,
  ObjectLockedError,
  isErrno,
  toRepositoryError,
} from './errors.js';
import {
  ENVELOPE_HEADER_BYTES as HEADER,
  FLAG_ENCRYPTED as F_ENC,
  FLAG_ZSTD as F_ZSTD,
  GCM_NONCE_BYTES as NONCE,
  GCM_TAG_BYTES as TAG,
  MANIFEST_MAGIC,
  envelopeHeader,
  hasMagic,
} from './chunk-format.js';
import type { RepositoryFileSystem, WriteOptions } from './file-system.js';
import { TEMP_PREFIX } from './file-system.js';
import { isObjectStore } from './s3/object-store.js';
import {
  BACKUP_ID_RE,
  FORMAT_VERSION,
  LAYOUT,
  MANIFEST_SUFFIX,
  backupManifestSchema,
  MANIFEST_VERSION_OVERLAYS,
  validateChunkList,
  type BackupManifest,
} from './format.js';

/** SHA-256 trailer of an unencrypted manifest. */
const HASH = 32;
const MANIFEST_ZSTD_LEVEL = 3;

export function encodeManifest(manifest: BackupManifest, manifestKey: Buffer | null): Buffer {
  const json = Buffer.from(JSON.stringify(manifest), 'utf8');
  const body = compress(json, { compressionLevel: MANIFEST_ZSTD_LEVEL });
  const header = envelopeHeader(MANIFEST_MAGIC, FORMAT_VERSION, F_ZSTD | (manifestKey ? F_ENC : 0), json.length);
  if (manifestKey) {
    const nonce = randomBytes(NONCE);
    const cipher = createCipheriv('aes-256-gcm', manifestKey, nonce);
    cipher.setAAD(manifestAad(header, manifest.id));
    const ct = Buffer.concat([cipher.update(body), cipher.final()]);
    return Buffer.concat([header, nonce, ct, cipher.getAuthTag()]);
  }
  const digest = createHash('sha256').update(header).update(body).digest();
  return Buffer.concat([header, body, digest]);
}

/** Decodes and validates a manifest file; `file` is only used in error messages. */
export function decodeManifest(raw: Buffer, expectedId: string, manifestKey: Buffer | null, file: string): BackupManifest {
  const bad = (detail: string, cause?: unknown): ManifestCorruptError => new ManifestCorruptError(file, detail, cause);
  if (!hasMagic(raw, MANIFEST_MAGIC)) throw bad('not a manifest file');
  if (raw[4] !== FORMAT_VERSION) throw bad(`unknown manifest version ${raw[4]}`);
  const flags = raw[5] ?? 0;
  const plainLength = raw.readUInt32LE(8);
  const header = raw.subarray(0, HEADER);
  const encrypted = (flags & F_ENC) !== 0;
  if (encrypted !== (manifestKey !== null)) {
    throw bad(encrypted ? 'encrypted manifest in an unencrypted repository' : 'unencrypted manifest in an encrypted repository');
  }
  let body: Buffer;
  if (manifestKey) {
    if (raw.length < HEADER + NONCE + TAG) throw bad('truncated');
    const decipher = createDecipheriv('aes-256-gcm', manifestKey, raw.subarray(HEADER, HEADER + NONCE));
    decipher.setAAD(manifestAad(header, expectedId));
    decipher.setAuthTag(raw.subarray(raw.length - TAG));
    try {
      body = Buffer.concat([decipher.update(raw.subarray(HEADER + NONCE, raw.length - TAG)), decipher.final()]);
    } catch (err) {
      throw bad('authentication failed', err);
    }
  } else {
    if (raw.length < HEADER + HASH) throw bad('truncated');
    body = raw.subarray(HEADER, raw.length - HASH);
    const digest = createHash('sha256').update(header).update(body).digest();
    if (!digest.equals(raw.subarray(raw.length - HASH))) throw bad('checksum mismatch');
  }
  let json: Buffer;
  try {
    json = (flags & F_ZSTD) !== 0 ? decompress(body) : body;
  } catch (err) {
    throw bad('decompression failed', err);
  }
  if (json.length !== plainLength) throw bad('length mismatch');
  let parsed: unknown;
  try {
    parsed = JSON.parse(json.toString('utf8'));
  } catch (err) {
    throw bad('invalid JSON', err);
  }
  const result = backupManifestSchema.safeParse(parsed);
  if (!result.success) throw bad(`invalid content: ${result.error.issues[0]?.message ?? 'schema mismatch'}`);
  const manifest = result.data;
  if (manifest.id !== expectedId) throw bad(`file is named ${expectedId} but holds backup ${manifest.id}`);
  for (const disk of manifest.disks) {
    const problem = validateChunkList(disk, manifest.version >= MANIFEST_VERSION_OVERLAYS);
    if (problem) throw bad(problem);
  }
  return manifest;
}

function manifestAad(header: Buffer, id: string): Buffer {
  return Buffer.concat([header, Buffer.from(`backup:${id}`, 'utf8')]);
}

export interface DamagedManifest {
  id: string;
  error: ManifestCorruptError;
}

/** A manifest without its chunk lists: what listings and retention need, small enough to cache. */
export type ManifestHeader = Omit<BackupManifest, 'disks'> & {
  disks: { name: string; size: number; chunkSize: number }[];
};

export interface HeaderScan {
  /** Oldest first. */
  headers: ManifestHeader[];
  damaged: DamagedManifest[];
}

function headerOf(m: BackupManifest): ManifestHeader {
  return { ...m, disks: m.disks.map((d) => ({ name: d.name, size: d.size, chunkSize: d.chunkSize })) };
}

/** Full manifests kept in memory (chunk lists of big disks are large: about 90 bytes per chunk). */
const FULL_CACHE_ENTRIES = 4;

export class ManifestStore {
  private readonly dir: string;
  /** Manifests are immutable: headers are cached for the life of the store. */
  private readonly headerCache = new Map<string, ManifestHeader>();
  private readonly fullCache = new Map<string, BackupManifest>();

  constructor(
    private readonly repoPath: string,
    private readonly fs: RepositoryFileSystem,
    private readonly manifestKey: Buffer | null,
  ) {
    this.dir = path.join(repoPath, LAYOUT.backups);
  }

  fileOf(id: string): string {
    return path.join(this.dir, id + MANIFEST_SUFFIX);
  }

  async listIds(): Promise<string[]> {
    let names: string[];
    try {
      names = await this.fs.readdir(this.dir);
    } catch (err) {
      throw toRepositoryError(err, this.repoPath, 'listing backups');
    }
    return names
      .filter((n) => n.endsWith(MANIFEST_SUFFIX) && !n.startsWith(TEMP_PREFIX))
      .map((n) => n.slice(0, -MANIFEST_SUFFIX.length))
      .filter((id) => BACKUP_ID_RE.test(id))
      .sort();
  }

  async exists(id: string): Promise<boolean> {
    try {
      await this.fs.stat(this.fileOf(id));
      return true;
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return false;
      throw toRepositoryError(err, this.repoPath, `checking backup ${id}`);
    }
  }

  async load(id: string): Promise<BackupManifest> {
    const cached = this.fullCache.get(id);
    if (cached) return cached;
    if (!BACKUP_ID_RE.test(id)) throw new BackupNotFoundError(this.repoPath, id);
    const file = this.fileOf(id);
    let raw: Buffer;
    try {
      raw = await this.fs.readFile(file);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) throw new BackupNotFoundError(this.repoPath, id);
      throw toRepositoryError(err, this.repoPath, `reading the manifest of backup ${id}`);
    }
    const manifest = decodeManifest(raw, id, this.manifestKey, file);
    this.remember(manifest);
    return manifest;
  }

  async header(id: string): Promise<ManifestHeader> {
    return this.headerCache.get(id) ?? headerOf(await this.load(id));
  }

  /** Every backup's header, oldest first; damaged manifests are reported, not thrown. */
  async headers(): Promise<HeaderScan> {
    const headers: ManifestHeader[] = [];
    const damaged: DamagedManifest[] = [];
    for (const id of await this.listIds()) {
      try {
        headers.push(await this.header(id));
      } catch (err) {
        if (err instanceof ManifestCorruptError) damaged.push({ id, error: err });
        else if (!(err instanceof BackupNotFoundError)) throw err; // removed by a concurrent prune: skip
      }
    }
    headers.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
    return { headers, damaged };
  }

  /**
   * Calls `fn` with each full manifest in turn (oldest first), one in memory at a time, so a
   * repository with many big backups can be walked in bounded memory.
   */
  async each(fn: (m: BackupManifest, index: number) => void | Promise<void>): Promise<HeaderScan> {
    const scan = await this.headers();
    const kept: ManifestHeader[] = [];
    for (const h of scan.headers) {
      let m: BackupManifest;
      try {
        m = await this.load(h.id);
      } catch (err) {
        if (err instanceof BackupNotFoundError) continue; // pruned meanwhile
        if (err instanceof ManifestCorruptError) {
          scan.damaged.push({ id: h.id, error: err });
          continue;
        }
        throw err;
      }
      await fn(m, kept.length);
      kept.push(h);
    }
    return { headers: kept, damaged: scan.damaged };
  }

  private remember(m: BackupManifest): void {
    this.headerCache.set(m.id, headerOf(m));
    this.fullCache.delete(m.id);
    this.fullCache.set(m.id, m);
    while (this.fullCache.size > FULL_CACHE_ENTRIES) {
      const oldest = this.fullCache.keys().next().value;
      if (oldest === undefined) break;
      this.fullCache.delete(oldest);
    }
  }

  /**
   * Writes a manifest atomically and durably; refuses to replace an existing backup. On an
   * object store the object is created only if absent (conditional write or claim protocol).
   */
  async write(manifest: BackupManifest, options: WriteOptions = {}): Promise<void> {
    if (await this.exists(manifest.id)) {
      throw new BackupExistsError(this.repoPath, manifest.id);
    }
    const data = encodeManifest(manifest, this.manifestKey);
    try {
      if (isObjectStore(this.fs)) {
        await this.fs.createExclusive(this.fileOf(manifest.id), data, options);
      } else {
        await this.fs.writeFileAtomic(this.fileOf(manifest.id), data);
        await this.fs.syncDir(this.dir);
      }
    } catch (err) {
      if (isErrno(err, 'EEXIST')) throw new BackupExistsError(this.repoPath, manifest.id);
      throw toRepositoryError(err, this.repoPath, `writing the manifest of backup ${manifest.id}`);
    }
    this.remember(manifest);
  }

  async remove(ids: readonly string[]): Promise<void> {
    for (const id of ids) {
      try {
        await this.fs.unlink(this.fileOf(id));
      } catch (err) {
        if (err instanceof ObjectLockedError) throw new BackupLockedError(this.repoPath, id, err.lockedUntilMs);
        if (!isErrno(err, 'ENOENT')) throw toRepositoryError(err, this.repoPath, `removing backup ${id}`);
      }
      this.headerCache.delete(id);
      this.fullCache.delete(id);
    }
    try {
      await this.fs.syncDir(this.dir);
    } catch (err) {
      throw toRepositoryError(err, this.repoPath, 'removing backups');
    }
  }
}
