/**
 * The cloud server's metadata of one protected object (a user's OneDrive, a site's library;
 * later a mailbox), kept in SQLite and stored on the destination next to the data: content
 * in packs, and at every point the database as its object log (its rows; encrypted,
 * compressed, deduplicated blobs) named by the point's manifest, which is written last. A point exists exactly when
 * its manifest does, and lists and restores by itself.
 *
 *   const store = await openObjectStore(repo, 'm365:<tenant>:drive:<id>', { workDir });
 *   await store.beginPoint({ mode: store.deltaLink() ? 'incremental' : 'full' });
 *   const content = await store.putContent(download);          // blobs in packs
 *   store.upsertItem({ id, parentId, name, kind: 'file', content, ... });
 *   store.markDeleted(id);
 *   const point = await store.commitPoint({ deltaLink });
 *   store.listChildren(point.id, '/Documents'); store.find(point.id, '*.docx');
 */
import { createHash } from 'node:crypto';
import Database from 'better-sqlite3';
import {
  InvalidArgumentError,
  PointNotFoundError,
  RepositoryError,
  type JsonValue,
  type PointInfo,
  type PointWriter,
  type Points,
  type Repository,
  type RepositoryLogger,
  type StoredContent,
} from '../../repository/index.js';
import { PointSession, type ItemInput, type UpsertResult } from './point-session.js';
import { PointView, type ItemView } from './point-view.js';
import { installLog, logOf } from './log-codec.js';
import { writeMeta } from './schema.js';
import { WorkDb, type Baseline } from './work-db.js';

export interface ObjectStoreOptions {
  /** Node-local directory for working copies of the databases (from the node's config). */
  workDir: string;
  logger?: RepositoryLogger;
  /** Keep the working copy after close() (default: only for unencrypted repositories, so names never rest in clear). */
  keepWorkCopy?: boolean;
  /** Pack target size (tests). */
  packSize?: number;
}

export interface BeginPointOptions {
  /** 'full': every item is upserted, what is not is tombstoned at commit (first backup, or an expired delta token). */
  mode?: 'incremental' | 'full';
  id?: string;
  /** Opaque JSON for re-import (tenant, user, drive name…). */
  source?: JsonValue;
}

export interface CommitPointInput {
  /** The delta link to continue from next time. */
  deltaLink?: string | null;
  /** Other state the agent keeps per point. */
  state?: JsonValue;
  /** Extra counts (warnings, requests…) for the point's summary. */
  summary?: Record<string, number>;
  source?: JsonValue;
}

/** A folder by Graph id, or a path ("/", "/Documents/Reports"). */
export type FolderRef = { id: string } | string;

const noop = (): void => undefined;
const silentLogger: RepositoryLogger = { debug: noop, info: noop, warn: noop, error: noop, child: () => silentLogger };

export class ObjectStore {
  private writer: PointWriter | null = null;
  private session: PointSession | null = null;
  private options: BeginPointOptions = {};
  private readonly snapshots = new Map<string, { db: Database.Database; seq: number }>();
  private baselineInfo: { baseline: Baseline; basedOn: string | null } = { baseline: 'none', basedOn: null };
  /** Reads points and blobs; its index is loaded once, and dropped when this store writes a point. */
  private reader: Points | null = null;

  private constructor(
    private readonly repo: Repository,
    readonly objectKey: string,
    private readonly work: WorkDb,
    private readonly opts: ObjectStoreOptions,
  ) {}

  static async open(repo: Repository, objectKey: string, options: ObjectStoreOptions): Promise<ObjectStore> {
    if (objectKey.length === 0 || objectKey.length > 512) throw new InvalidArgumentError('the object key must be 1 to 512 characters');
    const log = (options.logger ?? silentLogger).child({ module: 'object-store' });
    const work = new WorkDb(WorkDb.fileFor(options.workDir, repo.id, objectKey), repo, objectKey, log);
    const store = new ObjectStore(repo, objectKey, work, { ...options, logger: log });
    store.baselineInfo = await work.sync();
    return store;
  }

