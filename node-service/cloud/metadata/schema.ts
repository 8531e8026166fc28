/**
 * The metadata database of one protected object (FORMAT.md "Object metadata databases"):
 * every version of every item with the range of points it is valid in, the points, and the
 * delta state. One SQLite file per object; a copy of it at each point is stored in the
 * repository (encrypted, compressed), so every point is a complete view by itself.
 */
import type Database from 'better-sqlite3';

export const METADATA_SCHEMA_VERSION = 1;

/**
 * Versions: an item (Graph id) has one row per version; a version is valid in the points
 * with seq in [valid_from, valid_to) (valid_to NULL: still valid). Editing an item closes
 * its version and opens a new one; deleting closes it (the tombstone). Paths are not stored:
 * they follow from parent ids at a point, so renaming or moving a folder is one new version.
 */
const SCHEMA = `
CREATE TABLE meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
) STRICT;
CREATE TABLE points (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  created_at TEXT NOT NULL,
  kind TEXT NOT NULL,
  delta_link TEXT,
  state TEXT,
  summary TEXT NOT NULL
) STRICT;
CREATE TABLE versions (
  vid INTEGER PRIMARY KEY,
  item_id TEXT NOT NULL,
  parent_id TEXT,
  name TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('file', 'folder')),
  size INTEGER NOT NULL,
  quick_xor_hash TEXT,
  sha256 TEXT,
  content_sha256 TEXT,
  created_at TEXT,
  modified_at TEXT,
  etag TEXT,
  ctag TEXT,
  content BLOB,
  extra TEXT,
  valid_from INTEGER NOT NULL,
  valid_to INTEGER,
  CHECK (valid_to IS NULL OR valid_to > valid_from)
) STRICT;
CREATE INDEX versions_item ON versions (item_id, valid_from);
CREATE INDEX versions_parent ON versions (parent_id, valid_from);
`;

export function createSchema(db: Database.Database, objectKey: string, repositoryId: string): void {
  db.exec(SCHEMA);
  const put = db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)');
  put.run('schema_version', String(METADATA_SCHEMA_VERSION));
  put.run('object_key', objectKey);
  put.run('repository_id', repositoryId);
  put.run('last_point', '');
}

export function readMeta(db: Database.Database, key: string): string | null {
  const row = db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined;
  return row?.value ?? null;
}

export function writeMeta(db: Database.Database, key: string, value: string): void {
  db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(key, value);
}

/** Settings for a work database: a rebuildable cache of the destination's copy, written in one transaction per point. */
export function configure(db: Database.Database): void {
  db.pragma('journal_mode = DELETE');
  db.pragma('synchronous = NORMAL');
}

/** Blob ids (hex) ↔ the content column (32 bytes each, in order). */
export function packIds(ids: readonly string[]): Buffer {
  const out = Buffer.alloc(ids.length * 32);
  ids.forEach((id, i) => out.write(id, i * 32, 32, 'hex'));
  return out;
}

export function unpackIds(buf: Buffer | null): string[] {
  if (!buf) return [];
  const out: string[] = [];
  for (let o = 0; o + 32 <= buf.length; o += 32) out.push(buf.toString('hex', o, o + 32));
  return out;
}
