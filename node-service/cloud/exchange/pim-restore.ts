/**
 * Restores of calendars and contacts from a backup point, to the same user or another.
 *
 * Calendars: by default everything goes into one new calendar named `o.folder` (Graph's
 * calendars are not nested); with `folder: null` each event goes back to the calendar of its
 * name (the default calendar for the source's default one, whatever its name there), made when
 * missing. Events are recreated from the Graph resource kept in `extra` (ids and read-only
 * fields dropped): single instances as they were, series masters with their recurrence. Graph
 * has no call that creates an exception, so then each exception is applied to its occurrence,
 * found with `events/{master}/instances` around its original start, by a PATCH, and each
 * cancelled occurrence is deleted there. Attendees are not restored: creating an event with
 * attendees sends them invitations.
 *
 * Contacts: into a new contact folder named `o.folder` by default, or (null) the folder of the
 * same name (the default one for the source's default), made when missing; each contact
 * recreated from its Graph resource and its photo put back from the vCard.
 *
 * Conflicts (an event with the same iCalUId, or the same subject and start, in the target
 * calendar; a contact with the same name and first e-mail in the target folder): skip leaves
 * it, copy adds another, replace deletes it first. One item that fails is reported and the
 * others go on.
 */
import ICAL from 'ical.js';
import { CloudError } from '../graph/cloud-errors.js';
import { listAll, listCalendars, listContactFolders, listInstances, pimDelete, pimWrite, putContactPhoto, type GraphCalendar, type GraphContact, type GraphContactFolder, type GraphEvent, type PimRequest } from '../graph/pim-items.js';
import type { DriveRestoreProgress, DriveRestoreResult } from '../drive-restore.js';
import { openObjectStore, type ItemView, type ObjectStore } from '../metadata/index.js';
import { graphTime } from './ics.js';
import type { CalendarExtra, ContactExtra, ContactFolderExtra, EventExtra, ExchangeRestoreOptions } from './model.js';
import { vcardPhoto } from './vcard.js';

const DAY = 86_400_000;
/** An occurrence within this of an original start is that occurrence (time zone rounding, daylight-saving shifts). */
const MATCH_TOLERANCE = 3 * 3_600_000;

/** Event properties a restore sends (Graph's writable ones, less those that would invite or book anything). */
const EVENT_FIELDS = ['subject', 'body', 'start', 'end', 'isAllDay', 'location', 'categories', 'importance', 'sensitivity', 'showAs', 'isReminderOn', 'reminderMinutesBeforeStart'] as const;
const CONTACT_FIELDS = ['displayName', 'givenName', 'surname', 'middleName', 'nickName', 'initials', 'title', 'generation', 'fileAs', 'emailAddresses', 'mobilePhone', 'businessPhones', 'homePhones', 'imAddresses', 'companyName', 'jobTitle', 'department', 'officeLocation', 'profession', 'manager', 'assistantName', 'spouseName', 'children', 'birthday', 'personalNotes', 'businessHomePage', 'homeAddress', 'businessAddress', 'otherAddress', 'categories', 'yomiGivenName', 'yomiSurname', 'yomiCompanyName'] as const;

export async function restoreCalendars(o: ExchangeRestoreOptions): Promise<DriveRestoreResult> {
  const store = await openObjectStore(o.repo, o.objectKey, { workDir: o.workDir, ...(o.logger ? { logger: o.logger } : {}) });
  try {
    return await new CalendarRestore(o, store).run();
  } finally {
    await store.close();
  }
}

export async function restoreContacts(o: ExchangeRestoreOptions): Promise<DriveRestoreResult> {
  const store = await openObjectStore(o.repo, o.objectKey, { workDir: o.workDir, ...(o.logger ? { logger: o.logger } : {}) });
  try {
    return await new ContactsRestore(o, store).run();
  } finally {
    await store.close();
  }
}