  /** Where the local database came from: 'none' or 'lost' mean the next point must be a full enumeration. */
  get baseline(): Baseline {
    return this.baselineInfo.baseline;
  }

  /** This object's points on the destination, oldest first. */
  points(): Promise<PointInfo[]> {
    return this.layer().list(this.objectKey);
  }

  /** The delta link of the newest point (null: none, enumerate in full). */
  deltaLink(): string | null {
    const r = this.work.db.prepare('SELECT delta_link FROM points ORDER BY seq DESC LIMIT 1').get() as { delta_link: string | null } | undefined;
    return r?.delta_link ?? null;
  }

  /** The agent's state saved with the newest point. */
  state(): unknown {
    const r = this.work.db.prepare('SELECT state FROM points ORDER BY seq DESC LIMIT 1').get() as { state: string | null } | undefined;
    return r?.state ? (JSON.parse(r.state) as unknown) : null;
  }

  /** Starts a point: a shared lease, the database brought up to the destination's newest point, one transaction. */
  async beginPoint(options: BeginPointOptions = {}): Promise<{ id: string; seq: number; baseline: Baseline }> {
    if (this.writer) throw new InvalidArgumentError(`a backup point of ${this.objectKey} is already open`);
    this.baselineInfo = await this.work.sync();
    const existing = await this.points();
    const latest = existing[existing.length - 1];
    const writer = await this.repo.startPoint({
      objectKey: this.objectKey,
      kind: options.mode === 'full' || !latest ? 'full' : 'incremental',
      parent: latest?.id ?? null,
      ...(options.id ? { id: options.id } : {}),
      ...(options.source !== undefined ? { source: options.source } : {}),
      ...(this.opts.packSize ? { packSize: this.opts.packSize } : {}),
    });
    const db = this.work.db;
    try {
      db.exec('BEGIN');
      purgeDeletedPoints(db, new Set(existing.map((p) => p.id)));
      const seq = ((db.prepare('SELECT MAX(seq) AS s FROM points').get() as { s: number | null }).s ?? 0) + 1;
      this.session = new PointSession(db, seq, options.mode ?? (latest ? 'incremental' : 'full'));
    } catch (err) {
      if (db.inTransaction) db.exec('ROLLBACK');
      await writer.abort();
      throw err;
    }
    this.writer = writer;
    this.options = options;
    return { id: writer.id, seq: this.session.seq, baseline: this.baselineInfo.baseline };
  }

  /** Stores a file's content (deduplicated in the repository); pass the answer to upsertItem. */
  putContent(source: Uint8Array | AsyncIterable<Uint8Array>): Promise<StoredContent> {
    return this.open().writer.putContent(source);
  }

  /** Whether every blob is in the repository (content of an earlier version can be reused without downloading). */
  hasContent(blobs: readonly string[]): boolean {
    const { writer } = this.open();
    return blobs.every((b) => writer.hasBlob(b));
  }

  /** The item's version as of now (the open point included), to compare with Graph's. */
  currentItem(id: string): ItemView | null {
    const r = this.open().session.current(id);
    return r ? new PointView(this.work.db, this.open().session.seq).view(r) : null;
  }

  upsertItem(item: ItemInput): UpsertResult {
    return this.open().session.upsert(item);
  }

  /** Tombstones the item and everything under it; returns how many items. */
  markDeleted(id: string): number {
    return this.open().session.markDeleted(id);
  }

  /** Current files whose content is not (any more) in the repository: the agent downloads them again. */
  filesWithMissingContent(): ItemView[] {
    const { writer, session } = this.open();
    const view = new PointView(this.work.db, session.seq);
    const rows = this.work.db.prepare("SELECT * FROM versions WHERE kind = 'file' AND valid_to IS NULL").all() as Parameters<PointView['view']>[0][];
    return rows.filter((r) => view.view(r).blobs?.some((b) => !writer.hasBlob(b))).map((r) => view.view(r));
  }

