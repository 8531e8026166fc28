/**
 * A backup repository on a destination directory (FORMAT.md): create or open it, write
 * backups, read them back, and the maintenance operations (verify, prune, gc, stats).
 * Side effects go through the injected filesystem, clock and logger.
 */
import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import * as path from 'node:path';
import { BackupReader } from './backup-reader.js';
import { BackupWriter } from './backup-writer.js';
import { BLAKE3_MODULE, blake3Available } from './chunk-codec.js';
import { ChunkCodecPool } from './chunk-codec.pool.js';
import type { ChunkIdHash } from './chunk-format.js';
import { ChunkReader } from './chunk-store.js';
import { systemClock, type Clock } from './clock.js';
import { BackupExistsError, BackupLockedError, InvalidArgumentError, NotEncryptedError, PasswordRequiredError, RepositoryError, RepositoryExistsError, WrongPasswordError, toRepositoryError } from './errors.js';
import { NodeFileSystem, type RepositoryFileSystem } from './file-system.js';
import { s3DisplayName, type S3Repository } from '../../common/s3-location.js';
import { isObjectStore } from './s3/object-store.js';
import { RetentionPlan } from './s3/retention-plan.js';
import type { S3FileSystem } from './s3/s3-file-system.js';
import {
  ALLOWED_CHUNK_SIZES,
  BACKUP_ID_RE,
  chunkRelPath,
  DEFAULT_CHUNK_SIZE,
  DEFAULT_COMPRESSION_LEVEL,
  DEFAULT_KDF,
  FORMAT_NAME,
  CONFIG_VERSION_BLAKE3,
  chunkIdHashOf,
  keyedChunkId,
  LAYOUT,
  newBackupId,
  repositoryConfigSchema,
  shardNames,
  type BackupManifest,
  type BackupSummary,
  type JsonValue,
  type RepositoryConfig,
} from './format.js';
import { readDamagedChunks } from './damaged-chunks.js';
import { collectGarbage, readGcEpoch, type GcOptions, type GcReport } from './gc.js';
import { deriveKeys, formatRecoveryKey, parseRecoveryKey, passwordKey, unwrapMasterKey, wrapMasterKey, type RepositoryKeys } from './keys.js';
import { DEFAULT_LEASE_OPTIONS, LeaseManager, type LeaseOptions } from './locks.js';
import { silentLogger, type RepositoryLogger } from './logger.js';
import { ManifestStore } from './manifest-store.js';
import type { CopyAccess, RepositoryContext } from './repository-context.js';
import { applyRetention, type RetentionPolicy } from './retention.js';
import { prepareEmptyDirectory, readConfig, rewrapMasterKey } from './repository-config.js';
import { repositoryStats, type RepositoryStats } from './stats.js';
import { verifyRepository, type VerifyOptions, type VerifyReport } from './verify.js';
import type { PackAccess } from './packs/pack-access.js';
import type { PointManifest } from './packs/pack-format.js';
import { hasPackLayer } from './packs/pack-files.js';
import { collectPackGarbage, type PackGcReport } from './packs/pack-gc.js';
import { verifyPacks, type PackVerifyReport } from './packs/pack-verify.js';
import { PointWriter, type StartPointOptions } from './packs/point-writer.js';
import { Points } from './packs/points.js';

/**
 * Where a repository lives: a directory on this node, or a prefix in an S3-compatible bucket
 * (FORMAT.md, "Object stores"). Both hold the same format.
 */
export type RepositoryLocation = string | { s3: S3Repository };

export interface RepositoryDeps {
  /** Directories only (an object store brings its own): the filesystem adapter, for fault injection in tests. */
  fs?: RepositoryFileSystem;
  clock?: Clock;
  logger?: RepositoryLogger;
  /** Worker threads for hashing, compression and encryption (default: the number of cores, at most 8). */
  threads?: number;
  leases?: Partial<LeaseOptions>;
}

