/**
 * Mailboxes backed up by the cloud agent (node-service/cloud/exchange/mail-backup) from the
 * Graph emulator into a real encrypted repository: a full backup of two mailboxes whose stored
 * MIME matches the emulator's byte for byte, an incremental that stores exactly the changes
 * and downloads only new messages (from the emulator's request log), an expired delta that
 * brings nothing deleted back, the per-mailbox concurrency limit under load, a message whose
 * MIME cannot be read as a warning naming it and stored by the next backup, and a user
 * without a mailbox.
 */
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { backupMailbox, type MailBackupOptions } from '../../../node-service/cloud/exchange/mail-backup.js';
import { searchMessages, type MailSearchFilter } from '../../../node-service/cloud/exchange/mail-query.js';
import { exchangeFileName, type MessageExtra } from '../../../node-service/cloud/exchange/model.js';
import type { DriveBackupResult } from '../../../node-service/cloud/drive-backup.js';
import { CloudError } from '../../../node-service/cloud/graph/cloud-errors.js';
import { TenantSession } from '../../../node-service/cloud/graph/tenant-session.js';
import { openObjectStore } from '../../../node-service/cloud/metadata/index.js';
import { Repository } from '../../../node-service/repository/index.js';
import { GraphEmulator, type Mailbox, type MessageRecord, type Tenant, type User } from '../../support/graph-emulator/index.js';
import { TEST_KDF, TempDirs } from '../../unit/repository/helpers.js';

const MiB = 1024 * 1024;
const ALICE = 'alice@contoso.onmicrosoft.com';
const BOB = 'bob@contoso.onmicrosoft.com';
const dirs = new TempDirs();
let emu: GraphEmulator;
let tenant: Tenant;
let session: TenantSession;
let repo: Repository;
let workDir: string;
const users = new Map<string, User>();

const keyOf = (upn: string): string => `m365:${tenant.id}:mail:${users.get(upn)!.id}`;

function backup(upn: string, extra: Partial<MailBackupOptions> = {}): Promise<DriveBackupResult> {
  const u = users.get(upn)!;
  return backupMailbox({ graph: session.graph, repo, objectKey: keyOf(upn), userPath: `/users/${u.id}`, owner: u.id, label: `the mailbox of ${upn}`, workDir, packSize: 4 * MiB, pageSize: 3, ...extra });
}

interface Entry {
  sha256: string;
  extra?: MessageExtra;
}

/** The point's folders and messages (each message's MIME SHA-256 and extra). */
async function pointTree(upn: string, pointId: string): Promise<Record<string, Entry | 'folder'>> {
  const store = await openObjectStore(repo, keyOf(upn), { workDir: path.join(workDir, 'read') });
  try {
    const out: Record<string, Entry | 'folder'> = {};
    const walk = async (folder: string): Promise<void> => {
      for (const item of await store.listChildren(pointId, folder)) {
        if (item.kind === 'folder') {
          out[item.path] = 'folder';
          await walk(item.path);
        } else {
          const h = createHash('sha256');
          for await (const b of store.readContent(pointId, item.id)) h.update(b);
          out[item.path] = { sha256: h.digest('hex'), extra: item.extra as MessageExtra };
        }
      }
    };
    await walk('/');
    return out;
  } finally {
    await store.close();
  }
}

/** The emulator's mailbox in the same shape (paths from display names, messages named by immutable id). */
async function mailboxTree(box: Mailbox): Promise<Record<string, string>> {
  const folderPath = (id: string): string => {
    const parts: string[] = [];
    for (let f = box.folders.get(id); f; f = box.folders.get(f.parentId)) parts.unshift(f.displayName);
    return `/${parts.join('/')}`;
  };
  const out: Record<string, string> = {};
  for (const f of box.folders.values()) out[folderPath(f.id)] = 'folder';
  for (const m of box.messages.values()) out[`${folderPath(m.folderId)}/${exchangeFileName(m.subject, m.immutableId, 'eml')}`] = createHash('sha256').update(await box.mimeOf(m)).digest('hex');
  return out;
}

