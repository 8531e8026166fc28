/**
 * Calendars and contacts restored from a real repository (exchange/pim-restore.ts) into the
 * Graph emulator: to another user into a new calendar and contact folder, and to the same user
 * into the original ones; series recreated with their recurrence, the changed occurrence applied
 * as an exception and the cancelled one deleted; contacts with their photos; conflicts skipped,
 * replaced or copied. Compared by fields with the source mailbox.
 */
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { m365ExchangeObjectKey, m365RestoreFolderName } from '../../../common/m365-tasks.js';
import { backupCalendars } from '../../../node-service/cloud/exchange/calendar-backup.js';
import { backupContacts } from '../../../node-service/cloud/exchange/contacts-backup.js';
import type { ExchangeRestoreOptions } from '../../../node-service/cloud/exchange/model.js';
import { restoreCalendars, restoreContacts } from '../../../node-service/cloud/exchange/pim-restore.js';
import { TenantSession } from '../../../node-service/cloud/graph/tenant-session.js';
import { Repository } from '../../../node-service/repository/index.js';
import { type ContactRecord, GraphEmulator, type Mailbox, type Tenant, type User } from '../../support/graph-emulator/index.js';
import { TEST_KDF, TempDirs } from '../../unit/repository/helpers.js';

const dirs = new TempDirs();
const day = (d: number, h = 9, m = 0): Date => new Date(Date.UTC(2025, 0, d, h, m));
const photo = (seed: number, n = 3000): Buffer => Buffer.from(Array.from({ length: n }, (_v, i) => (i * 31 + seed * 7) & 0xff));
const FOLDER = m365RestoreFolderName(new Date('2026-12-07T03:15:00Z'));

let emu: GraphEmulator;
let tenant: Tenant;
let alice: User;
let bob: User;
let aliceBox: Mailbox;
let bobBox: Mailbox;
let session: TenantSession;
let repo: Repository;
let workDir: string;
const points: { calendar: string; contacts: string } = { calendar: '', contacts: '' };

function options(kind: 'calendar' | 'contacts', target: User, extra: Partial<ExchangeRestoreOptions> = {}): ExchangeRestoreOptions {
  return {
    graph: session.graph,
    repo,
    objectKey: m365ExchangeObjectKey(tenant.id, kind, alice.id),
    pointId: points[kind],
    workDir: path.join(workDir, 'restore'),
    paths: ['/'],
    target: { userPath: `/users/${target.id}`, owner: target.id, label: `the ${kind} of ${target.userPrincipalName}` },
    folder: FOLDER,
    conflict: 'skip',
    ...extra,
  };
}

/** A calendar's instances as a user sees them (series expanded, exceptions applied, cancelled ones gone), by fields. */
function seen(box: Mailbox, calendarIds: string[]): string[] {
  return calendarIds
    .flatMap((id) => box.pim.view(id, new Date('2024-01-01'), new Date('2027-01-01')))
    .map((i) => `${i.start.toISOString()} ${i.end.toISOString()} ${i.type === 'singleInstance' ? 'single' : 'series'} ${i.source.subject} @${i.source.location ?? ''} [${i.source.bodyType ?? 'text'}] ${i.source.body}`)
    .sort();
}

function masters(box: Mailbox, calendarIds: string[]): string[] {
  return [...box.pim.events.values()].filter((e) => e.type === 'seriesMaster' && calendarIds.includes(e.calendarId)).map((e) => `${e.subject} ${JSON.stringify(e.recurrence)}`).sort();
}

function contactFields(c: ContactRecord): unknown {
  return { displayName: c.displayName, givenName: c.givenName, surname: c.surname, emails: c.emailAddresses.map((e) => e.address), mobilePhone: c.mobilePhone, businessPhones: c.businessPhones ?? [], homePhones: c.homePhones ?? [], companyName: c.companyName, jobTitle: c.jobTitle, photo: c.photo ? `${c.photo.contentType} ${c.photo.bytes.toString('base64')}` : null };
}

function contactsIn(box: Mailbox, folderIds: string[]): unknown[] {
  return [...box.pim.contacts.values()]
    .filter((c) => folderIds.includes(c.folderId))
    .map(contactFields)
    .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
}

