/**
 * GET {drive}/root/delta, as documented for driveItem: delta:
 * - no token: the whole hierarchy (parents before children), in pages linked by @odata.nextLink,
 *   the last page carrying @odata.deltaLink; token=latest: no items, just a deltaLink;
 *   token=<deltaLink token>: what changed since, each item once in its latest state, with the
 *   parent hierarchy of changed items (unless the deltaExcludeParent header is sent) and deleted
 *   items carrying the deleted facet (and no name, as OneDrive for Business omits it);
 *   token=<ISO timestamp>: changes since then (OneDrive for Business and SharePoint).
 * - Renaming or moving a folder reports the folder only, not its descendants; parentReference has
 *   no path. Track items by id.
 * - A page re-read through the same nextLink answers the same items (safe to retry after 429).
 *   Items changed during an enumeration come again in the next round ("the same item may appear
 *   more than once").
 * - An expired token answers 410 Gone, error resyncRequired with innerError code
 *   resyncChangesApplyDifferences (or ...UploadDifferences), and a Location header with a fresh
 *   nextLink that starts the enumeration over.
 */
import { randomUUID } from 'node:crypto';
import type { Drive, DriveItemRecord } from './drive.model.js';
import { GraphError, badRequest } from './errors.js';
import { type GraphContext, json } from './graph-routes.js';
import { itemJson, pageSize, select } from './resources.js';
import type { GraphResult } from './errors.js';

interface DeltaSession {
  id: string;
  driveId: string;
  epoch: number;
  /** Drive sequence when the enumeration started: the next deltaLink resumes from here. */
  upTo: number;
  ids: string[];
}

type Token = { k: 'page'; s: string; o: number } | { k: 'delta'; d: string; q: number; e: number };

export class DeltaSessions {
  private readonly sessions = new Map<string, DeltaSession>();

  create(drive: Drive, ids: string[], upTo: number): DeltaSession {
    const s: DeltaSession = { id: randomUUID(), driveId: drive.id, epoch: drive.epoch, upTo, ids };
    this.sessions.set(s.id, s);
    // Keep the most recent thousand enumerations; older nextLinks answer 410 like expired ones.
    if (this.sessions.size > 1000) this.sessions.delete(this.sessions.keys().next().value!);
    return s;
  }

  get(id: string): DeltaSession | undefined {
    return this.sessions.get(id);
  }
}

const encodeToken = (t: Token): string => Buffer.from(JSON.stringify(t)).toString('base64url');

function decodeToken(raw: string): Token | undefined {
  try {
    const t = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as Partial<Token> & Record<string, unknown>;
    if (t.k === 'page' && typeof t.s === 'string' && typeof t.o === 'number') return { k: 'page', s: t.s, o: t.o };
    if (t.k === 'delta' && typeof t.d === 'string' && typeof t.q === 'number' && typeof t.e === 'number') return { k: 'delta', d: t.d, q: t.q, e: t.e };
  } catch {
    return undefined;
  }
  return undefined;
}

/** The token argument from ?token=... or the function form delta(token='...'). */
export function deltaTokenOf(action: string, query: URLSearchParams): string | undefined {
  const fn = /^\/delta\(token='([^']*)'\)$/.exec(action);
  if (fn) return decodeURIComponent(fn[1]!);
  return query.get('token') ?? undefined;
}

