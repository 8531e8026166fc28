/**
 * Calendars and contacts under /users/{id | userPrincipalName}:
 *   GET calendars, calendar, calendars/{id}, calendars/{id}/events and events (single instances
 *   and series masters, as "list events" documents), calendarView/delta and
 *   calendars/{id}/calendarView/delta (startDateTime and endDateTime in the first request; single
 *   instances, occurrences and exceptions, https://learn.microsoft.com/graph/delta-query-events),
 *   events/{id} and events/{id}/instances?startDateTime&endDateTime (occurrences and exceptions of
 *   a series, https://learn.microsoft.com/graph/api/event-list-instances);
 *   POST calendars (https://learn.microsoft.com/graph/api/user-post-calendars), POST events and
 *   calendars/{id}/events (https://learn.microsoft.com/graph/api/user-post-events; a recurrence
 *   makes a series master, https://learn.microsoft.com/graph/outlook-schedule-recurring-events),
 *   PATCH events/{id} (https://learn.microsoft.com/graph/api/event-update; of an occurrence: it
 *   becomes an exception), DELETE events/{id} (https://learn.microsoft.com/graph/api/event-delete;
 *   of an occurrence or exception: that occurrence is cancelled);
 *   GET contactFolders, contactFolders/{id}, contacts, contactFolders/{id}/contacts, contacts/{id},
 *   contacts/delta and contactFolders/{id}/contacts/delta (https://learn.microsoft.com/graph/api/contact-delta);
 *   POST contactFolders (https://learn.microsoft.com/graph/api/user-post-contactfolders), POST contacts
 *   and contactFolders/{id}/contacts (https://learn.microsoft.com/graph/api/user-post-contacts),
 *   DELETE contacts/{id}; GET and PUT contacts/{id}/photo/$value
 *   (https://learn.microsoft.com/graph/api/profilephoto-get, .../profilephoto-update).
 */
import { GraphError, type GraphResult, badRequest } from './errors.js';
import { type GraphContext, type GraphRoute, ROLES, json } from './graph-routes.js';
import { type ContactRecord, type EventInstance, type EventRecord, type Pim, type Recurrence } from './calendar.model.js';
import { deltaResponse } from './mail-delta.js';
import { changeKeyOf } from './mail-json.js';
import type { Mailbox } from './mailbox.model.js';
import { mailboxOf, mailboxOwner, outlookNotFound } from './outlook-common.js';
import { type Json, page, select } from './resources.js';

const WRITE_CALENDARS = ['Calendars.ReadWrite'];
const WRITE_CONTACTS = ['Contacts.ReadWrite'];

const iso = (d: Date): string => `${d.toISOString().slice(0, 19)}Z`;
const dt = (d: Date): Json => ({ dateTime: d.toISOString().replace('Z', '0000'), timeZone: 'UTC' });
const weekday = (d: Date): string => d.toLocaleDateString('en-US', { weekday: 'long', timeZone: 'UTC' }).toLowerCase();

function recurrenceJson(e: EventRecord): Json | null {
  const r = e.recurrence;
  if (e.type !== 'seriesMaster' || !r) return null;
  return {
    pattern: { type: r.type, interval: r.interval, month: 0, dayOfMonth: 0, daysOfWeek: r.type === 'weekly' ? [weekday(e.start)] : [], firstDayOfWeek: 'sunday', index: 'first' },
    range: {
      type: r.numberOfOccurrences !== undefined ? 'numbered' : 'endDate',
      startDate: e.start.toISOString().slice(0, 10),
      endDate: r.endDate ?? '0001-01-01',
      recurrenceTimeZone: 'UTC',
      numberOfOccurrences: r.numberOfOccurrences ?? 0,
    },
  };
}

