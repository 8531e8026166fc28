/**
 * Events as iCalendar (RFC 5545), built and read with ical.js: one VCALENDAR per stored event
 * (a single instance; a series master with its RRULE and its cancelled occurrences as EXDATE;
 * an exception as its own VEVENT with the series' UID and a RECURRENCE-ID), and the export that
 * merges stored VCALENDARs into one, streaming, each VTIMEZONE once.
 *
 * Times: the backup reads Graph without `Prefer: outlook.timezone`, so Graph answers in UTC and
 * the VEVENTs carry UTC times (an iCalendar client shows them in its own zone). A series is
 * expanded in UTC too, so across a daylight-saving change an iCalendar client places later
 * occurrences an hour off from Outlook; the restore recreates the series from Graph's own
 * recurrence, which keeps its time zone.
 */
import type { Writable } from 'node:stream';
import ICAL from 'ical.js';
import sanitizeHtml from 'sanitize-html';
import type { GraphEvent, GraphRecurrence } from '../graph/pim-items.js';

const PRODID = '-//vPlus//Microsoft 365 backup//EN';
const DAY_CODES: Record<string, string> = { sunday: 'SU', monday: 'MO', tuesday: 'TU', wednesday: 'WE', thursday: 'TH', friday: 'FR', saturday: 'SA' };
const SETPOS: Record<string, number> = { first: 1, second: 2, third: 3, fourth: 4, last: -1 };

/** A Graph dateTimeTimeZone read as UTC (Graph's default answer), null when absent. */
export function graphTime(v: { dateTime?: string; timeZone?: string } | null | undefined): Date | null {
  if (!v?.dateTime) return null;
  const d = new Date(/[zZ]|[+-]\d\d:\d\d$/.test(v.dateTime) ? v.dateTime : `${v.dateTime}Z`);
  return Number.isNaN(d.getTime()) ? null : d;
}

function icalTime(d: Date, allDay: boolean): ICAL.Time {
  if (allDay) return ICAL.Time.fromDateString(d.toISOString().slice(0, 10));
  return ICAL.Time.fromJSDate(d, true);
}

/** Graph's recurrence as an RRULE (ical.js Recur); null for a pattern it cannot express. */
export function recurToRule(r: GraphRecurrence, allDay: boolean): ICAL.Recur | null {
  const p = r.pattern;
  const byday = (p.daysOfWeek ?? []).map((d) => DAY_CODES[d.toLowerCase()]).filter((d): d is string => d !== undefined);
  const data: Record<string, unknown> = { interval: Math.max(1, p.interval || 1) };
  switch (p.type) {
    case 'daily':
      data.freq = 'DAILY';
      break;
    case 'weekly':
      data.freq = 'WEEKLY';
      if (byday.length) data.byday = byday;
      if (p.firstDayOfWeek && DAY_CODES[p.firstDayOfWeek.toLowerCase()]) data.wkst = ICAL.Recur.icalDayToNumericDay(DAY_CODES[p.firstDayOfWeek.toLowerCase()]!);
      break;
    case 'absoluteMonthly':
      data.freq = 'MONTHLY';
      if (p.dayOfMonth) data.bymonthday = [p.dayOfMonth];
      break;
    case 'relativeMonthly':
      data.freq = 'MONTHLY';
      data.byday = byday;
      data.bysetpos = [SETPOS[p.index ?? 'first'] ?? 1];
      break;
    case 'absoluteYearly':
      data.freq = 'YEARLY';
      if (p.month) data.bymonth = [p.month];
      if (p.dayOfMonth) data.bymonthday = [p.dayOfMonth];
      break;
    case 'relativeYearly':
      data.freq = 'YEARLY';
      if (p.month) data.bymonth = [p.month];
      data.byday = byday;
      data.bysetpos = [SETPOS[p.index ?? 'first'] ?? 1];
      break;
    default:
      return null;
  }
  if (r.range.type === 'numbered' && r.range.numberOfOccurrences) data.count = r.range.numberOfOccurrences;
  else if (r.range.type === 'endDate' && r.range.endDate && !r.range.endDate.startsWith('0001')) {
    // The end date is inclusive; UNTIL must have DTSTART's value type (RFC 5545 3.3.10).
    data.until = allDay ? ICAL.Time.fromDateString(r.range.endDate) : ICAL.Time.fromDateTimeString(`${r.range.endDate}T23:59:59Z`);
  }
  return ICAL.Recur.fromData(data);
}