beforeAll(async () => {
  emu = await GraphEmulator.start();
  tenant = emu.addTenant({ domain: 'contoso.onmicrosoft.com' });
  const app = tenant.addApp({ secret: 's3cret' });
  alice = tenant.addUser({ userPrincipalName: 'alice@contoso.onmicrosoft.com', displayName: 'Alice Archer' });
  bob = tenant.addUser({ userPrincipalName: 'bob@contoso.onmicrosoft.com', displayName: 'Bob Baker' });
  aliceBox = tenant.mailboxOf(alice.userPrincipalName);
  bobBox = tenant.mailboxOf(bob.userPrincipalName);
  const pim = aliceBox.pim;
  const series = pim.addEvent({ subject: 'Standup', start: day(6), end: day(6, 9, 30), location: 'Room 1', body: 'daily', recurrence: { type: 'daily', interval: 1, numberOfOccurrences: 5 } });
  pim.addException(series, 1, { subject: 'Standup (moved)', start: day(7, 11), end: day(7, 11, 30), location: 'Room 9' });
  pim.cancelOccurrence(series, 3);
  pim.addEvent({ subject: 'Lunch with Zoë', start: day(8, 12), end: day(8, 13), body: '<p>At <b>Café</b></p>', bodyType: 'html' });
  const team = pim.addCalendar('Team');
  pim.addEvent({ subject: 'Offsite', start: day(20, 8), end: day(20, 17), calendarId: team.id, location: 'Lake house' });
  pim.addEvent({ subject: 'Retro', start: day(10, 15), end: day(10, 16), calendarId: team.id, recurrence: { type: 'weekly', interval: 2, endDate: '2025-03-01' } });
  pim.addContact({ displayName: 'Zoë Ünal', givenName: 'Zoë', surname: 'Ünal', emails: ['zoe@example.com', 'zoe.private@example.org'], mobilePhone: '+1 555 0100', businessPhones: ['+1 555 0101'], companyName: 'Fabrikam', jobTitle: 'CTO', photo: photo(1) });
  pim.addContact({ displayName: 'Ben Baker', email: 'ben@example.com' });
  pim.addContact({ displayName: 'ACME Sales', email: 'sales@acme.test', folder: 'Suppliers', homePhones: ['+44 20 7946 0000'], photo: photo(2, 5000), photoType: 'image/png' });
  session = new TenantSession({ tenantId: tenant.id, clientId: app.clientId, credential: { kind: 'secret', secret: 's3cret' }, authorityHost: emu.authorityHost, graphUrl: emu.graphBaseUrl, caPem: emu.caPem }, { backoffMs: 10, maxAttempts: 3 });
  const base = await dirs.make('vplus-pim-restore-');
  repo = await Repository.init(path.join(base, 'repo'), { password: 'pw', kdf: TEST_KDF }, { threads: 1 });
  workDir = path.join(base, 'work');
  for (const kind of ['calendar', 'contacts'] as const) {
    const o = { graph: session.graph, repo, objectKey: m365ExchangeObjectKey(tenant.id, kind, alice.id), userPath: `/users/${alice.id}`, owner: alice.id, label: `the ${kind} of alice`, workDir };
    const r = await (kind === 'calendar' ? backupCalendars(o) : backupContacts(o));
    expect(r.warnings).toEqual([]);
    points[kind] = r.pointId;
  }
});

afterAll(async () => {
  await session?.close();
  await repo?.close();
  await emu?.stop();
  await dirs.cleanup();
});