/** The files and folders at or under the paths, each once. */
async function collect(store: ObjectStore, pointId: string, paths: readonly string[]): Promise<{ files: ItemView[]; folders: Map<string, ItemView> }> {
  const files = new Map<string, ItemView>();
  const folders = new Map<string, ItemView>();
  const walk = async (item: ItemView): Promise<void> => {
    if (item.kind === 'file') {
      files.set(item.id, item);
      if (item.parentId && !folders.has(item.parentId)) {
        const parent = await store.getItem(pointId, { id: item.parentId });
        if (parent) folders.set(parent.id, parent);
      }
      return;
    }
    if (item.path !== '/') folders.set(item.id, item);
    for (const child of await store.listChildren(pointId, { id: item.id })) await walk(child);
  };
  for (const p of paths) {
    const item = await store.getItem(pointId, p);
    if (!item) throw new CloudError('M365_NOT_FOUND', `${p} is not in backup point ${pointId}`);
    await walk(item);
  }
  return { files: [...files.values()], folders };
}

/** Only the fields a restore may send, without nulls and empty values Graph would refuse or store as changes. */
function pick(graph: Record<string, unknown>, fields: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of fields) {
    const v = graph[f];
    if (v === null || v === undefined || v === '') continue;
    if (typeof v === 'object' && !Array.isArray(v) && Object.values(v).every((x) => x === null || x === undefined || x === '')) continue;
    out[f] = v;
  }
  return out;
}

abstract class PimRestore {
  protected readonly result: DriveRestoreResult;
  protected readonly progress: DriveRestoreProgress = { totalFiles: 0, totalBytes: 0, doneFiles: 0, doneBytes: 0 };

  constructor(
    protected readonly o: ExchangeRestoreOptions,
    protected readonly store: ObjectStore,
  ) {
    this.result = { restoredFiles: 0, restoredFolders: 0, restoredBytes: 0, skipped: [], failed: [], targetRoot: o.folder ? `/${o.folder}` : '/' };
  }

  protected req(what: string): PimRequest {
    return { what, owner: this.o.target.owner, ...(this.o.signal ? { signal: this.o.signal } : {}) };
  }

  protected done(item: ItemView): void {
    this.result.restoredFiles++;
    this.result.restoredBytes += item.size;
    this.progress.doneFiles++;
    this.progress.doneBytes += item.size;
    this.o.onProgress?.({ ...this.progress });
  }

  /** Runs one item's restore; a failure of that item is reported, the restore goes on. */
  protected async each(item: ItemView, fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      if (this.o.signal?.aborted || (err instanceof CloudError && (err.code === 'M365_NO_MAILBOX' || err.code === 'M365_PERMISSION_MISSING' || err.code === 'M365_AUTH_FAILED' || err.code === 'M365_CANCELLED'))) throw err;
      this.result.failed.push({ path: item.path, reason: (err as Error).message });
    }
  }

  protected start(files: ItemView[]): void {
    this.progress.totalFiles = files.length;
    this.progress.totalBytes = files.reduce((n, f) => n + f.size, 0);
    this.o.onProgress?.({ ...this.progress });
  }
}

class CalendarRestore extends PimRestore {
  private targetCalendars: GraphCalendar[] | null = null;
  private readonly calendarIds = new Map<string, string>();
  /** The events already in a target calendar (for conflicts), listed once. */
  private readonly existing = new Map<string, GraphEvent[]>();

  async run(): Promise<DriveRestoreResult> {
    const { files, folders } = await collect(this.store, this.o.pointId, this.o.paths);
    const events = files.filter((f) => (f.extra as EventExtra | null)?.type === 'event');
    this.start(events);
    const ids = new Set(events.map((e) => e.id));
    // Series and single events first, each series with its exceptions; an exception chosen without its series is made a single event.
    const exceptionsOf = new Map<string, ItemView[]>();
    const heads: ItemView[] = [];
    for (const e of events) {
      const x = e.extra as EventExtra;
      if (x.eventType === 'exception' && x.seriesMasterId && ids.has(x.seriesMasterId)) exceptionsOf.set(x.seriesMasterId, [...(exceptionsOf.get(x.seriesMasterId) ?? []), e]);
      else heads.push(e);
    }
    for (const e of heads) {
      await this.each(e, async () => {
        const calendarId = await this.calendarFor(e.parentId ? folders.get(e.parentId) : undefined);
        await this.restoreEvent(e, calendarId, exceptionsOf.get(e.id) ?? []);
      });
    }
    return this.result;
  }

