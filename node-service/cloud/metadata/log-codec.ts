/**
 * An object's metadata database ↔ its object log (the repository's object-log.ts): what a
 * point stores on the destination is the database's rows, not the SQLite file. A SQLite
 * file changes B-tree pages all over at every point, so its image would be stored almost
 * whole each time; the log keeps unchanged versions byte for byte and grows at its end.
 * Item columns travel as the versions' `data` (FORMAT.md "Object metadata, schema 1").
 */
import type Database from 'better-sqlite3';
import { ObjectLogError, type JsonValue, type LogClosure, type LogEntry, type LogPoint, type LogVersion } from '../../repository/index.js';
import type { VersionRow } from './point-view.js';
import { METADATA_SCHEMA_VERSION, createSchema, packIds, readMeta, unpackIds } from './schema.js';

/** The item columns of a version, in this order, as the log's `data` array. */
const ITEM_COLUMNS = ['item_id', 'parent_id', 'name', 'kind', 'size', 'quick_xor_hash', 'sha256', 'content_sha256', 'created_at', 'modified_at', 'etag', 'ctag', 'extra'] as const;

interface PointRow {
  seq: number;
  id: string;
  created_at: string;
  kind: string;
  delta_link: string | null;
  state: string | null;
  summary: string;
}

const parse = (s: string | null): JsonValue => (s === null ? null : (JSON.parse(s) as JsonValue));

/** The log of the database as it is (after the point's transaction committed). */
export function logOf(db: Database.Database): { points: Iterable<LogPoint>; closures: Iterable<LogClosure>; versions: Iterable<LogVersion>; end: { lastPoint: string; data: JsonValue } } {
  return {
    points: (function* () {
      for (const p of db.prepare('SELECT * FROM points ORDER BY seq').iterate() as IterableIterator<PointRow>) {
        yield { seq: p.seq, id: p.id, data: { createdAt: p.created_at, kind: p.kind, deltaLink: p.delta_link, state: parse(p.state), summary: parse(p.summary) } };
      }
    })(),
    closures: (function* () {
      for (const c of db.prepare('SELECT vid, valid_to FROM versions WHERE valid_to IS NOT NULL ORDER BY vid').iterate() as IterableIterator<{ vid: number; valid_to: number }>) {
        yield { vid: c.vid, toSeq: c.valid_to };
      }
    })(),
    versions: (function* () {
      for (const v of db.prepare('SELECT * FROM versions ORDER BY vid').iterate() as IterableIterator<VersionRow>) {
        const data = ITEM_COLUMNS.map<JsonValue>((c) => (c === 'extra' ? parse(v.extra) : v[c]));
        yield { vid: v.vid, fromSeq: v.valid_from, blobs: v.kind === 'file' ? unpackIds(v.content) : [], data };
      }
    })(),
    end: { lastPoint: readMeta(db, 'last_point') ?? '', data: { schema: METADATA_SCHEMA_VERSION, repositoryId: readMeta(db, 'repository_id') } },
  };
}

const str = (x: unknown): string | null => (typeof x === 'string' ? x : null);

/** Fills an empty database from a log; returns the log's last point. Throws ObjectLogError on a log this version cannot use. */
export async function installLog(db: Database.Database, entries: AsyncIterable<LogEntry>, objectKey: string, repositoryId: string): Promise<string> {
  createSchema(db, objectKey, repositoryId);
  const insPoint = db.prepare('INSERT INTO points (seq, id, created_at, kind, delta_link, state, summary) VALUES (?, ?, ?, ?, ?, ?, ?)');
  const insVersion = db.prepare(
    'INSERT INTO versions (vid, item_id, parent_id, name, kind, size, quick_xor_hash, sha256, content_sha256, created_at, modified_at, etag, ctag, extra, content, valid_from, valid_to) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
  );
  const closed = new Map<number, number>();
  let lastPoint: string | null = null;
  db.exec('BEGIN');
  try {
    for await (const e of entries) {
      if (e.kind === 'p') {
        const d = (e.data ?? {}) as Record<string, JsonValue>;
        insPoint.run(e.seq, e.id, str(d.createdAt) ?? '', str(d.kind) ?? 'incremental', str(d.deltaLink), d.state === undefined || d.state === null ? null : JSON.stringify(d.state), JSON.stringify(d.summary ?? {}));
      } else if (e.kind === 'c') closed.set(e.vid, e.toSeq);
      else if (e.kind === 'v') {
        const d = e.data;
        if (!Array.isArray(d) || d.length !== ITEM_COLUMNS.length) throw new ObjectLogError('object log: a version is not an item of metadata schema 1');
        const [itemId, parentId, name, kind, size, qxh, sha, contentSha, created, modified, etag, ctag, extra] = d;
        if (typeof itemId !== 'string' || typeof name !== 'string' || (kind !== 'file' && kind !== 'folder') || typeof size !== 'number') throw new ObjectLogError('object log: a version is not a valid item');
        insVersion.run(e.vid, itemId, str(parentId), name, kind, size, str(qxh), str(sha), str(contentSha), str(created), str(modified), str(etag), str(ctag), extra === null ? null : JSON.stringify(extra), kind === 'file' ? packIds(e.blobs) : null, e.fromSeq, closed.get(e.vid) ?? null);
      } else {
        if (e.objectKey !== objectKey) throw new ObjectLogError(`object log: it is the log of ${e.objectKey}, not of ${objectKey}`);
        const schema = (e.data as { schema?: unknown } | null)?.schema;
        if (schema !== METADATA_SCHEMA_VERSION) throw new ObjectLogError(`object log: metadata schema ${String(schema)} is not one this version reads (${METADATA_SCHEMA_VERSION}); upgrade the node software`);
        lastPoint = e.lastPoint;
      }
    }
    if (lastPoint === null) throw new ObjectLogError('object log: it has no end');
    db.prepare("UPDATE meta SET value = ? WHERE key = 'last_point'").run(lastPoint);
    db.exec('COMMIT');
  } catch (err) {
    db.exec('ROLLBACK');
    throw err;
  }
  return lastPoint;
}