/** Only the hashes, to compare with the emulator. */
function hashes(tree: Record<string, Entry | 'folder'>): Record<string, string> {
  return Object.fromEntries(Object.entries(tree).map(([p, e]) => [p, e === 'folder' ? 'folder' : e.sha256]));
}

/** Message ids whose MIME was fetched since the last reset. */
function valueFetches(box: Mailbox): string[] {
  return emu.traffic.requests
    .filter((r) => r.host === 'graph' && r.path.endsWith('/$value') && (r.status ?? 0) < 300)
    .map((r) => decodeURIComponent(r.path.split('/').at(-2)!))
    .map((id) => box.findMessage(id)?.subject ?? id);
}

function extraOf(tree: Record<string, Entry | 'folder'>, subject: string): MessageExtra {
  const hits = Object.values(tree).filter((e): e is Entry => e !== 'folder' && e.extra?.subject === subject);
  expect(hits, subject).toHaveLength(1);
  return hits[0]!.extra!;
}

const inlinePng = Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000', 'hex');

beforeAll(async () => {
  emu = await GraphEmulator.start();
  tenant = emu.addTenant({ domain: 'contoso.onmicrosoft.com' });
  const app = tenant.addApp({ secret: 'right secret' });
  for (const upn of [ALICE, BOB]) users.set(upn, tenant.addUser({ userPrincipalName: upn, displayName: upn.split('@')[0]! }));
  users.set('dave', tenant.addUser({ userPrincipalName: 'dave@contoso.onmicrosoft.com', mailbox: false }));
  await tenant.mailboxOf(ALICE).seed({
    inbox: [
      { subject: 'Grüße aus Köln — 日本語 ✓', text: 'unicode', from: { name: 'Jürgen Ötzi', address: 'juergen@example.de' }, receivedDateTime: new Date('2024-01-02T10:00:00Z') },
      { subject: 'Quarterly numbers', text: 'see attached', attachments: [{ name: 'q3 report.pdf', contentType: 'application/pdf', content: { size: 4 * MiB, seed: 'four' } }] },
      { subject: 'The big one', text: 'twenty', attachments: [{ name: 'video.mp4', contentType: 'video/mp4', content: { size: 20 * MiB, seed: 'twenty' } }] },
      { subject: 'Logo inline', html: '<p>Our logo: <img src="cid:logo@vplus"></p>', attachments: [{ name: 'logo.png', contentType: 'image/png', content: inlinePng, contentId: 'logo@vplus' }] },
      { subject: 'Read me', text: 'r', isRead: false },
      { subject: 'Flag me', text: 'f' },
      { subject: 'Move me', text: 'm' },
      { subject: 'Delete me', text: 'd' },
    ],
    'Inbox/Projects/2024': [{ subject: 'Nested deep', text: 'deep' }],
    'Inbox/Projects': [{ subject: 'Project kickoff', text: 'k' }],
    'Old Stuff': [{ subject: 'Ancient', text: 'a' }, { subject: 'Older', text: 'o' }],
    sentitems: [{ subject: 'Re: Grüße', text: 'reply', isRead: true }],
  });
  await tenant.mailboxOf(BOB).seed({ inbox: [{ subject: 'Hello Bob', text: 'hi' }], 'Clients/Acme': [{ subject: 'Acme order', text: 'order' }] });
  session = new TenantSession({ tenantId: tenant.id, clientId: app.clientId, credential: { kind: 'secret', secret: 'right secret' }, authorityHost: emu.authorityHost, graphUrl: emu.graphBaseUrl, caPem: emu.caPem }, { backoffMs: 20 });
  const base = await dirs.make('vplus-mail-backup-');
  repo = await Repository.init(path.join(base, 'repo'), { password: 'pw', kdf: TEST_KDF }, { threads: 1 });
  workDir = path.join(base, 'work');
});

afterAll(async () => {
  await session?.close();
  await repo?.close();
  await emu?.stop();
  await dirs.cleanup();
});

