/**
 * The repository on an S3-compatible object store (FORMAT.md, "Object stores"): the same
 * files as on a directory, each an object under the location's prefix. It implements the
 * library's one storage interface (RepositoryFileSystem): the repository's modules build
 * file names as `<root>/<relative name>`, where the root is the repository's display name
 * (`s3DisplayName`); this adapter turns every such name into the key `<prefix>/<relative
 * name>`, and passes names outside the root (a restore target, a file source) to the local
 * filesystem. On top of the interface it offers what only an object store needs: creating
 * an object only if absent (the manifest commit), listing every chunk at once, object lock
 * retention, and aborting abandoned multipart uploads.
 *
 * Differences from a directory: a PUT is atomic, so no temp files; directories do not exist
 * (mkdir and syncDir do nothing, a listing of an absent "directory" is empty); an object's
 * mtime is its LastModified (the store's clock), refreshed by PUTting it again; in a
 * versioned bucket (object lock needs one) removing a file deletes every version of its key.
 */
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetBucketVersioningCommand,
  GetObjectCommand,
  GetObjectLockConfigurationCommand,
  GetObjectRetentionCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectVersionsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  PutObjectRetentionCommand,
  UploadPartCommand,
  type ObjectLockMode,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { S3Lock, S3Repository } from '../../../common/s3-location.js';
import { RepositoryError, ObjectLockedError } from '../errors.js';
import { NodeFileSystem, type FileStat, type ReadableFile, type RepositoryFileSystem, type WritableFile, type WriteOptions } from '../file-system.js';
import { CHUNK_ID_RE, LAYOUT } from '../format.js';

/** Objects above this go up in parts (packs reach 12 MiB). */
export const MULTIPART_THRESHOLD = 8 * 1024 * 1024;
export const PART_SIZE = 8 * 1024 * 1024;
/** Requests in flight per repository (S3 scales with parallel requests; this bounds sockets and memory). */
export const DEFAULT_MAX_REQUESTS = 32;
/** A listing answers stat() for this long (GC and stats stat what they just listed). */
const LISTING_TTL_MS = 30_000;
/** Key prefixes (relative to the repository) of the objects a backup needs: locked under object lock. */
const LOCKED_DIRS = [LAYOUT.chunks, LAYOUT.backups, 'packs', 'index', 'points'];

const DAY_MS = 86_400_000;
const HEX_DIGITS = '0123456789abcdef';
/** Pages of chunks/ listed one after another before the rest is split into parallel ranges (4,000 chunks ≈ 4 GiB of data). */
const SEQUENTIAL_LIST_PAGES = 4;

/** A counting semaphore: at most `limit` requests in flight. */
class Gate {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(private readonly limit: number) {}
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}

interface SdkError {
  name?: string;
  code?: string;
  message?: string;
  Code?: string;
  $metadata?: { httpStatusCode?: number };
}

function statusOf(err: unknown): number | undefined {
  return (err as SdkError | null)?.$metadata?.httpStatusCode;
}

function nameOf(err: unknown): string {
  const e = err as SdkError | null;
  return e?.name ?? e?.Code ?? e?.code ?? 'Error';
}

function enoent(what: string): Error {
  return Object.assign(new Error(`${what} does not exist`), { code: 'ENOENT' });
}

function eexist(what: string): Error {
  return Object.assign(new Error(`${what} already exists`), { code: 'EEXIST' });
}

/** Counts of requests by kind, for measurements and tests. */
export type RequestCounts = Record<string, number>;

/** One finished request, for measurements: when it was asked for, when it got a slot (the gate), when it ended (performance.now() ms). */
export interface S3RequestTrace {
  kind: string;
  key: string;
  queuedMs: number;
  startMs: number;
  endMs: number;
  ok: boolean;
}

/** Measurements only (`npm run bench -- s3`): set `sink` to see every request of every S3FileSystem in this process. */
export const s3RequestTrace: { sink?: (t: S3RequestTrace) => void } = {};

