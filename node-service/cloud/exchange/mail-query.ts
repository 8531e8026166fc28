/**
 * The mail browser's search over one backup point of a mailbox (its ObjectStore object):
 * folder (and the folders below it), words in the sender, recipients, subject and attachment
 * names, sender, subject, attachment name, a received-date range, with attachments; sorted by
 * date, sender, subject or size; paged. Answered from the metadata alone, never from content.
 *
 * Reading each message's `extra` JSON and folding its text for every search would cost a
 * JSON parse per message; instead a per-connection index (a TEMP table: it never touches the
 * metadata database's file or its log) holds each message version's folded text, date and
 * sort keys, keyed by the version's row. A version's fields never change once its point is
 * committed, so the index only grows: each search first adds the versions it lacks (all of
 * them the first time: about half a second for 100,000 messages), then is one SQL scan in C.
 */
import type Database from 'better-sqlite3';
import type { ObjectStore, PointView, VersionRow } from '../metadata/index.js';
import type { MessageExtra } from './model.js';

export interface MailSearchFilter {
  /** A folder's path in the point ("/" the whole mailbox, "/Inbox/Projects"). */
  folder?: string;
  /** The folders below it too (default: yes for "/", no for a folder). */
  recursive?: boolean;
  /** Words each found in the sender, recipients, subject or attachment names (case-insensitive). */
  q?: string;
  /** Sender name or address contains. */
  from?: string;
  /** Subject contains. */
  subject?: string;
  /** An attachment's name contains. */
  attachment?: string;
  /** Received on or after (ISO 8601). */
  after?: string;
  /** Received before (ISO 8601). */
  before?: string;
  hasAttachments?: boolean;
  sort?: 'date' | 'from' | 'subject' | 'size';
  order?: 'asc' | 'desc';
  offset?: number;
  limit?: number;
}

export interface MailSearchHit {
  /** The message's path in the point ("/Inbox/Hello ~1a2b3c4d.eml"). */
  path: string;
  /** Its folder's path ("/Inbox"). */
  folderPath: string;
  /** The MIME's size in bytes. */
  size: number;
  extra: MessageExtra;
}

export interface MailSearchResult {
  items: MailSearchHit[];
  /** Every match, not only this page. */
  total: number;
}

/** Case- and accent-width-insensitive text as the index keeps it. */
export function foldText(s: string): string {
  // eslint-disable-next-line no-control-regex -- ASCII needs no normalising (most text: it saves most of the index's build time)
  return (/^[\x00-\x7f]*$/.test(s) ? s : s.normalize('NFKC')).toLowerCase();
}

const INDEX = `
CREATE TEMP TABLE IF NOT EXISTS mail_search (
  vid INTEGER PRIMARY KEY,
  item_id TEXT NOT NULL,
  parent_id TEXT,
  valid_from INTEGER NOT NULL,
  valid_to INTEGER,
  size INTEGER NOT NULL,
  received TEXT NOT NULL,
  from_text TEXT NOT NULL,
  subject_text TEXT NOT NULL,
  attachment_text TEXT NOT NULL,
  all_text TEXT NOT NULL,
  has_attachments INTEGER NOT NULL
)`;

/** The newest committed point each connection's index is up to date with. */
const indexedUpTo = new WeakMap<Database.Database, number>();

function isoOrEmpty(s: unknown): string {
  if (typeof s !== 'string' || s === '') return '';
  const t = Date.parse(s);
  return Number.isNaN(t) ? '' : new Date(t).toISOString();
}

interface IndexSource {
  vid: number;
  item_id: string;
  parent_id: string | null;
  valid_from: number;
  valid_to: number | null;
  size: number;
  received: string | null;
  sender: string;
  recipients: string;
  subject: string;
  attachments: string;
  has_attachments: number;
}

/**
 * Brings the connection's search index up to the newest committed point: the message versions
 * it lacks are added, the versions closed since are marked so, and entries of versions a
 * purge removed are dropped. An open point's rows are left out: they may still change.
 */
