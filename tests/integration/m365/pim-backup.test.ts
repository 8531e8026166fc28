/**
 * Calendars and contacts of a user backed up by the cloud agent (exchange/calendar-backup.ts,
 * contacts-backup.ts) from the Graph emulator into a real encrypted repository: a calendar with
 * a recurring series, one changed occurrence and one cancelled, a second calendar, contacts in
 * two folders with photos; the metadata lists (pim-query.ts); incremental backups that read only
 * what changed (request log); an expired contacts delta compared in full, nothing deleted coming
 * back; a photo that cannot be read as a warning; a user without a mailbox; ICS and VCF exports
 * parsed with ical.js and compared with the emulator's data.
 */
import { Writable } from 'node:stream';
import * as path from 'node:path';
import ICAL from 'ical.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { m365ExchangeObjectKey } from '../../../common/m365-tasks.js';
import type { DriveBackupResult } from '../../../node-service/cloud/drive-backup.js';
import { backupCalendars } from '../../../node-service/cloud/exchange/calendar-backup.js';
import { backupContacts } from '../../../node-service/cloud/exchange/contacts-backup.js';
import { calendarExport } from '../../../node-service/cloud/exchange/ics.js';
import type { ExchangeBackupOptions } from '../../../node-service/cloud/exchange/model.js';
import { contentsUnder, listContacts, listEvents, recurrenceText } from '../../../node-service/cloud/exchange/pim-query.js';
import { contactsExport, vcardPhoto } from '../../../node-service/cloud/exchange/vcard.js';
import { CloudError } from '../../../node-service/cloud/graph/cloud-errors.js';
import { TenantSession } from '../../../node-service/cloud/graph/tenant-session.js';
import { openObjectStore } from '../../../node-service/cloud/metadata/index.js';
import { Repository } from '../../../node-service/repository/index.js';
import { type ContactRecord, type EventRecord, GraphEmulator, type Mailbox, type Tenant, type User } from '../../support/graph-emulator/index.js';
import { TEST_KDF, TempDirs } from '../../unit/repository/helpers.js';

const UPN = 'alice@contoso.onmicrosoft.com';
const dirs = new TempDirs();
const day = (d: number, h = 9, m = 0): Date => new Date(Date.UTC(2025, 0, d, h, m));
const photo = (seed: number, n = 3000): Buffer => Buffer.from(Array.from({ length: n }, (_v, i) => (i * 31 + seed * 7) & 0xff));

let emu: GraphEmulator;
let tenant: Tenant;
let alice: User;
let box: Mailbox;
let session: TenantSession;
let repo: Repository;
let workDir: string;
let series: EventRecord;
let lunch: EventRecord;
let offsite: EventRecord;
let zoe: ContactRecord;
let ben: ContactRecord;
let acme: ContactRecord;

function options(kind: 'calendar' | 'contacts', user: User = alice): ExchangeBackupOptions {
  return { graph: session.graph, repo, objectKey: m365ExchangeObjectKey(tenant.id, kind, user.id), userPath: `/users/${user.id}`, owner: user.id, label: `the ${kind} of ${user.userPrincipalName}`, workDir, packSize: 256 * 1024 };
}