export interface S3FileSystemOptions {
  client: S3Client;
  location: S3Repository;
  /** The repository's path as its modules see it (the display name). */
  root: string;
  maxRequests?: number;
  now?: () => number;
  /** Keys per listing request (MaxKeys; default the store's, 1,000 on S3): tests make it small to list many pages. */
  listPageSize?: number;
}

export class S3FileSystem implements RepositoryFileSystem {
  readonly kind = 'object-store' as const;
  readonly client: S3Client;
  readonly bucket: string;
  readonly lock: S3Lock | undefined;
  readonly counts: RequestCounts = {};
  /** Requests in flight at most (the repository keeps as many chunks in flight on an object store). */
  readonly maxRequests: number;
  private readonly prefix: string;
  private readonly rootNorm: string;
  private readonly display: string;
  private readonly gate: Gate;
  private readonly local = new NodeFileSystem();
  private readonly now: () => number;
  private readonly pageSize: { MaxKeys?: number };
  private readonly listed = new Map<string, { size: number; mtimeMs: number; at: number }>();
  private conditional: Promise<boolean> | undefined;
  private versioned: Promise<boolean> | undefined;
  private lockChecked: Promise<void> | undefined;

  constructor(options: S3FileSystemOptions) {
    const loc = options.location;
    if (loc.prefix.split('/').some((s) => s === '.' || s === '..')) {
      throw new RepositoryError('INVALID_ARGUMENT', `The S3 prefix "${loc.prefix}" may not contain "." or ".." as a name.`);
    }
    this.client = options.client;
    this.bucket = loc.bucket;
    this.lock = loc.lock;
    this.prefix = loc.prefix;
    this.display = options.root;
    this.rootNorm = path.normalize(options.root);
    this.maxRequests = Math.max(1, options.maxRequests ?? DEFAULT_MAX_REQUESTS);
    this.gate = new Gate(this.maxRequests);
    this.now = options.now ?? Date.now;
    this.pageSize = options.listPageSize ? { MaxKeys: options.listPageSize } : {};
  }

  /** The object key of a repository file, or null for a file outside the repository (a local file). */
  keyOf(file: string): string | null {
    const n = path.normalize(file);
    let rel: string;
    if (n === this.rootNorm) rel = '';
    else if (n.startsWith(this.rootNorm + path.sep)) rel = n.slice(this.rootNorm.length + 1);
    else return null;
    rel = rel.split(path.sep).join('/');
    if (this.prefix === '') return rel;
    return rel === '' ? this.prefix : `${this.prefix}/${rel}`;
  }

  private relOf(key: string): string {
    return this.prefix === '' ? key : key.slice(this.prefix.length + 1);
  }

  private send<T>(kind: string, fn: () => Promise<T>, key = ''): Promise<T> {
    this.counts[kind] = (this.counts[kind] ?? 0) + 1;
    const sink = s3RequestTrace.sink;
    if (!sink) return this.gate.run(fn);
    const queuedMs = performance.now();
    return this.gate.run(async () => {
      const startMs = performance.now();
      let ok = false;
      try {
        const r = await fn();
        ok = true;
        return r;
      } finally {
        sink({ kind, key: this.relOf(key), queuedMs, startMs, endMs: performance.now(), ok });
      }
    });
  }

  /** A failed request as an error the library understands: ENOENT for a missing object, else a RepositoryError saying what the store answered. */
  private fail(err: unknown, action: string, key: string): Error {
    if (err instanceof RepositoryError) return err;
    if ((err as { code?: unknown } | null)?.code === 'EEXIST') return err as Error;
    const name = nameOf(err);
    const status = statusOf(err);
    const where = `s3://${this.bucket}/${key}`;
    if (name === 'NoSuchBucket') {
      return new RepositoryError('REPO_PATH_MISSING', `The bucket "${this.bucket}" does not exist at ${this.display}. Create it, or check the bucket name and endpoint.`, { path: this.display, cause: err });
    }
    if (name === 'NoSuchKey' || name === 'NotFound' || status === 404) return enoent(where);
    const detail = `${name}${status ? ` (HTTP ${status})` : ''}: ${(err as SdkError | null)?.message ?? String(err)}`;
    if (status === 403 || name === 'AccessDenied') {
      return new RepositoryError('REPO_PERMISSION_DENIED', `The S3 destination ${this.display} refused ${action} ${where} — ${detail}. Check the access key's permissions on the bucket.`, { path: this.display, cause: err });
    }
    const network = status === undefined ? ' (the S3 endpoint could not be reached)' : '';
    return new RepositoryError('REPO_IO_ERROR', `S3 request failed on ${this.display} while ${action} ${where}${network} — ${detail}.`, { path: this.display, cause: err });
  }