export interface InitOptions {
  /** Encrypts the repository when given. */
  password?: string;
  chunkSize?: number;
  compressionLevel?: number;
  /** scrypt cost; the defaults suit production, tests may lower N. */
  kdf?: { N?: number; r?: number; p?: number };
  /**
   * How chunks are named (FORMAT.md "Chunk ids"). Default: BLAKE3 (a version 2 repository)
   * where its native module loads, else SHA-256 (version 1, what older versions read).
   */
  chunkIdHash?: ChunkIdHash;
}

export interface OpenOptions {
  password?: string;
}

export interface StartBackupOptions {
  /** Retention group, e.g. "vm:<uuid>" (default "default"). */
  group?: string;
  /** Opaque JSON stored in the manifest for re-import (VM definition, names, policy...). */
  source?: JsonValue;
  /** Backup id (default: time-sortable random id). */
  id?: string;
  /** Chunks in flight while writing (bounds memory). */
  maxInFlight?: number;
}

export interface BackupInfo {
  id: string;
  createdAt: string;
  group: string;
  kind: 'full' | 'incremental';
  parent: string | null;
  source: JsonValue;
  disks: { name: string; size: number; chunkSize: number }[];
  summary: BackupSummary;
}

export interface PruneOptions {
  dryRun?: boolean;
  /** Only these groups (default: all). */
  groups?: readonly string[];
  utcOffsetMinutes?: number;
  /** Whether a group's newest backup is always kept (default: yes for every group). */
  protectNewest?: (group: string) => boolean;
  /** Backups retention must keep whatever the rules say (protected in the catalog). */
  protectedIds?: ReadonlySet<string>;
}

export interface PruneItem {
  id: string;
  group: string;
  createdAt: string;
  reasons: string[];
}

export interface PruneReport {
  dryRun: boolean;
  kept: PruneItem[];
  removed: PruneItem[];
  /** Backups the rules would remove but that are still under object lock: kept, with when they can go. */
  locked?: { id: string; group: string; lockedUntil: string }[];
  /** Backups whose manifest cannot be read: never removed by prune. */
  damaged: string[];
}

interface Resolved {
  fs: RepositoryFileSystem;
  clock: Clock;
  logger: RepositoryLogger;
  threads: number;
  leases: LeaseOptions;
}

/** The repository's display path and the storage that holds it. */
async function placeOf(location: RepositoryLocation, d: Resolved): Promise<{ path: string; deps: Resolved; store: S3FileSystem | null }> {
  if (typeof location === 'string') return { path: path.resolve(location), deps: d, store: null };
  if (typeof location !== 'object' || location === null || !('s3' in location)) throw new InvalidArgumentError('the repository location must be a directory path or { s3 }');
  const loc = location.s3;
  const root = s3DisplayName(loc);
  // Loaded only for object stores: a directory repository never loads the S3 SDK.
  const { DEFAULT_MAX_REQUESTS, S3FileSystem } = await import('./s3/s3-file-system.js');
  const { s3ClientFor } = await import('./s3/s3-client.js');
  const store = new S3FileSystem({ client: s3ClientFor(loc), location: loc, root, maxRequests: DEFAULT_MAX_REQUESTS, now: () => d.clock.now() });
  return { path: root, deps: { ...d, fs: store }, store };
}

function resolveDeps(deps: RepositoryDeps): Resolved {
  const staleMs = deps.leases?.staleMs ?? DEFAULT_LEASE_OPTIONS.staleMs;
  return {
    fs: deps.fs ?? new NodeFileSystem(),
    clock: deps.clock ?? systemClock,
    logger: deps.logger ?? silentLogger,
    // Each worker costs ~15 MiB; beyond 8 the destination's I/O is the limit, not the CPU.
    threads: Math.max(1, Math.floor(deps.threads ?? Math.min(8, availableParallelism()))),
    leases: { staleMs, refreshMs: deps.leases?.refreshMs ?? Math.max(1000, Math.floor(staleMs / 6)) },
  };
}