function eventJson(box: Mailbox, e: EventRecord, inst?: EventInstance): Json {
  const type = inst?.type ?? e.type;
  const changeKey = changeKeyOf(e.id, e.version);
  const j: Json = {
    '@odata.etag': `W/"${changeKey}"`,
    id: inst?.id ?? e.id,
    createdDateTime: iso(e.createdDateTime),
    lastModifiedDateTime: iso(e.lastModifiedDateTime),
    changeKey,
    categories: [],
    originalStartTimeZone: 'UTC',
    originalEndTimeZone: 'UTC',
    iCalUId: e.iCalUId,
    reminderMinutesBeforeStart: 15,
    isReminderOn: true,
    hasAttachments: false,
    subject: e.subject,
    bodyPreview: e.body.slice(0, 255),
    importance: 'normal',
    sensitivity: 'normal',
    isAllDay: e.isAllDay ?? false,
    isCancelled: false,
    isOrganizer: true,
    showAs: 'busy',
    type,
    webLink: `https://outlook.office365.com/owa/?itemid=${encodeURIComponent(inst?.id ?? e.id)}&exvsurl=1&path=/calendar/item`,
    seriesMasterId: inst?.master?.id ?? e.seriesMasterId ?? null,
    body: { contentType: e.bodyType ?? 'text', content: e.body },
    start: dt(inst?.start ?? e.start),
    end: dt(inst?.end ?? e.end),
    location: { displayName: e.location ?? '', locationType: 'default', uniqueIdType: 'unknown' },
    locations: e.location ? [{ displayName: e.location, locationType: 'default' }] : [],
    recurrence: type === 'seriesMaster' ? recurrenceJson(e) : null,
    attendees: [],
    organizer: { emailAddress: { name: box.owner.displayName, address: box.owner.mail } },
  };
  const originalStart = inst?.originalStart ?? e.originalStart;
  if (originalStart) j.originalStart = iso(originalStart);
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
    categories: [],
    parentFolderId: c.folderId,
    birthday: null,
    fileAs: '',
    displayName: c.displayName,
    givenName: c.givenName ?? null,
    initials: null,
    middleName: null,
    nickName: null,
    surname: c.surname ?? null,
    title: null,
    jobTitle: c.jobTitle ?? null,
    companyName: c.companyName ?? null,
    department: null,
    officeLocation: null,
    businessHomePage: null,
    personalNotes: c.personalNotes ?? '',
    emailAddresses: c.emailAddresses.map((e) => ({ name: e.name ?? e.address, address: e.address })),
    imAddresses: [],
    mobilePhone: c.mobilePhone ?? null,
    businessPhones: c.businessPhones ?? [],
    homePhones: c.homePhones ?? [],
    homeAddress: {},
    businessAddress: {},
    otherAddress: {},
  };
}

function list(ctx: GraphContext, context: string, all: Json[]): GraphResult {
  const { items, nextLink } = page(all.map((x) => select(x, ctx.query)), ctx.query, ctx.url, Math.min(Number(ctx.query.get('$top') ?? 10) || 10, 1000));
  return json(200, { '@odata.context': `${ctx.emu.graphBaseUrl}/$metadata#${context}`, value: items, ...(nextLink !== undefined ? { '@odata.nextLink': nextLink } : {}) });
}

function timeWindow(ctx: GraphContext): { start: Date; end: Date } {
  const s = ctx.query.get('startDateTime');
  const e = ctx.query.get('endDateTime');
  if (s === null || e === null || Number.isNaN(Date.parse(s)) || Number.isNaN(Date.parse(e))) {
    throw badRequest('This request requires a time window specified by the query string parameters StartDateTime and EndDateTime.', 'ErrorInvalidParameter');
  }
  return { start: new Date(s), end: new Date(e) };
}

