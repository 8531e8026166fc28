/**
 * Reading one point of an object's metadata database: the versions valid at that point
 * (valid_from ≤ seq < valid_to), so every point is a complete view without replaying any
 * other. Paths are derived from parent ids at the point.
 */
import type Database from 'better-sqlite3';
import { unpackIds } from './schema.js';

export type ItemKind = 'file' | 'folder';

/** An item as it was at a point. */
export interface ItemView {
  id: string;
  parentId: string | null;
  name: string;
  /** "/" for the root, "/Documents/a.docx" below it. */
  path: string;
  kind: ItemKind;
  size: number;
  quickXorHash: string | null;
  sha256: string | null;
  /** SHA-256 of the stored content (a restore checks it). */
  contentSha256: string | null;
  createdAt: string | null;
  modifiedAt: string | null;
  eTag: string | null;
  cTag: string | null;
  /** Blob ids of the content, in order (files); null for folders. */
  blobs: string[] | null;
  extra: unknown;
}

export interface VersionRow {
  vid: number;
  item_id: string;
  parent_id: string | null;
  name: string;
  kind: ItemKind;
  size: number;
  quick_xor_hash: string | null;
  sha256: string | null;
  content_sha256: string | null;
  created_at: string | null;
  modified_at: string | null;
  etag: string | null;
  ctag: string | null;
  content: Buffer | null;
  extra: string | null;
  valid_from: number;
  valid_to: number | null;
}

const AT = '(valid_from <= @seq AND (valid_to IS NULL OR valid_to > @seq))';

/** Glob (* and ?) → LIKE, with LIKE's own wildcards escaped. */
export function globToLike(glob: string): string {
  let out = '';
  for (const ch of glob) {
    if (ch === '*') out += '%';
    else if (ch === '?') out += '_';
    else if (ch === '%' || ch === '_' || ch === '\\') out += `\\${ch}`;
    else out += ch;
  }
  return out;
}

export class PointView {
  private readonly byId: Database.Statement;
  private readonly children: Database.Statement;
  private readonly childByName: Database.Statement;
  private readonly roots: Database.Statement;
  private readonly paths = new Map<string, string>();

  constructor(
    private readonly db: Database.Database,
    readonly seq: number,
  ) {
    this.byId = db.prepare(`SELECT * FROM versions WHERE item_id = @id AND ${AT}`);
    this.children = db.prepare(`SELECT * FROM versions WHERE parent_id = @parent AND ${AT} ORDER BY kind DESC, name`);
    this.childByName = db.prepare(`SELECT * FROM versions WHERE parent_id = @parent AND name = @name AND ${AT}`);
    this.roots = db.prepare(`SELECT * FROM versions WHERE parent_id IS NULL AND ${AT} ORDER BY vid`);
  }

  /** The database this view reads (for queries of its own: see ObjectStore.withPoint). */
  get database(): Database.Database {
    return this.db;
  }

  row(id: string): VersionRow | undefined {
    return this.byId.get({ id, seq: this.seq }) as VersionRow | undefined;
  }

  item(id: string): ItemView | null {
    const r = this.row(id);
    return r ? this.view(r) : null;
  }

  root(): ItemView | null {
    const r = this.roots.get({ seq: this.seq }) as VersionRow | undefined;
    return r ? this.view(r) : null;
  }

  /** The item at `path` ("/", "/Documents", "Documents/a.docx"), or null. */
  resolve(path: string): ItemView | null {
    const root = this.roots.get({ seq: this.seq }) as VersionRow | undefined;
    if (!root) return null;
    let current: VersionRow = root;
    for (const name of path.split('/').filter((s) => s.length > 0)) {
      const next = this.childByName.get({ parent: current.item_id, name, seq: this.seq }) as VersionRow | undefined;
      if (!next) return null;
      current = next;
    }
    return this.view(current);
  }

  childrenOf(parentId: string): ItemView[] {
    return (this.children.all({ parent: parentId, seq: this.seq }) as VersionRow[]).map((r) => this.view(r));
  }

  /** Items whose name matches a glob (case-insensitive for ASCII), at most `limit`. */
  find(pattern: string, limit: number): ItemView[] {
    const rows = this.db
      .prepare(`SELECT * FROM versions WHERE name LIKE @like ESCAPE '\\' AND ${AT} ORDER BY name, vid LIMIT @limit`)
      .all({ like: globToLike(pattern), seq: this.seq, limit }) as VersionRow[];
    return rows.map((r) => this.view(r));
  }

  counts(): { items: number; files: number; folders: number; bytes: number } {
    const r = this.db
      .prepare(`SELECT COUNT(*) AS items, COALESCE(SUM(kind = 'file'), 0) AS files, COALESCE(SUM(kind = 'folder'), 0) AS folders, COALESCE(SUM(CASE WHEN kind = 'file' THEN size ELSE 0 END), 0) AS bytes FROM versions WHERE ${AT}`)
      .get({ seq: this.seq }) as { items: number; files: number; folders: number; bytes: number };
    return r;
  }

  /** Every content blob id the point's files need (repeats included). */
  *references(): Generator<string> {
    const it = this.db.prepare(`SELECT content FROM versions WHERE kind = 'file' AND content IS NOT NULL AND ${AT}`).iterate({ seq: this.seq }) as IterableIterator<{ content: Buffer }>;
    for (const r of it) yield* unpackIds(r.content);
  }

  /** The files whose content uses any of `blobs`. */
  filesUsing(blobs: ReadonlySet<string>): ItemView[] {
    const out: ItemView[] = [];
    const it = this.db.prepare(`SELECT * FROM versions WHERE kind = 'file' AND content IS NOT NULL AND ${AT} ORDER BY vid`).iterate({ seq: this.seq }) as IterableIterator<VersionRow>;
    for (const r of it) if (unpackIds(r.content).some((id) => blobs.has(id))) out.push(this.view(r));
    return out;
  }

  /** The item's path at this point, walking up its parents (a missing parent or a cycle ends the walk). */
  pathOf(r: Pick<VersionRow, 'item_id' | 'parent_id' | 'name'>): string {
    const chain: Pick<VersionRow, 'item_id' | 'name'>[] = [];
    const seen = new Set<string>();
    let base = '/';
    let cur: Pick<VersionRow, 'item_id' | 'parent_id' | 'name'> = r;
    for (;;) {
      const cached = this.paths.get(cur.item_id);
      if (cached !== undefined) {
        base = cached;
        break;
      }
      if (cur.parent_id === null) {
        this.paths.set(cur.item_id, '/');
        break;
      }
      chain.push(cur);
      seen.add(cur.item_id);
      const parent = this.row(cur.parent_id);
      if (!parent || seen.has(parent.item_id)) break;
      cur = parent;
    }
    for (let i = chain.length - 1; i >= 0; i--) {
      const c = chain[i]!;
      base = base === '/' ? `/${c.name}` : `${base}/${c.name}`;
      this.paths.set(c.item_id, base);
    }
    return base;
  }

  view(r: VersionRow): ItemView {
    return {
      id: r.item_id,
      parentId: r.parent_id,
      name: r.name,
      path: this.pathOf(r),
      kind: r.kind,
      size: r.size,
      quickXorHash: r.quick_xor_hash,
      sha256: r.sha256,
      contentSha256: r.content_sha256,
      createdAt: r.created_at,
      modifiedAt: r.modified_at,
      eTag: r.etag,
      cTag: r.ctag,
      blobs: r.kind === 'file' ? unpackIds(r.content) : null,
      extra: r.extra === null ? null : (JSON.parse(r.extra) as unknown),
    };
  }
}