export function refreshMailIndex(db: Database.Database): void {
  const newest = (db.prepare('SELECT MAX(seq) AS s FROM points').get() as { s: number | null }).s ?? 0;
  const before = indexedUpTo.get(db);
  if (before === newest) return;
  db.exec(INDEX);
  const insert = db.prepare(
    'INSERT OR REPLACE INTO temp.mail_search (vid, item_id, parent_id, valid_from, valid_to, size, received, from_text, subject_text, attachment_text, all_text, has_attachments) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
  );
  db.transaction(() => {
    if (before !== undefined) {
      // A later point closed versions, or a purge dropped some (whose row ids may be reused).
      db.exec(`DELETE FROM temp.mail_search WHERE vid IN (SELECT s.vid FROM temp.mail_search s LEFT JOIN main.versions v ON v.vid = s.vid
                 WHERE v.vid IS NULL OR v.item_id <> s.item_id OR v.valid_from <> s.valid_from)`);
      db.exec('UPDATE temp.mail_search SET valid_to = (SELECT v.valid_to FROM main.versions v WHERE v.vid = mail_search.vid) WHERE valid_to IS NULL');
    }
    // The fields are read in SQL (JSON.parse of whole `extra` texts in JS costs several times more),
    // in batches: the connection cannot write while a statement is being iterated.
    const people = (path: string): string =>
      `(SELECT group_concat(COALESCE(json_extract(a.value, '$.name'), '') || ' ' || COALESCE(json_extract(a.value, '$.address'), ''), ' ') FROM json_each(v.extra, '${path}') a)`;
    const batch = db.prepare(
      `SELECT vid, item_id, parent_id, valid_from, valid_to, size,
         json_extract(extra, '$.receivedAt') AS received,
         COALESCE(json_extract(extra, '$.from.name'), '') || ' ' || COALESCE(json_extract(extra, '$.from.address'), '') AS sender,
         COALESCE(${people('$.to')}, '') || ' ' || COALESCE(${people('$.cc')}, '') || ' ' || COALESCE(${people('$.bcc')}, '') AS recipients,
         COALESCE(json_extract(extra, '$.subject'), '') AS subject,
         COALESCE((SELECT group_concat(json_extract(a.value, '$.name'), ' / ') FROM json_each(v.extra, '$.attachments') a), '') AS attachments,
         COALESCE(json_extract(extra, '$.hasAttachments'), 0) AS has_attachments
       FROM main.versions v
       WHERE vid > ? AND kind = 'file' AND valid_from <= ? AND json_extract(extra, '$.type') = 'message' AND NOT EXISTS (SELECT 1 FROM temp.mail_search s WHERE s.vid = v.vid)
       ORDER BY vid LIMIT 5000`,
    );
    for (let after = 0; ; ) {
      const rows = batch.all(after, newest) as IndexSource[];
      if (rows.length === 0) break;
      after = rows[rows.length - 1]!.vid;
      for (const r of rows) {
        const from = foldText(r.sender);
        const subject = foldText(r.subject);
        const attachments = foldText(r.attachments);
        insert.run(r.vid, r.item_id, r.parent_id, r.valid_from, r.valid_to, r.size, isoOrEmpty(r.received), from, subject, attachments, `${from} ${foldText(r.recipients)} ${subject} ${attachments}`, r.has_attachments ? 1 : 0);
      }
    }
  })();
  indexedUpTo.set(db, newest);
}

/** Builds a point's search index ahead of the first search (e.g. when a backup is opened for browsing). */
export function prepareMailSearch(store: ObjectStore, pointId: string): Promise<void> {
  return store.withPoint(pointId, (db) => refreshMailIndex(db));
}

