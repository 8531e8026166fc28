/**
 * A user's calendars backed up as one point of the object m365:<dir>:calendar:<user id>
 * (model.ts): calendars as folders, events as VCALENDAR files with their Graph resource in
 * `extra`.
 *
 * Why by comparison and not by delta: Graph v1.0 offers delta for events only as
 * `calendarView/delta`, which needs a time window (events outside it are never seen) and lists
 * instances, not series: the masters with their recurrence are missing and a daily series
 * without an end is thousands of occurrences. So every backup lists each calendar's events
 * (single instances and series masters, paged) and compares each `changeKey` with the one
 * stored; only a new or changed event is stored again. A series' exceptions and cancelled
 * occurrences live inside its master in Exchange ([MS-OXOCAL]: an exception is an
 * Exception Attachment object of the series' item; changing or deleting an instance saves the series),
 * so they change the master's changeKey: only then are its instances read
 * (`events/{id}/instances` over the series' range); exceptions are stored as their own files,
 * cancelled occurrences as EXDATEs of the master. What the listing no longer has is
 * tombstoned. A series without an end is read up to two years ahead.
 */
import { CloudError } from '../graph/cloud-errors.js';
import { listCalendarEvents, listCalendars, listInstances, type GraphCalendar, type GraphEvent } from '../graph/pim-items.js';
import type { DriveBackupResult } from '../drive-backup.js';
import { openObjectStore, type ObjectStore } from '../metadata/index.js';
import { RepositoryError, type RepositoryLogger } from '../../repository/index.js';
import { eventToIcs, expandSeries, graphTime } from './ics.js';
import { exchangeFileName, type CalendarExtra, type EventExtra, type ExchangeBackupOptions, type ExchangeRootExtra } from './model.js';
import { folderName, keepAsItWas, newProgress, previousIndex, resultOf, ROOT_ID, silentLogger, type IndexedItem } from './pim-store.js';

const DAY = 86_400_000;
/** How far ahead a series without an end is read for its exceptions. */
const NO_END_HORIZON = 2 * 365 * DAY;
/** An occurrence found within this of where the RRULE puts it is that occurrence (daylight-saving shifts). */
const MATCH_TOLERANCE = 3 * 3_600_000;

export async function backupCalendars(o: ExchangeBackupOptions): Promise<DriveBackupResult> {
  const log = (o.logger ?? silentLogger).child({ module: 'calendar-backup', object: o.objectKey });
  const store = await openObjectStore(o.repo, o.objectKey, { workDir: o.workDir, logger: log, ...(o.packSize ? { packSize: o.packSize } : {}) });
  try {
    return await new CalendarBackup(o, store, log).run();
  } finally {
    await store.close();
  }
}

class CalendarBackup {
  private readonly warnings: string[] = [];
  private readonly progress = newProgress();
  private readonly seen = new Set<string>();
  private previous = new Map<string, IndexedItem>();
  private mode: 'full' | 'incremental' = 'full';

  constructor(
    private readonly o: ExchangeBackupOptions,
    private readonly store: ObjectStore,
    private readonly log: RepositoryLogger,
  ) {}

  private req(what: string): { what: string; owner: string; signal?: AbortSignal } {
    return { what, owner: this.o.owner, ...(this.o.signal ? { signal: this.o.signal } : {}) };
  }

