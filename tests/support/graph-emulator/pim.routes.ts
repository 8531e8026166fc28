/**
 * Calendars and contacts under /users/{id | userPrincipalName}:
 *   GET calendars, calendar, calendars/{id}/events and events (single instances and series masters,
 *   as "list events" documents), calendarView/delta and calendars/{id}/calendarView/delta
 *   (startDateTime and endDateTime in the first request; single instances, occurrences and
 *   exceptions, https://learn.microsoft.com/graph/delta-query-events), contactFolders, contacts,
 *   contactFolders/{id}/contacts, contacts/delta and contactFolders/{id}/contacts/delta
 *   (https://learn.microsoft.com/graph/api/contact-delta).
 */
import { type GraphResult, badRequest } from './errors.js';
import { type GraphContext, type GraphRoute, ROLES, json } from './graph-routes.js';
import type { ContactRecord, EventInstance, EventRecord } from './calendar.model.js';
import { deltaResponse } from './mail-delta.js';
import { changeKeyOf } from './mail-json.js';
import type { Mailbox } from './mailbox.model.js';
import { mailboxOf, mailboxOwner, outlookNotFound } from './outlook-common.js';
import { type Json, page, select } from './resources.js';

const iso = (d: Date): string => `${d.toISOString().slice(0, 19)}Z`;
const dt = (d: Date): Json => ({ dateTime: d.toISOString().replace('Z', '0000'), timeZone: 'UTC' });

function eventJson(e: EventRecord, inst?: EventInstance): Json {
  const type = inst?.type ?? e.type;
  const changeKey = changeKeyOf(e.id, e.version);
  const j: Json = {
    '@odata.etag': `W/"${changeKey}"`,
    id: inst?.id ?? e.id,
    createdDateTime: iso(e.createdDateTime),
    lastModifiedDateTime: iso(e.lastModifiedDateTime),
    changeKey,
    iCalUId: e.iCalUId,
    subject: e.subject,
    body: { contentType: 'text', content: e.body },
    start: dt(inst?.start ?? e.start),
    end: dt(inst?.end ?? e.end),
    type,
    seriesMasterId: inst?.master?.id ?? e.seriesMasterId ?? null,
    recurrence: type === 'seriesMaster' && e.recurrence
      ? { pattern: { type: e.recurrence.type, interval: e.recurrence.interval, daysOfWeek: type === 'seriesMaster' && e.recurrence.type === 'weekly' ? [e.start.toLocaleDateString('en-US', { weekday: 'long', timeZone: 'UTC' }).toLowerCase()] : [] }, range: { type: 'numbered', startDate: e.start.toISOString().slice(0, 10), numberOfOccurrences: e.recurrence.numberOfOccurrences, recurrenceTimeZone: 'UTC' } }
      : null,
    isCancelled: false,
  };
  if (inst?.originalStart ?? e.originalStart) j.originalStart = iso((inst?.originalStart ?? e.originalStart)!);
  return j;
}

function contactJson(c: ContactRecord): Json {
  const changeKey = changeKeyOf(c.id, c.version);
  return {
    '@odata.etag': `W/"${changeKey}"`,
    id: c.id,
    createdDateTime: iso(c.createdDateTime),
    lastModifiedDateTime: iso(c.lastModifiedDateTime),
    changeKey,
    parentFolderId: c.folderId,
    displayName: c.displayName,
    givenName: c.givenName ?? null,
    surname: c.surname ?? null,
    emailAddresses: c.emailAddresses.map((e) => ({ name: e.name ?? e.address, address: e.address })),
    mobilePhone: c.mobilePhone ?? null,
    businessPhones: [],
    homePhones: [],
  };
}

function list(ctx: GraphContext, context: string, all: Json[]): GraphResult {
  const { items, nextLink } = page(all.map((x) => select(x, ctx.query)), ctx.query, ctx.url, Math.min(Number(ctx.query.get('$top') ?? 10) || 10, 1000));
  return json(200, { '@odata.context': `${ctx.emu.graphBaseUrl}/$metadata#${context}`, value: items, ...(nextLink !== undefined ? { '@odata.nextLink': nextLink } : {}) });
}

function calendarDelta(ctx: GraphContext, box: Mailbox, calendarId: string | undefined): GraphResult {
  const s = ctx.query.get('startDateTime');
  const e = ctx.query.get('endDateTime');
  if (s === null || e === null || Number.isNaN(Date.parse(s)) || Number.isNaN(Date.parse(e))) {
    if (ctx.query.get('$skiptoken') === null && ctx.query.get('$deltatoken') === null) throw badRequest('This request requires a time window specified by the query string parameters StartDateTime and EndDateTime.', 'ErrorInvalidParameter');
  }
  const start = new Date(s ?? 0);
  const end = new Date(e ?? 0);
  const pim = box.pim;
  return deltaResponse(ctx, box, {
    scope: `calendarView:${calendarId ?? pim.defaultCalendar.id}:${start.toISOString()}:${end.toISOString()}`,
    odataType: '#microsoft.graph.event',
    context: 'Collection(event)',
    entries: () => pim.view(calendarId ?? pim.defaultCalendar.id, start, end).map((i) => ({ id: i.id, changeSeq: i.changeSeq, json: () => eventJson(i.source, i) })),
    removedSince: (seq) => [...pim.removedEvents.filter((r) => r.seq > seq).map((r) => r.id), ...[...pim.cancelled].filter(([, q]) => q > seq).map(([id]) => id)],
  });
}

