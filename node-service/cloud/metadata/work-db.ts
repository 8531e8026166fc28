/**
 * The node-local working copy of an object's metadata database. The destination is the
 * truth: the copy is used only while its last point is the object's newest point there;
 * otherwise (another node backed the object up, a point was deleted, a backup failed after
 * the local commit, the copy is new or damaged) it is rebuilt from the log of the newest
 * point that reads back intact.
 */
import { createHash } from 'node:crypto';
import { closeSync, mkdirSync, openSync, renameSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import type { LogEntry, Repository, RepositoryLogger } from '../../repository/index.js';
import { installLog } from './log-codec.js';
import { METADATA_SCHEMA_VERSION, configure, createSchema, readMeta } from './schema.js';

export type Baseline =
  /** No point of the object exists: the next one is a full backup. */
  | 'none'
  /** The local copy was the newest point's. */
  | 'local'
  /** Rebuilt from the destination (point id). */
  | 'restored'
  /** Points exist but none of their databases could be read: started empty (the next backup must be full). */
  | 'lost';

const SIDE_FILES = ['-journal', '-wal', '-shm'];

export class WorkDb {
  private handle: Database.Database | null = null;

  constructor(
    readonly file: string,
    private readonly repo: Repository,
    private readonly objectKey: string,
    private readonly logger: RepositoryLogger,
  ) {}

  /** `<workDir>/<repository id>/<hash of the object key>.sqlite` (object keys may hold names: not in file names). */
  static fileFor(workDir: string, repositoryId: string, objectKey: string): string {
    return path.join(workDir, repositoryId, `${createHash('sha256').update(objectKey).digest('hex').slice(0, 32)}.sqlite`);
  }

  get isOpen(): boolean {
    return this.handle !== null;
  }

  get db(): Database.Database {
    if (!this.handle) throw new Error('the metadata database is not open');
    return this.handle;
  }

  /** Makes the local copy the newest point's database; returns where it came from. */
  async sync(): Promise<{ baseline: Baseline; basedOn: string | null }> {
    mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
    const points = this.repo.points();
    const list = await points.list(this.objectKey);
    const newest = list[list.length - 1] ?? null;
    const local = this.openLocal();
    if (local !== null && local === (newest?.id ?? '')) return { baseline: newest ? 'local' : 'none', basedOn: newest?.id ?? null };
    for (const p of [...list].reverse()) {
      try {
        await this.install(points.readLog(p.id), p.id);
        if (p.id !== newest?.id) this.logger.warn({ object: this.objectKey, point: p.id, newest: newest?.id }, 'the newest point’s metadata cannot be read; continuing from an older point');
        return { baseline: 'restored', basedOn: p.id };
      } catch (err) {
        this.logger.warn({ object: this.objectKey, point: p.id, err }, 'cannot restore the metadata database of a point');
      }
    }
    await this.install(null, null);
    return { baseline: newest ? 'lost' : 'none', basedOn: null };
  }

  close(remove: boolean): void {
    this.handle?.close();
    this.handle = null;
    if (remove) for (const suffix of ['', ...SIDE_FILES]) rmSync(this.file + suffix, { force: true });
  }

  /** Opens the local copy; its last point ('' for none), or null when there is none or it is unusable. */
  private openLocal(): string | null {
    this.close(false);
    try {
      const db = new Database(this.file, { fileMustExist: true });
      try {
        configure(db);
        if (readMeta(db, 'schema_version') !== String(METADATA_SCHEMA_VERSION) || readMeta(db, 'object_key') !== this.objectKey || readMeta(db, 'repository_id') !== this.repo.id) {
          db.close();
          return null;
        }
        this.handle = db;
        return readMeta(db, 'last_point');
      } catch (err) {
        db.close();
        throw err;
      }
    } catch (err) {
      if (!(err instanceof Error && /unable to open|no such file/i.test(err.message))) this.logger.warn({ file: this.file, err }, 'the local metadata database is unusable; rebuilding it');
      return null;
    }
  }

  /** Replaces the local copy with a point's database, rebuilt from its log, or with a new empty database. */
  private async install(log: AsyncIterable<LogEntry> | null, pointId: string | null): Promise<void> {
    this.close(true);
    const tmp = `${this.file}.tmp-${process.pid}`;
    for (const suffix of ['', ...SIDE_FILES]) rmSync(tmp + suffix, { force: true });
    closeSync(openSync(tmp, 'w', 0o600));
    const db = new Database(tmp);
    try {
      configure(db);
      if (log) {
        const last = await installLog(db, log, this.objectKey, this.repo.id);
        if (pointId !== null && last !== pointId) throw new Error(`the log is not point ${pointId}'s`);
      } else createSchema(db, this.objectKey, this.repo.id);
    } catch (err) {
      db.close();
      rmSync(tmp, { force: true });
      throw err;
    }
    db.close();
    renameSync(tmp, this.file);
    this.handle = new Database(this.file, { fileMustExist: true });
    configure(this.handle);
  }
}
