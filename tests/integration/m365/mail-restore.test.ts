/**
 * Restore of mail from a backup point (node-service/cloud/exchange/mail-restore) to the Graph
 * emulator: a message, a folder and the whole mailbox, to the same user and to another, into a
 * new Restore-<date> folder or the original folders. Restored messages are received messages
 * (not drafts) with their dates, read state and flag, and compared with the originals by
 * parsing both MIMEs ($value) with mailparser: fields, bodies, attachment names and SHA-256.
 * A 4 MiB attachment goes through an upload session; conflicts skip, copy, replace; a message
 * that fails is reported with its subject and folder while the others are restored.
 */
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { simpleParser, type AddressObject, type ParsedMail } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { m365ExchangeObjectKey, m365RestoreFolderName } from '../../../common/m365-tasks.js';
import { restoreMail } from '../../../node-service/cloud/exchange/mail-restore.js';
import type { ExchangeRestoreOptions } from '../../../node-service/cloud/exchange/model.js';
import { TenantSession } from '../../../node-service/cloud/graph/tenant-session.js';
import { Repository } from '../../../node-service/repository/index.js';
import { type Mailbox, type Tenant, type User, Content, GraphEmulator, composeMime } from '../../support/graph-emulator/index.js';
import { TEST_KDF, TempDirs } from '../../unit/repository/helpers.js';
import { type FixtureItem, makeMailPoint } from './mail-fixtures.js';

const MiB = 1024 * 1024;
const dirs = new TempDirs();
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
// A 1×1 PNG: the inline image the HTML refers to by cid.
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64');
const BOB = { name: 'Bob Baker', address: 'bob@example.com' };
const ALICE_ADDR = { name: 'Alice Archer', address: 'alice@contoso.onmicrosoft.com' };

let emu: GraphEmulator;
let tenant: Tenant;
let alice: User;
let bob: User;
let session: TenantSession;
let repo: Repository;
let workDir: string;
let objectKey: string;
let pointId: string;
let items: FixtureItem[];
const item = (subject: string): FixtureItem => items.find((i) => i.extra.subject === subject)!;

function restore(over: Partial<ExchangeRestoreOptions> & Pick<ExchangeRestoreOptions, 'paths'>, to: User = alice): ReturnType<typeof restoreMail> {
  return restoreMail({
    graph: session.graph,
    repo,
    objectKey,
    pointId,
    workDir: path.join(workDir, 'restore'),
    target: { userPath: `/users/${to.id}`, owner: to.id, label: `the mailbox of ${to.userPrincipalName}` },
    folder: 'Restore-test',
    conflict: 'copy',
    ...over,
  });
}

interface Restored {
  json: { id: string; isDraft: boolean; isRead: boolean; flag: { flagStatus: string }; receivedDateTime: string; sentDateTime: string; internetMessageId: string; subject: string };
  mime: Buffer;
}

/** The messages of a folder of a user's mailbox as Graph answers them: their JSON and their MIME ($value). */
async function restoredIn(user: User, folder: string): Promise<Restored[]> {
  const box = tenant.mailboxOf(user.id);
  const f = box.findFolder(folder);
  if (!f) throw new Error(`no folder ${folder} in ${user.userPrincipalName}`);
  const out: Restored[] = [];
  for (const m of box.messagesIn(f.id)) {
    const req = { what: 'read a restored message', owner: user.id };
    const json = await session.graph.json<Restored['json']>(`/users/${user.id}/messages/${m.restId}`, req);
    const mime = await session.graph.send(`/users/${user.id}/messages/${m.restId}/$value`, req, async (r) => Buffer.from(await r.arrayBuffer()));
    out.push({ json, mime });
  }
  return out;
}

const addrs = (v: AddressObject | AddressObject[] | undefined): { name: string; address?: string }[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]).flatMap((o) => o.value.map((a) => ({ name: a.name, address: a.address })));

/** What must survive a restore, read from a MIME with mailparser. */
async function essence(mime: Buffer): Promise<Record<string, unknown>> {
  const p: ParsedMail = await simpleParser(mime);
  return {
    subject: p.subject,
    from: addrs(p.from),
    to: addrs(p.to),
    cc: addrs(p.cc),
    bcc: addrs(p.bcc),
    replyTo: addrs(p.replyTo),
    date: p.date?.toISOString(),
    messageId: p.messageId,
    text: (p.text ?? '').trim(),
    html: typeof p.html === 'string' ? p.html.trim() : null,
    attachments: p.attachments.map((a) => ({ name: a.filename, sha256: sha(a.content), size: a.size })).sort((a, b) => String(a.name).localeCompare(String(b.name))),
  };
}

