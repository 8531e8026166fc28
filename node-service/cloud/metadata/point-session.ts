/**
 * The changes of one open point (seq S) to an object's metadata database, inside one SQLite
 * transaction: an item that is new gets a version valid from S; a changed one has its open
 * version closed at S and a new one opened (or, changed twice in the same point, updated in
 * place); a deleted one (and everything under it) is closed at S. In a full enumeration,
 * whatever was not seen is closed at commit: deleted files never come back.
 */
import type Database from 'better-sqlite3';
import { InvalidArgumentError, type StoredContent } from '../../repository/index.js';
import type { ItemKind, VersionRow } from './point-view.js';
import { packIds } from './schema.js';

/** An item as the cloud agent read it from Graph. */
export interface ItemInput {
  /** Graph id. */
  id: string;
  /** Graph id of the parent folder; null for the drive's root. */
  parentId: string | null;
  name: string;
  kind: ItemKind;
  size?: number;
  quickXorHash?: string | null;
  sha256?: string | null;
  createdAt?: string | null;
  modifiedAt?: string | null;
  eTag?: string | null;
  cTag?: string | null;
  /**
   * A file's stored content (putContent's answer, or its blob ids). Omitted: the content of
   * the item's current version is kept (a rename, a move, metadata only).
   */
  content?: StoredContent | readonly string[];
  /** Opaque JSON the agent keeps with the item (Graph facets). */
  extra?: unknown;
}

export type UpsertResult = 'added' | 'changed' | 'unchanged';

type Row = Omit<VersionRow, 'vid' | 'valid_from' | 'valid_to'>;

const COLUMNS = ['item_id', 'parent_id', 'name', 'kind', 'size', 'quick_xor_hash', 'sha256', 'content_sha256', 'created_at', 'modified_at', 'etag', 'ctag', 'content', 'extra'] as const;

function sameRow(a: Row, b: Row): boolean {
  for (const c of COLUMNS) {
    const x = a[c];
    const y = b[c];
    if (Buffer.isBuffer(x) || Buffer.isBuffer(y)) {
      if (!(Buffer.isBuffer(x) && Buffer.isBuffer(y) && x.equals(y))) return false;
    } else if (x !== y) return false;
  }
  return true;
}

export class PointSession {
  readonly added = new Set<string>();
  readonly changed = new Set<string>();
  readonly removed = new Set<string>();
  /** Items upserted in this point (a full enumeration tombstones the rest). */
  private readonly seen = new Set<string>();
  private readonly openVersion: Database.Statement;
  private readonly openChildren: Database.Statement;
  private readonly insert: Database.Statement;
  private readonly updateInPlace: Database.Statement;
  private readonly close: Database.Statement;
  private readonly drop: Database.Statement;

  constructor(
    private readonly db: Database.Database,
    readonly seq: number,
    readonly mode: 'incremental' | 'full',
  ) {
    this.openVersion = db.prepare('SELECT * FROM versions WHERE item_id = ? AND valid_to IS NULL');
    this.openChildren = db.prepare('SELECT item_id FROM versions WHERE parent_id = ? AND valid_to IS NULL');
    const cols = COLUMNS.join(', ');
    this.insert = db.prepare(`INSERT INTO versions (${cols}, valid_from) VALUES (${COLUMNS.map((c) => `@${c}`).join(', ')}, @valid_from)`);
    this.updateInPlace = db.prepare(`UPDATE versions SET ${COLUMNS.map((c) => `${c} = @${c}`).join(', ')} WHERE vid = @vid`);
    this.close = db.prepare('UPDATE versions SET valid_to = ? WHERE vid = ?');
    this.drop = db.prepare('DELETE FROM versions WHERE vid = ?');
  }

  current(id: string): VersionRow | undefined {
    return this.openVersion.get(id) as VersionRow | undefined;
  }

