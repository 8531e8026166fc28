/**
 * Lists and searches of a calendar or contacts backup point, answered from the metadata alone
 * (SQL over the point's item rows, ObjectStore.withPoint, with json_extract on `extra`): never
 * reading any content. The browse routes map the rows to EventSummary / ContactSummary
 * (common/api/m365-mail.ts); `recurrenceText` gives a series master's "every day, 5 times".
 */
import { InvalidArgumentError } from '../../repository/index.js';
import type { ObjectStore } from '../metadata/index.js';
import type { ContactExtra, EventExtra } from './model.js';

export { recurrenceText } from './ics.js';

export interface PimRow<E> {
  /** The item's path in the point ("/Calendar/Standup ~1a2b3c4d.ics"). */
  path: string;
  /** Its folder's path ("/Calendar"). */
  folder: string;
  extra: E;
}

export interface PimList<E> {
  items: PimRow<E>[];
  /** Every match, not only this page. */
  total: number;
}

export interface EventListOptions {
  /** A calendar's path in the point ("/Calendar"); "/" or absent: every calendar. */
  folderPath?: string;
  /** Subject, location or organizer contains (case-insensitive for ASCII). */
  q?: string;
  /** Ends on or after (a series: any occurrence may). */
  after?: string;
  /** Starts before. */
  before?: string;
  offset?: number;
  limit?: number;
}

export interface ContactListOptions {
  /** A contact folder's path in the point ("/Contacts"); "/" or absent: every folder. */
  folderPath?: string;
  /** Name, e-mail, phone or company contains (case-insensitive for ASCII). */
  q?: string;
  offset?: number;
  limit?: number;
}

const AT = 'v.valid_from <= @seq AND (v.valid_to IS NULL OR v.valid_to > @seq)';

const likeOf = (q: string): string => `%${q.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

function isoOf(s: string, what: string): string {
  const t = Date.parse(s);
  if (Number.isNaN(t)) throw new InvalidArgumentError(`${what} must be a date (ISO 8601), not "${s}"`);
  return new Date(t).toISOString();
}

interface Row {
  item_id: string;
  parent_id: string | null;
  name: string;
  extra: string;
}

async function query<E>(store: ObjectStore, pointId: string, type: 'event' | 'contact', folderPath: string | undefined, where: string[], params: Record<string, unknown>, order: string, offset: number, limit: number): Promise<PimList<E>> {
  return store.withPoint(pointId, (db, seq, view) => {
    const conditions = [AT, `json_extract(v.extra, '$.type') = '${type}'`, ...where];
    const p: Record<string, unknown> = { ...params, seq };
    if (folderPath !== undefined && folderPath !== '' && folderPath !== '/') {
      const folder = view.resolve(folderPath);
      if (!folder || folder.kind !== 'folder') throw new InvalidArgumentError(`${folderPath} is not a folder of backup point ${pointId}`);
      conditions.push('v.parent_id = @parent');
      p.parent = folder.id;
    }
    const sql = `FROM versions v WHERE ${conditions.join(' AND ')}`;
    const total = (db.prepare(`SELECT COUNT(*) AS n ${sql}`).get(p) as { n: number }).n;
    const rows = db.prepare(`SELECT v.item_id, v.parent_id, v.name, v.extra ${sql} ORDER BY ${order}, v.vid LIMIT @limit OFFSET @offset`).all({ ...p, limit: Math.max(1, Math.min(limit, 10_000)), offset: Math.max(0, offset) }) as Row[];
    return {
      total,
      items: rows.map((r) => {
        const path = view.pathOf(r);
        return { path, folder: path.slice(0, path.lastIndexOf('/')) || '/', extra: JSON.parse(r.extra) as E };
      }),
    };
  });
}

/** Events of a point (single instances, series masters, exceptions), by start. */
export function listEvents(store: ObjectStore, pointId: string, o: EventListOptions = {}): Promise<PimList<EventExtra>> {
  const where: string[] = [];
  const params: Record<string, unknown> = {};
  if (o.q) {
    where.push(`(lower(json_extract(v.extra, '$.subject')) LIKE @q ESCAPE '\\' OR lower(COALESCE(json_extract(v.extra, '$.location'), '')) LIKE @q ESCAPE '\\' OR lower(COALESCE(json_extract(v.extra, '$.organizer.name'), '') || ' ' || COALESCE(json_extract(v.extra, '$.organizer.address'), '')) LIKE @q ESCAPE '\\')`);
    params.q = likeOf(o.q);
  }
  if (o.after) {
    // A series may have occurrences after its first one ends: unless it ended by a known date, it is kept.
    where.push(`(json_extract(v.extra, '$.end') >= @after OR (json_extract(v.extra, '$.eventType') = 'seriesMaster' AND (json_extract(v.extra, '$.graph.recurrence.range.type') <> 'endDate' OR json_extract(v.extra, '$.graph.recurrence.range.endDate') >= substr(@after, 1, 10))))`);
    params.after = isoOf(o.after, 'after');
  }
  if (o.before) {
    where.push(`json_extract(v.extra, '$.start') < @before`);
    params.before = isoOf(o.before, 'before');
  }
  return query<EventExtra>(store, pointId, 'event', o.folderPath, where, params, `json_extract(v.extra, '$.start')`, o.offset ?? 0, o.limit ?? 200);
}

/** Contacts of a point, by display name. */
export function listContacts(store: ObjectStore, pointId: string, o: ContactListOptions = {}): Promise<PimList<ContactExtra>> {
  const where: string[] = [];
  const params: Record<string, unknown> = {};
  if (o.q) {
    where.push(`lower(json_extract(v.extra, '$.displayName') || ' ' || json_extract(v.extra, '$.emails') || ' ' || json_extract(v.extra, '$.phones') || ' ' || COALESCE(json_extract(v.extra, '$.company'), '')) LIKE @q ESCAPE '\\'`);
    params.q = likeOf(o.q);
  }
  return query<ContactExtra>(store, pointId, 'contact', o.folderPath, where, params, `json_extract(v.extra, '$.displayName') COLLATE NOCASE`, o.offset ?? 0, o.limit ?? 200);
}

/**
 * The stored content (VCALENDAR or vCard) of every file at or under `paths` in a point, in
 * folder then name order: what calendarExport / contactsExport turn into one ICS or VCF.
 */
export async function* contentsUnder(store: ObjectStore, pointId: string, paths: readonly string[]): AsyncGenerator<Buffer> {
  for (const p of paths) {
    const item = await store.getItem(pointId, p);
    if (!item) throw new InvalidArgumentError(`${p} is not in backup point ${pointId}`);
    const stack = [item];
    while (stack.length > 0) {
      const it = stack.shift()!;
      if (it.kind === 'folder') {
        stack.unshift(...(await store.listChildren(pointId, { id: it.id })));
        continue;
      }
      const parts: Buffer[] = [];
      for await (const b of store.readContent(pointId, it.id)) parts.push(b);
      yield Buffer.concat(parts);
    }
  }
}