describe('calendars', () => {
  it('restores to another user into a new calendar: series with its exception and cancellation, single events', async () => {
    const r = await restoreCalendars(options('calendar', bob));
    expect(r).toMatchObject({ restoredFiles: 5, restoredFolders: 1, skipped: [], failed: [], targetRoot: `/${FOLDER}` });
    const cal = bobBox.pim.calendars.find((c) => c.name === FOLDER)!;
    const source = aliceBox.pim.calendars.map((c) => c.id);
    expect(seen(bobBox, [cal.id])).toEqual(seen(aliceBox, source));
    expect(masters(bobBox, [cal.id])).toEqual(masters(aliceBox, source));
    expect(seen(bobBox, [cal.id]).filter((s) => s.includes('Standup'))).toEqual([
      `${day(6).toISOString()} ${day(6, 9, 30).toISOString()} series Standup @Room 1 [text] daily`,
      `${day(7, 11).toISOString()} ${day(7, 11, 30).toISOString()} series Standup (moved) @Room 9 [text] daily`,
      `${day(8).toISOString()} ${day(8, 9, 30).toISOString()} series Standup @Room 1 [text] daily`,
      `${day(10).toISOString()} ${day(10, 9, 30).toISOString()} series Standup @Room 1 [text] daily`,
    ]); // 5 less the cancelled one, the second moved
  });

  it('restores to the same user into the original calendars: what exists is skipped, what was deleted comes back', async () => {
    const source = aliceBox.pim.calendars.map((c) => c.id);
    const before = seen(aliceBox, source);
    const skipped = await restoreCalendars(options('calendar', alice, { folder: null }));
    expect(skipped).toMatchObject({ restoredFiles: 0, restoredFolders: 0, failed: [], targetRoot: '/' });
    expect(skipped.skipped.map((s) => s.path.split(' ~')[0]).sort()).toEqual(['/Calendar/Lunch with Zoë', '/Calendar/Standup', '/Team/Offsite', '/Team/Retro']);
    const lunch = [...aliceBox.pim.events.values()].find((e) => e.subject === 'Lunch with Zoë')!;
    const standup = [...aliceBox.pim.events.values()].find((e) => e.subject === 'Standup')!;
    aliceBox.pim.deleteEvent(lunch);
    aliceBox.pim.deleteEvent(standup);
    const back = await restoreCalendars(options('calendar', alice, { folder: null }));
    expect(back).toMatchObject({ restoredFiles: 3, restoredFolders: 0, failed: [] });
    expect(seen(aliceBox, source)).toEqual(before);
    expect(aliceBox.pim.calendars).toHaveLength(2); // Team found by name, not made again
  });

  it('replace leaves one copy, copy adds another', async () => {
    const cal = bobBox.pim.calendars.find((c) => c.name === FOLDER)!;
    const before = seen(bobBox, [cal.id]);
    const replaced = await restoreCalendars(options('calendar', bob, { paths: ['/Team'], conflict: 'replace' }));
    expect(replaced).toMatchObject({ restoredFiles: 2, skipped: [], failed: [] });
    expect(seen(bobBox, [cal.id])).toEqual(before);
    const copied = await restoreCalendars(options('calendar', bob, { paths: ['/Team'], conflict: 'copy' }));
    expect(copied).toMatchObject({ restoredFiles: 2, failed: [] });
    expect(seen(bobBox, [cal.id]).filter((s) => s.includes('Offsite'))).toHaveLength(2);
  });
});

describe('contacts', () => {
  it('restores to another user into a new folder, with photos', async () => {
    const r = await restoreContacts(options('contacts', bob));
    expect(r).toMatchObject({ restoredFiles: 3, restoredFolders: 1, skipped: [], failed: [] });
    const folder = bobBox.pim.contactFolders.find((f) => f.displayName === FOLDER)!;
    expect(contactsIn(bobBox, [folder.id])).toEqual(contactsIn(aliceBox, aliceBox.pim.contactFolders.map((f) => f.id)));
  });

  it('restores into the original folders by name: the default folder and one made for Suppliers', async () => {
    const r = await restoreContacts(options('contacts', bob, { folder: null }));
    expect(r).toMatchObject({ restoredFiles: 3, restoredFolders: 1, failed: [] });
    const dflt = bobBox.pim.contactFolders[0]!;
    const suppliers = bobBox.pim.contactFolders.find((f) => f.displayName === 'Suppliers')!;
    const aliceDefault = aliceBox.pim.contactFolders[0]!;
    const aliceSuppliers = aliceBox.pim.contactFolders.find((f) => f.displayName === 'Suppliers')!;
    expect(contactsIn(bobBox, [dflt.id])).toEqual(contactsIn(aliceBox, [aliceDefault.id]));
    expect(contactsIn(bobBox, [suppliers.id])).toEqual(contactsIn(aliceBox, [aliceSuppliers.id]));
  });

  it('to the same user: skip leaves what is there, a deleted contact comes back with its photo, replace keeps one', async () => {
    const all = aliceBox.pim.contactFolders.map((f) => f.id);
    const before = contactsIn(aliceBox, all);
    const skipped = await restoreContacts(options('contacts', alice, { folder: null }));
    expect(skipped).toMatchObject({ restoredFiles: 0, failed: [] });
    expect(skipped.skipped).toHaveLength(3);
    const zoe = [...aliceBox.pim.contacts.values()].find((c) => c.displayName === 'Zoë Ünal')!;
    aliceBox.pim.deleteContact(zoe);
    const back = await restoreContacts(options('contacts', alice, { folder: null }));
    expect(back).toMatchObject({ restoredFiles: 1, failed: [] });
    expect(contactsIn(aliceBox, all)).toEqual(before);
    const replaced = await restoreContacts(options('contacts', alice, { folder: null, paths: ['/Suppliers'], conflict: 'replace' }));
    expect(replaced).toMatchObject({ restoredFiles: 1, skipped: [], failed: [] });
    expect(contactsIn(aliceBox, all)).toEqual(before);
  });
});