  /** The target calendar of a source calendar (made when missing). */
  private async calendarFor(source: ItemView | undefined): Promise<string> {
    const graph = (source?.extra as CalendarExtra | null)?.graph ?? {};
    const name = this.o.folder ?? (typeof graph.name === 'string' ? graph.name : (source?.name ?? 'Calendar'));
    const key = this.o.folder === null && graph.isDefaultCalendar === true ? '\u0000default' : name.toLowerCase();
    const known = this.calendarIds.get(key);
    if (known) return known;
    const label = this.o.target.label;
    this.targetCalendars ??= await listCalendars(this.o.graph, this.o.target.userPath, this.req(`list the calendars of ${label}`));
    let cal = key === '\u0000default' ? this.targetCalendars.find((c) => c.isDefaultCalendar) : this.targetCalendars.find((c) => c.name.toLowerCase() === name.toLowerCase());
    if (!cal) {
      cal = await pimWrite<GraphCalendar>(this.o.graph, `${this.o.target.userPath}/calendars`, 'POST', { name }, this.req(`make calendar ${name} for ${label}`));
      this.targetCalendars.push(cal);
      this.result.restoredFolders++;
    }
    this.calendarIds.set(key, cal.id);
    return cal.id;
  }

  private async existingIn(calendarId: string): Promise<GraphEvent[]> {
    let list = this.existing.get(calendarId);
    if (!list) {
      list = [];
      for await (const page of listAll<GraphEvent>(this.o.graph, `${this.o.target.userPath}/calendars/${encodeURIComponent(calendarId)}/events?$top=100&$select=id,iCalUId,subject,start,type`, this.req(`list the events of a calendar of ${this.o.target.label}`))) list.push(...page);
      this.existing.set(calendarId, list);
    }
    return list;
  }

  private async restoreEvent(item: ItemView, calendarId: string, exceptions: ItemView[]): Promise<void> {
    const x = item.extra as EventExtra;
    const g = x.graph as GraphEvent;
    const asSingle = x.eventType === 'exception';
    const start = graphTime(g.start)?.getTime();
    const clash = (await this.existingIn(calendarId)).find((e) => (g.iCalUId && e.iCalUId === g.iCalUId && !asSingle) || ((e.subject ?? '') === (g.subject ?? '') && graphTime(e.start)?.getTime() === start));
    if (clash) {
      if (this.o.conflict === 'skip') {
        this.result.skipped.push({ path: item.path, reason: `an event "${g.subject ?? ''}" at the same time (or the same event) is already in the target calendar of ${this.o.target.label}` });
        return;
      }
      if (this.o.conflict === 'replace') await pimDelete(this.o.graph, `${this.o.target.userPath}/events/${encodeURIComponent(clash.id)}`, this.req(`delete the event that ${item.path} replaces`));
    }
    const body = pick(g, EVENT_FIELDS);
    if (body.location) body.location = pick(body.location as Record<string, unknown>, ['displayName', 'locationType', 'address', 'coordinates', 'locationEmailAddress', 'locationUri']);
    if (x.eventType === 'seriesMaster' && g.recurrence) body.recurrence = cleanRecurrence(g.recurrence);
    const created = await pimWrite<GraphEvent>(this.o.graph, `${this.o.target.userPath}/calendars/${encodeURIComponent(calendarId)}/events`, 'POST', body, this.req(`recreate ${item.path} for ${this.o.target.label}`));
    this.done(item);
    if (x.eventType === 'seriesMaster' && (exceptions.length > 0 || (x.cancelledOccurrences ?? []).length > 0)) await this.applyInstances(item, created, exceptions, x.cancelledOccurrences ?? []);
  }