const DAY_NAMES: Record<string, string> = { sunday: 'Sunday', monday: 'Monday', tuesday: 'Tuesday', wednesday: 'Wednesday', thursday: 'Thursday', friday: 'Friday', saturday: 'Saturday' };
const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

/** "every day, 5 times", "every 2 weeks on Monday, Wednesday, until 2026-03-01", "every month on the last Friday". */
export function recurrenceText(r: GraphRecurrence | null | undefined): string | null {
  if (!r?.pattern) return null;
  const p = r.pattern;
  const n = Math.max(1, p.interval || 1);
  const every = (unit: string): string => (n === 1 ? `every ${unit}` : `every ${n} ${unit}s`);
  const days = (p.daysOfWeek ?? []).map((d) => DAY_NAMES[d.toLowerCase()] ?? d).join(', ');
  let text: string;
  switch (p.type) {
    case 'daily':
      text = every('day');
      break;
    case 'weekly':
      text = `${every('week')}${days ? ` on ${days}` : ''}`;
      break;
    case 'absoluteMonthly':
      text = `${every('month')} on day ${p.dayOfMonth ?? '?'}`;
      break;
    case 'relativeMonthly':
      text = `${every('month')} on the ${p.index ?? 'first'} ${days}`;
      break;
    case 'absoluteYearly':
      text = `${every('year')} on ${MONTHS[(p.month ?? 1) - 1] ?? '?'} ${p.dayOfMonth ?? '?'}`;
      break;
    case 'relativeYearly':
      text = `${every('year')} on the ${p.index ?? 'first'} ${days} of ${MONTHS[(p.month ?? 1) - 1] ?? '?'}`;
      break;
    default:
      text = 'recurring';
  }
  if (r.range?.type === 'numbered' && r.range.numberOfOccurrences) text += `, ${r.range.numberOfOccurrences} time${r.range.numberOfOccurrences === 1 ? '' : 's'}`;
  else if (r.range?.type === 'endDate' && r.range.endDate) text += `, until ${r.range.endDate}`;
  return text;
}

