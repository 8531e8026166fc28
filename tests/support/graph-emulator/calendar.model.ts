/**
 * A mailbox's calendars and contacts. Events are single instances or recurring series (a
 * seriesMaster with a daily or weekly recurrence, numbered or to an end date); a series expands
 * into occurrences, and an occurrence changed on its own becomes an exception (type 'exception',
 * its originalStart kept); a cancelled occurrence disappears. Exchange keeps exceptions and the
 * list of deleted occurrences inside the series' own item ([MS-OXOCAL]: an exception is an
 * Exception Attachment object of the series; changing or deleting an instance saves the series), so
 * every change to an instance gives the master a new changeKey here too. Contacts live in
 * contact folders (the default one is 'contacts') and may have a photo. Changes bump sequence
 * numbers shared with the mailbox, so delta works as for messages.
 */
import { randomBytes } from 'node:crypto';

const newId = (prefix: string): string => `${prefix}${randomBytes(30).toString('base64url')}`;
const DAY = 86_400_000;

/** A daily or weekly recurrence (weekly on the first occurrence's weekday), numbered or up to an end date (YYYY-MM-DD, inclusive). */
export interface Recurrence {
  type: 'daily' | 'weekly';
  interval: number;
  numberOfOccurrences?: number;
  endDate?: string;
}

export interface EventRecord {
  id: string;
  calendarId: string;
  subject: string;
  start: Date;
  end: Date;
  type: 'singleInstance' | 'seriesMaster' | 'exception';
  recurrence?: Recurrence;
  seriesMasterId?: string;
  originalStart?: Date;
  iCalUId: string;
  body: string;
  bodyType?: 'text' | 'html';
  location?: string;
  isAllDay?: boolean;
  version: number;
  changeSeq: number;
  createdDateTime: Date;
  lastModifiedDateTime: Date;
}

/** An event as a calendarView lists it: a single instance, an occurrence or an exception. */
export interface EventInstance {
  id: string;
  type: 'singleInstance' | 'occurrence' | 'exception';
  source: EventRecord;
  master?: EventRecord;
  start: Date;
  end: Date;
  originalStart?: Date;
  changeSeq: number;
}

export interface CalendarRecord {
  id: string;
  name: string;
  isDefault: boolean;
}

export interface ContactRecord {
  id: string;
  folderId: string;
  displayName: string;
  givenName?: string;
  surname?: string;
  emailAddresses: { name?: string; address: string }[];
  mobilePhone?: string;
  businessPhones?: string[];
  homePhones?: string[];
  companyName?: string;
  jobTitle?: string;
  personalNotes?: string;
  /** The contact's photo (GET/PUT contacts/{id}/photo/$value). */
  photo?: { bytes: Buffer; contentType: string };
  version: number;
  changeSeq: number;
  createdDateTime: Date;
  lastModifiedDateTime: Date;
}

export interface ContactFolderRecord {
  id: string;
  displayName: string;
  parentFolderId: string;
  wellKnownName?: string;
}

export class Pim {
  readonly calendars: CalendarRecord[] = [{ id: newId('AAMkCal'), name: 'Calendar', isDefault: true }];
  readonly events = new Map<string, EventRecord>();
  /** Occurrence ids that were cancelled (deleted alone) with the sequence they went at. */
  readonly cancelled = new Map<string, number>();
  readonly removedEvents: { id: string; seq: number }[] = [];
  readonly contactFolders: ContactFolderRecord[];
  readonly contacts = new Map<string, ContactRecord>();
  readonly removedContacts: { id: string; folderId: string; seq: number }[] = [];
  /** Contact id → how GET photo/$value fails (failPhoto). */
  readonly photoFailures = new Map<string, { status: number; times: number }>();

  constructor(private readonly nextSeq: () => number) {
    this.contactFolders = [{ id: newId('AAMkConF'), displayName: 'Contacts', parentFolderId: newId('AAMkRoot'), wellKnownName: 'contacts' }];
  }

  get defaultCalendar(): CalendarRecord {
    return this.calendars[0]!;
  }

  addCalendar(name: string): CalendarRecord {
    const c = { id: newId('AAMkCal'), name, isDefault: false };
    this.calendars.push(c);
    return c;
  }