  /** The series' exceptions (PATCH of their occurrence) and cancelled occurrences (DELETE) on the new series. */
  private async applyInstances(master: ItemView, created: GraphEvent, exceptions: ItemView[], cancelled: string[]): Promise<void> {
    const originals = [...exceptions.map((e) => (e.extra as EventExtra).graph.originalStart as string), ...cancelled].map((s) => Date.parse(s)).filter((t) => !Number.isNaN(t));
    if (originals.length === 0) return;
    const from = new Date(Math.min(...originals) - DAY);
    const to = new Date(Math.max(...originals) + DAY);
    const instances = await listInstances(this.o.graph, this.o.target.userPath, created.id, from, to, this.req(`list the occurrences of the restored ${master.path}`));
    const find = (original: number): GraphEvent | undefined =>
      instances.find((i) => {
        const t = i.originalStart ? Date.parse(i.originalStart) : graphTime(i.start)?.getTime();
        return t !== undefined && Math.abs(t - original) < MATCH_TOLERANCE;
      });
    for (const ex of exceptions) {
      await this.each(ex, async () => {
        const g = (ex.extra as EventExtra).graph as GraphEvent;
        const occ = find(Date.parse(g.originalStart ?? ''));
        if (!occ) throw new CloudError('M365_NOT_FOUND', `the restored series has no occurrence at ${g.originalStart ?? '?'} to change`);
        const body = pick(g, EVENT_FIELDS);
        if (body.location) body.location = pick(body.location as Record<string, unknown>, ['displayName', 'locationType', 'address', 'coordinates', 'locationEmailAddress', 'locationUri']);
        await pimWrite(this.o.graph, `${this.o.target.userPath}/events/${encodeURIComponent(occ.id)}`, 'PATCH', body, this.req(`change the occurrence ${ex.path} of the restored series`));
        this.done(ex);
      });
    }
    for (const c of cancelled) {
      const occ = find(Date.parse(c));
      if (!occ) continue; // not in the new series either
      await this.each(master, () => pimDelete(this.o.graph, `${this.o.target.userPath}/events/${encodeURIComponent(occ.id)}`, this.req(`cancel the occurrence at ${c} of the restored ${master.path}`)));
    }
  }
}

/** A recurrence as Graph accepts it back: a numbered range without an end date, an end-dated one without a count. */
function cleanRecurrence(r: NonNullable<GraphEvent['recurrence']>): Record<string, unknown> {
  const range: Record<string, unknown> = { type: r.range.type, startDate: r.range.startDate, ...(r.range.recurrenceTimeZone ? { recurrenceTimeZone: r.range.recurrenceTimeZone } : {}) };
  if (r.range.type === 'numbered') range.numberOfOccurrences = r.range.numberOfOccurrences;
  if (r.range.type === 'endDate') range.endDate = r.range.endDate;
  const p = r.pattern;
  const pattern: Record<string, unknown> = { type: p.type, interval: p.interval };
  if (p.daysOfWeek?.length) pattern.daysOfWeek = p.daysOfWeek;
  if (p.type.endsWith('Yearly') && p.month) pattern.month = p.month;
  if (p.type.startsWith('absolute') && p.dayOfMonth) pattern.dayOfMonth = p.dayOfMonth;
  if (p.type.startsWith('relative') && p.index) pattern.index = p.index;
  if (p.type === 'weekly' && p.firstDayOfWeek) pattern.firstDayOfWeek = p.firstDayOfWeek;
  return { pattern, range };
}

class ContactsRestore extends PimRestore {
  private targetFolders: GraphContactFolder[] | null = null;
  /** Target folder path ("" the default folder) by key. */
  private readonly folderPaths = new Map<string, string>();
  private readonly existing = new Map<string, GraphContact[]>();

  async run(): Promise<DriveRestoreResult> {
    const { files, folders } = await collect(this.store, this.o.pointId, this.o.paths);
    const contacts = files.filter((f) => (f.extra as ContactExtra | null)?.type === 'contact');
    this.start(contacts);
    for (const c of contacts) {
      await this.each(c, async () => {
        const folder = await this.folderFor(c.parentId ? folders.get(c.parentId) : undefined);
        await this.restoreContact(c, folder);
      });
    }
    return this.result;
  }