/** A backup's listing entry from its manifest (or the manifest's header: the disks without their chunk lists). */
export function backupInfoOf(m: Pick<BackupManifest, 'id' | 'createdAt' | 'group' | 'kind' | 'parent' | 'source' | 'summary'> & { disks: readonly { name: string; size: number; chunkSize: number }[] }): BackupInfo {
  return {
    id: m.id,
    createdAt: m.createdAt,
    group: m.group,
    kind: m.kind,
    parent: m.parent,
    source: m.source,
    disks: m.disks.map((d) => ({ name: d.name, size: d.size, chunkSize: d.chunkSize })),
    summary: m.summary,
  };
}

export class Repository {
  private pool: ChunkCodecPool | undefined;
  private pointManifests: Map<string, PointManifest> | undefined;
  private readonly manifests: ManifestStore;
  private readonly leases: LeaseManager;
  private readonly chunkReader: ChunkReader;
  private readonly log: RepositoryLogger;

  private constructor(
    readonly path: string,
    /** As read at open (or written by init / changePassword). */
    private currentConfig: RepositoryConfig,
    private readonly keys: RepositoryKeys | null,
    private readonly deps: Resolved,
    /** Kept only to print the recovery key and to wrap it under a new password; never written anywhere in clear. */
    private readonly masterKey: Buffer | null = null,
  ) {
    this.log = deps.logger.child({ module: 'repository', repository: path });
    this.manifests = new ManifestStore(path, deps.fs, keys?.manifestKey ?? null);
    this.leases = new LeaseManager(path, deps.fs, deps.clock, deps.leases, this.log);
    this.chunkReader = new ChunkReader(path, () => this.codec(), keys !== null);
  }

  get config(): RepositoryConfig {
    return this.currentConfig;
  }

  get id(): string {
    return this.config.id;
  }

  get encrypted(): boolean {
    return this.config.encryption !== null;
  }

  /**
   * Creates a repository in `repoPath`: the directory must be missing or empty, and its
   * parent must exist (a missing parent usually means a share that is not mounted).
   */
  static async init(location: RepositoryLocation, options: InitOptions = {}, deps: RepositoryDeps = {}): Promise<Repository> {
    const place = await placeOf(location, resolveDeps(deps));
    const d = place.deps;
    const abs = place.path;
    const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
    if (!ALLOWED_CHUNK_SIZES.includes(chunkSize)) {
      throw new InvalidArgumentError(`chunk size ${chunkSize} is not one of ${ALLOWED_CHUNK_SIZES.join(', ')}`);
    }
    const level = options.compressionLevel ?? DEFAULT_COMPRESSION_LEVEL;
    if (!Number.isInteger(level) || level < 0 || level > 19) throw new InvalidArgumentError('compression level must be 0..19');
    if (options.password !== undefined && options.password.length === 0) throw new InvalidArgumentError('the password is empty');
    const chunkIdHash = options.chunkIdHash ?? (blake3Available() ? 'blake3' : 'sha256');
    if (chunkIdHash === 'blake3' && !blake3Available()) throw new InvalidArgumentError(`BLAKE3 chunk ids were asked for, but its native module (${BLAKE3_MODULE}) does not load on this node`);

    if (place.store) {
      const state = await place.store.prepareEmpty();
      if (state !== 'empty') throw new RepositoryExistsError(abs, state === 'repository' ? 'a repository already exists there' : 'the bucket already holds objects under that prefix');
      await place.store.checkObjectLock();
    } else {
      await prepareEmptyDirectory(abs, d.fs);
    }
    const id = randomBytes(16).toString('hex');
    let keys: RepositoryKeys | null = null;
    let masterKey: Buffer | null = null;
    let encryption: RepositoryConfig['encryption'] = null;
    if (options.password !== undefined) {
      const kdf = {
        algorithm: 'scrypt' as const,
        N: options.kdf?.N ?? DEFAULT_KDF.N,
        r: options.kdf?.r ?? DEFAULT_KDF.r,
        p: options.kdf?.p ?? DEFAULT_KDF.p,
        salt: randomBytes(16).toString('base64'),
      };
      const master = randomBytes(32);
      const kek = await passwordKey(options.password, kdf);
      encryption = {
        algorithm: 'aes-256-gcm',
        chunkId: keyedChunkId(chunkIdHash),
        kdf,
        wrappedKey: wrapMasterKey(master, kek, id),
      };
      keys = deriveKeys(master, id);
      masterKey = master;
    }
    const config: RepositoryConfig = {
      format: FORMAT_NAME,
      version: chunkIdHash === 'blake3' ? CONFIG_VERSION_BLAKE3 : 1,
      id,
      createdAt: new Date(d.clock.now()).toISOString(),
      chunkSize,
      compression: { algorithm: 'zstd', level },
      ...(chunkIdHash === 'blake3' ? { chunkId: { algorithm: 'blake3' as const } } : {}),
      encryption,
    };
    const parsed = repositoryConfigSchema.safeParse(config);
    if (!parsed.success) throw new InvalidArgumentError(`invalid repository settings: ${parsed.error.issues[0]?.message ?? ''}`);
    try {
      for (const dir of [LAYOUT.chunks, LAYOUT.backups, LAYOUT.locks, LAYOUT.state]) await d.fs.mkdir(path.join(abs, dir));
      const chunksDir = path.join(abs, LAYOUT.chunks);
      for (const shard of shardNames()) await d.fs.mkdir(path.join(chunksDir, shard));
      await d.fs.syncDir(chunksDir);
      // The config is written last: a directory without it is not a repository.
      await d.fs.writeFileAtomic(path.join(abs, LAYOUT.config), Buffer.from(JSON.stringify(config, null, 2) + '\n'));
      await d.fs.syncDir(abs);
    } catch (err) {
      throw toRepositoryError(err, abs, 'creating the repository');
    }
    d.logger.info({ repository: abs, encrypted: keys !== null }, 'repository created');
    return new Repository(abs, config, keys, d, masterKey);
  }

