/**
 * The Graph emulator's Exchange surface (tests/support/graph-emulator, issue 14) against real
 * HTTPS requests: mail folders, message delta with @removed and 410 SyncStateNotFound, MIME
 * $value, creating messages from MIME (drafts, as documented) and from JSON with
 * PR_MESSAGE_FLAGS, PATCH of isRead/flag, attachments and large-attachment upload sessions,
 * the per-mailbox concurrency limit (429 ApplicationThrottled), a user without a mailbox,
 * calendarView delta with a recurring series and contacts delta. Nothing leaves loopback.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AppRegistration, GraphEmulator, type Mailbox, type Tenant, type TrustingFetch, composeMime, parseMime, trustingFetch } from '../../support/graph-emulator/index.js';

const MiB = 1024 * 1024;
const ALICE = 'alice@contoso.onmicrosoft.com';
const BOB = 'bob@contoso.onmicrosoft.com';

type Obj = Record<string, unknown> & {
  id?: string;
  value?: Obj[];
  error?: { code: string; message: string };
  '@odata.nextLink'?: string;
  '@odata.deltaLink'?: string;
  '@removed'?: { reason: string };
};

let emu: GraphEmulator;
let tenant: Tenant;
let app: AppRegistration;
let fetchE: TrustingFetch;
let token: string;
let alice: Mailbox;

async function getToken(a: AppRegistration): Promise<string> {
  const body = new URLSearchParams({ grant_type: 'client_credentials', client_id: a.clientId, client_secret: a.secrets[0]!.value, scope: `${emu.graphOrigin}/.default` });
  const res = await fetchE(`${emu.authorityHost}/${tenant.id}/oauth2/v2.0/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: body.toString() });
  return ((await res.json()) as { access_token: string }).access_token;
}

async function call(path: string, init: { method?: string; json?: unknown; body?: string | Buffer; headers?: Record<string, string>; bearer?: string } = {}): Promise<{ status: number; body: Obj; raw: Buffer; headers: Headers }> {
  const url = path.startsWith('https://') ? path : emu.graphBaseUrl + path;
  const headers: Record<string, string> = { authorization: `Bearer ${init.bearer ?? token}`, ...(init.headers ?? {}) };
  let body = init.body;
  if (init.json !== undefined) {
    body = JSON.stringify(init.json);
    headers['content-type'] = 'application/json';
  }
  const res = await fetchE(url, { method: init.method ?? 'GET', headers, body });
  const raw = Buffer.from(await res.arrayBuffer());
  const isJson = (res.headers.get('content-type') ?? '').includes('json');
  return { status: res.status, body: isJson && raw.length > 0 ? (JSON.parse(raw.toString('utf8')) as Obj) : {}, raw, headers: res.headers as unknown as Headers };
}

/** Follows a delta round to its deltaLink. */
async function round(first: string, headers: Record<string, string> = {}): Promise<{ items: Obj[]; deltaLink: string; pages: number }> {
  const items: Obj[] = [];
  let url = first;
  for (let pages = 1; ; pages++) {
    const r = await call(url, { headers });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    items.push(...(r.body.value ?? []));
    if (r.body['@odata.nextLink'] !== undefined) url = r.body['@odata.nextLink'];
    else return { items, deltaLink: r.body['@odata.deltaLink']!, pages };
  }
}

const users = (upn: string): string => `/users/${encodeURIComponent(upn)}`;

beforeAll(async () => {
  emu = await GraphEmulator.start();
  fetchE = trustingFetch(emu.caPem);
  tenant = emu.addTenant({ domain: 'contoso.onmicrosoft.com' });
  app = tenant.addApp({ secret: 's3cret' });
  tenant.addUser({ userPrincipalName: ALICE, displayName: 'Alice Archer' });
  tenant.addUser({ userPrincipalName: BOB, displayName: 'Bob Baker' });
  tenant.addUser({ userPrincipalName: 'carol@contoso.onmicrosoft.com', mailbox: false });
  alice = tenant.mailboxOf(ALICE);
  await alice.seed({
    inbox: [
      { subject: 'Grüße aus Köln — 日本語 ✓', text: 'unicode body', receivedDateTime: new Date('2024-01-02T10:00:00Z') },
      { subject: 'Report', html: '<p>Hi</p><script>alert(1)</script><img src="https://tracker.example/p.gif">' },
      { subject: 'Big attachment', text: 'see attached', attachments: [{ name: 'big.bin', content: { size: 5 * MiB, seed: 'big' } }] },
      { subject: 'Four', text: '4', isRead: true },
      { subject: 'Five', text: '5', flagged: true },
    ],
    'Inbox/Projects/2024': [{ subject: 'Nested', text: 'deep' }],
  });
  token = await getToken(app);
});