  async run(): Promise<DriveBackupResult> {
    const { store, o } = this;
    // Asked first: a user without a mailbox fails here (M365_NO_MAILBOX) before anything is stored.
    const calendars = await listCalendars(o.graph, o.userPath, this.req(`list the calendars of ${o.label}`));
    this.previous = await previousIndex(store);
    const fresh = o.full === true || store.baseline === 'none' || store.baseline === 'lost' || this.previous.size === 0;
    this.mode = fresh ? 'full' : 'incremental';
    await store.beginPoint({ mode: this.mode, ...(o.source !== undefined ? { source: o.source } : {}) });
    try {
      store.upsertItem({ id: ROOT_ID, parentId: null, name: '', kind: 'folder', extra: { type: 'root' } satisfies ExchangeRootExtra });
      this.seen.add(ROOT_ID);
      const names = new Set<string>();
      for (const cal of calendars) {
        let name = folderName(cal.name, 'Calendar');
        // Graph refuses two calendars of one name, but two names may clean to the same one.
        for (let i = 2; names.has(name.toLowerCase()); i++) name = `${folderName(cal.name, 'Calendar')} (${i})`;
        names.add(name.toLowerCase());
        store.upsertItem({ id: cal.id, parentId: ROOT_ID, name, kind: 'folder', extra: { type: 'calendar', graph: strip(cal) } satisfies CalendarExtra });
        this.seen.add(cal.id);
        await this.calendar(cal, name);
      }
      // Whatever the listings no longer have is gone (in a full point closeUnseen does the same).
      for (const id of this.previous.keys()) if (!this.seen.has(id)) store.markDeleted(id);
      this.progress.enumerated = true;
      o.onProgress?.({ ...this.progress });
      o.signal?.throwIfAborted();
      const point = await store.commitPoint({ state: {}, summary: { warnings: this.warnings.length, downloadedFiles: this.progress.downloadedFiles, downloadedBytes: this.progress.downloadedBytes } });
      return resultOf(point, this.mode, false, this.progress, this.warnings);
    } catch (err) {
      await store.abortPoint().catch(() => undefined);
      throw err;
    }
  }

  private async calendar(cal: GraphCalendar, name: string): Promise<void> {
    try {
      for await (const events of listCalendarEvents(this.o.graph, this.o.userPath, cal.id, this.req(`list the events of calendar ${name} of ${this.o.label}`))) {
        for (const e of events) await this.event(cal, name, e);
      }
    } catch (err) {
      if (!isItemFailure(err, this.o.signal)) throw err;
      // The calendar as a whole could not be read: what it had stays as it was.
      this.warn(`calendar ${name} could not be listed, its events are kept as they were: ${(err as Error).message}`);
      for (const [id, item] of this.previous) if (item.parentId === cal.id) this.keep(id);
    }
  }

  private async event(cal: GraphCalendar, calName: string, e: GraphEvent): Promise<void> {
    const { store } = this;
    this.progress.items++;
    this.seen.add(e.id);
    const name = exchangeFileName(e.subject ?? '', e.id, 'ics');
    const cur = store.currentItem(e.id);
    const unchanged = cur !== null && e.changeKey !== undefined && cur.eTag === e.changeKey && cur.parentId === cal.id && cur.name === name && cur.blobs !== null && store.hasContent(cur.blobs);
    if (unchanged) {
      if (this.mode === 'full') keepAsItWas(store, e.id);
      for (const [id, item] of this.previous) if (item.seriesMasterId === e.id) this.keep(id);
      return;
    }
    try {
      let exceptions: GraphEvent[] = [];
      let cancelled: string[] = [];
      if (e.type === 'seriesMaster' && e.recurrence) ({ exceptions, cancelled } = await this.instances(e, calName));
      for (const x of exceptions) {
        this.seen.add(x.id);
        await this.store1(cal.id, x, exchangeFileName(x.subject ?? '', x.id, 'ics'), []);
      }
      await this.store1(cal.id, e, name, cancelled);
    } catch (err) {
      if (!isItemFailure(err, this.o.signal)) throw err;
      this.warn(`${calName}/${name} could not be backed up, it is kept as it was and read again next time: ${(err as Error).message}`);
      this.keep(e.id);
      for (const [id, item] of this.previous) if (item.seriesMasterId === e.id) this.keep(id);
    }
  }