  /** Opens an existing repository; an encrypted one needs its password. Writes nothing. */
  static async open(location: RepositoryLocation, options: OpenOptions = {}, deps: RepositoryDeps = {}): Promise<Repository> {
    const place = await placeOf(location, resolveDeps(deps));
    const d = place.deps;
    const abs = place.path;
    const config = await readConfig(abs, d.fs);
    let keys: RepositoryKeys | null = null;
    let masterKey: Buffer | null = null;
    if (config.encryption) {
      if (options.password === undefined) throw new PasswordRequiredError(abs);
      const kek = await passwordKey(options.password, config.encryption.kdf);
      masterKey = unwrapMasterKey(config.encryption.wrappedKey, kek, config.id);
      if (!masterKey) throw new WrongPasswordError(abs);
      keys = deriveKeys(masterKey, config.id);
    } else if (options.password !== undefined) {
      throw new NotEncryptedError(abs);
    }
    return new Repository(abs, config, keys, d, masterKey);
  }

  /**
   * Opens an encrypted repository with its recovery key instead of the password (the password
   * lost, the catalog gone). Writes nothing.
   */
  static async openWithRecoveryKey(location: RepositoryLocation, recoveryKey: string, deps: RepositoryDeps = {}): Promise<Repository> {
    const place = await placeOf(location, resolveDeps(deps));
    const d = place.deps;
    const abs = place.path;
    const config = await readConfig(abs, d.fs);
    if (!config.encryption) throw new RepositoryError('REPO_NOT_ENCRYPTED', `The repository at ${abs} is not encrypted; open it without a key.`, { path: abs });
    const parsed = parseRecoveryKey(recoveryKey);
    if (!parsed) {
      throw new RepositoryError('REPO_RECOVERY_KEY_INVALID', 'The recovery key cannot be read: copy the whole block, from BEGIN to END, and check it for typos.', { path: abs });
    }
    if (parsed.repositoryId !== config.id) {
      throw new RepositoryError('REPO_RECOVERY_KEY_INVALID', `This recovery key belongs to repository ${parsed.repositoryId}, not to the one at ${abs} (${config.id}).`, { path: abs });
    }
    return new Repository(abs, config, deriveKeys(parsed.masterKey, config.id), d, parsed.masterKey);
  }