afterAll(async () => {
  await emu?.stop();
});

describe('mail folders and mailboxes', () => {
  it('lists the well-known folders, nested folders, and the folder hierarchy by delta', async () => {
    const r = await call(`${users(ALICE)}/mailFolders`);
    expect(r.status).toBe(200);
    expect(r.body.value!.map((f) => f.displayName)).toEqual(expect.arrayContaining(['Inbox', 'Drafts', 'Sent Items', 'Deleted Items', 'Archive']));
    const inbox = await call(`${users(ALICE)}/mailFolders/inbox`);
    expect(inbox.body).toMatchObject({ displayName: 'Inbox', totalItemCount: 5, unreadItemCount: 4, childFolderCount: 1 });
    const kids = await call(`${users(ALICE)}/mailFolders/inbox/childFolders`);
    expect(kids.body.value!.map((f) => f.displayName)).toEqual(['Projects']);
    const all = await round(`${users(ALICE)}/mailFolders/delta`);
    expect(all.items.map((f) => f.displayName)).toEqual(expect.arrayContaining(['Inbox', 'Projects', '2024']));
    const box = tenant.mailboxOf(BOB);
    const before = await round(`${users(BOB)}/mailFolders/delta`);
    box.mkdirp('Old/Gone');
    const renamed = box.mkdirp('Keep');
    const mid = await round(before.deltaLink);
    expect(mid.items.map((f) => f.displayName).sort()).toEqual(['Gone', 'Keep', 'Old']);
    const gone = box.folder('Old/Gone').id;
    box.deleteFolder('Old/Gone');
    box.renameFolder('Keep', 'Kept');
    const after = await round(mid.deltaLink);
    expect(after.items).toEqual(expect.arrayContaining([expect.objectContaining({ id: gone, '@removed': { reason: 'deleted' } }), expect.objectContaining({ id: renamed.id, displayName: 'Kept' })]));
    expect(after.items).toHaveLength(2);
  });

  it('answers 404 MailboxNotEnabledForRESTAPI for a user without a mailbox, 403 ErrorAccessDenied without Mail roles', async () => {
    const r = await call('/users/carol@contoso.onmicrosoft.com/mailFolders');
    expect(r.status).toBe(404);
    expect(r.body.error!.code).toBe('MailboxNotEnabledForRESTAPI');
    const filesOnly = tenant.addApp({ secret: 'x', roles: ['User.Read.All', 'Files.Read.All'] });
    const denied = await call(`${users(ALICE)}/mailFolders`, { bearer: await getToken(filesOnly) });
    expect(denied.status).toBe(403);
    expect(denied.body.error!.code).toBe('ErrorAccessDenied');
  });
});