function calendarDelta(ctx: GraphContext, box: Mailbox, calendarId: string | undefined): GraphResult {
  let start = new Date(0);
  let end = new Date(0);
  if (ctx.query.get('$skiptoken') === null && ctx.query.get('$deltatoken') === null) ({ start, end } = timeWindow(ctx));
  else {
    const s = ctx.query.get('startDateTime');
    const e = ctx.query.get('endDateTime');
    if (s !== null && e !== null) ({ start, end } = { start: new Date(s), end: new Date(e) });
  }
  const pim = box.pim;
  return deltaResponse(ctx, box, {
    scope: `calendarView:${calendarId ?? pim.defaultCalendar.id}:${start.toISOString()}:${end.toISOString()}`,
    odataType: '#microsoft.graph.event',
    context: 'Collection(event)',
    entries: () => pim.view(calendarId ?? pim.defaultCalendar.id, start, end).map((i) => ({ id: i.id, changeSeq: i.changeSeq, json: () => eventJson(box, i.source, i) })),
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

// --- request bodies ------------------------------------------------------------------------

async function bodyOf(ctx: GraphContext): Promise<Json> {
  const raw = (await ctx.body()).toString('utf8');
  try {
    const j = JSON.parse(raw || '{}') as unknown;
    if (typeof j !== 'object' || j === null || Array.isArray(j)) throw new Error('not an object');
    return j as Json;
  } catch {
    throw new GraphError(400, 'RequestBodyRead', 'Invalid JSON in the request body.');
  }
}

/**
 * Properties a client may send. Graph refuses a property its type does not have
 * (RequestBodyRead, OData's message); a read-only one the emulator refuses too (stricter than
 * the service, which ignores some of them): a restore must drop what it cannot set.
 */
function checkProperties(j: Json, type: string, writable: ReadonlySet<string>, readOnly: ReadonlySet<string>): void {
  for (const k of Object.keys(j)) {
    if (k.startsWith('@odata.') || writable.has(k)) continue;
    if (readOnly.has(k)) throw new GraphError(400, 'ErrorInvalidPropertySet', `The property '${k}' is read-only and cannot be set.`);
    throw new GraphError(400, 'RequestBodyRead', `The property '${k}' does not exist on type 'microsoft.graph.${type}'. Make sure to only use property names that are defined by the type or mark the type as open type.`);
  }
}

const EVENT_WRITABLE = new Set(['subject', 'body', 'start', 'end', 'isAllDay', 'location', 'locations', 'recurrence', 'attendees', 'categories', 'importance', 'sensitivity', 'showAs', 'isReminderOn', 'reminderMinutesBeforeStart', 'responseRequested', 'isOnlineMeeting', 'onlineMeetingProvider', 'allowNewTimeProposals', 'hideAttendees', 'transactionId', 'originalStartTimeZone', 'originalEndTimeZone', 'singleValueExtendedProperties', 'multiValueExtendedProperties']);
const EVENT_READ_ONLY = new Set(['id', 'createdDateTime', 'lastModifiedDateTime', 'changeKey', 'iCalUId', 'type', 'seriesMasterId', 'originalStart', 'isCancelled', 'isOrganizer', 'organizer', 'webLink', 'onlineMeeting', 'onlineMeetingUrl', 'responseStatus', 'hasAttachments', 'bodyPreview', 'occurrenceId', 'calendar', 'instances', 'attachments', 'isDraft']);
const CONTACT_WRITABLE = new Set(['displayName', 'givenName', 'surname', 'middleName', 'nickName', 'initials', 'title', 'generation', 'fileAs', 'emailAddresses', 'mobilePhone', 'businessPhones', 'homePhones', 'imAddresses', 'companyName', 'jobTitle', 'department', 'officeLocation', 'profession', 'manager', 'assistantName', 'spouseName', 'children', 'birthday', 'personalNotes', 'businessHomePage', 'homeAddress', 'businessAddress', 'otherAddress', 'categories', 'yomiGivenName', 'yomiSurname', 'yomiCompanyName', 'singleValueExtendedProperties', 'multiValueExtendedProperties']);
const CONTACT_READ_ONLY = new Set(['id', 'createdDateTime', 'lastModifiedDateTime', 'changeKey', 'parentFolderId', 'photo', 'extensions']);

const UTC_NAMES = new Set(['utc', 'etc/utc', 'coordinated universal time']);

function dateTimeOf(v: unknown, what: string): Date {
  const d = v as { dateTime?: unknown; timeZone?: unknown } | undefined;
  if (!d || typeof d.dateTime !== 'string' || Number.isNaN(Date.parse(`${d.dateTime.replace(/Z$/, '')}Z`))) throw new GraphError(400, 'ErrorInvalidRequest', `${what}: a dateTimeTimeZone is required.`);
  const tz = typeof d.timeZone === 'string' ? d.timeZone : 'UTC';
  // Only UTC is emulated: the service converts every other Windows or IANA zone.
  if (!UTC_NAMES.has(tz.toLowerCase())) throw new GraphError(400, 'ErrorTimeZoneNotEmulated', `${what}: time zone '${tz}' is not emulated (only UTC).`);
  return new Date(`${d.dateTime.replace(/Z$/, '')}Z`);
}

function recurrenceOf(v: unknown, start: Date): Recurrence | undefined {
  if (v === undefined || v === null) return undefined;
  const r = v as { pattern?: { type?: string; interval?: number; daysOfWeek?: string[] }; range?: { type?: string; startDate?: string; endDate?: string; numberOfOccurrences?: number } };
  const type = r.pattern?.type;
  if (type !== 'daily' && type !== 'weekly') throw new GraphError(400, 'ErrorRecurrenceNotEmulated', `recurrence pattern '${type ?? ''}' is not emulated (daily and weekly are).`);
  if (type === 'weekly' && (r.pattern?.daysOfWeek ?? []).some((d) => d.toLowerCase() !== weekday(start))) throw new GraphError(400, 'ErrorRecurrenceNotEmulated', 'a weekly recurrence is emulated on the weekday of its start only.');
  const interval = r.pattern?.interval ?? 1;
  if (!Number.isInteger(interval) || interval < 1) throw new GraphError(400, 'ErrorInvalidRecurrence', 'The recurrence interval must be a positive integer.');
  if (typeof r.range?.startDate !== 'string') throw new GraphError(400, 'ErrorInvalidRecurrence', 'The recurrence range needs a startDate.');
  if (r.range.type === 'numbered' && Number.isInteger(r.range.numberOfOccurrences) && r.range.numberOfOccurrences! > 0) return { type, interval, numberOfOccurrences: r.range.numberOfOccurrences! };
  if (r.range.type === 'endDate' && typeof r.range.endDate === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(r.range.endDate)) return { type, interval, endDate: r.range.endDate };
  throw new GraphError(400, 'ErrorRecurrenceNotEmulated', `recurrence range '${r.range.type ?? ''}' is not emulated (numbered and endDate are).`);
}

function eventFields(j: Json): { subject?: string; body?: string; bodyType?: 'text' | 'html'; location?: string; isAllDay?: boolean; start?: Date; end?: Date } {
  checkProperties(j, 'event', EVENT_WRITABLE, EVENT_READ_ONLY);
  const body = j.body as { contentType?: string; content?: string } | undefined;
  const location = j.location as { displayName?: string } | undefined;
  return {
    ...(typeof j.subject === 'string' ? { subject: j.subject } : {}),
    ...(body && typeof body.content === 'string' ? { body: body.content, bodyType: (body.contentType ?? 'text').toLowerCase() === 'html' ? 'html' : 'text' } : {}),
    ...(location && typeof location.displayName === 'string' && location.displayName !== '' ? { location: location.displayName } : {}),
    ...(typeof j.isAllDay === 'boolean' ? { isAllDay: j.isAllDay } : {}),
    ...(j.start !== undefined ? { start: dateTimeOf(j.start, 'start') } : {}),
    ...(j.end !== undefined ? { end: dateTimeOf(j.end, 'end') } : {}),
  };
}

async function createEvent(ctx: GraphContext, box: Mailbox, calendarId: string): Promise<GraphResult> {
  const j = await bodyOf(ctx);
  const f = eventFields(j);
  if (!f.start || !f.end) throw new GraphError(400, 'ErrorInvalidRequest', 'An event needs a start and an end.');
  if (f.end < f.start) throw new GraphError(400, 'ErrorInvalidRequest', "The event's end is before its start.");
  const recurrence = recurrenceOf(j.recurrence, f.start);
  const e = box.pim.addEvent({ ...f, subject: f.subject ?? '', start: f.start, end: f.end, calendarId, ...(recurrence ? { recurrence } : {}) });
  return json(201, { '@odata.context': `${ctx.emu.graphBaseUrl}/$metadata#users('${box.owner.id}')/events/$entity`, ...eventJson(box, e) });
}

/** An event by id: a stored one (single, master, exception) or an occurrence of a series. */
function eventOf(pim: Pim, id: string): { record: EventRecord; occurrence?: { start: Date; end: Date } } {
  const e = pim.events.get(id);
  if (e) return { record: e };
  const o = pim.occurrence(id);
  if (!o) throw outlookNotFound();
  return { record: o.master, occurrence: { start: o.start, end: o.end } };
}

async function eventAction(ctx: GraphContext, box: Mailbox, id: string, rest: string): Promise<GraphResult> {
  const pim = box.pim;
  const { record, occurrence } = eventOf(pim, id);
  if (rest === '/instances' && ctx.method === 'GET') {
    const { start, end } = timeWindow(ctx);
    const inst = record.type === 'seriesMaster' && !occurrence ? pim.instancesOf(record).filter((i) => i.start < end && i.end > start) : [];
    return list(ctx, `users('${box.owner.id}')/events('${record.id}')/instances`, inst.map((i) => eventJson(box, i.source, i)));
  }
  if (rest !== '') throw new GraphError(400, 'BadRequest', `Unsupported request: ${ctx.method} events/{id}${rest}`);
  if (ctx.method === 'GET') {
    if (occurrence) return json(200, select(eventJson(box, record, { id, type: 'occurrence', source: record, master: record, start: occurrence.start, end: occurrence.end, originalStart: occurrence.start, changeSeq: record.changeSeq }), ctx.query));
    return json(200, select(eventJson(box, record), ctx.query));
  }
  if (ctx.method === 'DELETE') {
    if (occurrence) pim.cancelAt(record, occurrence.start);
    else pim.deleteEvent(record);
    return { status: 204 };
  }
  if (ctx.method === 'PATCH') {
    const j = await bodyOf(ctx);
    const f = eventFields(j);
    if (occurrence) {
      if (j.recurrence !== undefined && j.recurrence !== null) throw new GraphError(400, 'ErrorInvalidRequest', 'An occurrence cannot have a recurrence of its own.');
      const ex = pim.exceptionAt(record, occurrence, f);
      return json(200, eventJson(box, ex));
    }
    const recurrence = record.type === 'seriesMaster' && j.recurrence !== undefined ? recurrenceOf(j.recurrence, f.start ?? record.start) : undefined;
    pim.updateEvent(record, f);
    if (recurrence) record.recurrence = recurrence;
    return json(200, eventJson(box, record));
  }
  throw new GraphError(405, 'ErrorInvalidRequest', `${ctx.method} is not allowed on an event.`);
}

const handleCalendar = async (m: RegExpExecArray, ctx: GraphContext): Promise<GraphResult> => {
  const box = await mailboxOf(ctx, m[1]!);
  const rest = m[2]!;
  const pim = box.pim;
  const get = ctx.method === 'GET';
  const calJson = (c: (typeof pim.calendars)[number]): Json => ({ id: c.id, name: c.name, color: 'auto', isDefaultCalendar: c.isDefault, changeKey: changeKeyOf(c.id, 1), canShare: true, canViewPrivateItems: true, canEdit: true, owner: { name: box.owner.displayName, address: box.owner.mail } });
  if (rest === '/calendars' && get) return list(ctx, `users('${box.owner.id}')/calendars`, pim.calendars.map(calJson));
  if (rest === '/calendars' && ctx.method === 'POST') {
    const j = await bodyOf(ctx);
    if (typeof j.name !== 'string' || j.name.trim() === '') throw new GraphError(400, 'ErrorInvalidRequest', 'A calendar needs a name.');
    if (pim.calendars.some((c) => c.name.toLowerCase() === (j.name as string).toLowerCase())) throw new GraphError(409, 'ErrorFolderExists', 'A folder with the specified name already exists.');
    return json(201, calJson(pim.addCalendar(j.name)));
  }
  if (rest === '/calendar' && get) return json(200, select(calJson(pim.defaultCalendar), ctx.query));
  if (rest === '/calendarView/delta' && get) return calendarDelta(ctx, box, undefined);
  if (rest === '/events' && get) return list(ctx, `users('${box.owner.id}')/events`, [...pim.events.values()].filter((e) => e.type !== 'exception').map((e) => eventJson(box, e)));
  if (rest === '/events' && ctx.method === 'POST') return createEvent(ctx, box, pim.defaultCalendar.id);
  let x = /^(?:\/calendars\/[^/]+)?\/events\/([^/]+)(\/instances)?$/.exec(rest);
  if (x) return eventAction(ctx, box, decodeURIComponent(x[1]!), x[2] ?? '');
  x = /^\/calendars\/([^/]+)(\/events|\/calendarView\/delta)?$/.exec(rest);
  const cal = x ? pim.calendar(decodeURIComponent(x[1]!)) : undefined;
  if (!x || !cal) throw outlookNotFound();
  if (x[2] === undefined && get) return json(200, select(calJson(cal), ctx.query));
  if (x[2] === '/events' && get) return list(ctx, `users('${box.owner.id}')/calendars('${cal.id}')/events`, [...pim.events.values()].filter((e) => e.calendarId === cal.id && e.type !== 'exception').map((e) => eventJson(box, e)));
  if (x[2] === '/events' && ctx.method === 'POST') return createEvent(ctx, box, cal.id);
  if (x[2] === '/calendarView/delta' && get) return calendarDelta(ctx, box, cal.id);
  throw new GraphError(405, 'ErrorInvalidRequest', `${ctx.method} is not allowed here.`);
};

async function createContact(ctx: GraphContext, box: Mailbox, folderId: string): Promise<GraphResult> {
  const j = await bodyOf(ctx);
  checkProperties(j, 'contact', CONTACT_WRITABLE, CONTACT_READ_ONLY);
  const str = (k: string): string | undefined => (typeof j[k] === 'string' && j[k] !== '' ? j[k] : undefined);
  const strs = (k: string): string[] | undefined => (Array.isArray(j[k]) ? (j[k] as unknown[]).filter((v): v is string => typeof v === 'string') : undefined);
  const emails = Array.isArray(j.emailAddresses) ? (j.emailAddresses as { address?: string; name?: string }[]).filter((e) => typeof e.address === 'string') : [];
  const given = str('givenName');
  const surname = str('surname');
  const displayName = str('displayName') ?? ([given, surname].filter((s) => s !== undefined).join(' ') || (emails[0]?.address ?? ''));
  const c = box.pim.addContact({
    displayName,
    folder: folderId,
    ...(given !== undefined ? { givenName: given } : {}),
    ...(surname !== undefined ? { surname } : {}),
    ...(str('mobilePhone') !== undefined ? { mobilePhone: str('mobilePhone')! } : {}),
    ...(strs('businessPhones') !== undefined ? { businessPhones: strs('businessPhones')! } : {}),
    ...(strs('homePhones') !== undefined ? { homePhones: strs('homePhones')! } : {}),
    ...(str('companyName') !== undefined ? { companyName: str('companyName')! } : {}),
    ...(str('jobTitle') !== undefined ? { jobTitle: str('jobTitle')! } : {}),
    ...(str('personalNotes') !== undefined ? { personalNotes: str('personalNotes')! } : {}),
  });
  c.emailAddresses = emails.map((e) => ({ address: e.address!, ...(e.name !== undefined ? { name: e.name } : {}) }));
  return json(201, { '@odata.context': `${ctx.emu.graphBaseUrl}/$metadata#users('${box.owner.id}')/contacts/$entity`, ...contactJson(c) });
}

async function contactAction(ctx: GraphContext, box: Mailbox, c: ContactRecord, rest: string): Promise<GraphResult> {
  if (rest === '' && ctx.method === 'GET') return json(200, select(contactJson(c), ctx.query));
  if (rest === '' && ctx.method === 'DELETE') {
    box.pim.deleteContact(c);
    return { status: 204 };
  }
  if (rest === '/photo/$value' && ctx.method === 'GET') {
    const failure = box.pim.takePhotoFailure(c);
    if (failure !== undefined) throw new GraphError(failure, 'ErrorInternalServerError', 'An internal server error occurred. The operation failed.');
    if (!c.photo) throw new GraphError(404, 'ErrorItemNotFound', "The photo wasn't found.");
    return { status: 200, headers: { 'Content-Type': c.photo.contentType }, body: c.photo.bytes };
  }
  if (rest === '/photo/$value' && ctx.method === 'PUT') {
    const bytes = await ctx.body();
    const type = (ctx.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (!type.startsWith('image/')) throw new GraphError(400, 'ErrorInvalidRequest', 'The photo must be sent as image/jpeg or image/png.');
    if (bytes.length === 0 || bytes.length > 4 * 1024 * 1024) throw new GraphError(400, 'ErrorInvalidRequest', 'The photo must be between 1 byte and 4 MB.');
    box.pim.updateContact(c, { photo: { bytes, contentType: type } });
    return { status: 200 };
  }
  throw new GraphError(400, 'BadRequest', `Unsupported request: ${ctx.method} contacts/{id}${rest}`);
}

const handleContacts = async (m: RegExpExecArray, ctx: GraphContext): Promise<GraphResult> => {
  const box = await mailboxOf(ctx, m[1]!);
  const rest = m[2]!;
  const pim = box.pim;
  const get = ctx.method === 'GET';
  const folderJson = (f: (typeof pim.contactFolders)[number]): Json => ({ id: f.id, displayName: f.displayName, parentFolderId: f.parentFolderId });
  const dflt = pim.contactFolders[0]!;
  if (rest === '/contactFolders' && get) return list(ctx, `users('${box.owner.id}')/contactFolders`, pim.contactFolders.filter((f) => f !== dflt).map(folderJson));
  if (rest === '/contactFolders' && ctx.method === 'POST') {
    const j = await bodyOf(ctx);
    if (typeof j.displayName !== 'string' || j.displayName.trim() === '') throw new GraphError(400, 'ErrorInvalidRequest', 'A contact folder needs a displayName.');
    if (pim.contactFolders.some((f) => f.displayName.toLowerCase() === (j.displayName as string).toLowerCase())) throw new GraphError(409, 'ErrorFolderExists', 'A folder with the specified name already exists.');
    return json(201, folderJson(pim.addContactFolder(j.displayName)));
  }
  if (rest === '/contacts' && get) return list(ctx, `users('${box.owner.id}')/contacts`, [...pim.contacts.values()].filter((c) => c.folderId === dflt.id).map(contactJson));
  if (rest === '/contacts' && ctx.method === 'POST') return createContact(ctx, box, dflt.id);
  if (rest === '/contacts/delta' && get) return contactsDelta(ctx, box, dflt.id);
  let x = /^(?:\/contactFolders\/[^/]+)?\/contacts\/([^/]+)(\/photo\/\$value)?$/.exec(rest);
  if (x && x[1] !== 'delta') {
    const c = pim.contacts.get(decodeURIComponent(x[1]!));
    if (!c) throw outlookNotFound();
    return contactAction(ctx, box, c, x[2] ?? '');
  }
  x = /^\/contactFolders\/([^/]+)(\/contacts|\/contacts\/delta)?$/.exec(rest);
  const f = x ? pim.contactFolder(decodeURIComponent(x[1]!)) : undefined;
  if (!x || !f) throw outlookNotFound();
  if (x[2] === undefined && get) return json(200, select(folderJson(f), ctx.query));
  if (x[2] === '/contacts' && get) return list(ctx, `users('${box.owner.id}')/contactFolders('${f.id}')/contacts`, [...pim.contacts.values()].filter((c) => c.folderId === f.id).map(contactJson));
  if (x[2] === '/contacts' && ctx.method === 'POST') return createContact(ctx, box, f.id);
  if (x[2] === '/contacts/delta' && get) return contactsDelta(ctx, box, f.id);
  throw new GraphError(405, 'ErrorInvalidRequest', `${ctx.method} is not allowed here.`);
};

export const pimRoutes: GraphRoute[] = [
  {
    methods: ['GET', 'POST', 'PATCH', 'DELETE'],
    pattern: /^\/users\/([^/]+)(\/calendars?(?:\/.*)?|\/calendarView\/delta|\/events(?:\/.*)?)$/,
    roles: (method) => (method === 'GET' ? ROLES.readCalendars : WRITE_CALENDARS),
    denial: 'outlook',
    mailbox: true,
    owner: mailboxOwner,
    handle: handleCalendar,
  },
  {
    methods: ['GET', 'POST', 'PUT', 'DELETE'],
    pattern: /^\/users\/([^/]+)(\/contactFolders(?:\/.*)?|\/contacts(?:\/.*)?)$/,
    roles: (method) => (method === 'GET' ? ROLES.readContacts : WRITE_CONTACTS),
    denial: 'outlook',
    mailbox: true,
    owner: mailboxOwner,
    handle: handleContacts,
  },
];