  calendar(id: string): CalendarRecord | undefined {
    return this.calendars.find((c) => c.id === id);
  }

  addEvent(e: { subject: string; start: Date; end: Date; recurrence?: Recurrence; calendarId?: string; body?: string; bodyType?: 'text' | 'html'; location?: string; isAllDay?: boolean; iCalUId?: string }): EventRecord {
    const now = new Date();
    const rec: EventRecord = {
      id: newId('AAMkEvt'),
      calendarId: e.calendarId ?? this.defaultCalendar.id,
      subject: e.subject,
      start: e.start,
      end: e.end,
      type: e.recurrence ? 'seriesMaster' : 'singleInstance',
      ...(e.recurrence ? { recurrence: e.recurrence } : {}),
      iCalUId: e.iCalUId ?? `040000008200E00074C5B7101A82E008${randomBytes(24).toString('hex').toUpperCase()}`,
      body: e.body ?? '',
      ...(e.bodyType !== undefined ? { bodyType: e.bodyType } : {}),
      ...(e.location !== undefined ? { location: e.location } : {}),
      ...(e.isAllDay !== undefined ? { isAllDay: e.isAllDay } : {}),
      version: 1,
      changeSeq: this.nextSeq(),
      createdDateTime: now,
      lastModifiedDateTime: now,
    };
    this.events.set(rec.id, rec);
    return rec;
  }

  updateEvent(e: EventRecord, changes: Partial<Pick<EventRecord, 'subject' | 'start' | 'end' | 'body' | 'bodyType' | 'location' | 'isAllDay'>>): void {
    Object.assign(e, changes);
    this.touch(e);
    const master = e.seriesMasterId !== undefined ? this.events.get(e.seriesMasterId) : undefined;
    if (master) this.touch(master);
  }

  /** A new version of an event (a new changeKey). */
  private touch(e: EventRecord): void {
    e.version++;
    e.lastModifiedDateTime = new Date();
    e.changeSeq = this.nextSeq();
  }

  /** The n-th occurrence (0-based) of a series changed on its own: it becomes an exception. */
  addException(master: EventRecord, index: number, changes: { subject?: string; start?: Date; end?: Date; body?: string; location?: string }): EventRecord {
    const occ = this.occurrenceTimes(master)[index];
    if (!occ) throw new Error(`series ${master.subject} has no occurrence ${index}`);
    return this.exceptionAt(master, occ, changes);
  }

  /** The occurrence of a series that starts (originally) at `originalStart` changed on its own. */
  exceptionAt(master: EventRecord, occ: { start: Date; end: Date }, changes: { subject?: string; start?: Date; end?: Date; body?: string; location?: string }): EventRecord {
    const now = new Date();
    const ex: EventRecord = {
      id: newId('AAMkExc'),
      calendarId: master.calendarId,
      subject: changes.subject ?? master.subject,
      start: changes.start ?? occ.start,
      end: changes.end ?? occ.end,
      type: 'exception',
      seriesMasterId: master.id,
      originalStart: occ.start,
      iCalUId: master.iCalUId,
      body: changes.body ?? master.body,
      ...(master.bodyType !== undefined ? { bodyType: master.bodyType } : {}),
      ...((changes.location ?? master.location) !== undefined ? { location: changes.location ?? master.location } : {}),
      ...(master.isAllDay !== undefined ? { isAllDay: master.isAllDay } : {}),
      version: 1,
      changeSeq: this.nextSeq(),
      createdDateTime: now,
      lastModifiedDateTime: now,
    };
    this.events.set(ex.id, ex);
    this.touch(master);
    return ex;
  }

  /** An occurrence's id (as instances and calendarView give it) → its series and original times. */
  occurrence(id: string): { master: EventRecord; start: Date; end: Date } | undefined {
    const cut = id.lastIndexOf('OCC');
    const master = cut > 0 ? this.events.get(id.slice(0, cut)) : undefined;
    if (!master) return undefined;
    const occ = this.occurrenceTimes(master).find((o) => occurrenceId(master, o.start) === id);
    if (!occ || this.cancelled.has(id) || this.exceptionOf(master, occ.start)) return undefined;
    return { master, ...occ };
  }