export async function handleDelta(ctx: GraphContext, drive: Drive, at: DriveItemRecord, rawToken: string | undefined, linkBase: string): Promise<GraphResult> {
  if (at.kind !== 'root') throw badRequest('Delta is only supported on the root of a OneDrive for Business or SharePoint drive.', 'invalidRequest');
  const sessions = ctx.emu.deltaSessions;
  const linkQuery = new URLSearchParams(ctx.query);
  linkQuery.delete('token');
  const link = (token: string): string => {
    const q = new URLSearchParams(linkQuery);
    q.set('token', token);
    return `${linkBase}?${q.toString()}`;
  };
  const gone = (): GraphError => {
    const fresh = linkQuery.toString();
    return new GraphError(
      410,
      'resyncRequired',
      "Resync required. Replace any local items with the server's version (including deletes) if you're sure that the service was up to date with your local changes when you last sync'd. Upload any local changes that the server doesn't know about.",
      drive.resyncKind,
      { Location: fresh === '' ? linkBase : `${linkBase}?${fresh}` },
    );
  };

  let session: DeltaSession;
  let offset = 0;
  if (rawToken === undefined) {
    session = sessions.create(drive, [...drive.walk()].map((i) => i.id), drive.seq);
  } else if (rawToken === 'latest') {
    return json(200, { '@odata.context': `${ctx.emu.graphBaseUrl}/$metadata#Collection(driveItem)`, value: [], '@odata.deltaLink': link(encodeToken({ k: 'delta', d: drive.id, q: drive.seq, e: drive.epoch })) });
  } else {
    const token = decodeToken(rawToken);
    if (token?.k === 'page') {
      const s = sessions.get(token.s);
      if (!s || s.driveId !== drive.id || s.epoch !== drive.epoch) throw gone();
      session = s;
      offset = token.o;
    } else if (token?.k === 'delta') {
      if (token.d !== drive.id) throw badRequest('Provided sync token is malformed.', 'invalidRequest');
      if (token.e !== drive.epoch) throw gone();
      session = sessions.create(drive, changedSince(drive, token.q, ctx.headers.deltaexcludeparent !== undefined), drive.seq);
    } else if (/^\d{4}-\d\d-\d\dT/.test(rawToken) && !Number.isNaN(Date.parse(rawToken))) {
      const t = Date.parse(rawToken);
      let since = 0;
      for (let i = 1; i <= drive.seq; i++) if ((drive.seqTimes[i] ?? 0) <= t) since = i;
      session = sessions.create(drive, changedSince(drive, since, ctx.headers.deltaexcludeparent !== undefined), drive.seq);
    } else {
      throw badRequest('Provided sync token is malformed.', 'invalidRequest');
    }
  }

  const size = pageSize(ctx.query, ctx.emu.options.deltaPageSize, 999);
  const slice = session.ids.slice(offset, offset + size);
  const value: unknown[] = [];
  for (const id of slice) {
    const it = drive.items.get(id);
    if (!it) continue;
    value.push(select(await itemJson(ctx.emu, drive, it, { delta: true, hashes: ctx.emu.options.hashes }), ctx.query));
  }
  const body: Record<string, unknown> = { '@odata.context': `${ctx.emu.graphBaseUrl}/$metadata#Collection(driveItem)` };
  if (offset + size < session.ids.length) body['@odata.nextLink'] = link(encodeToken({ k: 'page', s: session.id, o: offset + size }));
  else body['@odata.deltaLink'] = link(encodeToken({ k: 'delta', d: drive.id, q: session.upTo, e: session.epoch }));
  body.value = value;
  return json(200, body);
}

/** Ids of items (tombstones included) changed after a sequence number, each preceded by its live ancestors. */
function changedSince(drive: Drive, since: number, excludeParent: boolean): string[] {
  const changed = [...drive.items.values()].filter((i) => i.changeSeq > since).sort((a, b) => a.changeSeq - b.changeSeq);
  const out: string[] = [];
  const seen = new Set<string>();
  for (const it of changed) {
    if (!excludeParent) {
      const chain: DriveItemRecord[] = [];
      let p = it.parentId !== undefined ? drive.item(it.parentId) : undefined;
      while (p) {
        chain.unshift(p);
        p = p.parentId !== undefined ? drive.item(p.parentId) : undefined;
      }
      for (const a of chain) {
        if (seen.has(a.id)) continue;
        seen.add(a.id);
        out.push(a.id);
      }
    }
    if (seen.has(it.id)) continue;
    seen.add(it.id);
    out.push(it.id);
  }
  return out;
}