  upsert(item: ItemInput): UpsertResult {
    if (typeof item.id !== 'string' || item.id.length === 0) throw new InvalidArgumentError('an item needs its Graph id');
    if (item.parentId === item.id) throw new InvalidArgumentError(`item ${item.id} is its own parent`);
    if (item.kind !== 'file' && item.kind !== 'folder') throw new InvalidArgumentError(`item ${item.id}: kind must be file or folder`);
    const cur = this.current(item.id);
    const row = this.rowOf(item, cur);
    this.seen.add(item.id);
    if (!cur) {
      this.insert.run({ ...row, valid_from: this.seq });
      this.added.add(item.id);
      this.removed.delete(item.id);
      return 'added';
    }
    if (sameRow(cur, row)) return 'unchanged';
    if (cur.valid_from === this.seq) this.updateInPlace.run({ ...row, vid: cur.vid });
    else {
      this.close.run(this.seq, cur.vid);
      this.insert.run({ ...row, valid_from: this.seq });
    }
    if (!this.added.has(item.id)) this.changed.add(item.id);
    return 'changed';
  }

  /** Closes the item and everything under it at this point; returns how many items. */
  markDeleted(id: string): number {
    let closed = 0;
    const queue = [id];
    const done = new Set<string>();
    while (queue.length > 0) {
      const x = queue.shift()!;
      if (done.has(x)) continue;
      done.add(x);
      for (const c of this.openChildren.all(x) as { item_id: string }[]) queue.push(c.item_id);
      const cur = this.current(x);
      if (!cur) continue;
      if (cur.valid_from === this.seq) this.drop.run(cur.vid);
      else this.close.run(this.seq, cur.vid);
      closed++;
      this.seen.delete(x);
      this.changed.delete(x);
      if (!this.added.delete(x)) this.removed.add(x);
    }
    return closed;
  }

  /** In a full enumeration: closes every open version not seen in this point (the tombstones). */
  closeUnseen(): number {
    if (this.mode !== 'full') return 0;
    const stale = (this.db.prepare('SELECT vid, item_id FROM versions WHERE valid_to IS NULL').all() as { vid: number; item_id: string }[]).filter((r) => !this.seen.has(r.item_id));
    for (const r of stale) {
      this.close.run(this.seq, r.vid);
      this.removed.add(r.item_id);
    }
    return stale.length;
  }

  private rowOf(item: ItemInput, cur: VersionRow | undefined): Row {
    let content: Buffer | null = null;
    let contentSha: string | null = null;
    if (item.kind === 'file') {
      if (item.content === undefined) {
        if (cur?.kind !== 'file') throw new InvalidArgumentError(`file ${item.id} (${item.name}) has no content and no earlier version to keep it from`);
        content = cur.content;
        contentSha = cur.content_sha256;
      } else if (isStored(item.content)) {
        content = packIds(item.content.blobs);
        contentSha = item.content.sha256;
      } else {
        for (const id of item.content) if (!/^[0-9a-f]{64}$/.test(id)) throw new InvalidArgumentError(`file ${item.id}: "${id}" is not a blob id`);
        content = packIds(item.content);
        contentSha = cur?.content?.equals(content) ? cur.content_sha256 : null;
      }
    }
    return {
      item_id: item.id,
      parent_id: item.parentId,
      name: item.name,
      kind: item.kind,
      size: item.size ?? (isStored(item.content) ? item.content.size : 0),
      quick_xor_hash: item.quickXorHash ?? null,
      sha256: item.sha256 ?? null,
      content_sha256: contentSha,
      created_at: item.createdAt ?? null,
      modified_at: item.modifiedAt ?? null,
      etag: item.eTag ?? null,
      ctag: item.cTag ?? null,
      content,
      extra: item.extra === undefined ? null : JSON.stringify(item.extra),
    };
  }
}

function isStored(c: ItemInput['content']): c is StoredContent {
  return typeof c === 'object' && c !== null && !Array.isArray(c) && 'blobs' in c;
}