  exceptionOf(master: EventRecord, originalStart: Date): EventRecord | undefined {
    return [...this.events.values()].find((x) => x.seriesMasterId === master.id && x.originalStart!.getTime() === originalStart.getTime());
  }

  /** Cancels the occurrence (or exception) of a series that originally started at `originalStart`. */
  cancelAt(master: EventRecord, originalStart: Date): void {
    const ex = this.exceptionOf(master, originalStart);
    if (ex) this.events.delete(ex.id);
    const seq = this.nextSeq();
    this.cancelled.set(occurrenceId(master, originalStart), seq);
    if (ex) this.removedEvents.push({ id: ex.id, seq });
    this.touch(master);
  }

  /** Deletes the n-th occurrence of a series alone. */
  cancelOccurrence(master: EventRecord, index: number): void {
    const occ = this.occurrenceTimes(master)[index];
    if (!occ) throw new Error(`series ${master.subject} has no occurrence ${index}`);
    this.cancelAt(master, occ.start);
  }

  /** Deletes a single instance or a whole series; an exception is cancelled as its occurrence. */
  deleteEvent(e: EventRecord): void {
    const master = e.seriesMasterId !== undefined ? this.events.get(e.seriesMasterId) : undefined;
    if (e.type === 'exception' && master) {
      this.cancelAt(master, e.originalStart!);
      return;
    }
    const gone = e.type === 'seriesMaster' ? this.instancesOf(e).map((i) => i.id) : [e.id];
    this.events.delete(e.id);
    if (e.type === 'seriesMaster') for (const x of [...this.events.values()]) if (x.seriesMasterId === e.id) this.events.delete(x.id);
    const seq = this.nextSeq();
    for (const id of [e.id, ...gone]) this.removedEvents.push({ id, seq });
  }

  occurrenceTimes(master: EventRecord): { start: Date; end: Date }[] {
    const r = master.recurrence;
    if (!r) return [];
    const step = (r.type === 'daily' ? DAY : 7 * DAY) * r.interval;
    const len = master.end.getTime() - master.start.getTime();
    // An end date includes that whole day; a series without either is refused when created.
    const until = r.endDate !== undefined ? Date.parse(`${r.endDate}T00:00:00Z`) + DAY : Infinity;
    const count = r.numberOfOccurrences ?? Math.max(0, Math.ceil((until - master.start.getTime()) / step));
    return Array.from({ length: Math.min(count, 10_000) }, (_v, i) => ({ start: new Date(master.start.getTime() + i * step), end: new Date(master.start.getTime() + i * step + len) })).filter((o) => o.start.getTime() < until);
  }

  /** A series' occurrences and exceptions (cancelled ones left out). */
  instancesOf(master: EventRecord): EventInstance[] {
    const exceptions = [...this.events.values()].filter((x) => x.seriesMasterId === master.id);
    const out: EventInstance[] = [];
    for (const o of this.occurrenceTimes(master)) {
      const id = occurrenceId(master, o.start);
      if (this.cancelled.has(id)) continue;
      const ex = exceptions.find((x) => x.originalStart!.getTime() === o.start.getTime());
      if (ex) out.push({ id: ex.id, type: 'exception', source: ex, master, start: ex.start, end: ex.end, originalStart: o.start, changeSeq: Math.max(ex.changeSeq, master.changeSeq) });
      else out.push({ id, type: 'occurrence', source: master, master, start: o.start, end: o.end, originalStart: o.start, changeSeq: master.changeSeq });
    }
    return out;
  }

  /** What a calendarView of [start, end) lists: single instances, occurrences and exceptions that overlap it. */
  view(calendarId: string | undefined, start: Date, end: Date): EventInstance[] {
    const out: EventInstance[] = [];
    for (const e of this.events.values()) {
      if (calendarId !== undefined && e.calendarId !== calendarId) continue;
      if (e.type === 'singleInstance') out.push({ id: e.id, type: 'singleInstance', source: e, start: e.start, end: e.end, changeSeq: e.changeSeq });
      else if (e.type === 'seriesMaster') out.push(...this.instancesOf(e));
    }
    return out.filter((i) => i.start < end && i.end > start).sort((a, b) => a.start.getTime() - b.start.getTime());
  }