  /** The recovery key (formatRecoveryKey): opens this repository without the password. */
  recoveryKey(): string {
    if (this.masterKey === null) throw new RepositoryError('REPO_NOT_ENCRYPTED', `The repository at ${this.path} is not encrypted: it has no key to recover.`, { path: this.path });
    return formatRecoveryKey(this.masterKey, this.id);
  }

  /**
   * Sets a new password: the same master key, wrapped anew by the new password (fresh scrypt
   * salt) in config.json, replacing the old wrapping, so the old password no longer opens the
   * repository. Works on a repository opened with its password or its recovery key (the
   * password lost); the recovery key stays valid, and no data is re-encrypted. Resolves only
   * once the new password is known to open the repository (FORMAT.md, "Changing the password").
   */
  async changePassword(newPassword: string, options: { kdf?: { N?: number; r?: number; p?: number } } = {}): Promise<void> {
    const masterKey = this.masterKey;
    if (masterKey === null) throw new RepositoryError('REPO_NOT_ENCRYPTED', `The repository at ${this.path} is not encrypted: it has no password to change.`, { path: this.path });
    if (newPassword.length === 0) throw new InvalidArgumentError('the new password is empty');
    this.currentConfig = await rewrapMasterKey(this.path, this.deps.fs, { id: this.id, masterKey, newPassword, ...(options.kdf ? { kdf: options.kdf } : {}) });
    this.log.info({}, 'repository password changed (master key re-wrapped)');
  }

  /** Starts a backup. Takes a shared lease, so an unwritable destination fails here, before any source is read. */
  async startBackup(options: StartBackupOptions = {}): Promise<BackupWriter> {
    const id = options.id ?? newBackupId(this.deps.clock.now());
    if (!BACKUP_ID_RE.test(id)) throw new InvalidArgumentError(`invalid backup id "${id}" (letters, digits, . _ - only)`);
    const group = options.group ?? 'default';
    if (group.length === 0 || group.length > 255) throw new InvalidArgumentError('the backup group must be 1 to 255 characters');
    if (await this.manifests.exists(id)) throw new BackupExistsError(this.path, id);
    const store = isObjectStore(this.deps.fs) ? this.deps.fs : null;
    if (store) await store.checkObjectLock();
    const lease = await this.leases.acquire('shared', 'backup', id);
    try {
      const gcEpoch = await readGcEpoch({ repoPath: this.path, fs: this.deps.fs });
      // Object stores: one listing of chunks/ instead of a look per chunk (after the lease: GC cannot remove any of them now).
      // Chunks in flight: as many as the store takes requests (a patched chunk waits on a GET, every new one on a PUT).
      const knownChunks = store ? await store.listChunkIds() : undefined;
      const retention = store?.lock ? new RetentionPlan(store, this.path, this.manifests, store.lock.days, () => this.deps.clock.now()) : undefined;
      const damaged = await readDamagedChunks({ repoPath: this.path, fs: this.deps.fs });
      if (damaged.unreadable) this.log.warn({}, 'the list of damaged chunks is unreadable; the next verify rewrites it');
      const pool = this.codec();
      return new BackupWriter(
        {
          repoPath: this.path,
          repositoryId: this.id,
          defaultChunkSize: this.config.chunkSize,
          fs: this.deps.fs,
          clock: this.deps.clock,
          logger: this.log,
          pool,
          manifests: this.manifests,
          readGcEpoch: () => readGcEpoch({ repoPath: this.path, fs: this.deps.fs }),
          damaged: new Set(damaged.chunks.keys()),
          ...(knownChunks ? { knownChunks } : {}),
          ...(retention ? { retention } : {}),
          ...(store ? { partialChunks: 'read' as const } : {}),
          chunkWrites: await this.deps.fs.threadWrites?.(),
        },
        lease,
        {
          id,
          group,
          source: options.source ?? null,
          maxInFlight: Math.max(1, options.maxInFlight ?? (store ? Math.max(store.maxRequests, pool.threads * 4 + 4) : pool.threads * 4 + 4)),
          gcEpoch,
        },
      );
    } catch (err) {
      await lease.release();
      throw err;
    }
  }