describe('messages', () => {
  it('derives the properties from the MIME and serves it as $value', async () => {
    const list = await call(`${users(ALICE)}/mailFolders/inbox/messages?$top=50`);
    const bySubject = new Map(list.body.value!.map((m) => [m.subject as string, m]));
    const uni = bySubject.get('Grüße aus Köln — 日本語 ✓')!;
    expect(uni).toMatchObject({ isRead: false, isDraft: false, receivedDateTime: '2024-01-02T10:00:00Z', bodyPreview: 'unicode body', flag: { flagStatus: 'notFlagged' } });
    expect(bySubject.get('Five')!.flag).toEqual({ flagStatus: 'flagged' });
    expect(bySubject.get('Report')!.bodyPreview).toBe('Hi');
    const big = bySubject.get('Big attachment')!;
    expect(big.hasAttachments).toBe(true);
    const atts = await call(`${users(ALICE)}/messages/${big.id}/attachments`);
    expect(atts.body.value![0]).toMatchObject({ name: 'big.bin', size: 5 * MiB, isInline: false });
    const mime = await call(`${users(ALICE)}/messages/${uni.id}/$value`);
    expect(mime.status).toBe(200);
    expect(parseMime(mime.raw).subject).toBe('Grüße aus Köln — 日本語 ✓');
    expect(uni.internetMessageId).toBe(parseMime(mime.raw).messageId);
    const expanded = await call(`${users(ALICE)}/messages/${big.id}?$expand=attachments`);
    expect((expanded.body.attachments as Obj[])[0]).toMatchObject({ name: 'big.bin', size: 5 * MiB });
  });

  it('fails a message’s $value on demand', async () => {
    const m = alice.messagesIn(alice.folder('inbox').id).find((x) => x.subject === 'Four')!;
    alice.failValue(m, { times: 1 });
    expect((await call(`${users(ALICE)}/messages/${m.restId}/$value`)).status).toBe(500);
    expect((await call(`${users(ALICE)}/messages/${m.restId}/$value`)).status).toBe(200);
  });

  it('creates a message from MIME as a draft (documented), and a non-draft from JSON with PR_MESSAGE_FLAGS', async () => {
    const mime = await composeMime({ subject: 'Restored', from: { address: 'x@example.com' }, to: [{ address: BOB }], date: new Date('2020-05-06T07:08:09Z'), text: 'body' });
    const created = await call(`${users(BOB)}/mailFolders/inbox/messages`, { method: 'POST', body: mime.toString('base64'), headers: { 'content-type': 'text/plain' } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ subject: 'Restored', isDraft: true, isRead: true, sentDateTime: '2020-05-06T07:08:09Z' });
    expect(created.body.receivedDateTime).not.toBe('2020-05-06T07:08:09Z');
    const bad = await call(`${users(BOB)}/messages`, { method: 'POST', body: '%%%not base64', headers: { 'content-type': 'text/plain' } });
    expect(bad.status).toBe(400);
    expect(bad.body.error!.code).toBe('ErrorMimeContentInvalidBase64String');
    const drafts = await call(`${users(BOB)}/messages`, { method: 'POST', body: mime.toString('base64'), headers: { 'content-type': 'text/plain' } });
    expect(drafts.body.parentFolderId).toBe(tenant.mailboxOf(BOB).folder('drafts').id);

    const fromJson = await call(`${users(BOB)}/mailFolders/inbox/messages`, {
      method: 'POST',
      json: {
        subject: 'Kept dates',
        body: { contentType: 'text', content: 'x' },
        isRead: false,
        singleValueExtendedProperties: [
          { id: 'Integer 0x0E07', value: '1' },
          { id: 'SystemTime 0x0E06', value: '2019-01-01T00:00:00Z' },
        ],
      },
    });
    expect(fromJson.body).toMatchObject({ isDraft: false, isRead: false, receivedDateTime: '2019-01-01T00:00:00Z' });
    const patched = await call(`${users(BOB)}/messages/${fromJson.body.id}`, { method: 'PATCH', json: { isRead: true, flag: { flagStatus: 'flagged' }, singleValueExtendedProperties: [{ id: 'Integer 0x0E07', value: '8' }] } });
    expect(patched.body).toMatchObject({ isRead: true, isDraft: false, flag: { flagStatus: 'flagged' } });
  });

  it('attaches a large file through an upload session without the bearer token', async () => {
    const msg = await call(`${users(BOB)}/mailFolders/drafts/messages`, { method: 'POST', json: { subject: 'With big file' } });
    const size = 5 * MiB;
    const s = await call(`${users(BOB)}/messages/${msg.body.id}/attachments/createUploadSession`, { method: 'POST', json: { AttachmentItem: { attachmentType: 'file', name: 'five.bin', size } } });
    expect(s.status).toBe(201);
    const url = s.body.uploadUrl as string;
    expect(new URL(url).origin).toBe(emu.filesOrigin);
    const bytes = Buffer.alloc(size, 7);
    const put = (start: number, end: number, auth?: string): Promise<Response> =>
      fetchE(url, { method: 'PUT', headers: { 'content-range': `bytes ${start}-${end}/${size}`, ...(auth !== undefined ? { authorization: auth } : {}) }, body: bytes.subarray(start, end + 1) });
    expect((await put(0, 4 * MiB - 1, `Bearer ${token}`)).status).toBe(401);
    const first = await put(0, 4 * MiB - 1);
    expect(first.status).toBe(200);
    expect(((await first.json()) as { nextExpectedRanges: string[] }).nextExpectedRanges).toEqual([String(4 * MiB)]);
    const last = await put(4 * MiB, size - 1);
    expect(last.status).toBe(201);
    const attId = /Attachments\('([^']+)'\)/.exec(last.headers.get('location') ?? '')![1]!;
    const att = await call(`${users(BOB)}/messages/${msg.body.id}/attachments/${attId}`);
    expect(att.body).toMatchObject({ name: 'five.bin', size });
    const mime = await call(`${users(BOB)}/messages/${msg.body.id}/$value`);
    expect(parseMime(mime.raw).attachments[0]!.content.length).toBe(size);
  });
});