  private async call<T>(kind: string, action: string, key: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await this.send(kind, fn, key);
    } catch (err) {
      throw this.fail(err, action, key);
    }
  }

  // ---- RepositoryFileSystem ----

  async readFile(file: string): Promise<Buffer> {
    const key = this.keyOf(file);
    if (key === null) return this.local.readFile(file);
    return this.call('GET', 'reading', key, async () => {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return readBody(res.Body, res.ContentLength);
    });
  }

  async writeFileAtomic(file: string, data: Uint8Array, options: WriteOptions = {}): Promise<void> {
    const key = this.keyOf(file);
    if (key === null) return this.local.writeFileAtomic(file, data);
    await this.put(key, data, { retainUntilMs: options.retainUntilMs ?? this.defaultRetention(key) });
  }

  async syncDir(dir: string): Promise<void> {
    if (this.keyOf(dir) === null) await this.local.syncDir(dir);
  }

  async stat(file: string): Promise<FileStat> {
    const key = this.keyOf(file);
    if (key === null) return this.local.stat(file);
    if (key === this.prefix) {
      await this.headBucket();
      return { size: 0, mtimeMs: 0, isFile: false, isDirectory: true };
    }
    const hit = this.listed.get(key);
    if (hit && this.now() - hit.at < LISTING_TTL_MS) return { size: hit.size, mtimeMs: hit.mtimeMs, isFile: true, isDirectory: false };
    try {
      const res = await this.call('HEAD', 'inspecting', key, () => this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key })));
      return { size: res.ContentLength ?? 0, mtimeMs: res.LastModified?.getTime() ?? 0, isFile: true, isDirectory: false };
    } catch (err) {
      if ((err as { code?: string }).code !== 'ENOENT') throw err;
    }
    // No object of that name: a "directory" if any key is under it.
    const res = await this.call('LIST', 'listing', key, () => this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: `${key}/`, MaxKeys: 1 })));
    if ((res.KeyCount ?? 0) > 0) return { size: 0, mtimeMs: 0, isFile: false, isDirectory: true };
    throw enoent(`s3://${this.bucket}/${key}`);
  }

  /** Names directly under `dir`: objects and "subdirectories" (common prefixes). An absent directory is empty. */
  async readdir(dir: string): Promise<string[]> {
    const key = this.keyOf(dir);
    if (key === null) return this.local.readdir(dir);
    const base = key === '' ? '' : `${key}/`;
    const names: string[] = [];
    const at = this.now();
    let token: string | undefined;
    do {
      const res = await this.call('LIST', 'listing', base, () =>
        this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: base, Delimiter: '/', ...(token ? { ContinuationToken: token } : {}) })),
      );
      for (const o of res.Contents ?? []) {
        if (!o.Key) continue;
        names.push(o.Key.slice(base.length));
        this.listed.set(o.Key, { size: o.Size ?? 0, mtimeMs: o.LastModified?.getTime() ?? 0, at });
      }
      for (const p of res.CommonPrefixes ?? []) if (p.Prefix) names.push(p.Prefix.slice(base.length, -1));
      token = res.IsTruncated ? res.NextContinuationToken : undefined;
    } while (token);
    return names;
  }

  async mkdir(dir: string): Promise<void> {
    if (this.keyOf(dir) === null) await this.local.mkdir(dir);
  }

  /** Deletes the object; in a versioned bucket every version of it, so the space is really freed (a plain DELETE would only add a delete marker). */
  async unlink(file: string): Promise<void> {
    const key = this.keyOf(file);
    if (key === null) return this.local.unlink(file);
    this.listed.delete(key);
    if (!(await this.isVersioned())) {
      await this.call('DELETE', 'deleting', key, () => this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key })));
      return;
    }
    const versions = await this.versionsOf(key);
    if (versions.length === 0) throw enoent(`s3://${this.bucket}/${key}`);
    // Newest last: a refused (locked) newest version leaves the object as it was.
    for (const versionId of versions.reverse()) {
      try {
        await this.call('DELETE', 'deleting', key, () => this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key, VersionId: versionId })));
      } catch (err) {
        if (err instanceof RepositoryError && err.code === 'REPO_PERMISSION_DENIED') {
          const until = await this.retentionOf(key, versionId);
          if (until !== null && until > this.now()) throw new ObjectLockedError(this.display, `s3://${this.bucket}/${key}`, until);
        }
        throw err;
      }
    }
  }

  /** Refreshes LastModified (a lease's heartbeat): the object is PUT again with its content. */
  async setMtime(file: string, mtimeMs: number): Promise<void> {
    const key = this.keyOf(file);
    if (key === null) return this.local.setMtime(file, mtimeMs);
    const data = await this.readFile(file);
    await this.put(key, data, { retainUntilMs: this.defaultRetention(key) });
  }

  async openRead(file: string): Promise<ReadableFile> {
    const key = this.keyOf(file);
    if (key === null) return this.local.openRead(file);
    let size: number | undefined;
    return {
      read: async (into, position) => {
        if (into.length === 0) return 0;
        const total = size ?? (size = (await this.stat(file)).size);
        if (position >= total) return 0;
        const end = Math.min(total, position + into.length) - 1;
        return this.call('GET', 'reading', key, async () => {
          const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key, Range: `bytes=${position}-${end}` }));
          const body = await readBody(res.Body, res.ContentLength);
          body.copy(into, 0, 0, Math.min(body.length, into.length));
          return Math.min(body.length, into.length);
        });
      },
      size: async () => size ?? (size = (await this.stat(file)).size),
      close: async () => undefined,
    };
  }

  async openWrite(file: string, options?: { direct?: boolean }): Promise<WritableFile> {
    if (this.keyOf(file) === null) return this.local.openWrite(file, options);
    throw new RepositoryError('INVALID_ARGUMENT', `${file} is an object in ${this.display}; objects are written whole, never in place.`, { path: this.display });
  }

  // ---- object store only ----

  /** The bucket exists and answers; otherwise a clear error (missing bucket, no permission, unreachable). */
  async headBucket(): Promise<void> {
    await this.call('HEAD', 'opening the bucket', '', () => this.client.send(new HeadBucketCommand({ Bucket: this.bucket }))).catch((err: unknown) => {
      if ((err as { code?: string }).code === 'ENOENT') {
        throw new RepositoryError('REPO_PATH_MISSING', `The bucket "${this.bucket}" does not exist at ${this.display}. Create it, or check the bucket name and endpoint.`, { path: this.display });
      }
      throw err;
    });
  }

  /** Init: the bucket must exist and the prefix hold nothing yet. */
  async prepareEmpty(): Promise<'empty' | 'repository' | 'not-empty'> {
    await this.headBucket();
    const base = this.prefix === '' ? '' : `${this.prefix}/`;
    const res = await this.call('LIST', 'listing', base, () => this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: base, MaxKeys: 2 })));
    const keys = (res.Contents ?? []).map((o) => o.Key ?? '');
    if (keys.includes(`${base}${LAYOUT.config}`)) return 'repository';
    return keys.length > 0 ? 'not-empty' : 'empty';
  }

  /**
   * Every chunk id stored (listings of chunks/, no request per chunk): what a backup
   * deduplicates against. A listing answers 1,000 keys per request, one page after another;
   * so after SEQUENTIAL_LIST_PAGES pages the rest is split by the ids' leading hex digits
   * (chunks/<2 hex>/<id>: keys sort by them) into up to 16 listings that run at once, each
   * split again the same way when it too has more than a page. A repository of up to 4,000
   * chunks costs what a plain listing does; a large one lists up to 16 × 16 times faster.
   */
  async listChunkIds(): Promise<Set<string>> {
    const base = this.keyOf(path.join(this.rootNorm, LAYOUT.chunks)) + '/';
    const ids = new Set<string>();
    await this.listChunkRange(base, '', undefined, ids);
    return ids;
  }

  /** Chunk ids under `base + digits` (after `startAfter`, a key there); `digits` is 0 to 2 hex digits of the shard name. */
  private async listChunkRange(base: string, digits: string, startAfter: string | undefined, ids: Set<string>): Promise<void> {
    const prefix = base + digits;
    let after = startAfter;
    for (let page = 1; ; page++) {
      const res = await this.call('LIST', 'listing', prefix, () =>
        this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ...this.pageSize, ...(after ? { StartAfter: after } : {}) })),
      );
      let last: string | undefined;
      for (const o of res.Contents ?? []) {
        if (!o.Key) continue;
        last = o.Key;
        const name = o.Key.slice(base.length + 3);
        // A PUT is atomic: a listed chunk is complete (no torn files as after a crash on a disk); 12 bytes is the smallest header.
        if (CHUNK_ID_RE.test(name) && (o.Size ?? 0) >= 12) ids.add(name);
      }
      if (!res.IsTruncated || last === undefined) return;
      const shard = last.slice(base.length, base.length + 2);
      // The whole of chunks/ is read page by page up to SEQUENTIAL_LIST_PAGES (a store on the same
      // few cores lists no faster in parallel; a remote one with thousands of pages does).
      if ((digits !== '' || page >= SEQUENTIAL_LIST_PAGES) && digits.length < 2 && /^[0-9a-f]{2}$/.test(shard) && shard.startsWith(digits)) {
        // The rest of this range: what follows `last` under its next digit, and each later digit, at once.
        const at = shard[digits.length]!;
        const later = HEX_DIGITS.slice(HEX_DIGITS.indexOf(at) + 1).split('');
        await Promise.all([this.listChunkRange(base, digits + at, last, ids), ...later.map((h) => this.listChunkRange(base, digits + h, undefined, ids))]);
        return;
      }
      after = last;
    }
  }

  /**
   * Writes `file` only if no object of that name exists: a conditional PUT (`If-None-Match: *`)
   * where the store honours it (probed once), otherwise the claim protocol of FORMAT.md.
   * Fails with EEXIST when the object exists or another writer is creating it.
   */
  async createExclusive(file: string, data: Uint8Array, options: WriteOptions = {}): Promise<void> {
    const key = this.keyOf(file);
    if (key === null) throw new RepositoryError('INVALID_ARGUMENT', `${file} is not in ${this.display}`);
    const retainUntilMs = options.retainUntilMs ?? this.defaultRetention(key);
    if (await this.conditionalWrites()) {
      await this.put(key, data, { retainUntilMs, ifNoneMatch: true });
      return;
    }
    if (await this.exists(key)) throw eexist(`s3://${this.bucket}/${key}`);
    const claimGroup = `${this.keyOf(path.join(this.rootNorm, LAYOUT.locks))}/.tmp-claim-${createKeyTag(key)}-`;
    const claim = `${claimGroup}${randomBytes(8).toString('hex')}`;
    await this.put(claim, Buffer.from(key), { retainUntilMs: undefined });
    try {
      const others = await this.call('LIST', 'listing', claimGroup, () => this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: claimGroup })));
      if ((others.Contents ?? []).some((o) => o.Key !== claim)) throw eexist(`s3://${this.bucket}/${key} (another writer is creating it)`);
      // A writer that finished before our claim: its object is there now.
      if (await this.exists(key)) throw eexist(`s3://${this.bucket}/${key}`);
      await this.put(key, data, { retainUntilMs });
    } finally {
      await this.unlink(path.join(this.rootNorm, this.relOf(claim))).catch(() => undefined);
    }
  }

  /** Whether the store refuses a PUT with `If-None-Match: *` over an existing object (probed once, with a throwaway object in locks/). */
  conditionalWrites(): Promise<boolean> {
    this.conditional ??= (async () => {
      const key = `${this.keyOf(path.join(this.rootNorm, LAYOUT.locks))}/.tmp-probe-${randomBytes(8).toString('hex')}`;
      // A store that does not know the header ignores it (the second PUT succeeds) or refuses it (400, 501).
      const refused = (err: unknown): boolean => {
        const status = statusOf((err as { cause?: unknown }).cause);
        return status === 400 || status === 501;
      };
      try {
        await this.put(key, Buffer.from('probe'), { retainUntilMs: undefined, ifNoneMatch: true });
        await this.put(key, Buffer.from('probe'), { retainUntilMs: undefined, ifNoneMatch: true });
        return false;
      } catch (err) {
        if ((err as { code?: string }).code === 'EEXIST') return true;
        if (refused(err)) return false;
        throw err;
      } finally {
        await this.unlink(path.join(this.rootNorm, this.relOf(key))).catch(() => undefined);
      }
    })();
    this.conditional.catch(() => {
      this.conditional = undefined;
    });
    return this.conditional;
  }

  isVersioned(): Promise<boolean> {
    this.versioned ??= this.call('GET', 'reading the versioning of', '', () => this.client.send(new GetBucketVersioningCommand({ Bucket: this.bucket }))).then(
      (r) => r.Status === 'Enabled' || r.Status === 'Suspended',
    );
    this.versioned.catch(() => {
      this.versioned = undefined;
    });
    return this.versioned;
  }

  /** With `lock` in the location, the bucket must have object lock enabled. */
  checkObjectLock(): Promise<void> {
    if (!this.lock) return Promise.resolve();
    this.lockChecked ??= (async () => {
      let enabled = false;
      try {
        const res = await this.call('GET', 'reading the object lock configuration of', '', () => this.client.send(new GetObjectLockConfigurationCommand({ Bucket: this.bucket })));
        enabled = res.ObjectLockConfiguration?.ObjectLockEnabled === 'Enabled';
      } catch (err) {
        if (!(err instanceof RepositoryError) && (err as { code?: string }).code !== 'ENOENT') throw err;
        if (err instanceof RepositoryError && err.code !== 'REPO_IO_ERROR') throw err;
      }
      if (!enabled) {
        throw new RepositoryError(
          'INVALID_ARGUMENT',
          `The bucket "${this.bucket}" at ${this.display} does not have object lock enabled, so immutable backups (lock ${this.lock?.mode}, ${this.lock?.days} days) cannot be written there. Create the bucket with object lock, or remove the lock from the destination.`,
          { path: this.display },
        );
      }
    })();
    this.lockChecked.catch(() => {
      this.lockChecked = undefined;
    });
    return this.lockChecked;
  }

  /** The retain-until date (ms) of an object (its current version unless `versionId`), or null when it has none. */
  async retentionOf(key: string, versionId?: string): Promise<number | null> {
    try {
      const res = await this.call('GET', 'reading the retention of', key, () =>
        this.client.send(new GetObjectRetentionCommand({ Bucket: this.bucket, Key: key, ...(versionId ? { VersionId: versionId } : {}) })),
      );
      return res.Retention?.RetainUntilDate?.getTime() ?? null;
    } catch (err) {
      if ((err as { code?: string }).code === 'ENOENT') return null;
      if (err instanceof RepositoryError && /NoSuchObjectLockConfiguration|ObjectLockConfigurationNotFound/.test(err.message)) return null;
      throw err;
    }
  }

  /** retentionOf for a repository file. */
  retentionOfFile(file: string): Promise<number | null> {
    const key = this.keyOf(file);
    if (key === null) return Promise.resolve(null);
    return this.retentionOf(key);
  }

  /**
   * Makes the object locked until at least `untilMs` (PutObjectRetention). A store refuses to
   * shorten a retention: when it refuses, the current one is read, and only a shorter one is an error.
   */
  async extendRetention(file: string, untilMs: number): Promise<void> {
    const key = this.keyOf(file);
    if (key === null || !this.lock) return;
    try {
      await this.call('PUT', 'extending the retention of', key, () =>
        this.client.send(new PutObjectRetentionCommand({ Bucket: this.bucket, Key: key, Retention: { Mode: lockMode(this.lock!), RetainUntilDate: new Date(untilMs) } })),
      );
    } catch (err) {
      if (!(err instanceof RepositoryError) || err.code !== 'REPO_PERMISSION_DENIED') throw err;
      const current = await this.retentionOf(key);
      if (current === null || current < untilMs) throw err;
    }
  }

  /** Aborts multipart uploads under the repository started before `beforeMs` (a crashed writer's); returns how many. */
  async abortStaleUploads(beforeMs: number): Promise<number> {
    const base = this.prefix === '' ? '' : `${this.prefix}/`;
    let aborted = 0;
    let keyMarker: string | undefined;
    let uploadMarker: string | undefined;
    for (;;) {
      const res = await this.call('LIST', 'listing uploads in', base, () =>
        this.client.send(new ListMultipartUploadsCommand({ Bucket: this.bucket, Prefix: base, ...(keyMarker ? { KeyMarker: keyMarker } : {}), ...(uploadMarker ? { UploadIdMarker: uploadMarker } : {}) })),
      );
      for (const u of res.Uploads ?? []) {
        if (!u.Key || !u.UploadId || (u.Initiated?.getTime() ?? 0) >= beforeMs) continue;
        await this.call('DELETE', 'aborting an upload of', u.Key, () => this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: u.Key, UploadId: u.UploadId })));
        aborted++;
      }
      if (!res.IsTruncated) return aborted;
      keyMarker = res.NextKeyMarker;
      uploadMarker = res.NextUploadIdMarker;
    }
  }

  // ---- internals ----

  private async exists(key: string): Promise<boolean> {
    try {
      await this.call('HEAD', 'inspecting', key, () => this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key })));
      return true;
    } catch (err) {
      if ((err as { code?: string }).code === 'ENOENT') return false;
      throw err;
    }
  }

  /** Version ids of exactly `key`, oldest first (delete markers included: they go too). */
  private async versionsOf(key: string): Promise<string[]> {
    const out: { id: string; at: number }[] = [];
    let keyMarker: string | undefined;
    let versionMarker: string | undefined;
    for (;;) {
      const res = await this.call('LIST', 'listing versions of', key, () =>
        this.client.send(new ListObjectVersionsCommand({ Bucket: this.bucket, Prefix: key, ...(keyMarker ? { KeyMarker: keyMarker } : {}), ...(versionMarker ? { VersionIdMarker: versionMarker } : {}) })),
      );
      for (const v of [...(res.Versions ?? []), ...(res.DeleteMarkers ?? [])]) {
        if (v.Key === key && v.VersionId) out.push({ id: v.VersionId, at: v.LastModified?.getTime() ?? 0 });
      }
      if (!res.IsTruncated) break;
      keyMarker = res.NextKeyMarker;
      versionMarker = res.NextVersionIdMarker;
    }
    return out.sort((a, b) => a.at - b.at).map((v) => v.id);
  }

  private defaultRetention(key: string): number | undefined {
    if (!this.lock) return undefined;
    const rel = this.relOf(key);
    if (!LOCKED_DIRS.some((d) => rel.startsWith(`${d}/`))) return undefined;
    return this.now() + this.lock.days * DAY_MS;
  }

  private lockParams(retainUntilMs: number | undefined): { ObjectLockMode?: ObjectLockMode; ObjectLockRetainUntilDate?: Date } {
    if (!this.lock || retainUntilMs === undefined) return {};
    return { ObjectLockMode: lockMode(this.lock), ObjectLockRetainUntilDate: new Date(retainUntilMs) };
  }

  private async put(key: string, data: Uint8Array, options: { retainUntilMs: number | undefined; ifNoneMatch?: boolean }): Promise<void> {
    this.listed.delete(key);
    const lock = this.lockParams(options.retainUntilMs);
    if (data.length <= MULTIPART_THRESHOLD || options.ifNoneMatch) {
      await this.call('PUT', 'writing', key, async () => {
        try {
          await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: data, ContentLength: data.length, ...lock, ...(options.ifNoneMatch ? { IfNoneMatch: '*' } : {}) }));
        } catch (err) {
          const status = statusOf(err);
          if (options.ifNoneMatch && (status === 412 || status === 409)) throw eexist(`s3://${this.bucket}/${key}`);
          throw err;
        }
      });
      return;
    }
    await this.putMultipart(key, data, lock);
  }

  private async putMultipart(key: string, data: Uint8Array, lock: ReturnType<S3FileSystem['lockParams']>): Promise<void> {
    const created = await this.call('POST', 'starting an upload of', key, () => this.client.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: key, ...lock })));
    const uploadId = created.UploadId;
    if (!uploadId) throw new RepositoryError('REPO_IO_ERROR', `The S3 store at ${this.display} started an upload of ${key} without an upload id.`, { path: this.display });
    try {
      const count = Math.ceil(data.length / PART_SIZE);
      const parts = await Promise.all(
        Array.from({ length: count }, async (_, i) => {
          const body = data.subarray(i * PART_SIZE, Math.min(data.length, (i + 1) * PART_SIZE));
          const res = await this.call('PUT', 'uploading a part of', key, () =>
            this.client.send(new UploadPartCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId, PartNumber: i + 1, Body: body, ContentLength: body.length })),
          );
          return { PartNumber: i + 1, ETag: res.ETag };
        }),
      );
      await this.call('POST', 'completing the upload of', key, () =>
        this.client.send(new CompleteMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts: parts } })),
      );
    } catch (err) {
      await this.send('DELETE', () => this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId }))).catch(() => undefined);
      throw err;
    }
    // Some stores answer CompleteMultipartUpload with an empty or odd ETag: check the object itself.
    const head = await this.call('HEAD', 'checking the upload of', key, () => this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key })));
    if (head.ContentLength !== data.length) {
      throw new RepositoryError('REPO_IO_ERROR', `The S3 store at ${this.display} holds ${head.ContentLength ?? '?'} bytes for ${key} after uploading ${data.length}.`, { path: this.display });
    }
  }
}

