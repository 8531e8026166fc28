/**
 * Graph calls of the calendar and contacts backups and restores (Graph v1.0):
 * calendars and their events (single instances and series masters, with `recurrence`), the
 * instances of a series in a window (its occurrences and exceptions), contact folders, contacts
 * delta per folder (https://learn.microsoft.com/graph/api/contact-delta), contact photos.
 * Every call asks for immutable ids (https://learn.microsoft.com/graph/outlook-immutable-id),
 * so an item keeps its id when it moves; collections are paged with `odata.maxpagesize`.
 */
import { ResyncRequiredError } from './cloud-errors.js';
import type { GraphClient, GraphRequest } from './graph-client.js';

/** Page size asked of Outlook collections (the service caps it where it must). */
export const PIM_PAGE_SIZE = 100;
const PREFER = `IdType="ImmutableId", odata.maxpagesize=${PIM_PAGE_SIZE}`;

export type PimRequest = Omit<GraphRequest, 'method' | 'body'>;

const withPrefer = (req: PimRequest): GraphRequest => ({ ...req, headers: { ...req.headers, Prefer: PREFER } });

export interface GraphDateTime {
  dateTime: string;
  timeZone: string;
}

export interface GraphRecurrence {
  pattern: { type: 'daily' | 'weekly' | 'absoluteMonthly' | 'relativeMonthly' | 'absoluteYearly' | 'relativeYearly'; interval: number; month?: number; dayOfMonth?: number; daysOfWeek?: string[]; firstDayOfWeek?: string; index?: 'first' | 'second' | 'third' | 'fourth' | 'last' };
  range: { type: 'endDate' | 'noEnd' | 'numbered'; startDate: string; endDate?: string; recurrenceTimeZone?: string; numberOfOccurrences?: number };
}

/** Graph's event resource (the fields the backup reads; the rest is kept as it came). */
export interface GraphEvent {
  id: string;
  changeKey?: string;
  iCalUId?: string;
  subject?: string | null;
  body?: { contentType?: string; content?: string } | null;
  start?: GraphDateTime | null;
  end?: GraphDateTime | null;
  isAllDay?: boolean;
  type?: 'singleInstance' | 'occurrence' | 'exception' | 'seriesMaster';
  seriesMasterId?: string | null;
  originalStart?: string | null;
  recurrence?: GraphRecurrence | null;
  location?: { displayName?: string } | null;
  organizer?: { emailAddress?: { name?: string; address?: string } } | null;
  attendees?: { type?: string; emailAddress?: { name?: string; address?: string } }[];
  createdDateTime?: string;
  lastModifiedDateTime?: string;
  isCancelled?: boolean;
  [k: string]: unknown;
}

export interface GraphCalendar {
  id: string;
  name: string;
  isDefaultCalendar?: boolean;
  changeKey?: string;
  [k: string]: unknown;
}

export interface GraphContactFolder {
  id: string;
  displayName: string;
  parentFolderId?: string;
}

export interface GraphContact {
  id: string;
  changeKey?: string;
  parentFolderId?: string;
  displayName?: string | null;
  givenName?: string | null;
  surname?: string | null;
  middleName?: string | null;
  emailAddresses?: { name?: string; address?: string }[];
  mobilePhone?: string | null;
  businessPhones?: string[];
  homePhones?: string[];
  companyName?: string | null;
  jobTitle?: string | null;
  personalNotes?: string | null;
  birthday?: string | null;
  '@removed'?: { reason?: string };
  [k: string]: unknown;
}

/** Every item of a collection, page by page. */
export async function* listAll<T>(graph: GraphClient, path: string, req: PimRequest): AsyncGenerator<T[]> {
  for await (const page of graph.pages<T>(path, withPrefer(req))) if (page.items.length) yield page.items;
}

export async function listCalendars(graph: GraphClient, userPath: string, req: PimRequest): Promise<GraphCalendar[]> {
  const out: GraphCalendar[] = [];
  for await (const items of listAll<GraphCalendar>(graph, `${userPath}/calendars?$top=${PIM_PAGE_SIZE}`, req)) out.push(...items);
  return out;
}

/** A calendar's single instances and series masters (Graph lists no occurrences or exceptions here). */
export function listCalendarEvents(graph: GraphClient, userPath: string, calendarId: string, req: PimRequest): AsyncGenerator<GraphEvent[]> {
  return listAll<GraphEvent>(graph, `${userPath}/calendars/${encodeURIComponent(calendarId)}/events?$top=${PIM_PAGE_SIZE}`, req);
}