/** Checks one restored message against the original item: Graph's fields and the MIME's. */
async function expectSame(r: Restored, original: FixtureItem): Promise<void> {
  expect(r.json.isDraft).toBe(false);
  expect(r.json.isRead).toBe(original.extra.isRead);
  expect(r.json.flag.flagStatus).toBe(original.extra.flag);
  expect(new Date(r.json.receivedDateTime).toISOString()).toBe(original.extra.receivedAt);
  expect(new Date(r.json.sentDateTime).toISOString()).toBe(original.extra.sentAt);
  expect(await essence(r.mime)).toEqual(await essence(original.mime));
}

async function bySubject(user: User, folder: string): Promise<Map<string, Restored>> {
  return new Map((await restoredIn(user, folder)).map((r) => [r.json.subject, r]));
}

beforeAll(async () => {
  emu = await GraphEmulator.start();
  tenant = emu.addTenant({ domain: 'contoso.onmicrosoft.com' });
  const app = tenant.addApp({ secret: 's' });
  alice = tenant.addUser({ userPrincipalName: 'alice@contoso.onmicrosoft.com', displayName: 'Alice Archer' });
  bob = tenant.addUser({ userPrincipalName: 'bob@contoso.onmicrosoft.com', displayName: 'Bob Baker' });
  session = new TenantSession({ tenantId: tenant.id, clientId: app.clientId, credential: { kind: 'secret', secret: 's' }, authorityHost: emu.authorityHost, graphUrl: emu.graphBaseUrl, caPem: emu.caPem }, { backoffMs: 50 });
  const base = await dirs.make('vplus-mail-restore-');
  repo = await Repository.init(path.join(base, 'repo'), { password: 'pw', kdf: TEST_KDF }, { threads: 1 });
  workDir = path.join(base, 'work');
  objectKey = m365ExchangeObjectKey(tenant.id, 'mail', alice.id);
  const four = await Content.from({ size: 4 * MiB, seed: 'four' }).bytes();
  const point = await makeMailPoint({
    repo,
    objectKey,
    workDir,
    emptyFolders: ['Inbox/Empty'],
    messages: [
      {
        folder: 'Inbox',
        mime: await composeMime({ subject: 'Grüße aus Köln — 日本語 ✓', from: BOB, to: [ALICE_ADDR], cc: [{ name: 'Zoë Ünal', address: 'zoe@example.com' }], bcc: [{ address: 'archive@example.com' }], replyTo: [{ name: 'Bob at home', address: 'bob@home.example' }], date: new Date('2024-01-02T09:59:00Z'), messageId: '<greet@example.com>', text: 'Hallo Alice,\nFrom the office: 日本語 and ✓.\n' }),
        isRead: true,
        flag: 'flagged',
        receivedAt: new Date('2024-01-02T10:00:00Z'),
      },
      {
        folder: 'Inbox',
        mime: await composeMime({
          subject: 'Newsletter',
          from: BOB,
          to: [ALICE_ADDR],
          date: new Date('2024-02-03T04:00:00Z'),
          messageId: '<news@example.com>',
          html: '<p>Look at this: <img src="cid:logo@example.com" alt="logo"></p><p>Regards</p>',
          attachments: [
            { name: 'logo.png', contentType: 'image/png', content: PNG, contentId: 'logo@example.com' },
            { name: 'notes.txt', contentType: 'text/plain', content: 'the notes\n' },
          ],
        }),
        isRead: false,
        flag: 'complete',
        receivedAt: new Date('2024-02-03T04:05:06Z'),
      },
      {
        folder: 'Inbox/Projects',
        mime: await composeMime({ subject: 'Big attachment', from: BOB, to: [ALICE_ADDR], date: new Date('2024-03-01T08:00:00Z'), messageId: '<big@example.com>', text: 'see attached', attachments: [{ name: 'four.bin', content: four }, { name: 'small.csv', contentType: 'text/csv', content: 'a,b\n1,2\n' }] }),
        isRead: true,
        receivedAt: new Date('2024-03-01T08:01:00Z'),
      },
      { folder: 'Inbox/Projects/2024', mime: await composeMime({ subject: 'Nested', from: BOB, to: [ALICE_ADDR], date: new Date('2024-04-01T08:00:00Z'), messageId: '<nested@example.com>', html: '<b>deep</b> down' }), receivedAt: new Date('2024-04-01T08:00:30Z') },
      { folder: 'Archive', mime: await composeMime({ subject: 'Archived', from: BOB, to: [ALICE_ADDR], date: new Date('2023-05-01T08:00:00Z'), messageId: '<archived@example.com>', text: 'old' }), isRead: true, receivedAt: new Date('2023-05-01T09:00:00Z') },
      { folder: 'Clients', mime: await composeMime({ subject: 'Client mail', from: BOB, to: [ALICE_ADDR], date: new Date('2024-06-01T08:00:00Z'), messageId: '<client@example.com>', text: 'an order' }), receivedAt: new Date('2024-06-01T08:00:10Z') },
    ],
  });
  pointId = point.pointId;
  items = point.items;
});