  /** The Graph path of the target folder's contacts ("/contacts" for the default folder). */
  private async folderFor(source: ItemView | undefined): Promise<string> {
    const isDefault = (source?.extra as ContactFolderExtra | null)?.isDefault === true;
    const name = this.o.folder ?? source?.name ?? 'Contacts';
    const key = this.o.folder === null && isDefault ? '\u0000default' : name.toLowerCase();
    const known = this.folderPaths.get(key);
    if (known !== undefined) return known;
    let path: string;
    if (key === '\u0000default') path = `${this.o.target.userPath}/contacts`;
    else {
      const label = this.o.target.label;
      this.targetFolders ??= await listContactFolders(this.o.graph, this.o.target.userPath, this.req(`list the contact folders of ${label}`));
      let f = this.targetFolders.find((x) => x.displayName.toLowerCase() === name.toLowerCase());
      if (!f) {
        f = await pimWrite<GraphContactFolder>(this.o.graph, `${this.o.target.userPath}/contactFolders`, 'POST', { displayName: name }, this.req(`make contact folder ${name} for ${label}`));
        this.targetFolders.push(f);
        this.result.restoredFolders++;
      }
      path = `${this.o.target.userPath}/contactFolders/${encodeURIComponent(f.id)}/contacts`;
    }
    this.folderPaths.set(key, path);
    return path;
  }

  private async existingIn(folderPath: string): Promise<GraphContact[]> {
    let list = this.existing.get(folderPath);
    if (!list) {
      list = [];
      for await (const page of listAll<GraphContact>(this.o.graph, `${folderPath}?$top=100&$select=id,displayName,emailAddresses`, this.req(`list the contacts of a folder of ${this.o.target.label}`))) list.push(...page);
      this.existing.set(folderPath, list);
    }
    return list;
  }

  private async restoreContact(item: ItemView, folderPath: string): Promise<void> {
    const x = item.extra as ContactExtra;
    const g = x.graph as GraphContact;
    const firstEmail = (x.emails[0] ?? '').toLowerCase();
    const clash = (await this.existingIn(folderPath)).find((c) => (c.displayName ?? '') === x.displayName && (c.emailAddresses?.[0]?.address ?? '').toLowerCase() === firstEmail);
    if (clash) {
      if (this.o.conflict === 'skip') {
        this.result.skipped.push({ path: item.path, reason: `a contact "${x.displayName}"${firstEmail ? ` <${firstEmail}>` : ''} is already in the target folder of ${this.o.target.label}` });
        return;
      }
      if (this.o.conflict === 'replace') await pimDelete(this.o.graph, `${this.o.target.userPath}/contacts/${encodeURIComponent(clash.id)}`, this.req(`delete the contact that ${item.path} replaces`));
    }
    const body = pick(g, CONTACT_FIELDS);
    if (Array.isArray(body.emailAddresses)) body.emailAddresses = (body.emailAddresses as { address?: string; name?: string }[]).filter((e) => e.address).map((e) => ({ address: e.address, ...(e.name ? { name: e.name } : {}) }));
    const photo = x.hasPhoto ? await this.photoOf(item) : null;
    const created = await pimWrite<GraphContact>(this.o.graph, folderPath, 'POST', body, this.req(`recreate ${item.path} for ${this.o.target.label}`));
    if (photo) await putContactPhoto(this.o.graph, this.o.target.userPath, created.id, photo, this.req(`put back the photo of ${item.path}`));
    this.done(item);
  }

  /** The photo in the stored vCard. */
  private async photoOf(item: ItemView): Promise<{ bytes: Buffer; contentType: string } | null> {
    const parts: Buffer[] = [];
    for await (const b of this.store.readContent(this.o.pointId, item.id)) parts.push(b);
    return vcardPhoto(new ICAL.Component(ICAL.parse(Buffer.concat(parts).toString('utf8')) as unknown[]));
  }
}
