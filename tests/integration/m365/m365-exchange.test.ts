/**
 * Exchange parts of Microsoft 365 backups end to end through the real API: a real server
 * (managed MariaDB), a real node agent with the real handlers, a real encrypted repository
 * and the Graph emulator. A user with a mailbox, calendars, contacts and a OneDrive is backed
 * up as one backup of four points; opened as a mount, the mail browser searches by sender,
 * subject and attachment name, shows a message, previews hostile HTML with the strict CSP and
 * no script, hands out an attachment, and exports mbox, ICS, VCF and a zip that parse with
 * mailparser and ical.js; a mail folder is restored into another user's mailbox; a user
 * without a mailbox is refused as a target, naming "to"; a viewer may do none of it; restores
 * and exports are audited; a new catalog finds the backups again on the destination alone,
 * their parts' kinds included.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ICAL from 'ical.js';
import { simpleParser } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ContactListResult, EventListResult, MailMessageDetail, MailSearchResult } from '../../../common/api/m365-mail.js';
import type { M365Backup, M365BackupPage, M365User } from '../../../common/api/m365.js';
import type { Mount } from '../../../common/api/mounts.js';
import type { TaskDetails } from '../../../common/api/tasks.js';
import { Catalog } from '../../../electron/server/db/catalog.js';
import { PREVIEW_CSP } from '../../../node-service/cloud/exchange/mail-preview.js';
import { defaultHandlers } from '../../../node-service/agent/node-service.js';
import type { ApiResponse } from '../../support/api-client.js';
import { GraphEmulator, type Mailbox, type Tenant } from '../../support/graph-emulator/index.js';
import { requireBinary } from '../../support/requirements.js';
import { enrollTestNode, type TestNode } from '../../support/test-node.js';
import { createUser, makeTempDir, setupAdmin, startTestServer, taskEnded, waitFor, type TestServer } from '../../support/test-server.js';

const SECRET = 'Ex9~exchange-app-secret.Zz';
const ALICE = 'alice@contoso.onmicrosoft.com';
const BOB = 'bob@contoso.onmicrosoft.com';
const DAVE = 'dave@contoso.onmicrosoft.com';
const REPORT = Buffer.from('%PDF-1.4 the quarterly report\n');

describe('Exchange parts of Microsoft 365 backups through the API', () => {
  let emu: GraphEmulator;
  let tenant: Tenant;
  let aliceBox: Mailbox;
  let bobBox: Mailbox;
  let t: TestServer;
  let node: TestNode;
  let admin: string;
  let viewer: string;
  let backup: M365Backup;
  let mount: Mount;
  let dir: string;

  const call = <T>(method: string, p: string, body?: unknown, token = admin): Promise<ApiResponse<T>> => t.api.request<T>(method, p, body, { token });
  const ended = (id: number): Promise<TaskDetails> => taskEnded(t.api, admin, id, 180_000);
  const q = (params: Record<string, string | string[]>): string => {
    const s = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) for (const x of Array.isArray(v) ? v : [v]) s.append(k, x);
    return s.toString();
  };
  const search = async (params: Record<string, string>): Promise<MailSearchResult> => {
    const res = await call<MailSearchResult>('GET', `/api/mounts/${mount.id}/mail/messages?${q(params)}`);
    expect(res.status, res.text).toBe(200);
    return res.body;
  };
  /** A download's bytes (and its response), from the API as a browser gets it. */
  const fetchBytes = async (p: string, token = admin): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> => {
    const file = path.join(dir, `dl-${Math.random().toString(36).slice(2)}`);
    const r = await t.api.download(p, file, { token });
    const body = fs.existsSync(file) ? fs.readFileSync(file) : Buffer.alloc(0);
    return { status: r.status, headers: r.headers, body };
  };

  beforeAll(async () => {
    requireBinary(['/usr/bin/unzip', '/bin/unzip'], 'bash build/setup.sh --test');
    emu = await GraphEmulator.start();
    tenant = emu.addTenant({ domain: 'contoso.onmicrosoft.com' });
    const app = tenant.addApp({ secret: SECRET });
    tenant.addUser({ userPrincipalName: ALICE, displayName: 'Alice Archer' });
    tenant.addUser({ userPrincipalName: BOB, displayName: 'Bob Baker', drive: false });
    tenant.addUser({ userPrincipalName: DAVE, displayName: 'Dave Dunn', mailbox: false });
    tenant.driveOf(ALICE).seed({ 'Docs/plan.txt': 'the plan' });
    aliceBox = tenant.mailboxOf(ALICE);
    bobBox = tenant.mailboxOf(BOB);
    await aliceBox.seed({
      inbox: [
        { subject: 'Quarterly report', text: 'see attached', from: { name: 'Bob Baker', address: 'bob@example.com' }, attachments: [{ name: 'report.pdf', content: REPORT }], receivedDateTime: new Date('2026-03-02T10:00:00Z') },
        { subject: 'Newsletter', html: '<p>Hi</p><script>alert(1)</script><img src="https://tracker.example/p.gif" onerror="alert(2)">', from: { name: 'News', address: 'news@example.org' }, receivedDateTime: new Date('2026-03-03T10:00:00Z') },
        { subject: 'Grüße — 日本語', text: 'unicode', from: { name: 'Zoë', address: 'zoe@example.com' }, receivedDateTime: new Date('2026-01-05T10:00:00Z') },
      ],
      'Inbox/Projects': [{ subject: 'Project kickoff', text: 'kickoff notes', from: { name: 'Bob Baker', address: 'bob@example.com' }, receivedDateTime: new Date('2026-02-01T09:00:00Z') }],
    });
    const start = new Date('2026-04-06T09:00:00Z');
    aliceBox.pim.addEvent({ subject: 'Standup', start, end: new Date('2026-04-06T09:15:00Z'), recurrence: { type: 'daily', interval: 1, numberOfOccurrences: 5 } });
    aliceBox.pim.addEvent({ subject: 'Lunch', start: new Date('2026-04-08T12:00:00Z'), end: new Date('2026-04-08T13:00:00Z'), location: 'Café' });
    aliceBox.pim.addContact({ displayName: 'Zoë Ünal', email: 'zoe@example.com', companyName: 'Fabrikam' });

    dir = makeTempDir('m365-exchange');
    t = await startTestServer();
    admin = await setupAdmin(t.api);
    viewer = await createUser(t.api, admin, 'vic', 'viewer');
    node = await enrollTestNode(t.api, admin, { name: 'cloud-x', handlers: (m) => defaultHandlers({ name: 'cloud-x' }, {}, m), serverUrl: t.server.url, fingerprint: t.server.fingerprint });
    const added = await call<{ syncTaskId: number }>('POST', '/api/m365/tenants', {
      name: 'contoso', node: 'cloud-x', tenantId: tenant.id, clientId: app.clientId, credentialKind: 'secret', clientSecret: SECRET,
      authorityHost: emu.authorityHost, graphUrl: emu.graphBaseUrl, caPem: emu.caPem,
    });
    expect(added.status, added.text).toBe(201);
    expect((await ended(added.body.syncTaskId)).state).toBe('FINISHED');
    const dest = await call('POST', '/api/destinations', { name: 'vault', node: 'cloud-x', path: path.join(dir, 'repo'), password: 'vault-password-1' });
    expect(dest.status, dest.text).toBe(201);
  });

  afterAll(async () => {
    await node?.stop();
    await t?.destroy();
    await emu?.stop();
  });

  it('the sync finds out who has a mailbox', async () => {
    const users = (await call<M365User[]>('GET', '/api/m365/users?tenant=contoso')).body;
    expect(users.map((u) => [u.upn, u.hasDrive, u.hasMailbox])).toEqual([
      [ALICE, true, true],
      [BOB, false, true],
      [DAVE, true, false],
    ]);
  });

  it("backs up a user's OneDrive, mail, calendars and contacts as one backup of four points", async () => {
    const res = await call<{ taskId: number }>('POST', '/api/m365/backups', { user: ALICE, destination: 'vault' });
    expect(res.status, res.text).toBe(202);
    const done = await ended(res.body.taskId);
    expect(done.state, `${done.error ?? ''} ${done.warnings.join('; ')}`).toBe('FINISHED');
    const page = (await call<M365BackupPage>('GET', `/api/m365/backups?user=${encodeURIComponent(ALICE)}`)).body;
    expect(page.backups).toHaveLength(1);
    backup = page.backups[0]!;
    expect(backup.parts.map((p) => [p.name, p.partKind]).sort()).toEqual([
      ['calendar', 'calendar'],
      ['contacts', 'contacts'],
      ['drive', 'drive'],
      ['mail', 'mail'],
    ]);
    expect(backup.parts.find((p) => p.name === 'mail')).toMatchObject({ files: 4, objectKey: `m365:${tenant.id.toLowerCase()}:mail:${tenant.user(ALICE).id}` });
    // A user with only a mailbox is backed up too (mail, calendars, contacts).
    const onlyMail = await call<{ taskId: number }>('POST', '/api/m365/backups', { user: BOB, destination: 'vault' });
    expect(onlyMail.status, onlyMail.text).toBe(202);
    expect((await ended(onlyMail.body.taskId)).state).toBe('FINISHED');
    const bobs = (await call<M365BackupPage>('GET', `/api/m365/backups?user=${encodeURIComponent(BOB)}`)).body.backups;
    expect(bobs[0]!.parts.map((p) => p.name).sort()).toEqual(['calendar', 'contacts', 'mail']);

    const opened = await call<Mount>('POST', `/api/m365/backups/${backup.id}/browse`, {});
    expect(opened.status, opened.text).toBe(201);
    mount = await waitFor('the mount', async () => {
      const m = (await call<Mount>('GET', `/api/mounts/${opened.body.id}`)).body;
      return m.state === 'MOUNTED' || m.state === 'FAILED' ? m : undefined;
    });
    expect(mount.state, mount.error ?? '').toBe('MOUNTED');
    expect(mount.filesystems.map((f) => [f.name, f.kind, f.type, f.readable]).sort()).toEqual([
      ['calendar', 'm365-calendar', 'calendar', true],
      ['contacts', 'm365-contacts', 'contacts', true],
      ['drive', 'm365-drive', 'onedrive', true],
      ['mail', 'm365-mail', 'mail', true],
    ]);
  });

  it('searches mail by sender, subject and attachment name across the mailbox; lists a folder alone; names a bad query field', async () => {
    const byBob = await search({ path: 'mail', from: 'bob@example' });
    expect(byBob.messages.map((m) => m.subject)).toEqual(['Quarterly report', 'Project kickoff']);
    expect(byBob.total).toBe(2);
    expect((await search({ path: 'mail', subject: 'grüße' })).messages.map((m) => m.subject)).toEqual(['Grüße — 日本語']);
    const withReport = await search({ path: 'mail', attachment: 'report' });
    expect(withReport.messages).toMatchObject([{ subject: 'Quarterly report', hasAttachments: true, attachmentNames: ['report.pdf'], folder: 'mail/Inbox' }]);
    const inbox = await search({ path: 'mail/Inbox', sort: 'date', order: 'asc' });
    expect(inbox.messages.map((m) => m.subject)).toEqual(['Grüße — 日本語', 'Quarterly report', 'Newsletter']);
    const bad = await call<{ field: string }>('GET', `/api/mounts/${mount.id}/mail/messages?${q({ path: 'mail', after: 'yesterday' })}`);
    expect(bad.status).toBe(400);
    expect(bad.body.field).toBe('after');
    const escape = await call<{ error: string }>('GET', `/api/mounts/${mount.id}/mail/messages?${q({ path: 'mail/../../drive' })}`);
    expect(escape.status).toBe(403);
  });

  it("shows a message's details, previews it without script or remote content, and hands out an attachment", async () => {
    const [report] = (await search({ path: 'mail', attachment: 'report' })).messages;
    const detail = await call<MailMessageDetail>('GET', `/api/mounts/${mount.id}/mail/message?${q({ path: report!.path })}`);
    expect(detail.status, detail.text).toBe(200);
    expect(detail.body).toMatchObject({ subject: 'Quarterly report', from: { address: 'bob@example.com' }, attachments: [{ index: 0, name: 'report.pdf', size: REPORT.length, inline: false }] });
    expect(detail.body.text).toContain('see attached');

    const [news] = (await search({ path: 'mail', subject: 'Newsletter' })).messages;
    const preview = await fetchBytes(`/api/mounts/${mount.id}/mail/preview?${q({ path: news!.path })}`);
    expect(preview.status).toBe(200);
    expect(preview.headers).toMatchObject({
      'content-type': 'text/html; charset=utf-8',
      'content-security-policy': PREVIEW_CSP,
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'cache-control': 'no-store',
    });
    const html = preview.body.toString('utf8');
    expect(html).toContain('Hi');
    expect(html).not.toMatch(/<script|onerror|tracker\.example/i);

    const attachment = await fetchBytes(`/api/mounts/${mount.id}/mail/attachment?${q({ path: report!.path, index: '0' })}`);
    expect(attachment.status).toBe(200);
    expect(attachment.body.equals(REPORT)).toBe(true);
    expect(String(attachment.headers['content-disposition'])).toContain('report.pdf');
  });

  it('lists events and contacts from the metadata', async () => {
    const events = await call<EventListResult>('GET', `/api/mounts/${mount.id}/calendar/events?${q({ path: 'calendar' })}`);
    expect(events.status, events.text).toBe(200);
    expect(events.body.events.map((e) => [e.subject, e.eventType])).toEqual([
      ['Standup', 'seriesMaster'],
      ['Lunch', 'singleInstance'],
    ]);
    expect(events.body.events[0]!.recurrence).toMatch(/5 times/);
    const contacts = await call<ContactListResult>('GET', `/api/mounts/${mount.id}/contacts/list?${q({ path: 'contacts', q: 'fabrikam' })}`);
    expect(contacts.body.contacts).toMatchObject([{ displayName: 'Zoë Ünal', emails: ['zoe@example.com'], folder: 'contacts/Contacts' }]);
  });

  it('exports mail as mbox, events as ICS, contacts as VCF and all of it as a zip, each parsing back', async () => {
    const mbox = await fetchBytes(`/api/mounts/${mount.id}/export?${q({ format: 'mbox', path: 'mail/Inbox' })}`);
    expect(mbox.status).toBe(200);
    expect(mbox.headers['content-type']).toBe('application/mbox');
    // Inbox and the folder below it, mboxrd: each message after a "From " line.
    const messages = mbox.body.toString('utf8').split(/^From .*\n/m).filter((s) => s.trim() !== '');
    const subjects = await Promise.all(messages.map(async (m) => (await simpleParser(m)).subject));
    expect(subjects.sort()).toEqual(['Grüße — 日本語', 'Newsletter', 'Project kickoff', 'Quarterly report']);

    const ics = await fetchBytes(`/api/mounts/${mount.id}/export?${q({ format: 'ics', path: 'calendar' })}`);
    const cal = new ICAL.Component(ICAL.parse(ics.body.toString('utf8')) as never);
    expect(cal.getAllSubcomponents('vevent').map((e) => String(e.getFirstPropertyValue('summary'))).sort()).toEqual(['Lunch', 'Standup']);

    const vcf = await fetchBytes(`/api/mounts/${mount.id}/export?${q({ format: 'vcf', path: 'contacts' })}`);
    const card = new ICAL.Component(ICAL.parse(vcf.body.toString('utf8')) as never);
    expect(String(card.getFirstPropertyValue('fn'))).toBe('Zoë Ünal');

    const wrong = await call<{ field?: string; error: string }>('GET', `/api/mounts/${mount.id}/export?${q({ format: 'ics', path: 'mail/Inbox' })}`);
    expect(wrong.status).toBe(400);

    const zip = await fetchBytes(`/api/mounts/${mount.id}/export?${q({ format: 'zip', path: ['mail/Inbox', 'calendar', 'contacts'] })}`);
    expect(zip.status).toBe(200);
    const zipFile = path.join(dir, 'export.zip');
    fs.writeFileSync(zipFile, zip.body);
    const names = execFileSync('unzip', ['-Z1', zipFile], { encoding: 'utf8' }).split('\n').filter(Boolean);
    expect(names).toContain('mail/Inbox.mbox');
    expect(names).toContain('mail/Inbox/Projects.mbox');
    expect(names.filter((n) => n.endsWith('.eml'))).toHaveLength(4);
    expect(names.filter((n) => n.endsWith('.ics'))).toHaveLength(2);
    expect(names.filter((n) => n.endsWith('.vcf'))).toHaveLength(1);
    const eml = names.find((n) => n.startsWith('mail/Inbox/Quarterly report'))!;
    const parsed = await simpleParser(execFileSync('unzip', ['-p', zipFile, eml]));
    expect(parsed.attachments[0]?.content.equals(REPORT)).toBe(true);
  });

  it("restores a mail folder into another user's mailbox; a user without a mailbox is refused naming to", async () => {
    const noMailbox = await call<{ field: string; message: string }>('POST', `/api/m365/backups/${backup.id}/restore`, { paths: ['mail/Inbox/Projects'], to: DAVE });
    expect(noMailbox.status).toBe(409);
    expect(noMailbox.body.field).toBe('to');
    expect(noMailbox.body.message).toMatch(/no Exchange Online mailbox/);
    const res = await call<{ taskId: number }>('POST', `/api/m365/backups/${backup.id}/restore`, { paths: ['mail/Inbox/Projects'], to: BOB });
    expect(res.status, res.text).toBe(202);
    const done = await ended(res.body.taskId);
    expect(done.state, done.error ?? '').toBe('FINISHED');
    expect(done.result).toMatchObject({ restoredFiles: 1, failed: [] });
    const root = (done.result as { targetRoot: string }).targetRoot.replace(/^\/+|\/+$/g, '');
    expect(root).toMatch(/^Restore-\d{4}-\d{2}-\d{2} \d{4}$/);
    const projects = bobBox.findFolder(`${root}/Inbox/Projects`);
    expect(projects).toBeDefined();
    const restored = bobBox.messagesIn(projects!.id);
    expect(restored).toHaveLength(1);
    expect((await simpleParser(await bobBox.mimeOf(restored[0]!))).subject).toBe('Project kickoff');
  });

  it('a viewer may not search, preview, export or restore; restores and exports are audited', async () => {
    const [report] = (await search({ path: 'mail', attachment: 'report' })).messages;
    for (const p of [`/mail/messages?${q({ path: 'mail' })}`, `/mail/preview?${q({ path: report!.path })}`, `/export?${q({ format: 'mbox', path: 'mail' })}`]) {
      expect((await call('GET', `/api/mounts/${mount.id}${p}`, undefined, viewer)).status).toBe(403);
    }
    expect((await call('POST', `/api/m365/backups/${backup.id}/restore`, { paths: ['mail/Inbox'], to: BOB }, viewer)).status).toBe(403);
    const audit = await call<{ entries: { action: string; target: string; details: Record<string, unknown> }[] }>('GET', '/api/audit?limit=200');
    const actions = audit.body.entries.filter((e) => e.target === `m365-backup:${backup.id}`);
    expect(actions.find((e) => e.action === 'm365.restore')?.details).toMatchObject({ drive: 'mail', paths: ['/Inbox/Projects'], to: `the mailbox of ${BOB}` });
    expect(actions.filter((e) => e.action === 'mount.export').map((e) => e.details.format).sort()).toEqual(['ics', 'mbox', 'vcf', 'zip']);
    expect(actions.find((e) => e.action === 'mount.download' && e.details.attachment === 0)).toBeDefined();
  });

  it('a new catalog regroups the four points into the same backup from the destination alone', async () => {
    expect((await call('DELETE', `/api/mounts/${mount.id}`)).status).toBe(202);
    const key = (b: M365Backup) => ({ subject: b.subject, files: b.files, parts: b.parts.map((p) => ({ ...p })).sort((x, y) => x.name.localeCompare(y.name)) });
    const before = (await call<M365BackupPage>('GET', '/api/m365/backups')).body.backups;
    const catalog = new Catalog({ mode: 'managed', pool: { socketPath: path.join(t.dataDir, 'mariadb', 'run', 'mysqld.sock'), user: os.userInfo().username, database: 'vplus' } });
    try {
      await catalog.execute('DELETE FROM mounts WHERE m365_backup_id IS NOT NULL');
      await catalog.execute('DELETE FROM m365_backups');
    } finally {
      await catalog.close();
    }
    const destination = (await call<{ id: number; name: string }[]>('GET', '/api/destinations')).body.find((d) => d.name === 'vault')!;
    const task = await call<{ id: number }>('POST', `/api/destinations/${destination.id}/import`, {});
    expect(task.status, task.text).toBe(202);
    expect((await ended(task.body.id)).state).toBe('FINISHED');
    const after = await waitFor('the re-imported backups', async () => {
      const list = (await call<M365BackupPage>('GET', '/api/m365/backups')).body.backups;
      return list.length === before.length ? list : undefined;
    });
    expect(after.map(key)).toEqual(before.map(key));
    expect(after.flatMap((b) => b.parts.map((p) => p.partKind)).sort()).toEqual(['calendar', 'calendar', 'contacts', 'contacts', 'drive', 'mail', 'mail']);
  });
});