afterAll(async () => {
  await session?.close();
  await repo?.close();
  await emu?.stop();
  await dirs.cleanup();
});

describe('mail restore', () => {
  it('one message into a new Restore folder: a received message with its dates, read state, flag and body', async () => {
    const greet = item('Grüße aus Köln — 日本語 ✓');
    const progress: number[] = [];
    const r = await restore({ paths: [greet.path], folder: 'Restore-message', onProgress: (p) => progress.push(p.doneFiles) });
    expect(r).toMatchObject({ restoredFiles: 1, failed: [], skipped: [], targetRoot: '/Restore-message' });
    expect(progress.at(-1)).toBe(1);
    const restored = await restoredIn(alice, 'Restore-message/Inbox');
    expect(restored).toHaveLength(1);
    await expectSame(restored[0]!, greet);
    expect(restored[0]!.json.internetMessageId).toBe('<greet@example.com>');
  });

  it('the whole mailbox to the same user under Restore-<date>: folders kept, the 4 MiB attachment through an upload session, the inline image kept', async () => {
    emu.traffic.reset();
    const folder = m365RestoreFolderName(new Date('2026-12-07T03:15:00Z'));
    const r = await restore({ paths: ['/'], folder });
    expect(r.failed).toEqual([]);
    expect(r.restoredFiles).toBe(6);
    const box = tenant.mailboxOf(alice.id);
    for (const f of ['Inbox', 'Inbox/Empty', 'Inbox/Projects', 'Inbox/Projects/2024', 'Archive', 'Clients']) expect(box.findFolder(`${folder}/${f}`), f).toBeDefined();
    expect(box.childFolders(box.findFolder(folder)!.id).map((f) => f.displayName).sort()).toEqual(['Archive', 'Clients', 'Inbox']);
    const where: Record<string, string> = { 'Grüße aus Köln — 日本語 ✓': 'Inbox', Newsletter: 'Inbox', 'Big attachment': 'Inbox/Projects', Nested: 'Inbox/Projects/2024', Archived: 'Archive', 'Client mail': 'Clients' };
    for (const [subject, f] of Object.entries(where)) {
      const restored = (await bySubject(alice, `${folder}/${f}`)).get(subject);
      expect(restored, subject).toBeDefined();
      await expectSame(restored!, item(subject));
    }
    // The inline image is an inline attachment with its content id; the HTML still points at it.
    const news = box.messagesIn(box.findFolder(`${folder}/Inbox`)!.id).find((m) => m.subject === 'Newsletter')!;
    expect(news.attachments.find((a) => a.name === 'logo.png')).toMatchObject({ isInline: true, contentId: 'logo@example.com' });
    expect(news.body.content).toContain('cid:logo@example.com');
    // 4 MiB: one upload session, ranges of at most 4 MB on the upload URL without the bearer token.
    const sessions = emu.traffic.requests.filter((q) => q.method === 'POST' && q.path.endsWith('/attachments/createUploadSession'));
    expect(sessions).toHaveLength(1);
    const puts = emu.traffic.requests.filter((q) => q.host === 'files' && q.method === 'PUT');
    expect(puts.length).toBeGreaterThanOrEqual(2);
    expect(puts.filter((q) => q.authorizationSent)).toEqual([]);
    expect(emu.traffic.requests.filter((q) => q.throttled)).toEqual([]);
    expect(emu.traffic.peakConcurrency({ owner: alice.id })).toBeLessThanOrEqual(4);
  });

  it('the whole mailbox to another user: the same messages in their mailbox', async () => {
    const r = await restore({ paths: ['/'], folder: 'From Alice' }, bob);
    expect(r.failed).toEqual([]);
    expect(r.restoredFiles).toBe(6);
    const inbox = await bySubject(bob, 'From Alice/Inbox');
    await expectSame(inbox.get('Newsletter')!, item('Newsletter'));
    await expectSame((await bySubject(bob, 'From Alice/Inbox/Projects')).get('Big attachment')!, item('Big attachment'));
    expect(tenant.mailboxOf(alice.id).findFolder('From Alice')).toBeUndefined();
  });

  it('a folder into the original folders of another user: Inbox is their inbox, missing folders are made', async () => {
    const r = await restore({ paths: ['/Inbox/Projects', '/Archive'], folder: null }, bob);
    expect(r).toMatchObject({ restoredFiles: 3, failed: [], targetRoot: '/' });
    const box = tenant.mailboxOf(bob.id);
    const projects = box.findFolder('inbox/Projects')!;
    expect(projects.parentId).toBe(box.folder('inbox').id);
    await expectSame((await bySubject(bob, 'inbox/Projects')).get('Big attachment')!, item('Big attachment'));
    await expectSame((await bySubject(bob, 'inbox/Projects/2024')).get('Nested')!, item('Nested'));
    await expectSame((await bySubject(bob, 'archive')).get('Archived')!, item('Archived'));
  });

  it('into the original folder of the same user: skip leaves the message there, copy adds one, replace leaves one new', async () => {
    const box: Mailbox = tenant.mailboxOf(alice.id);
    const client = item('Client mail');
    const inClients = (): string[] => box.messagesIn(box.findFolder('Clients')!.id).map((m) => m.restId);
    const first = await restore({ paths: [client.path], folder: null, conflict: 'skip' });
    expect(first).toMatchObject({ restoredFiles: 1, skipped: [] });
    const before = inClients();
    expect(before).toHaveLength(1);
    const skipped = await restore({ paths: [client.path], folder: null, conflict: 'skip' });
    expect(skipped.restoredFiles).toBe(0);
    expect(skipped.skipped).toEqual([{ path: client.path, reason: expect.stringMatching(/"Client mail" is already in \/Clients/) }]);
    expect(inClients()).toEqual(before);
    const copied = await restore({ paths: [client.path], folder: null, conflict: 'copy' });
    expect(copied.restoredFiles).toBe(1);
    expect(inClients()).toHaveLength(2);
    const replaced = await restore({ paths: [client.path], folder: null, conflict: 'replace' });
    expect(replaced.restoredFiles).toBe(1);
    const after = inClients();
    expect(after).toHaveLength(1);
    expect(before).not.toContain(after[0]);
    await expectSame((await restoredIn(alice, 'Clients'))[0]!, client);
  });

  it('a message that fails is reported with its subject and folder; the others are restored', async () => {
    const brokenKey = m365ExchangeObjectKey(tenant.id, 'mail', `${alice.id}-broken`);
    const hostileHeader = `X-Junk: ${'a'.repeat(70)}\r\n`.repeat(16_000); // > 1 MiB of header
    const broken = await makeMailPoint({
      repo,
      objectKey: brokenKey,
      workDir,
      messages: [
        { folder: 'Inbox', mime: await composeMime({ subject: 'Fine', from: BOB, to: [ALICE_ADDR], date: new Date('2024-07-01T00:00:00Z'), text: 'ok' }), receivedAt: new Date('2024-07-01T00:01:00Z') },
        { folder: 'Inbox', mime: await composeMime({ subject: 'Refused by Exchange', from: BOB, to: [ALICE_ADDR], text: 'no' }) },
        { folder: 'Inbox', mime: Buffer.from(`Subject: Hostile\r\n${hostileHeader}\r\nbody`) },
      ],
    });
    // Exchange refuses to create this one (400); the hostile one cannot be read.
    tenant.mailboxOf(bob.id).failCreate('Refused by Exchange', { status: 400 });
    const r = await restoreMail({
      graph: session.graph,
      repo,
      objectKey: brokenKey,
      pointId: broken.pointId,
      workDir: path.join(workDir, 'restore-broken'),
      target: { userPath: `/users/${bob.id}`, owner: bob.id, label: 'the mailbox of bob' },
      folder: 'Broken',
      conflict: 'copy',
      paths: ['/'],
    });
    expect(r.restoredFiles).toBe(1);
    expect(r.failed.map((f) => f.reason).sort()).toEqual([expect.stringMatching(/^the message "Hostile" in \/Inbox could not be restored: .*header/), expect.stringMatching(/^the message "Refused by Exchange" in \/Inbox could not be restored/)]);
    expect((await restoredIn(bob, 'Broken/Inbox')).map((m) => m.json.subject)).toEqual(['Fine']);
  });
});