describe('message delta', () => {
  it('pages by odata.maxpagesize, then reports reads, flags, moves and deletes with @removed', async () => {
    const prefer = { prefer: 'odata.maxpagesize=2' };
    const first = await round(`${users(ALICE)}/mailFolders/inbox/messages/delta?$select=subject,isRead`, prefer);
    expect(first.pages).toBe(3);
    expect(first.items).toHaveLength(5);
    expect(Object.keys(first.items[0]!).sort()).toEqual(['@odata.etag', '@odata.type', 'id', 'isRead', 'subject']);
    const inbox = alice.messagesIn(alice.folder('inbox').id);
    const [read, moved, gone] = [inbox.find((m) => m.subject === 'Report')!, inbox.find((m) => m.subject === 'Four')!, inbox.find((m) => m.subject === 'Five')!];
    const movedOldId = moved.restId;
    alice.markRead(read);
    alice.move(moved, 'archive');
    alice.delete(gone);
    await alice.addMessage('inbox', { subject: 'New one', text: 'n' });
    const next = await round(first.deltaLink, prefer);
    expect(next.items.filter((i) => i['@removed']).map((i) => i.id).sort()).toEqual([movedOldId, gone.restId].sort());
    expect(next.items.filter((i) => !i['@removed']).map((i) => [i.subject, i.isRead])).toEqual(expect.arrayContaining([['Report', true], ['New one', false]]));
    expect(next.items).toHaveLength(4);
    expect(moved.restId).not.toBe(movedOldId);
    const archive = await round(`${users(ALICE)}/mailFolders/archive/messages/delta`, { prefer: 'IdType="ImmutableId"' });
    expect(archive.items.map((i) => i.id)).toEqual([moved.immutableId]);
    const empty = await round(next.deltaLink);
    expect(empty.items).toEqual([]);
  });

  it('keeps the changeType of the first request: later rounds list only that kind of change', async () => {
    const box = tenant.mailboxOf(BOB);
    const old = await box.addMessage('Inbox/Receipts', { subject: 'old' });
    const first = await round(`${users(BOB)}/mailFolders/${box.folder('Inbox/Receipts').id}/messages/delta?changeType=created`);
    expect(first.items.map((i) => i.subject)).toEqual(['old']);
    box.markRead(old);
    await box.addMessage('Inbox/Receipts', { subject: 'new' });
    const next = await round(first.deltaLink);
    expect(next.items.map((i) => i.subject)).toEqual(['new']);
  });

  it('answers 410 SyncStateNotFound once the mailbox’s sync states expire', async () => {
    const first = await round(`${users(ALICE)}/mailFolders/inbox/messages/delta`);
    alice.expireDeltaTokens();
    const r = await call(first.deltaLink);
    expect(r.status).toBe(410);
    expect(r.body.error!.code).toBe('SyncStateNotFound');
    expect((await round(`${users(ALICE)}/mailFolders/inbox/messages/delta`)).items.length).toBeGreaterThan(0);
  });
});