describe('mailbox backup', () => {
  let first: DriveBackupResult;
  const alice = (): Mailbox => tenant.mailboxOf(ALICE);
  const msg = (subject: string): MessageRecord => [...alice().messages.values()].find((m) => m.subject === subject)!;

  it('a full backup of two mailboxes stores every folder and every message’s MIME as the emulator has it', async () => {
    emu.traffic.reset();
    first = await backup(ALICE);
    expect(first).toMatchObject({ kind: 'full', resynced: false, warnings: [] });
    expect(first.files).toBe(alice().messages.size);
    const tree = await pointTree(ALICE, first.pointId);
    // Named by their immutable ids (Prefer: IdType="ImmutableId"), which stay when a message moves.
    expect(hashes(tree)).toEqual(await mailboxTree(alice()));
    expect(tree['/Inbox/Projects/2024']).toBe('folder');

    const big = extraOf(tree, 'The big one');
    expect(big.attachments).toEqual([{ name: 'video.mp4', size: 20 * MiB, contentType: 'video/mp4', inline: false }]);
    expect(big.hasAttachments).toBe(true);
    expect(extraOf(tree, 'Quarterly numbers').attachments).toEqual([{ name: 'q3 report.pdf', size: 4 * MiB, contentType: 'application/pdf', inline: false }]);
    expect(extraOf(tree, 'Logo inline').attachments).toEqual([{ name: 'logo.png', size: inlinePng.length, contentType: 'image/png', inline: true }]);
    expect(extraOf(tree, 'Grüße aus Köln — 日本語 ✓')).toMatchObject({ from: { name: 'Jürgen Ötzi', address: 'juergen@example.de' }, receivedAt: '2024-01-02T10:00:00Z', isRead: false, flag: 'notFlagged', preview: 'unicode' });
    expect(extraOf(tree, 'Re: Grüße').isRead).toBe(true);

    const bob = await backup(BOB);
    expect(bob.warnings).toEqual([]);
    expect(hashes(await pointTree(BOB, bob.pointId))).toEqual(await mailboxTree(tenant.mailboxOf(BOB)));
  });

  it('an incremental stores exactly the changes and downloads only new messages', async () => {
    const box = alice();
    await box.addMessage('inbox', { subject: 'Brand new', text: 'new' });
    box.markRead(msg('Read me'));
    box.setFlag(msg('Flag me'), 'flagged');
    box.move(msg('Move me'), 'Inbox/Projects');
    box.delete(msg('Delete me'));
    await box.addMessage('Fresh Folder/Sub', { subject: 'In a new folder', text: 'x' });
    box.deleteFolder('Old Stuff');
    emu.traffic.reset();
    const inc = await backup(ALICE);
    expect(inc).toMatchObject({ kind: 'incremental', resynced: false, warnings: [] });
    expect(valueFetches(box).sort()).toEqual(['Brand new', 'In a new folder']);
    const tree = await pointTree(ALICE, inc.pointId);
    expect(hashes(tree)).toEqual(await mailboxTree(box));
    expect(extraOf(tree, 'Read me').isRead).toBe(true);
    expect(extraOf(tree, 'Flag me').flag).toBe('flagged');
    // Added: the new message, the new folders and their message; removed: the deleted message, the deleted folder and its two.
    expect(inc.added).toBe(4);
    expect(inc.removed).toBe(4);
    expect(inc.changed).toBe(3); // read, flagged, moved
    const moved = Object.keys(tree).filter((p) => p.includes('Move me'));
    expect(moved).toEqual([`/Inbox/Projects/${exchangeFileName('Move me', msg('Move me').immutableId, 'eml')}`]);
    // The first point is still the mailbox as it was.
    const before = await pointTree(ALICE, first.pointId);
    expect(Object.keys(before).some((p) => p.startsWith('/Old Stuff/'))).toBe(true);
    expect(extraOf(before, 'Read me').isRead).toBe(false);

    emu.traffic.reset();
    const quiet = await backup(ALICE);
    expect(quiet).toMatchObject({ added: 0, changed: 0, removed: 0, downloadedFiles: 0 });
    expect(valueFetches(box)).toEqual([]);
  });

  it('an expired delta enumerates again: the point is complete and nothing deleted comes back', async () => {
    const box = alice();
    box.delete(msg('Project kickoff'));
    box.deleteFolder('Fresh Folder');
    box.markRead(msg('Flag me'));
    box.expireDeltaTokens();
    emu.traffic.reset();
    const r = await backup(ALICE);
    expect(r).toMatchObject({ resynced: true, warnings: [] });
    expect(emu.traffic.requests.some((q) => q.status === 410)).toBe(true);
    const tree = await pointTree(ALICE, r.pointId);
    expect(hashes(tree)).toEqual(await mailboxTree(box));
    expect(Object.keys(tree).some((p) => p.includes('Project kickoff') || p.startsWith('/Fresh Folder'))).toBe(false);
    expect(extraOf(tree, 'Flag me').isRead).toBe(true);
    expect(valueFetches(box)).toEqual([]); // unchanged MIME is never fetched again
  });

  it('keeps at most 4 requests in flight for a mailbox under load, and completes', async () => {
    const box = alice();
    for (let i = 0; i < 10; i++) await box.addMessage(`Load/F${i % 5}`, { subject: `load ${i}`, text: `${i}` });
    emu.traffic.reset();
    const u = users.get(ALICE)!;
    let release: (() => void) | null = null;
    // Held from the first folder read on: the requests the backup makes meanwhile pile up.
    const folderRead = emu.traffic.waitForRequest((q) => q.path.endsWith('/messages/delta')).then(() => (release = box.hold()));
    const running = backup(ALICE);
    try {
      await folderRead;
      // They pile up to the mailbox's limit, and no further.
      await vi.waitFor(() => expect(emu.traffic.requests.filter((q) => q.owner?.id === u.id && q.end === undefined).length).toBe(4), { timeout: 10_000, interval: 5 });
    } finally {
      (release as (() => void) | null)?.();
    }
    const r = await running;
    expect(r.warnings).toEqual([]);
    expect(emu.traffic.peakConcurrency({ owner: u.id })).toBeLessThanOrEqual(4);
    expect(emu.traffic.requests.filter((q) => q.throttled)).toEqual([]);
    expect(hashes(await pointTree(ALICE, r.pointId))).toEqual(await mailboxTree(box));
  });

  it('waits out 429 ApplicationThrottled (a mailbox limit lower than the client’s) and completes', async () => {
    const box = alice();
    for (let i = 0; i < 6; i++) await box.addMessage(`Load/F${i % 3}`, { subject: `throttled ${i}`, text: `${i}` });
    emu.options.mailboxConcurrency = 2;
    emu.options.mailboxRetryAfterSeconds = 0.2;
    emu.traffic.reset();
    try {
      const r = await backup(ALICE);
      expect(r.warnings).toEqual([]);
      expect(emu.traffic.requests.filter((q) => q.throttled && q.note === 'over the mailbox concurrency limit').length).toBeGreaterThan(0);
      expect(hashes(await pointTree(ALICE, r.pointId))).toEqual(await mailboxTree(box));
    } finally {
      emu.options.mailboxConcurrency = 4;
      emu.options.mailboxRetryAfterSeconds = 1;
    }
  });

  it('a message whose MIME cannot be read is a warning naming it; the others are stored, and the next backup stores it', async () => {
    const box = alice();
    const bad = await box.addMessage('Inbox/Projects', { subject: 'Broken one', text: 'b' });
    await box.addMessage('inbox', { subject: 'Fine one', text: 'f' });
    box.failValue(bad, { status: 404 });
    const failed = await backup(ALICE);
    expect(failed.warnings).toEqual([expect.stringMatching(/^message "Broken one" in \/Inbox\/Projects could not be backed up/)]);
    const tree = await pointTree(ALICE, failed.pointId);
    expect(Object.values(tree).some((e) => e !== 'folder' && e.extra?.subject === 'Fine one')).toBe(true);
    expect(Object.values(tree).some((e) => e !== 'folder' && e.extra?.subject === 'Broken one')).toBe(false);

    box.valueFailures.clear();
    emu.traffic.reset();
    const next = await backup(ALICE);
    expect(next.warnings).toEqual([]);
    expect(valueFetches(box)).toEqual(['Broken one']);
    expect(hashes(await pointTree(ALICE, next.pointId))).toEqual(await mailboxTree(box));
  });

  it('a user without a mailbox is M365_NO_MAILBOX, with nothing stored', async () => {
    const err = await backup('dave').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CloudError);
    expect((err as CloudError).code).toBe('M365_NO_MAILBOX');
    expect(await repo.points().list(keyOf('dave'))).toEqual([]);
  });
});

