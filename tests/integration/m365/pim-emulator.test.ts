/**
 * The Graph emulator's writes to calendars and contacts (tests/support/graph-emulator/pim.routes.ts)
 * over real HTTPS: creating calendars and events (a recurrence makes a series master), the
 * instances of a series, an occurrence changed into an exception and another cancelled, deleting
 * events; contact folders, contacts, their photos; read-only and unknown properties refused;
 * writes refused to an app with read permissions only.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GraphEmulator, type Mailbox, type Tenant, type TrustingFetch, trustingFetch } from '../../support/graph-emulator/index.js';

const ALICE = 'alice@contoso.onmicrosoft.com';
type Obj = Record<string, unknown> & { id?: string; value?: Obj[]; error?: { code: string; message: string } };

let emu: GraphEmulator;
let tenant: Tenant;
let fetchE: TrustingFetch;
let token: string;
let readOnlyToken: string;
let box: Mailbox;
const u = `/users/${encodeURIComponent(ALICE)}`;

async function tokenFor(clientId: string, secret: string): Promise<string> {
  const body = new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: secret, scope: `${emu.graphOrigin}/.default` });
  const res = await fetchE(`${emu.authorityHost}/${tenant.id}/oauth2/v2.0/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: body.toString() });
  return ((await res.json()) as { access_token: string }).access_token;
}

async function call(path: string, init: { method?: string; json?: unknown; body?: Buffer; type?: string; bearer?: string } = {}): Promise<{ status: number; body: Obj; raw: Buffer; type: string }> {
  const headers: Record<string, string> = { authorization: `Bearer ${init.bearer ?? token}` };
  let body: string | Buffer | undefined = init.body;
  if (init.json !== undefined) {
    body = JSON.stringify(init.json);
    headers['content-type'] = 'application/json';
  } else if (init.type) headers['content-type'] = init.type;
  const res = await fetchE(emu.graphBaseUrl + path, { method: init.method ?? 'GET', headers, body });
  const raw = Buffer.from(await res.arrayBuffer());
  const type = res.headers.get('content-type') ?? '';
  return { status: res.status, body: type.includes('json') && raw.length > 0 ? (JSON.parse(raw.toString('utf8')) as Obj) : {}, raw, type };
}

const utc = (s: string): { dateTime: string; timeZone: string } => ({ dateTime: s, timeZone: 'UTC' });

beforeAll(async () => {
  emu = await GraphEmulator.start();
  fetchE = trustingFetch(emu.caPem);
  tenant = emu.addTenant({ domain: 'contoso.onmicrosoft.com' });
  const app = tenant.addApp({ secret: 'rw' });
  const reader = tenant.addApp({ secret: 'ro', roles: ['Calendars.Read', 'Contacts.Read'] });
  tenant.addUser({ userPrincipalName: ALICE, displayName: 'Alice Archer' });
  box = tenant.mailboxOf(ALICE);
  token = await tokenFor(app.clientId, 'rw');
  readOnlyToken = await tokenFor(reader.clientId, 'ro');
});

afterAll(async () => {
  await emu?.stop();
});

describe('calendar writes', () => {
  it('creates a calendar (409 for a name taken) and events in it and in the default calendar', async () => {
    const cal = await call(`${u}/calendars`, { method: 'POST', json: { name: 'Restored' } });
    expect(cal.status).toBe(201);
    expect(cal.body).toMatchObject({ name: 'Restored', isDefaultCalendar: false });
    expect((await call(`${u}/calendars`, { method: 'POST', json: { name: 'restored' } })).body.error?.code).toBe('ErrorFolderExists');
    const ev = await call(`${u}/calendars/${cal.body.id!}/events`, { method: 'POST', json: { subject: 'Review', body: { contentType: 'html', content: '<p>x</p>' }, start: utc('2025-02-03T10:00:00'), end: utc('2025-02-03T11:00:00'), location: { displayName: 'Room 2' } } });
    expect(ev.status).toBe(201);
    expect(ev.body).toMatchObject({ subject: 'Review', type: 'singleInstance', body: { contentType: 'html', content: '<p>x</p>' }, location: { displayName: 'Room 2' }, start: { dateTime: '2025-02-03T10:00:00.0000000', timeZone: 'UTC' } });
    const listed = await call(`${u}/calendars/${cal.body.id!}/events`);
    expect(listed.body.value!.map((e) => e.subject)).toEqual(['Review']);
    const dflt = await call(`${u}/events`, { method: 'POST', json: { subject: 'Default', start: utc('2025-02-04T10:00:00'), end: utc('2025-02-04T10:30:00') } });
    expect(dflt.status).toBe(201);
    expect(box.pim.events.get(dflt.body.id!)!.calendarId).toBe(box.pim.defaultCalendar.id);
  });

  it('refuses read-only and unknown properties, and writes without Calendars.ReadWrite', async () => {
    const ro = await call(`${u}/events`, { method: 'POST', json: { id: 'x', subject: 'a', start: utc('2025-02-04T10:00:00'), end: utc('2025-02-04T10:30:00') } });
    expect([ro.status, ro.body.error?.code]).toEqual([400, 'ErrorInvalidPropertySet']);
    const unknown = await call(`${u}/events`, { method: 'POST', json: { subjekt: 'a', start: utc('2025-02-04T10:00:00'), end: utc('2025-02-04T10:30:00') } });
    expect([unknown.status, unknown.body.error?.code]).toEqual([400, 'RequestBodyRead']);
    const denied = await call(`${u}/events`, { method: 'POST', bearer: readOnlyToken, json: { subject: 'a', start: utc('2025-02-04T10:00:00'), end: utc('2025-02-04T10:30:00') } });
    expect(denied.status).toBe(403);
    expect((await call(`${u}/calendars`, { bearer: readOnlyToken })).status).toBe(200);
  });

  it('a recurrence makes a series; an occurrence patched becomes an exception, one deleted is cancelled', async () => {
    const created = await call(`${u}/events`, {
      method: 'POST',
      json: { subject: 'Daily', start: utc('2025-03-03T09:00:00'), end: utc('2025-03-03T09:15:00'), recurrence: { pattern: { type: 'daily', interval: 1 }, range: { type: 'numbered', startDate: '2025-03-03', numberOfOccurrences: 4 } } },
    });
    expect(created.body).toMatchObject({ type: 'seriesMaster', recurrence: { pattern: { type: 'daily', interval: 1 }, range: { type: 'numbered', numberOfOccurrences: 4 } } });
    const master = created.body.id!;
    expect((await call(`${u}/events/${master}/instances`)).body.error?.code).toBe('ErrorInvalidParameter'); // the window is required
    const window = '?startDateTime=2025-03-01T00:00:00Z&endDateTime=2025-03-10T00:00:00Z';
    const inst = await call(`${u}/events/${master}/instances${window}`);
    expect(inst.body.value!.map((i) => `${i.type as string} ${i.originalStart as string}`)).toEqual(['occurrence 2025-03-03T09:00:00Z', 'occurrence 2025-03-04T09:00:00Z', 'occurrence 2025-03-05T09:00:00Z', 'occurrence 2025-03-06T09:00:00Z']);
    const before = (await call(`${u}/events/${master}`)).body.changeKey;
    const [, second, third] = inst.body.value!;
    const patched = await call(`${u}/events/${second!.id!}`, { method: 'PATCH', json: { subject: 'Daily (late)', start: utc('2025-03-04T15:00:00'), end: utc('2025-03-04T15:15:00') } });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ type: 'exception', seriesMasterId: master, originalStart: '2025-03-04T09:00:00Z', subject: 'Daily (late)' });
    expect((await call(`${u}/events/${third!.id!}`, { method: 'DELETE' })).status).toBe(204);
    const after = await call(`${u}/events/${master}/instances${window}`);
    expect(after.body.value!.map((i) => `${i.type as string} ${i.subject as string} ${(i.start as { dateTime: string }).dateTime.slice(0, 16)}`)).toEqual([
      'occurrence Daily 2025-03-03T09:00',
      'exception Daily (late) 2025-03-04T15:00',
      'occurrence Daily 2025-03-06T09:00',
    ]);
    // Exchange keeps instances inside the series' item: the master has a new changeKey.
    expect((await call(`${u}/events/${master}`)).body.changeKey).not.toBe(before);
    expect((await call(`${u}/events/${third!.id!}`)).status).toBe(404);
    expect((await call(`${u}/events/${master}`, { method: 'DELETE' })).status).toBe(204);
    expect((await call(`${u}/events/${master}`)).status).toBe(404);
    expect((await call(`${u}/events/${patched.body.id!}`)).status).toBe(404);
  });
});

describe('contact writes', () => {
  it('creates a folder and contacts, stores and serves their photo, deletes them', async () => {
    const folder = await call(`${u}/contactFolders`, { method: 'POST', json: { displayName: 'Restored' } });
    expect(folder.status).toBe(201);
    expect((await call(`${u}/contactFolders`, { method: 'POST', json: { displayName: 'Restored' } })).status).toBe(409);
    const c = await call(`${u}/contactFolders/${folder.body.id!}/contacts`, { method: 'POST', json: { givenName: 'Zoë', surname: 'Ünal', emailAddresses: [{ address: 'zoe@example.com', name: 'Zoë' }], businessPhones: ['+1 555'], companyName: 'Fabrikam' } });
    expect(c.status).toBe(201);
    expect(c.body).toMatchObject({ displayName: 'Zoë Ünal', parentFolderId: folder.body.id, emailAddresses: [{ address: 'zoe@example.com', name: 'Zoë' }], businessPhones: ['+1 555'], companyName: 'Fabrikam' });
    const missing = await call(`${u}/contacts/${c.body.id!}/photo/$value`);
    expect([missing.status, missing.body.error?.code]).toEqual([404, 'ErrorItemNotFound']);
    const bytes = Buffer.from(Array.from({ length: 2048 }, (_v, i) => i & 0xff));
    expect((await call(`${u}/contacts/${c.body.id!}/photo/$value`, { method: 'PUT', body: bytes, type: 'image/png' })).status).toBe(200);
    const got = await call(`${u}/contacts/${c.body.id!}/photo/$value`);
    expect(got.status).toBe(200);
    expect(got.type).toBe('image/png');
    expect(got.raw.equals(bytes)).toBe(true);
    expect((await call(`${u}/contacts`, { method: 'POST', json: { displayName: 'x', changeKey: 'y' } })).body.error?.code).toBe('ErrorInvalidPropertySet');
    const dflt = await call(`${u}/contacts`, { method: 'POST', json: { displayName: 'In default' } });
    expect((await call(`${u}/contacts`)).body.value!.map((x) => x.displayName)).toContain('In default');
    expect((await call(`${u}/contacts/${dflt.body.id!}`, { method: 'DELETE' })).status).toBe(204);
    expect((await call(`${u}/contacts/${dflt.body.id!}`)).status).toBe(404);
    expect((await call(`${u}/contacts`, { method: 'POST', bearer: readOnlyToken, json: { displayName: 'no' } })).status).toBe(403);
  });

  it('seeds a contact with a photo', async () => {
    const seeded = box.pim.addContact({ displayName: 'Seeded', photo: Buffer.from('jpeg bytes') });
    const got = await call(`${u}/contacts/${seeded.id}/photo/$value`);
    expect([got.status, got.type, got.raw.toString()]).toEqual([200, 'image/jpeg', 'jpeg bytes']);
  });
});
