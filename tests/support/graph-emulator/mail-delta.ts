/**
 * Delta for Outlook resources (messages in a folder, mail folders, calendarView events,
 * contacts in a folder), as https://learn.microsoft.com/graph/delta-query-messages and
 * https://learn.microsoft.com/graph/delta-query-overview document it:
 * - the first round lists everything; pages are linked by @odata.nextLink ($skiptoken) and the
 *   last carries @odata.deltaLink ($deltatoken); query options of the first request ($select,
 *   startDateTime/endDateTime) are kept in the links;
 * - a later round lists what changed since, each once in its latest state, and removed items as
 *   {"id", "@removed": {"reason": "deleted"}} (a message moved out of the folder included);
 * - the custom option changeType=created|updated|deleted of the first request limits later
 *   rounds to that kind of change (documented for messages);
 * - `Prefer: odata.maxpagesize=N` sets the page size (answered with Preference-Applied);
 * - an expired state answers 410 with code SyncStateNotFound (the overview's "syncStateNotFound"
 *   for Outlook resources); the client must start a new round without a token.
 */
import { randomUUID } from 'node:crypto';
import { GraphError, type GraphResult, badRequest } from './errors.js';
import { type GraphContext, json } from './graph-routes.js';
import type { Mailbox } from './mailbox.model.js';
import { type Json, select } from './resources.js';

export interface DeltaEntry {
  id: string;
  changeSeq: number;
  /** When it entered the collection; without it every change counts as an update. */
  createdSeq?: number;
  json(): Json;
}

export interface DeltaFeed {
  /** Which collection the tokens belong to, e.g. a folder id. */
  scope: string;
  /** What the collection holds now. */
  entries(): DeltaEntry[];
  /** Ids removed from the collection after a sequence number. */
  removedSince(seq: number): string[];
  /** e.g. '#microsoft.graph.message' */
  odataType: string;
  /** e.g. 'Collection(message)' */
  context: string;
}

const DEFAULT_PAGE = 10;

const encode = (t: unknown): string => Buffer.from(JSON.stringify(t)).toString('base64url');

function decode<T>(raw: string): T | undefined {
  try {
    return JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as T;
  } catch {
    return undefined;
  }
}

export const syncStateNotFound = (): GraphError => new GraphError(410, 'SyncStateNotFound', 'The sync state is not found or has expired. Start a new synchronization without a state token.');

export function preferredPageSize(prefer: string | undefined): number | undefined {
  const m = /odata\.maxpagesize=(\d+)/i.exec(prefer ?? '');
  return m ? Math.max(1, Number(m[1])) : undefined;
}

export function deltaResponse(ctx: GraphContext, box: Mailbox, feed: DeltaFeed): GraphResult {
  const skip = ctx.query.get('$skiptoken');
  const delta = ctx.query.get('$deltatoken');
  const linkQuery = new URLSearchParams(ctx.query);
  linkQuery.delete('$skiptoken');
  linkQuery.delete('$deltatoken');
  const link = (k: string, v: string): string => {
    const q = new URLSearchParams(linkQuery);
    q.set(k, v);
    return `${ctx.url}?${q.toString()}`;
  };
  let roundId: string;
  let offset = 0;
  if (skip !== null) {
    const t = decode<{ r: string; o: number }>(skip);
    const round = t ? box.deltaRounds.get(t.r) : undefined;
    if (!t || !round || round.scope !== feed.scope) throw badRequest('The $skiptoken is not valid.', 'ErrorInvalidUrlQuery');
    if (round.epoch !== box.epoch) throw syncStateNotFound();
    roundId = t.r;
    offset = t.o;
  } else {
    let since = 0;
    if (delta !== null) {
      const t = decode<{ c: string; q: number; e: number }>(delta);
      if (!t || t.c !== feed.scope) throw badRequest('The $deltatoken is not valid.', 'ErrorInvalidUrlQuery');
      if (t.e !== box.epoch) throw syncStateNotFound();
      since = t.q;
    }
    const kind = since === 0 ? null : ctx.query.get('changeType');
    const live = feed.entries().filter((e) => e.changeSeq > since && (kind === null || (kind === 'created') === (e.createdSeq !== undefined && e.createdSeq > since)) && kind !== 'deleted');
    const liveIds = new Set(feed.entries().map((e) => e.id));
    const removed = since === 0 || (kind !== null && kind !== 'deleted') ? [] : [...new Set(feed.removedSince(since))].filter((id) => !liveIds.has(id));
    roundId = randomUUID();
    box.deltaRounds.set(roundId, { scope: feed.scope, epoch: box.epoch, upTo: box.seq, ids: [...removed.map((id) => ({ id, removed: true })), ...live.sort((a, b) => a.changeSeq - b.changeSeq).map((e) => ({ id: e.id, removed: false }))] });
    if (box.deltaRounds.size > 1000) box.deltaRounds.delete(box.deltaRounds.keys().next().value!);
  }
  const round = box.deltaRounds.get(roundId)!;
  const preferred = preferredPageSize(ctx.headers.prefer);
  const size = preferred ?? DEFAULT_PAGE;
  const now = new Map(feed.entries().map((e) => [e.id, e]));
  const value: Json[] = [];
  for (const x of round.ids.slice(offset, offset + size)) {
    const e = now.get(x.id);
    if (x.removed || !e) value.push({ '@odata.type': feed.odataType, id: x.id, '@removed': { reason: 'deleted' } });
    else {
      // $select keeps the id; the annotations (@odata.etag) come regardless, as in the documented examples.
      const full = e.json();
      value.push({ '@odata.type': feed.odataType, ...(full['@odata.etag'] !== undefined ? { '@odata.etag': full['@odata.etag'] } : {}), ...select(full, ctx.query) });
    }
  }
  const body: Json = { '@odata.context': `${ctx.emu.graphBaseUrl}/$metadata#${feed.context}` };
  if (offset + size < round.ids.length) body['@odata.nextLink'] = link('$skiptoken', encode({ r: roundId, o: offset + size }));
  else body['@odata.deltaLink'] = link('$deltatoken', encode({ c: feed.scope, q: round.upTo, e: round.epoch }));
  body.value = value;
  return json(200, body, preferred !== undefined ? { 'Preference-Applied': `odata.maxpagesize=${preferred}` } : {});
}