function lockMode(lock: S3Lock): ObjectLockMode {
  return lock.mode === 'compliance' ? 'COMPLIANCE' : 'GOVERNANCE';
}

/** A short stable tag of a key (claim objects of one key share it). */
function createKeyTag(key: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return `${h.toString(16).padStart(8, '0')}${Buffer.from(key).length.toString(16)}`;
}

/** The body of a GET as one Buffer owning its whole memory (so it can be transferred to a worker thread without a copy). */
async function readBody(body: unknown, length: number | undefined): Promise<Buffer> {
  if (body === undefined || body === null) return Buffer.alloc(0);
  const stream = body as AsyncIterable<Uint8Array>;
  if (length !== undefined) {
    const out = Buffer.allocUnsafeSlow(length);
    let off = 0;
    for await (const chunk of stream) {
      if (off + chunk.length > length) throw new Error(`the response body is longer than its Content-Length ${length}`);
      out.set(chunk, off);
      off += chunk.length;
    }
    if (off !== length) throw Object.assign(new Error(`the response body ended after ${off} of ${length} bytes`), { code: 'ECONNRESET' });
    return out;
  }
  const parts: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream) {
    parts.push(Buffer.from(chunk));
    total += chunk.length;
  }
  const out = Buffer.allocUnsafeSlow(total);
  let off = 0;
  for (const p of parts) {
    p.copy(out, off);
    off += p.length;
  }
  return out;
}