  // --- contacts ------------------------------------------------------------------------------

  contactFolder(ref: string): ContactFolderRecord | undefined {
    return this.contactFolders.find((f) => f.id === ref || f.wellKnownName === ref.toLowerCase() || f.displayName === ref);
  }

  addContactFolder(displayName: string): ContactFolderRecord {
    const f = { id: newId('AAMkConF'), displayName, parentFolderId: this.contactFolders[0]!.parentFolderId };
    this.contactFolders.push(f);
    return f;
  }

  /** `email` or `emails` (the first is the main one); `photo`: JPEG (or `photoType`) bytes. */
  addContact(c: {
    displayName: string;
    givenName?: string;
    surname?: string;
    email?: string;
    emails?: string[];
    mobilePhone?: string;
    businessPhones?: string[];
    homePhones?: string[];
    companyName?: string;
    jobTitle?: string;
    personalNotes?: string;
    photo?: Buffer;
    photoType?: string;
    folder?: string;
  }): ContactRecord {
    const folder = this.contactFolder(c.folder ?? 'contacts') ?? this.addContactFolder(c.folder!);
    const now = new Date();
    const rec: ContactRecord = {
      id: newId('AAMkCon'),
      folderId: folder.id,
      displayName: c.displayName,
      ...(c.givenName !== undefined ? { givenName: c.givenName } : {}),
      ...(c.surname !== undefined ? { surname: c.surname } : {}),
      emailAddresses: [...(c.email !== undefined ? [c.email] : []), ...(c.emails ?? [])].map((address) => ({ name: c.displayName, address })),
      ...(c.mobilePhone !== undefined ? { mobilePhone: c.mobilePhone } : {}),
      ...(c.businessPhones !== undefined ? { businessPhones: c.businessPhones } : {}),
      ...(c.homePhones !== undefined ? { homePhones: c.homePhones } : {}),
      ...(c.companyName !== undefined ? { companyName: c.companyName } : {}),
      ...(c.jobTitle !== undefined ? { jobTitle: c.jobTitle } : {}),
      ...(c.personalNotes !== undefined ? { personalNotes: c.personalNotes } : {}),
      ...(c.photo !== undefined ? { photo: { bytes: c.photo, contentType: c.photoType ?? 'image/jpeg' } } : {}),
      version: 1,
      changeSeq: this.nextSeq(),
      createdDateTime: now,
      lastModifiedDateTime: now,
    };
    this.contacts.set(rec.id, rec);
    return rec;
  }

  updateContact(c: ContactRecord, changes: Partial<Pick<ContactRecord, 'displayName' | 'givenName' | 'surname' | 'mobilePhone' | 'businessPhones' | 'homePhones' | 'companyName' | 'jobTitle' | 'personalNotes' | 'emailAddresses' | 'photo'>>): void {
    Object.assign(c, changes);
    c.version++;
    c.lastModifiedDateTime = new Date();
    c.changeSeq = this.nextSeq();
  }

  /** GET contacts/{id}/photo/$value answers `status` (500), `times` times (default: every time). */
  failPhoto(c: ContactRecord, how: { status?: number; times?: number } = {}): void {
    this.photoFailures.set(c.id, { status: how.status ?? 500, times: how.times ?? Infinity });
  }

  /** The failure a photo read answers now, if any. */
  takePhotoFailure(c: ContactRecord): number | undefined {
    const f = this.photoFailures.get(c.id);
    if (!f) return undefined;
    if (--f.times <= 0) this.photoFailures.delete(c.id);
    return f.status;
  }

  deleteContact(c: ContactRecord): void {
    this.contacts.delete(c.id);
    this.removedContacts.push({ id: c.id, folderId: c.folderId, seq: this.nextSeq() });
  }
}

export function occurrenceId(master: EventRecord, originalStart: Date): string {
  return `${master.id}OCC${originalStart.toISOString().replace(/[-:.]/g, '')}`;
}