/** The text of an event's body (an HTML body without its markup). */
export function bodyText(body: GraphEvent['body']): string {
  const content = body?.content ?? '';
  if ((body?.contentType ?? 'text').toLowerCase() !== 'html') return content;
  return sanitizeHtml(content, { allowedTags: [], allowedAttributes: {} })
    .replace(/&nbsp;/g, ' ')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

function mailto(a: { name?: string; address?: string } | undefined, prop: string): ICAL.Property | null {
  if (!a?.address) return null;
  const p = new ICAL.Property(prop);
  p.setValue(`mailto:${a.address}`);
  if (a.name) p.setParameter('cn', a.name);
  return p;
}

/** One event as a VEVENT (a master with RRULE and EXDATEs, an exception with RECURRENCE-ID). */
export function eventComponent(e: GraphEvent, opts: { cancelledOccurrences?: readonly string[] } = {}): ICAL.Component {
  const allDay = e.isAllDay === true;
  const v = new ICAL.Component('vevent');
  v.updatePropertyWithValue('uid', e.iCalUId ?? e.id);
  const stamp = e.lastModifiedDateTime ? new Date(e.lastModifiedDateTime) : new Date(0);
  v.updatePropertyWithValue('dtstamp', ICAL.Time.fromJSDate(stamp, true));
  if (e.createdDateTime) v.updatePropertyWithValue('created', ICAL.Time.fromJSDate(new Date(e.createdDateTime), true));
  if (e.lastModifiedDateTime) v.updatePropertyWithValue('last-modified', ICAL.Time.fromJSDate(stamp, true));
  const start = graphTime(e.start);
  const end = graphTime(e.end);
  if (start) v.updatePropertyWithValue('dtstart', icalTime(start, allDay));
  if (end) v.updatePropertyWithValue('dtend', icalTime(end, allDay));
  if (e.type === 'exception' && e.originalStart) v.updatePropertyWithValue('recurrence-id', icalTime(new Date(e.originalStart), allDay));
  v.updatePropertyWithValue('summary', e.subject ?? '');
  const text = bodyText(e.body);
  if (text) v.updatePropertyWithValue('description', text);
  if (e.location?.displayName) v.updatePropertyWithValue('location', e.location.displayName);
  if (e.type === 'seriesMaster' && e.recurrence) {
    const rule = recurToRule(e.recurrence, allDay);
    if (rule) v.updatePropertyWithValue('rrule', rule);
    for (const c of opts.cancelledOccurrences ?? []) {
      const ex = new ICAL.Property('exdate');
      ex.setValue(icalTime(new Date(c), allDay));
      v.addProperty(ex);
    }
  }
  const organizer = mailto(e.organizer?.emailAddress, 'organizer');
  if (organizer) v.addProperty(organizer);
  for (const a of e.attendees ?? []) {
    const p = mailto(a.emailAddress, 'attendee');
    if (!p) continue;
    p.setParameter('role', a.type === 'optional' ? 'OPT-PARTICIPANT' : a.type === 'resource' ? 'NON-PARTICIPANT' : 'REQ-PARTICIPANT');
    v.addProperty(p);
  }
  const categories = Array.isArray(e.categories) ? (e.categories as unknown[]).filter((c): c is string => typeof c === 'string') : [];
  if (categories.length) {
    const c = new ICAL.Property('categories');
    c.setValues(categories);
    v.addProperty(c);
  }
  if (e.isCancelled) v.updatePropertyWithValue('status', 'CANCELLED');
  v.updatePropertyWithValue('transp', e.showAs === 'free' ? 'TRANSPARENT' : 'OPAQUE');
  return v;
}

function calendarShell(): ICAL.Component {
  const cal = new ICAL.Component('vcalendar');
  cal.updatePropertyWithValue('prodid', PRODID);
  cal.updatePropertyWithValue('version', '2.0');
  cal.updatePropertyWithValue('calscale', 'GREGORIAN');
  return cal;
}

/** A stored event's content: a VCALENDAR holding its VEVENT. */
export function eventToIcs(e: GraphEvent, opts: { cancelledOccurrences?: readonly string[] } = {}): string {
  const cal = calendarShell();
  cal.addSubcomponent(eventComponent(e, opts));
  return `${cal.toString()}\r\n`;
}

/**
 * The start times (UTC, ISO) of a series' occurrences from its RRULE within [from, to): what
 * the series would have if none were cancelled.
 */
export function expandSeries(e: GraphEvent, from: Date, to: Date, max = 5000): Date[] {
  const v = eventComponent({ ...e, type: 'seriesMaster' });
  const ev = new ICAL.Event(v);
  const it = ev.iterator();
  const out: Date[] = [];
  for (let next = it.next(); next && out.length < max; next = it.next()) {
    const d = next.toJSDate();
    if (d >= to) break;
    if (d >= from) out.push(d);
  }
  return out;
}

/**
 * Stored VCALENDARs (one per event) merged into one iCalendar stream: the header once, each
 * VTIMEZONE the first time its TZID appears (before the events that use it), every VEVENT as
 * it comes. Each component is serialised by ical.js; only the envelope is written here.
 */
export async function* icsChunks(items: AsyncIterable<Buffer | string>): AsyncGenerator<string> {
  const shell = calendarShell().toString();
  const end = 'END:VCALENDAR';
  yield `${shell.slice(0, shell.lastIndexOf(end))}`;
  const zones = new Set<string>();
  for await (const item of items) {
    const text = typeof item === 'string' ? item : item.toString('utf8');
    const parsed = ICAL.parse(text) as unknown[];
    // One VCALENDAR parses to a jCal array; several concatenated to an array of them.
    const cals = (typeof parsed[0] === 'string' ? [parsed] : parsed) as unknown[][];
    for (const jcal of cals) {
      const cal = new ICAL.Component(jcal as never);
      let out = '';
      for (const tz of cal.getAllSubcomponents('vtimezone')) {
        const id = String(tz.getFirstPropertyValue('tzid') ?? '');
        if (zones.has(id)) continue;
        zones.add(id);
        out += `${tz.toString()}\r\n`;
      }
      for (const sub of cal.getAllSubcomponents()) if (sub.name !== 'vtimezone') out += `${sub.toString()}\r\n`;
      if (out) yield out;
    }
  }
  yield `${end}\r\n`;
}

/** Writes the merged iCalendar of `items` to `out`, honouring back-pressure (for an export download). */
export async function calendarExport(items: AsyncIterable<Buffer | string>, out: Writable): Promise<void> {
  await writeAll(icsChunks(items), out);
}

export async function writeAll(chunks: AsyncIterable<string>, out: Writable): Promise<void> {
  for await (const chunk of chunks) {
    if (!out.write(chunk)) await new Promise<void>((resolve, reject) => {
      const done = (): void => {
        out.off('error', fail);
        resolve();
      };
      const fail = (err: Error): void => {
        out.off('drain', done);
        reject(err);
      };
      out.once('drain', done);
      out.once('error', fail);
    });
  }
}