/** The occurrences and exceptions of a series master that overlap [start, end). */
export async function listInstances(graph: GraphClient, userPath: string, masterId: string, start: Date, end: Date, req: PimRequest): Promise<GraphEvent[]> {
  const q = new URLSearchParams({ startDateTime: start.toISOString(), endDateTime: end.toISOString(), $top: String(PIM_PAGE_SIZE) });
  const out: GraphEvent[] = [];
  for await (const items of listAll<GraphEvent>(graph, `${userPath}/events/${encodeURIComponent(masterId)}/instances?${q.toString()}`, req)) out.push(...items);
  return out;
}

/** The default contact folder (Graph's /contacts, not listed by /contactFolders) and the others. */
export async function listContactFolders(graph: GraphClient, userPath: string, req: PimRequest): Promise<GraphContactFolder[]> {
  const out: GraphContactFolder[] = [];
  for await (const items of listAll<GraphContactFolder>(graph, `${userPath}/contactFolders?$top=${PIM_PAGE_SIZE}`, req)) out.push(...items);
  return out;
}

export type ContactDeltaEvent =
  | { kind: 'items'; items: GraphContact[] }
  /** The sync state expired (410): a new round lists everything; what it does not list is gone. */
  | { kind: 'resync'; reason: string }
  | { kind: 'done'; deltaLink: string };

const MAX_RESYNCS = 3;

/**
 * A contact folder's changes since `deltaLink` (everything when null): `contacts/delta` for the
 * default folder (folderId null), `contactFolders/{id}/contacts/delta` for the others. On 410
 * SyncStateNotFound it starts a new round without a token, as Outlook delta requires, and says
 * so first.
 */
export async function* contactsDelta(graph: GraphClient, userPath: string, folderId: string | null, deltaLink: string | null, req: PimRequest): AsyncGenerator<ContactDeltaEvent> {
  const fresh = folderId === null ? `${userPath}/contacts/delta` : `${userPath}/contactFolders/${encodeURIComponent(folderId)}/contacts/delta`;
  let start = deltaLink ?? fresh;
  for (let resyncs = 0; ; resyncs++) {
    try {
      for await (const page of graph.pages<GraphContact>(start, withPrefer(req))) {
        if (page.items.length) yield { kind: 'items', items: page.items };
        if (page.deltaLink) {
          yield { kind: 'done', deltaLink: page.deltaLink };
          return;
        }
      }
      throw new Error(`${req.what}: the delta enumeration ended without a delta link`);
    } catch (err) {
      if (!(err instanceof ResyncRequiredError) || resyncs >= MAX_RESYNCS) throw err;
      yield { kind: 'resync', reason: err.detail ?? 'SyncStateNotFound' };
      start = fresh;
    }
  }
}

/** A contact's photo, or null when it has none (Graph answers 404). */
export async function contactPhoto(graph: GraphClient, userPath: string, contactId: string, req: PimRequest): Promise<{ bytes: Buffer; contentType: string } | null> {
  return graph.send(`${userPath}/contacts/${encodeURIComponent(contactId)}/photo/$value`, { ...withPrefer(req), accept: [404] }, async (res) => {
    if (res.status === 404) {
      await res.body?.cancel();
      return null;
    }
    return { bytes: Buffer.from(await res.arrayBuffer()), contentType: (res.headers.get('content-type') ?? 'image/jpeg').split(';')[0]!.trim() };
  });
}

/** JSON write to the user's calendars or contacts; answers the created or changed resource. */
export function pimWrite<T>(graph: GraphClient, path: string, method: 'POST' | 'PATCH', body: unknown, req: PimRequest): Promise<T> {
  return graph.json<T>(path, { ...withPrefer(req), method, body });
}

export async function pimDelete(graph: GraphClient, path: string, req: PimRequest): Promise<void> {
  await graph.send(path, { ...withPrefer(req), method: 'DELETE', accept: [404] }, async (res) => void (await res.body?.cancel()));
}

export async function putContactPhoto(graph: GraphClient, userPath: string, contactId: string, photo: { bytes: Buffer; contentType: string }, req: PimRequest): Promise<void> {
  await graph.send(`${userPath}/contacts/${encodeURIComponent(contactId)}/photo/$value`, { ...withPrefer(req), method: 'PUT', body: new Uint8Array(photo.bytes), headers: { ...req.headers, Prefer: PREFER, 'content-type': photo.contentType } }, async (res) => void (await res.body?.cancel()));
}