function contactsDelta(ctx: GraphContext, box: Mailbox, folderId: string): GraphResult {
  const pim = box.pim;
  return deltaResponse(ctx, box, {
    scope: `contacts:${folderId}`,
    odataType: '#microsoft.graph.contact',
    context: 'Collection(contact)',
    entries: () => [...pim.contacts.values()].filter((c) => c.folderId === folderId).map((c) => ({ id: c.id, changeSeq: c.changeSeq, json: () => contactJson(c) })),
    removedSince: (seq) => pim.removedContacts.filter((r) => r.folderId === folderId && r.seq > seq).map((r) => r.id),
  });
}

const handleCalendar = async (m: RegExpExecArray, ctx: GraphContext): Promise<GraphResult> => {
  const box = await mailboxOf(ctx, m[1]!);
  const rest = m[2]!;
  const pim = box.pim;
  const calJson = (c: (typeof pim.calendars)[number]): Json => ({ id: c.id, name: c.name, isDefaultCalendar: c.isDefault, canEdit: true, owner: { name: box.owner.displayName, address: box.owner.mail } });
  if (rest === '/calendars') return list(ctx, `users('${box.owner.id}')/calendars`, pim.calendars.map(calJson));
  if (rest === '/calendar') return json(200, select(calJson(pim.defaultCalendar), ctx.query));
  if (rest === '/calendarView/delta') return calendarDelta(ctx, box, undefined);
  if (rest === '/events') return list(ctx, `users('${box.owner.id}')/events`, [...pim.events.values()].filter((e) => e.type !== 'exception').map((e) => eventJson(e)));
  const x = /^\/calendars\/([^/]+)(\/events|\/calendarView\/delta)?$/.exec(rest);
  const cal = x ? pim.calendars.find((c) => c.id === decodeURIComponent(x[1]!)) : undefined;
  if (!x || !cal) throw outlookNotFound();
  if (x[2] === undefined) return json(200, select(calJson(cal), ctx.query));
  if (x[2] === '/events') return list(ctx, `users('${box.owner.id}')/calendars('${cal.id}')/events`, [...pim.events.values()].filter((e) => e.calendarId === cal.id && e.type !== 'exception').map((e) => eventJson(e)));
  return calendarDelta(ctx, box, cal.id);
};

const handleContacts = async (m: RegExpExecArray, ctx: GraphContext): Promise<GraphResult> => {
  const box = await mailboxOf(ctx, m[1]!);
  const rest = m[2]!;
  const pim = box.pim;
  const folderJson = (f: (typeof pim.contactFolders)[number]): Json => ({ id: f.id, displayName: f.displayName, parentFolderId: f.parentFolderId });
  const dflt = pim.contactFolders[0]!;
  if (rest === '/contactFolders') return list(ctx, `users('${box.owner.id}')/contactFolders`, pim.contactFolders.filter((f) => f !== dflt).map(folderJson));
  if (rest === '/contacts') return list(ctx, `users('${box.owner.id}')/contacts`, [...pim.contacts.values()].filter((c) => c.folderId === dflt.id).map(contactJson));
  if (rest === '/contacts/delta') return contactsDelta(ctx, box, dflt.id);
  const x = /^\/contactFolders\/([^/]+)(\/contacts|\/contacts\/delta)?$/.exec(rest);
  const f = x ? pim.contactFolder(decodeURIComponent(x[1]!)) : undefined;
  if (!x || !f) throw outlookNotFound();
  if (x[2] === undefined) return json(200, select(folderJson(f), ctx.query));
  if (x[2] === '/contacts') return list(ctx, `users('${box.owner.id}')/contactFolders('${f.id}')/contacts`, [...pim.contacts.values()].filter((c) => c.folderId === f.id).map(contactJson));
  return contactsDelta(ctx, box, f.id);
};

export const pimRoutes: GraphRoute[] = [
  {
    methods: ['GET'],
    pattern: /^\/users\/([^/]+)(\/calendars?(?:\/.*)?|\/calendarView\/delta|\/events)$/,
    roles: () => ROLES.readCalendars,
    denial: 'outlook',
    mailbox: true,
    owner: mailboxOwner,
    handle: handleCalendar,
  },
  {
    methods: ['GET'],
    pattern: /^\/users\/([^/]+)(\/contactFolders(?:\/.*)?|\/contacts(?:\/delta)?)$/,
    roles: () => ROLES.readContacts,
    denial: 'outlook',
    mailbox: true,
    owner: mailboxOwner,
    handle: handleContacts,
  },
];