describe('Exchange throttling', () => {
  it('answers 429 ApplicationThrottled with Retry-After beyond 4 concurrent requests to one mailbox', async () => {
    emu.traffic.reset();
    emu.options.mailboxRetryAfterSeconds = 60; // long enough that the request below surely comes back early
    const release = alice.hold();
    const path = `${users(ALICE)}/mailFolders/inbox`;
    const otherApp = tenant.addApp({ secret: 'other' });
    const otherToken = await getToken(otherApp);
    const pending = Array.from({ length: 6 }, () => call(path));
    const fromOtherApp = call(path, { bearer: otherToken });
    await emu.traffic.waitForRequest((r) => r.status === 429);
    await emu.traffic.waitForRequest((r) => r.status === 429 && emu.traffic.requests.filter((x) => x.status === 429).length === 2);
    const other = await call(`${users(BOB)}/mailFolders/inbox`);
    expect(other.status).toBe(200);
    release();
    const results = await Promise.all(pending);
    expect((await fromOtherApp).status).toBe(200); // the limit is per app per mailbox
    expect(results.map((r) => r.status).sort()).toEqual([200, 200, 200, 200, 429, 429]);
    const refused = results.find((r) => r.status === 429)!;
    expect(refused.body.error!.code).toBe('ApplicationThrottled');
    expect(refused.body.error!.message).toBe('Application is over its MailboxConcurrency limit.');
    expect(refused.headers.get('retry-after')).toBe('60');
    expect(emu.traffic.requests.filter((r) => r.status === 429).every((r) => r.owner?.name === ALICE && r.clientId === app.clientId)).toBe(true);
    const early = await call(path);
    expect(early.status).toBe(200);
    expect(emu.traffic.requests.at(-1)!.beforeRetryAfter).toBe(true); // came back before the Retry-After had passed
    emu.options.mailboxRetryAfterSeconds = 1;
  });
});

describe('calendars and contacts', () => {
  it('calendarView delta lists single instances, occurrences and exceptions, then their changes', async () => {
    const pim = alice.pim;
    const day = (d: number, h = 9): Date => new Date(Date.UTC(2025, 0, d, h));
    const series = pim.addEvent({ subject: 'Standup', start: day(6), end: day(6, 10), recurrence: { type: 'daily', interval: 1, numberOfOccurrences: 5 } });
    pim.addException(series, 1, { subject: 'Standup (moved)', start: day(7, 11), end: day(7, 12) });
    pim.cancelOccurrence(series, 3);
    pim.addEvent({ subject: 'Lunch', start: day(8, 12), end: day(8, 13) });
    const first = await round(`${users(ALICE)}/calendarView/delta?startDateTime=2025-01-01T00:00:00Z&endDateTime=2025-02-01T00:00:00Z`);
    const starts = first.items.map((e) => `${e.type as string} ${e.subject as string} ${(e.start as { dateTime: string }).dateTime.slice(0, 13)}`).sort();
    expect(starts).toEqual([
      'exception Standup (moved) 2025-01-07T11',
      'occurrence Standup 2025-01-06T09',
      'occurrence Standup 2025-01-08T09',
      'occurrence Standup 2025-01-10T09',
      'singleInstance Lunch 2025-01-08T12',
    ]);
    expect(first.items.filter((e) => e.type === 'occurrence')).toHaveLength(3);
    expect(first.items.every((e) => e.type === 'singleInstance' || e.seriesMasterId === series.id)).toBe(true);
    const events = await call(`${users(ALICE)}/events`);
    expect(events.body.value!.map((e) => e.type).sort()).toEqual(['seriesMaster', 'singleInstance']);
    const lunch = [...pim.events.values()].find((e) => e.subject === 'Lunch')!;
    pim.deleteEvent(lunch);
    const next = await round(first.deltaLink);
    expect(next.items).toEqual([expect.objectContaining({ id: lunch.id, '@removed': { reason: 'deleted' } })]);
  });

  it('contacts delta reports added, changed and deleted contacts', async () => {
    const pim = alice.pim;
    const a = pim.addContact({ displayName: 'Zoë Ünal', email: 'zoe@example.com' });
    const b = pim.addContact({ displayName: 'Ben' });
    const first = await round(`${users(ALICE)}/contacts/delta`);
    expect(first.items.map((c) => c.displayName)).toEqual(['Zoë Ünal', 'Ben']);
    pim.updateContact(a, { mobilePhone: '+1 555' });
    pim.deleteContact(b);
    const next = await round(first.deltaLink);
    expect(next.items).toEqual(expect.arrayContaining([expect.objectContaining({ id: b.id, '@removed': { reason: 'deleted' } }), expect.objectContaining({ id: a.id, mobilePhone: '+1 555' })]));
  });
});