  /**
   * Commits the point: tombstones (full mode), the point row, the SQLite commit; then the
   * database file and the reference list into the repository, and the manifest last.
   */
  async commitPoint(input: CommitPointInput = {}): Promise<PointInfo> {
    const { writer, session } = this.open();
    const db = this.work.db;
    try {
      session.closeUnseen();
      const view = new PointView(db, session.seq);
      const summary = { ...view.counts(), added: session.added.size, changed: session.changed.size, removed: session.removed.size, ...input.summary };
      db.prepare('INSERT INTO points (seq, id, created_at, kind, delta_link, state, summary) VALUES (?, ?, ?, ?, ?, ?, ?)').run(
        session.seq,
        writer.id,
        writer.createdAt,
        session.mode,
        input.deltaLink ?? null,
        input.state === undefined ? null : JSON.stringify(input.state),
        JSON.stringify(summary),
      );
      writeMeta(db, 'last_point', writer.id);
      db.exec('COMMIT');
      // From here the local copy names a point the destination may never get: the next sync rebuilds it if so.
      const metadata = await writer.putObjectLog(logOf(db));
      const manifest = await writer.commit({ metadata, blobs: view.references(), summary, ...(input.source !== undefined ? { source: input.source } : this.options.source !== undefined ? { source: this.options.source } : {}) });
      this.baselineInfo = { baseline: 'local', basedOn: manifest.id };
      this.reader = null;
      return { id: manifest.id, objectKey: manifest.objectKey, createdAt: manifest.createdAt, kind: manifest.kind, parent: manifest.parent, source: manifest.source, summary: manifest.summary };
    } catch (err) {
      if (db.inTransaction) db.exec('ROLLBACK');
      await writer.abort();
      throw err;
    } finally {
      this.writer = null;
      this.session = null;
    }
  }

  /** Gives the open point up: the database is rolled back, nothing is committed. */
  async abortPoint(): Promise<void> {
    const writer = this.writer;
    this.writer = null;
    this.session = null;
    if (this.work.isOpen && this.work.db.inTransaction) this.work.db.exec('ROLLBACK');
    await writer?.abort();
  }

  /** The children of a folder at a point (folders first, by name). */
  async listChildren(pointId: string, folder: FolderRef): Promise<ItemView[]> {
    const view = await this.view(pointId);
    const parent = typeof folder === 'string' ? view.resolve(folder) : view.item(folder.id);
    if (!parent) throw new InvalidArgumentError(`${typeof folder === 'string' ? folder : `folder ${folder.id}`} does not exist in backup point ${pointId}`);
    return view.childrenOf(parent.id);
  }

  /** An item at a point, by Graph id or path; null when it did not exist then. */
  async getItem(pointId: string, ref: FolderRef): Promise<ItemView | null> {
    const view = await this.view(pointId);
    return typeof ref === 'string' ? view.resolve(ref) : view.item(ref.id);
  }

  /** Items whose name matches a glob ("*.docx", "report?.xlsx"; ASCII case-insensitive) at a point. */
  async find(pointId: string, pattern: string, options: { limit?: number } = {}): Promise<ItemView[]> {
    return (await this.view(pointId)).find(pattern, Math.max(1, options.limit ?? 1000));
  }

  /**
   * Runs `fn` over a point's view with the database it reads (read only: queries of the
   * item rows valid at `seq`, valid_from <= seq AND (valid_to IS NULL OR valid_to > seq)),
   * for searches the generic calls do not offer (Exchange fields in `extra`).
   */
  async withPoint<T>(pointId: string, fn: (db: Database.Database, seq: number, view: PointView) => T): Promise<T> {
    const view = await this.view(pointId);
    return fn(view.database, view.seq, view);
  }

  /** The counts of a point's view. */
  async counts(pointId: string): Promise<{ items: number; files: number; folders: number; bytes: number }> {
    return (await this.view(pointId)).counts();
  }