async function withStore<T>(kind: 'calendar' | 'contacts', fn: (store: Awaited<ReturnType<typeof openObjectStore>>) => Promise<T>): Promise<T> {
  const store = await openObjectStore(repo, m365ExchangeObjectKey(tenant.id, kind, alice.id), { workDir: path.join(workDir, 'read') });
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

async function exported(kind: 'calendar' | 'contacts', pointId: string): Promise<string> {
  return withStore(kind, async (store) => {
    const chunks: Buffer[] = [];
    const out = new Writable({ write: (c: Buffer, _e, cb) => void (chunks.push(Buffer.from(c)), cb()) });
    const items = contentsUnder(store, pointId, ['/']);
    await (kind === 'calendar' ? calendarExport(items, out) : contactsExport(items, out));
    return Buffer.concat(chunks).toString('utf8');
  });
}

/** Graph requests to the mailbox since the last reset, as "METHOD path-after-the-user". */
function requests(): string[] {
  return emu.traffic.requests.filter((r) => r.host === 'graph' && r.owner?.id === alice.id).map((r) => `${r.method} ${r.path.replace(/^.*\/users\/[^/]+/, '')}`);
}

beforeAll(async () => {
  emu = await GraphEmulator.start();
  tenant = emu.addTenant({ domain: 'contoso.onmicrosoft.com' });
  const app = tenant.addApp({ secret: 's3cret' });
  alice = tenant.addUser({ userPrincipalName: UPN, displayName: 'Alice Archer' });
  tenant.addUser({ userPrincipalName: 'dave@contoso.onmicrosoft.com', mailbox: false });
  box = tenant.mailboxOf(UPN);
  const pim = box.pim;
  series = pim.addEvent({ subject: 'Standup', start: day(6), end: day(6, 9, 30), location: 'Room 1', recurrence: { type: 'daily', interval: 1, numberOfOccurrences: 5 } });
  pim.addException(series, 1, { subject: 'Standup (moved)', start: day(7, 11), end: day(7, 11, 30) });
  pim.cancelOccurrence(series, 3);
  lunch = pim.addEvent({ subject: 'Lunch with Zoë', start: day(8, 12), end: day(8, 13), body: '<p>At <b>Café</b></p>', bodyType: 'html' });
  const team = pim.addCalendar('Team');
  offsite = pim.addEvent({ subject: 'Offsite', start: day(20, 8), end: day(20, 17), calendarId: team.id, location: 'Lake house' });
  pim.addEvent({ subject: 'Retro', start: day(10, 15), end: day(10, 16), calendarId: team.id, recurrence: { type: 'weekly', interval: 2, endDate: '2025-03-01' } });
  zoe = pim.addContact({ displayName: 'Zoë Ünal', givenName: 'Zoë', surname: 'Ünal', emails: ['zoe@example.com', 'zoe.private@example.org'], mobilePhone: '+1 555 0100', businessPhones: ['+1 555 0101'], companyName: 'Fabrikam', jobTitle: 'CTO', photo: photo(1) });
  ben = pim.addContact({ displayName: 'Ben Baker', email: 'ben@example.com' });
  acme = pim.addContact({ displayName: 'ACME Sales', email: 'sales@acme.test', folder: 'Suppliers', homePhones: ['+44 20 7946 0000'], photo: photo(2, 5000), photoType: 'image/png' });
  session = new TenantSession({ tenantId: tenant.id, clientId: app.clientId, credential: { kind: 'secret', secret: 's3cret' }, authorityHost: emu.authorityHost, graphUrl: emu.graphBaseUrl, caPem: emu.caPem }, { backoffMs: 10, maxAttempts: 3 });
  const base = await dirs.make('vplus-pim-backup-');
  repo = await Repository.init(path.join(base, 'repo'), { password: 'pw', kdf: TEST_KDF }, { threads: 1 });
  workDir = path.join(base, 'work');
});

afterAll(async () => {
  await session?.close();
  await repo?.close();
  await emu?.stop();
  await dirs.cleanup();
});

describe('calendars', () => {
  let first: DriveBackupResult;

  it('a full backup stores every calendar, single event, series master and exception', async () => {
    first = await backupCalendars(options('calendar'));
    expect(first).toMatchObject({ kind: 'full', resynced: false, warnings: [], files: 5, folders: 3 });
    const listed = await withStore('calendar', (s) => listEvents(s, first.pointId));
    expect(listed.total).toBe(5);
    const rows = listed.items.map((r) => `${r.folder} | ${r.extra.eventType} | ${r.extra.subject} | ${r.extra.start}`);
    expect(rows).toEqual([
      `/Calendar | seriesMaster | Standup | ${day(6).toISOString()}`,
      `/Calendar | exception | Standup (moved) | ${day(7, 11).toISOString()}`,
      `/Calendar | singleInstance | Lunch with Zoë | ${day(8, 12).toISOString()}`,
      `/Team | seriesMaster | Retro | ${day(10, 15).toISOString()}`,
      `/Team | singleInstance | Offsite | ${day(20, 8).toISOString()}`,
    ]);
    const master = listed.items[0]!.extra;
    expect(master.cancelledOccurrences).toEqual([day(9).toISOString()]);
    expect(master.location).toBe('Room 1');
    expect(listed.items[1]!.extra.seriesMasterId).toBe(series.id);
    expect(recurrenceText(master.graph.recurrence as never)).toBe('every day, 5 times');
    expect(recurrenceText(listed.items[3]!.extra.graph.recurrence as never)).toBe('every 2 weeks on Friday, until 2025-03-01');
    // Searches and windows from the metadata alone.
    const team = await withStore('calendar', (s) => listEvents(s, first.pointId, { folderPath: '/Team', q: 'lake' }));
    expect(team.items.map((r) => r.extra.subject)).toEqual(['Offsite']);
    const window = await withStore('calendar', (s) => listEvents(s, first.pointId, { after: '2025-01-08T00:00:00Z', before: '2025-01-15T00:00:00Z' }));
    expect(window.items.map((r) => r.extra.subject)).toEqual(['Standup', 'Lunch with Zoë', 'Retro']);
    const page = await withStore('calendar', (s) => listEvents(s, first.pointId, { offset: 1, limit: 2 }));
    expect({ total: page.total, subjects: page.items.map((r) => r.extra.subject) }).toEqual({ total: 5, subjects: ['Standup (moved)', 'Lunch with Zoë'] });
  });

  it('the ICS export parses with ical.js and matches the calendars: RRULE, EXDATE, RECURRENCE-ID', async () => {
    const ics = await exported('calendar', first.pointId);
    const cal = new ICAL.Component(ICAL.parse(ics) as unknown[]);
    expect(cal.name).toBe('vcalendar');
    const events = cal.getAllSubcomponents('vevent').map((v) => new ICAL.Event(v));
    expect(events.map((e) => e.summary).sort()).toEqual(['Lunch with Zoë', 'Offsite', 'Retro', 'Standup', 'Standup (moved)']);
    const standup = events.find((e) => e.summary === 'Standup')!;
    expect(standup.uid).toBe(series.iCalUId);
    expect(standup.location).toBe('Room 1');
    expect(standup.component.getFirstPropertyValue('rrule')!.toString()).toBe('FREQ=DAILY;COUNT=5');
    expect(standup.component.getAllProperties('exdate').map((p) => (p.getFirstValue() as ICAL.Time).toJSDate().toISOString())).toEqual([day(9).toISOString()]);
    const moved = events.find((e) => e.summary === 'Standup (moved)')!;
    expect(moved.uid).toBe(series.iCalUId);
    expect(moved.recurrenceId.toJSDate().toISOString()).toBe(day(7).toISOString());
    expect([moved.startDate.toJSDate(), moved.endDate.toJSDate()]).toEqual([day(7, 11), day(7, 11, 30)]);
    // Expanding the exported series (exceptions applied) gives the occurrences the mailbox has.
    standup.relateException(moved);
    const it = standup.iterator();
    const got: string[] = [];
    for (let next = it.next(); next; next = it.next()) {
      const o = standup.getOccurrenceDetails(next) as { item: ICAL.Event; startDate: ICAL.Time };
      got.push(`${o.item.summary} ${o.startDate.toJSDate().toISOString()}`);
    }
    expect(got).toEqual(box.pim.instancesOf(series).map((i) => `${i.source.subject} ${i.start.toISOString()}`));
    const lunchEv = events.find((e) => e.summary === 'Lunch with Zoë')!;
    expect([lunchEv.startDate.toJSDate(), lunchEv.endDate.toJSDate()]).toEqual([day(8, 12), day(8, 13)]);
    expect(lunchEv.description).toBe('At Café');
    const retro = events.find((e) => e.summary === 'Retro')!;
    expect(retro.component.getFirstPropertyValue('rrule')!.toString()).toBe('FREQ=WEEKLY;INTERVAL=2;BYDAY=FR;UNTIL=20250301T235959Z;WKST=SU');
  });

  it('an incremental reads only the listings and the series that changed', async () => {
    box.pim.updateEvent(lunch, { subject: 'Lunch (moved)' });
    box.pim.deleteEvent(offsite);
    box.pim.addEvent({ subject: 'New one', start: day(22, 10), end: day(22, 11) });
    emu.traffic.reset();
    const inc = await backupCalendars(options('calendar'));
    expect(inc).toMatchObject({ kind: 'incremental', warnings: [], added: 1, changed: 1, removed: 1, files: 5, downloadedFiles: 2 });
    expect(requests().filter((r) => r.includes('/instances'))).toEqual([]); // the series did not change
    expect(requests().every((r) => r.startsWith('GET /calendars'))).toBe(true);
    const subjects = (await withStore('calendar', (s) => listEvents(s, inc.pointId))).items.map((r) => r.extra.subject);
    expect(subjects).toEqual(['Standup', 'Standup (moved)', 'Lunch (moved)', 'Retro', 'New one']);
    // A change to one occurrence changes the series: its instances are read again.
    const ex = [...box.pim.events.values()].find((e) => e.type === 'exception')!;
    box.pim.updateEvent(ex, { subject: 'Standup (moved again)' });
    box.pim.cancelOccurrence(series, 4);
    emu.traffic.reset();
    const again = await backupCalendars(options('calendar'));
    expect(again).toMatchObject({ warnings: [], changed: 2, added: 0, removed: 0 });
    expect(requests().filter((r) => r.includes('/instances'))).toEqual([`GET /events/${series.id}/instances`]);
    const master = (await withStore('calendar', (s) => listEvents(s, again.pointId, { q: 'standup' }))).items;
    expect(master.map((r) => r.extra.subject)).toEqual(['Standup', 'Standup (moved again)']);
    expect(master[0]!.extra.cancelledOccurrences).toEqual([day(9).toISOString(), day(10).toISOString()]);
  });

  it('a user without a mailbox is M365_NO_MAILBOX and nothing is stored', async () => {
    const dave = tenant.findUser('dave@contoso.onmicrosoft.com')!;
    for (const backup of [backupCalendars, backupContacts]) {
      const err = await backup(options('calendar', dave)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CloudError);
      expect((err as CloudError).code).toBe('M365_NO_MAILBOX');
    }
    const store = await openObjectStore(repo, m365ExchangeObjectKey(tenant.id, 'calendar', dave.id), { workDir: path.join(workDir, 'dave') });
    expect(await store.points()).toEqual([]);
    await store.close();
  });
});

describe('contacts', () => {
  let first: DriveBackupResult;

  it('a full backup stores both folders, every contact with its photo', async () => {
    first = await backupContacts(options('contacts'));
    expect(first).toMatchObject({ kind: 'full', warnings: [], files: 3, folders: 3 });
    const listed = await withStore('contacts', (s) => listContacts(s, first.pointId));
    expect(listed.items.map((r) => `${r.folder} | ${r.extra.displayName} | ${r.extra.emails.join(',')} | ${r.extra.hasPhoto}`)).toEqual([
      '/Suppliers | ACME Sales | sales@acme.test | true',
      '/Contacts | Ben Baker | ben@example.com | false',
      '/Contacts | Zoë Ünal | zoe@example.com,zoe.private@example.org | true',
    ]);
    expect(listed.items[2]!.extra).toMatchObject({ phones: ['+1 555 0100', '+1 555 0101'], company: 'Fabrikam' });
    const found = await withStore('contacts', (s) => listContacts(s, first.pointId, { q: 'FABRIKAM' }));
    expect(found.items.map((r) => r.extra.displayName)).toEqual(['Zoë Ünal']);
    const folder = await withStore('contacts', (s) => listContacts(s, first.pointId, { folderPath: '/Suppliers' }));
    expect(folder.total).toBe(1);
  });

  it('the VCF export parses with ical.js and matches: names, e-mails, phones, photo bytes', async () => {
    const vcf = await exported('contacts', first.pointId);
    const parsed = ICAL.parse(vcf) as unknown[];
    const cards = (parsed as never[]).map((j) => new ICAL.Component(j));
    expect(cards).toHaveLength(3);
    const byName = new Map(cards.map((c) => [String(c.getFirstPropertyValue('fn')), c]));
    for (const src of [zoe, ben, acme]) {
      const card = byName.get(src.displayName)!;
      expect(card.getFirstPropertyValue('version')).toBe('4.0');
      expect(card.getAllProperties('email').map((p) => p.getFirstValue())).toEqual(src.emailAddresses.map((e) => e.address));
      const phones = card.getAllProperties('tel').map((p) => `${String(p.getParameter('type'))} ${String(p.getFirstValue())}`);
      expect(phones).toEqual([...(src.mobilePhone ? [`cell ${src.mobilePhone}`] : []), ...(src.businessPhones ?? []).map((t) => `work ${t}`), ...(src.homePhones ?? []).map((t) => `home ${t}`)]);
      const got = vcardPhoto(card);
      expect(got?.bytes.equals(src.photo!.bytes) ?? null).toBe(src.photo ? true : null);
      if (src.photo) expect(got!.contentType).toBe(src.photo.contentType);
    }
    expect(byName.get('Zoë Ünal')!.getFirstProperty('n')!.getFirstValue()).toEqual(['Ünal', 'Zoë', '', '', '']);
    expect(byName.get('Zoë Ünal')!.getFirstPropertyValue('org')).toBe('Fabrikam');
    expect(vcf).toMatch(/^PHOTO:data:image\/png;base64,/m); // a data: URI as RFC 6350 writes it, comma not escaped
  });

  it('an incremental reads only the changes (delta), with the photos of new and changed contacts', async () => {
    box.pim.updateContact(zoe, { mobilePhone: '+1 555 0199' });
    box.pim.deleteContact(ben);
    const cleo = box.pim.addContact({ displayName: 'Cleo', email: 'cleo@example.com', folder: 'Suppliers', photo: photo(3) });
    emu.traffic.reset();
    const inc = await backupContacts(options('contacts'));
    expect(inc).toMatchObject({ kind: 'incremental', resynced: false, warnings: [], added: 1, changed: 1, removed: 1, files: 3, downloadedFiles: 2 });
    const photos = requests().filter((r) => r.includes('/photo'));
    expect(photos.sort()).toEqual([`GET /contacts/${cleo.id}/photo/$value`, `GET /contacts/${zoe.id}/photo/$value`].sort());
    expect(requests().filter((r) => !r.includes('/photo')).every((r) => r === 'GET /contactFolders' || r.endsWith('/contacts/delta'))).toBe(true);
    const listed = await withStore('contacts', (s) => listContacts(s, inc.pointId));
    expect(listed.items.map((r) => r.extra.displayName)).toEqual(['ACME Sales', 'Cleo', 'Zoë Ünal']);
    expect(listed.items[2]!.extra.phones[0]).toBe('+1 555 0199');
  });

  it('a photo that cannot be read is a warning naming the contact; the next backup stores it', async () => {
    box.pim.updateContact(acme, { jobTitle: 'Sales desk' });
    box.pim.failPhoto(acme, { status: 500 });
    const warned = await backupContacts(options('contacts'));
    expect(warned.warnings).toHaveLength(1);
    expect(warned.warnings[0]).toContain('Suppliers/ACME Sales');
    // Kept as it was, with its photo.
    const kept = await withStore('contacts', (s) => listContacts(s, warned.pointId, { q: 'acme' }));
    expect(kept.items[0]!.extra).toMatchObject({ hasPhoto: true, graph: expect.objectContaining({ jobTitle: null }) });
    box.pim.photoFailures.clear();
    const next = await backupContacts(options('contacts'));
    expect(next.warnings).toEqual([]);
    const stored = await withStore('contacts', (s) => listContacts(s, next.pointId, { q: 'acme' }));
    expect(stored.items[0]!.extra.graph).toMatchObject({ jobTitle: 'Sales desk' });
  });

  it('an expired delta is a full comparison: deleted contacts do not come back, unchanged photos are not read', async () => {
    const cleo = [...box.pim.contacts.values()].find((c) => c.displayName === 'Cleo')!;
    box.pim.deleteContact(cleo);
    box.expireDeltaTokens();
    emu.traffic.reset();
    const resync = await backupContacts(options('contacts'));
    expect(resync).toMatchObject({ kind: 'incremental', resynced: true, warnings: [], removed: 1, files: 2, downloadedFiles: 0 });
    expect(requests().filter((r) => r.includes('/photo'))).toEqual([]);
    const listed = await withStore('contacts', (s) => listContacts(s, resync.pointId));
    expect(listed.items.map((r) => r.extra.displayName)).toEqual(['ACME Sales', 'Zoë Ünal']);
  });
});