/** The folder ids to search: the folder, and with `recursive` every folder below it, at the point. */
function folderIds(db: Database.Database, seq: number, rootId: string, recursive: boolean): string[] {
  if (!recursive) return [rootId];
  const rows = db
    .prepare(
      `WITH RECURSIVE sub(id) AS (SELECT @root UNION SELECT v.item_id FROM versions v JOIN sub ON v.parent_id = sub.id
         WHERE v.kind = 'folder' AND v.valid_from <= @seq AND (v.valid_to IS NULL OR v.valid_to > @seq)) SELECT id FROM sub`,
    )
    .all({ root: rootId, seq }) as { id: string }[];
  return rows.map((r) => r.id);
}

const SORT: Record<NonNullable<MailSearchFilter['sort']>, string> = {
  date: 's.received',
  from: 's.from_text',
  subject: 's.subject_text',
  size: 's.size',
};

/**
 * Messages of a point matching `filter`, one page of them and how many match in all.
 * Throws InvalidArgumentError (from the store) for a point that does not exist.
 */
export async function searchMessages(store: ObjectStore, pointId: string, filter: MailSearchFilter = {}): Promise<MailSearchResult> {
  return store.withPoint(pointId, (db, seq, view) => {
    refreshMailIndex(db);
    const folderPath = filter.folder ?? '/';
    const folder = view.resolve(folderPath);
    if (!folder || folder.kind !== 'folder') return { items: [], total: 0 };
    const recursive = filter.recursive ?? folder.parentId === null;
    const where = ['s.valid_from <= @seq', '(s.valid_to IS NULL OR s.valid_to > @seq)'];
    const params: Record<string, unknown> = { seq };
    if (folder.parentId !== null || !recursive) {
      where.push('s.parent_id IN (SELECT value FROM json_each(@folders))');
      params.folders = JSON.stringify(folderIds(db, seq, folder.id, recursive));
    }
    const words = (filter.q ?? '').split(/\s+/).map(foldText).filter((w) => w !== '');
    words.forEach((w, i) => {
      where.push(`instr(s.all_text, @w${i}) > 0`);
      params[`w${i}`] = w;
    });
    const contains = (column: string, value: string | undefined, name: string): void => {
      const v = foldText((value ?? '').trim());
      if (v === '') return;
      where.push(`instr(${column}, @${name}) > 0`);
      params[name] = v;
    };
    contains('s.from_text', filter.from, 'from');
    contains('s.subject_text', filter.subject, 'subject');
    contains('s.attachment_text', filter.attachment, 'attachment');
    if (filter.after !== undefined) {
      where.push("s.received <> '' AND s.received >= @after");
      params.after = isoOrEmpty(filter.after);
    }
    if (filter.before !== undefined) {
      where.push("s.received <> '' AND s.received < @before");
      params.before = isoOrEmpty(filter.before);
    }
    if (filter.hasAttachments !== undefined) {
      where.push('s.has_attachments = @has');
      params.has = filter.hasAttachments ? 1 : 0;
    }
    const dir = filter.order === 'asc' ? 'ASC' : 'DESC';
    const limit = Math.max(1, Math.min(filter.limit ?? 100, 10_000));
    const offset = Math.max(0, filter.offset ?? 0);
    const from = `FROM temp.mail_search s WHERE ${where.join(' AND ')}`;
    const total = (db.prepare(`SELECT COUNT(*) AS n ${from}`).get(params) as { n: number }).n;
    // The page by its index entries (a narrow sort of the matches), then its versions by row id.
    const page = db.prepare(`SELECT s.vid ${from} ORDER BY ${SORT[filter.sort ?? 'date']} ${dir}, s.vid ${dir} LIMIT @limit OFFSET @offset`).all({ ...params, limit, offset }) as { vid: number }[];
    const byVid = db.prepare('SELECT * FROM main.versions WHERE vid = ?');
    const rows = page.map((p) => byVid.get(p.vid) as VersionRow);
    return { items: rows.map((r) => hit(view, r)), total };
  });
}

function hit(view: PointView, r: VersionRow): MailSearchHit {
  const item = view.view(r);
  const cut = item.path.lastIndexOf('/');
  return { path: item.path, folderPath: cut <= 0 ? '/' : item.path.slice(0, cut), size: item.size, extra: item.extra as MessageExtra };
}