  /** The files of a point whose content uses any of these blobs (verify's damaged blobs → the items they hurt). */
  async filesUsingBlobs(pointId: string, blobs: ReadonlySet<string>): Promise<ItemView[]> {
    return (await this.view(pointId)).filesUsing(blobs);
  }

  /** A file's content at a point, checked against the SHA-256 recorded when it was stored. */
  async *readContent(pointId: string, itemId: string): AsyncGenerator<Buffer> {
    const item = (await this.view(pointId)).item(itemId);
    if (!item || item.kind !== 'file' || !item.blobs) throw new InvalidArgumentError(`file ${itemId} does not exist in backup point ${pointId}`);
    const hash = createHash('sha256');
    for await (const b of this.layer().readContent(item.blobs)) {
      hash.update(b);
      yield b;
    }
    if (item.contentSha256 && hash.digest('hex') !== item.contentSha256) {
      throw new RepositoryError('CHUNK_CORRUPT', `the content of ${item.path} in backup point ${pointId} does not match its checksum`);
    }
  }

  /** Closes the databases (and removes the working copy unless it is to be kept). */
  async close(): Promise<void> {
    await this.abortPoint();
    for (const s of this.snapshots.values()) s.db.close();
    this.snapshots.clear();
    this.work.close(!(this.opts.keepWorkCopy ?? !this.repo.encrypted));
  }

  /**
   * A point's view: from the working copy, which holds every point of its lineage, or else
   * from the point's own database, loaded into memory (a point another node wrote meanwhile).
   */
  private async view(pointId: string): Promise<PointView> {
    const r = this.work.db.prepare('SELECT seq FROM points WHERE id = ?').get(pointId) as { seq: number } | undefined;
    if (r) return new PointView(this.work.db, r.seq);
    let snap = this.snapshots.get(pointId);
    if (!snap) {
      if (!(await this.layer().exists(pointId))) throw new PointNotFoundError(this.repo.path, pointId);
      const m = await this.layer().load(pointId);
      if (m.objectKey !== this.objectKey) throw new InvalidArgumentError(`backup point ${pointId} is not of ${this.objectKey}`);
      const db = new Database(':memory:');
      try {
        await installLog(db, this.layer().readLog(pointId), this.objectKey, this.repo.id);
      } catch (err) {
        db.close();
        throw err;
      }
      const row = db.prepare('SELECT seq FROM points WHERE id = ?').get(pointId) as { seq: number } | undefined;
      if (!row) {
        db.close();
        throw new RepositoryError('MANIFEST_CORRUPT', `the metadata database of backup point ${pointId} does not contain that point`);
      }
      snap = { db, seq: row.seq };
      this.snapshots.set(pointId, snap);
    }
    return new PointView(snap.db, snap.seq);
  }

  private layer(): Points {
    this.reader ??= this.repo.points();
    return this.reader;
  }

  private open(): { writer: PointWriter; session: PointSession } {
    if (!this.writer || !this.session) throw new InvalidArgumentError(`no backup point of ${this.objectKey} is open: call beginPoint() first`);
    return { writer: this.writer, session: this.session };
  }
}

/** Drops what only deleted points needed: their rows, and versions valid in no remaining point. */
function purgeDeletedPoints(db: Database.Database, existing: ReadonlySet<string>): void {
  const rows = db.prepare('SELECT seq, id FROM points').all() as { seq: number; id: string }[];
  const gone = rows.filter((r) => !existing.has(r.id));
  if (gone.length === 0) return;
  const del = db.prepare('DELETE FROM points WHERE seq = ?');
  for (const r of gone) del.run(r.seq);
  db.prepare(
    'DELETE FROM versions WHERE valid_to IS NOT NULL AND NOT EXISTS (SELECT 1 FROM points p WHERE p.seq >= versions.valid_from AND p.seq < versions.valid_to)',
  ).run();
}

export function openObjectStore(repo: Repository, objectKey: string, options: ObjectStoreOptions): Promise<ObjectStore> {
  return ObjectStore.open(repo, objectKey, options);
}