  /** A series' exceptions, and its occurrences the RRULE has that Graph no longer lists (cancelled). */
  private async instances(master: GraphEvent, calName: string): Promise<{ exceptions: GraphEvent[]; cancelled: string[] }> {
    const start = graphTime(master.start) ?? new Date(`${master.recurrence!.range.startDate}T00:00:00Z`);
    const from = new Date(Math.min(start.getTime(), Date.parse(`${master.recurrence!.range.startDate}T00:00:00Z`)) - DAY);
    const to = seriesEnd(master, start);
    const list = await listInstances(this.o.graph, this.o.userPath, master.id, from, to, this.req(`list the occurrences of ${calName}/${master.subject ?? ''} of ${this.o.label}`));
    const present = list.map((i) => (i.originalStart ? new Date(i.originalStart) : graphTime(i.start))).filter((d): d is Date => d !== null).map((d) => d.getTime());
    const cancelled = expandSeries(master, from, to)
      .filter((d) => !present.some((p) => Math.abs(p - d.getTime()) < MATCH_TOLERANCE))
      .map((d) => d.toISOString());
    return { exceptions: list.filter((i) => i.type === 'exception'), cancelled };
  }

  private async store1(calendarId: string, e: GraphEvent, name: string, cancelled: string[]): Promise<void> {
    const ics = Buffer.from(eventToIcs(e, { cancelledOccurrences: cancelled }), 'utf8');
    const content = await this.store.putContent(ics);
    const start = graphTime(e.start);
    const end = graphTime(e.end);
    const org = e.organizer?.emailAddress;
    const extra: EventExtra = {
      type: 'event',
      subject: e.subject ?? '',
      start: start?.toISOString() ?? null,
      end: end?.toISOString() ?? null,
      isAllDay: e.isAllDay === true,
      eventType: e.type ?? 'singleInstance',
      seriesMasterId: e.seriesMasterId ?? null,
      location: e.location?.displayName || null,
      organizer: org?.address ? { name: org.name ?? null, address: org.address } : null,
      graph: strip(e),
      ...(e.type === 'seriesMaster' ? { cancelledOccurrences: cancelled } : {}),
    };
    this.store.upsertItem({ id: e.id, parentId: calendarId, name, kind: 'file', size: ics.length, content, createdAt: e.createdDateTime ?? null, modifiedAt: e.lastModifiedDateTime ?? null, eTag: e.changeKey ?? null, extra });
    this.progress.downloadedFiles++;
    this.progress.downloadedBytes += ics.length;
    this.o.onProgress?.({ ...this.progress });
  }

  private keep(id: string): void {
    this.seen.add(id);
    if (this.mode === 'full') keepAsItWas(this.store, id);
  }

  private warn(message: string): void {
    this.warnings.push(message);
    this.progress.warnings++;
    this.log.warn({}, message);
    this.o.onProgress?.({ ...this.progress });
  }
}

/** Where a series ends (generously: its instances are asked for up to there). */
function seriesEnd(master: GraphEvent, start: Date): Date {
  const r = master.recurrence!;
  if (r.range.type === 'endDate' && r.range.endDate && !r.range.endDate.startsWith('0001')) return new Date(Date.parse(`${r.range.endDate}T00:00:00Z`) + 2 * DAY);
  if (r.range.type === 'numbered' && r.range.numberOfOccurrences) {
    const span = { daily: 1, weekly: 7, absoluteMonthly: 31, relativeMonthly: 31, absoluteYearly: 366, relativeYearly: 366 }[r.pattern.type] ?? 366;
    return new Date(start.getTime() + (r.range.numberOfOccurrences * Math.max(1, r.pattern.interval || 1) * span + 2) * DAY);
  }
  return new Date(Math.max(Date.now(), start.getTime()) + NO_END_HORIZON);
}

/** Graph's resource without its OData annotations. */
export function strip<T extends object>(x: T): Record<string, unknown> {
  return Object.fromEntries(Object.entries(x).filter(([k]) => !k.startsWith('@odata.')));
}

/** A failure of one item (a warning) rather than of the whole backup (no mailbox, no permission, cancelled, unreachable). */
export function isItemFailure(err: unknown, signal: AbortSignal | undefined): boolean {
  if (signal?.aborted || err instanceof RepositoryError) return false;
  if (!(err instanceof CloudError)) return true; // e.g. an event ical.js cannot express
  return err.code === 'M365_REQUEST_FAILED' || err.code === 'M365_NOT_FOUND';
}