  /** Every readable backup, oldest first (damaged manifests are logged and left out; verify reports them). */
  async listBackups(): Promise<BackupInfo[]> {
    const { headers, damaged } = await this.manifests.headers();
    for (const d of damaged) this.log.warn({ backup: d.id, err: d.error }, 'backup manifest cannot be read');
    return headers.map(backupInfoOf);
  }

  async loadManifest(backupId: string): Promise<BackupManifest> {
    return this.manifests.load(backupId);
  }

  /** The newest backup of a group, e.g. the base for the next incremental. */
  async latestBackup(group: string): Promise<BackupManifest | null> {
    const list = (await this.listBackups()).filter((b) => b.group === group);
    const last = list[list.length - 1];
    return last ? this.manifests.load(last.id) : null;
  }

  async openBackup(backupId: string, options: { cacheChunks?: number; readAhead?: number; sequentialPrefetch?: number } = {}): Promise<BackupReader> {
    const manifest = await this.manifests.load(backupId);
    return new BackupReader(manifest, {
      fs: this.deps.fs,
      chunks: this.chunkReader,
      readAhead: Math.max(1, options.readAhead ?? this.deps.threads * 4),
      cacheChunks: Math.max(1, options.cacheChunks ?? 16),
      sequentialPrefetch: Math.max(0, options.sequentialPrefetch ?? 0),
    });
  }

  /** Verifies the chunks of VM backups and, when the repository has them, the packs of backup points. */
  async verify(options: VerifyOptions = {}): Promise<VerifyReport & { packs: PackVerifyReport | null }> {
    const report = await verifyRepository(this.context(), options);
    const packs = (await hasPackLayer(this.context()))
      ? await verifyPacks(this.packAccess(), { ...(options.parallelism ? { parallelism: options.parallelism } : {}), ...(options.subset ? { subset: options.subset } : {}), ...(options.signal ? { signal: options.signal } : {}) })
      : null;
    return { ...report, ok: report.ok && (packs?.ok ?? true), packs };
  }

  /** Applies a retention policy per group; with dryRun only reports. Chunks are freed by gc(). */
  async prune(policy: RetentionPolicy, options: PruneOptions = {}): Promise<PruneReport> {
    const dryRun = options.dryRun ?? false;
    const { headers, damaged } = await this.manifests.headers();
    const candidates = headers.filter((m) => !options.groups || options.groups.includes(m.group));
    const decisions = applyRetention(candidates, policy, this.deps.clock.now(), {
      utcOffsetMinutes: options.utcOffsetMinutes ?? 0,
      ...(options.protectNewest ? { protectNewest: options.protectNewest } : {}),
      ...(options.protectedIds ? { isProtected: (id: string) => options.protectedIds!.has(id) } : {}),
    });
    const item = (x: (typeof decisions)[number]): PruneItem => ({ id: x.id, group: x.group, createdAt: x.createdAt, reasons: x.reasons });
    const kept = decisions.filter((x) => x.keep).map(item);
    let removed = decisions.filter((x) => !x.keep).map(item);
    const locked: NonNullable<PruneReport['locked']> = [];
    if (!dryRun && removed.length > 0) {
      if (isObjectStore(this.deps.fs) && this.deps.fs.lock) {
        // Under object lock a backup may refuse to go: it stays, and the report says until when.
        for (const r of removed) {
          try {
            await this.manifests.remove([r.id]);
          } catch (err) {
            if (!(err instanceof BackupLockedError)) throw err;
            const lockedUntil = new Date(err.lockedUntilMs).toISOString();
            locked.push({ id: r.id, group: r.group, lockedUntil });
            kept.push({ ...r, reasons: [`object lock until ${lockedUntil}`] });
          }
        }
        removed = removed.filter((r) => !locked.some((l) => l.id === r.id));
        if (locked.length > 0) this.log.warn({ locked }, 'backups under object lock were kept');
      } else {
        await this.manifests.remove(removed.map((r) => r.id));
      }
    }
    this.log.info({ dryRun, kept: kept.length, removed: removed.length }, 'prune finished');
    return { dryRun, kept, removed, damaged: damaged.map((d) => d.id), ...(locked.length > 0 ? { locked } : {}) };
  }