describe('mail search', () => {
  it('finds messages of a point by sender, subject, attachment name, date range and folder, from the metadata alone', async () => {
    const point = (await repo.points().list(keyOf(ALICE))).at(-1)!;
    const store = await openObjectStore(repo, keyOf(ALICE), { workDir: path.join(workDir, 'search') });
    try {
      const subjects = async (f: MailSearchFilter): Promise<string[]> => (await searchMessages(store, point.id, f)).items.map((i) => i.extra.subject);
      expect(await subjects({ from: 'JÜRGEN' })).toEqual(['Grüße aus Köln — 日本語 ✓']);
      expect(await subjects({ from: 'juergen@example' })).toEqual(['Grüße aus Köln — 日本語 ✓']);
      expect(await subjects({ subject: 'quarterly' })).toEqual(['Quarterly numbers']);
      expect(await subjects({ attachment: 'Q3 REPORT' })).toEqual(['Quarterly numbers']);
      expect(await subjects({ q: 'logo png' })).toEqual(['Logo inline']); // subject and attachment name
      expect(await subjects({ q: 'logo mp4' })).toEqual([]);
      expect(await subjects({ after: '2024-01-01', before: '2024-01-03' })).toEqual(['Grüße aus Köln — 日本語 ✓']);
      expect(await subjects({ hasAttachments: true, sort: 'size', order: 'desc' })).toEqual(['The big one', 'Quarterly numbers']);

      const inbox = await searchMessages(store, point.id, { folder: '/Inbox', recursive: true, sort: 'subject', order: 'asc', limit: 3 });
      const all = await subjects({ folder: '/Inbox', recursive: true, sort: 'subject', order: 'asc', limit: 1000 });
      expect(all).toContain('Nested deep'); // in /Inbox/Projects/2024
      expect(all).toEqual([...all].sort((a, b) => a.toLowerCase().localeCompare(b.toLowerCase())));
      expect(inbox.total).toBe(all.length);
      expect(inbox.items.map((i) => i.extra.subject)).toEqual(all.slice(0, 3));
      expect((await searchMessages(store, point.id, { folder: '/Inbox', recursive: true, sort: 'subject', order: 'asc', offset: 3, limit: 2 })).items.map((i) => i.extra.subject)).toEqual(all.slice(3, 5));
      expect(await subjects({ folder: '/Inbox', recursive: false })).not.toContain('Nested deep');
      const nested = (await searchMessages(store, point.id, { q: 'nested' })).items[0]!;
      expect(nested).toMatchObject({ folderPath: '/Inbox/Projects/2024', path: `/Inbox/Projects/2024/${exchangeFileName('Nested deep', msgId(ALICE, 'Nested deep'), 'eml')}` });
      expect(nested.size).toBe((await tenant.mailboxOf(ALICE).mimeOf(tenant.mailboxOf(ALICE).findMessage(msgId(ALICE, 'Nested deep'))!)).length);

      // The first point still has what was deleted since.
      const first = (await repo.points().list(keyOf(ALICE)))[0]!;
      expect((await searchMessages(store, first.id, { subject: 'delete me' })).total).toBe(1);
      expect((await searchMessages(store, point.id, { subject: 'delete me' })).total).toBe(0);
    } finally {
      await store.close();
    }
  });
});

function msgId(upn: string, subject: string): string {
  return [...tenant.mailboxOf(upn).messages.values()].find((m) => m.subject === subject)!.immutableId;
}
