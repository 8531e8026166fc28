/**
 * A mailbox's calendars and contacts. Events are single instances or recurring series (a
 * seriesMaster with a daily or weekly numbered recurrence); a series expands into occurrences,
 * and an occurrence changed on its own becomes an exception (type 'exception', its
 * originalStart kept); a cancelled occurrence disappears. Contacts live in contact folders (the
 * default one is 'contacts'). Changes bump sequence numbers shared with the mailbox, so delta
 * works as for messages.
 */
import { randomBytes } from 'node:crypto';

const newId = (prefix: string): string => `${prefix}${randomBytes(30).toString('base64url')}`;
const DAY = 86_400_000;

export interface Recurrence {
  type: 'daily' | 'weekly';
  interval: number;
  numberOfOccurrences: number;
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

  addEvent(e: { subject: string; start: Date; end: Date; recurrence?: Recurrence; calendarId?: string; body?: string }): EventRecord {
    const now = new Date();
    const rec: EventRecord = {
      id: newId('AAMkEvt'),
      calendarId: e.calendarId ?? this.defaultCalendar.id,
      subject: e.subject,
      start: e.start,
      end: e.end,
      type: e.recurrence ? 'seriesMaster' : 'singleInstance',
      ...(e.recurrence ? { recurrence: e.recurrence } : {}),
      iCalUId: `040000008200E00074C5B7101A82E008${randomBytes(24).toString('hex').toUpperCase()}`,
      body: e.body ?? '',
      version: 1,
      changeSeq: this.nextSeq(),
      createdDateTime: now,
      lastModifiedDateTime: now,
    };
    this.events.set(rec.id, rec);
    return rec;
  }

  updateEvent(e: EventRecord, changes: Partial<Pick<EventRecord, 'subject' | 'start' | 'end' | 'body'>>): void {
    Object.assign(e, changes);
    e.version++;
    e.lastModifiedDateTime = new Date();
    e.changeSeq = this.nextSeq();
  }

  /** The n-th occurrence (0-based) of a series changed on its own: it becomes an exception. */
  addException(master: EventRecord, index: number, changes: { subject?: string; start?: Date; end?: Date }): EventRecord {
    const occ = this.occurrenceTimes(master)[index];
    if (!occ) throw new Error(`series ${master.subject} has no occurrence ${index}`);
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
      body: master.body,
      version: 1,
      changeSeq: this.nextSeq(),
      createdDateTime: now,
      lastModifiedDateTime: now,
    };
    this.events.set(ex.id, ex);
    return ex;
  }

  /** Deletes the n-th occurrence of a series alone. */
  cancelOccurrence(master: EventRecord, index: number): void {
    const occ = this.occurrenceTimes(master)[index];
    if (!occ) throw new Error(`series ${master.subject} has no occurrence ${index}`);
    this.cancelled.set(occurrenceId(master, occ.start), this.nextSeq());
  }

  deleteEvent(e: EventRecord): void {
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
    return Array.from({ length: r.numberOfOccurrences }, (_v, i) => ({ start: new Date(master.start.getTime() + i * step), end: new Date(master.start.getTime() + i * step + len) }));
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

  addContact(c: { displayName: string; givenName?: string; surname?: string; email?: string; mobilePhone?: string; folder?: string }): ContactRecord {
    const folder = this.contactFolder(c.folder ?? 'contacts') ?? this.addContactFolder(c.folder!);
    const now = new Date();
    const rec: ContactRecord = {
      id: newId('AAMkCon'),
      folderId: folder.id,
      displayName: c.displayName,
      ...(c.givenName !== undefined ? { givenName: c.givenName } : {}),
      ...(c.surname !== undefined ? { surname: c.surname } : {}),
      emailAddresses: c.email !== undefined ? [{ name: c.displayName, address: c.email }] : [],
      ...(c.mobilePhone !== undefined ? { mobilePhone: c.mobilePhone } : {}),
      version: 1,
      changeSeq: this.nextSeq(),
      createdDateTime: now,
      lastModifiedDateTime: now,
    };
    this.contacts.set(rec.id, rec);
    return rec;
  }

  updateContact(c: ContactRecord, changes: Partial<Pick<ContactRecord, 'displayName' | 'givenName' | 'surname' | 'mobilePhone'>>): void {
    Object.assign(c, changes);
    c.version++;
    c.lastModifiedDateTime = new Date();
    c.changeSeq = this.nextSeq();
  }

  deleteContact(c: ContactRecord): void {
    this.contacts.delete(c.id);
    this.removedContacts.push({ id: c.id, folderId: c.folderId, seq: this.nextSeq() });
  }
}

export function occurrenceId(master: EventRecord, originalStart: Date): string {
  return `${master.id}OCC${originalStart.toISOString().replace(/[-:.]/g, '')}`;
}