  /**
   * Removes one backup (its manifest; GC frees the chunks no other backup shares). False when
   * it was already gone.
   */
  async deleteBackup(backupId: string): Promise<boolean> {
    if (!BACKUP_ID_RE.test(backupId)) throw new InvalidArgumentError(`"${backupId}" is not a backup id`);
    if (!(await this.manifests.exists(backupId))) return false;
    await this.manifests.remove([backupId]);
    this.log.info({ backupId }, 'backup deleted');
    return true;
  }

  /** Frees unreferenced chunks and, when the repository has them, deletes or repacks unused packs. */
  async gc(options: GcOptions = {}): Promise<GcReport & { packs: PackGcReport | null }> {
    const report = await collectGarbage(this.context(), options);
    const packs = (await hasPackLayer(this.context()))
      ? await collectPackGarbage(this.packAccess(), { ...(options.graceMs ? { graceMs: options.graceMs } : {}), ...(options.dryRun ? { dryRun: true } : {}), ...(options.signal ? { signal: options.signal } : {}) })
      : null;
    return { ...report, packs };
  }

  /** Backup points of protected objects (M365 drives, libraries) stored in packs: list, prune, delete, read (FORMAT.md "Packs"). */
  points(): Points {
    // Point manifests never change: read (and decrypted) once per open repository.
    this.pointManifests ??= new Map();
    return new Points(this.packAccess(), this.pointManifests);
  }

  /** Starts a backup point of an object. Takes a shared lease, as startBackup does. */
  startPoint(options: StartPointOptions): Promise<PointWriter> {
    return PointWriter.start(this.packAccess(), options);
  }

  stats(): Promise<RepositoryStats> {
    return repositoryStats(this.context());
  }

  /** Stops the worker threads. The repository must not be used afterwards. */
  async close(): Promise<void> {
    const pool = this.pool;
    this.pool = undefined;
    await pool?.close();
    if (isObjectStore(this.deps.fs)) this.deps.fs.client.destroy();
  }

  /** The internals copy.ts works with (copyBackup); not for other callers. */
  copyAccess(): CopyAccess {
    const store = isObjectStore(this.deps.fs) ? this.deps.fs : null;
    const lock = store?.lock;
    return {
      ...this.context(),
      repositoryId: this.id,
      keys: this.keys,
      chunkIdHash: chunkIdHashOf(this.config),
      pool: this.codec(),
      ...(store ? { listChunks: () => store.listChunkIds() } : {}),
      ...(store && lock ? { retention: () => new RetentionPlan(store, this.path, this.manifests, lock.days, () => this.deps.clock.now()) } : {}),
    };
  }

  private codec(): ChunkCodecPool {
    const fs = this.deps.fs;
    this.pool ??= new ChunkCodecPool({
      threads: this.deps.threads,
      chunksDir: path.join(this.path, LAYOUT.chunks),
      keys: this.keys,
      chunkIdHash: chunkIdHashOf(this.config),
      compressionLevel: this.config.compression.level,
      // An object store's chunks are fetched here and handed (transferred) to the workers.
      ...(isObjectStore(fs) ? { readChunk: (id: string) => fs.readFile(path.join(this.path, chunkRelPath(id))) } : {}),
    });
    return this.pool;
  }

  private packAccess(): PackAccess {
    const { repoPath, fs, clock, logger, leases } = this.context();
    return { repoPath, fs, clock, logger, leases, repositoryId: this.id, keys: this.keys, chunkIdHash: chunkIdHashOf(this.config), compressionLevel: this.config.compression.level };
  }

  private context(): RepositoryContext {
    return {
      repoPath: this.path,
      fs: this.deps.fs,
      clock: this.deps.clock,
      logger: this.log,
      manifests: this.manifests,
      chunks: this.chunkReader,
      leases: this.leases,
      threads: this.deps.threads,
    };
  }
}
