import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { simpleParser } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultHandlers } from '../../../node-service/agent/node-service.js';
import { loginCli, type CliSession } from '../../support/cli-session.js';
import { GraphEmulator, type Mailbox, type Tenant } from '../../support/graph-emulator/index.js';
import { vplus } from '../../support/processes.js';
import { requireBinary } from '../../support/requirements.js';
import { enrollTestNode, type TestNode } from '../../support/test-node.js';
import { makeTempDir, setupAdmin, startTestServer, type TestServer } from '../../support/test-server.js';

const SECRET = 'Cx4~exchange-cli-secret';
const ANN = 'ann@fabrikam.onmicrosoft.com';
const BEN = 'ben@fabrikam.onmicrosoft.com';

/**
 * The built `vplus m365 backup run|browse|export|restore` with a user's mail, calendars and
 * contacts, against a real server, a real node agent and the Graph emulator: the backup of a
 * mailbox-only user, a mail folder listed with sender and subject, a mailbox searched by text
 * and by sender, a calendar's events and a folder's contacts, an mbox export parsed back with
 * mailparser, a zip export of .eml and .mbox files, a format that does not fit the path exits
 * 2, and a mail folder restored into another user's mailbox with --wait. Run
 * `npm run build:ts` first.
 */
describe('vplus m365 with mail, calendars and contacts', () => {
  let emu: GraphEmulator;
  let tenant: Tenant;
  let benBox: Mailbox;
  let t: TestServer;
  let node: TestNode;
  let dir: string;
  let cli: CliSession;
  let backupId: number;

  /** stdout alone, parsed (notes go to stderr). */
  const json = async <T>(args: string[]): Promise<T> => {
    const p = vplus(args, cli.env);
    let stdout = '';
    p.child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    p.child.stdin!.end();
    const code = await p.exited;
    if (code !== 0) throw new Error(`vplus ${args.join(' ')} exited ${code}: ${p.output()}`);
    return JSON.parse(stdout) as T;
  };

  beforeAll(async () => {
    requireBinary(['/usr/bin/unzip', '/bin/unzip'], 'bash build/setup.sh --test');
    emu = await GraphEmulator.start();
    tenant = emu.addTenant({ domain: 'fabrikam.onmicrosoft.com' });
    const app = tenant.addApp({ secret: SECRET });
    tenant.addUser({ userPrincipalName: ANN, displayName: 'Ann Abel', drive: false });
    tenant.addUser({ userPrincipalName: BEN, displayName: 'Ben Berg', drive: false });
    benBox = tenant.mailboxOf(BEN);
    await tenant.mailboxOf(ANN).seed({
      inbox: [
        { subject: 'Invoice 42', text: 'please pay', from: { name: 'Supplier', address: 'billing@supplier.example' }, attachments: [{ name: 'invoice-42.pdf', content: Buffer.from('%PDF invoice') }], receivedDateTime: new Date('2026-02-03T08:00:00Z') },
        { subject: 'Lunch?', text: 'at noon', from: { name: 'Ben Berg', address: BEN }, receivedDateTime: new Date('2026-02-04T08:00:00Z') },
      ],
      'Inbox/Archive 2025': [{ subject: 'Old news', text: 'old', from: { name: 'News', address: 'news@example.org' }, receivedDateTime: new Date('2025-06-01T08:00:00Z') }],
    });
    const pim = tenant.mailboxOf(ANN).pim;
    pim.addEvent({ subject: 'Board meeting', start: new Date('2026-05-04T14:00:00Z'), end: new Date('2026-05-04T15:00:00Z'), location: 'Room 4' });
    pim.addContact({ displayName: 'Carla Cruz', email: 'carla@example.com', companyName: 'Contoso' });

    t = await startTestServer();
    const admin = await setupAdmin(t.api);
    node = await enrollTestNode(t.api, admin, { name: 'cloud-ex', handlers: (mount) => defaultHandlers({ name: 'cloud-ex' }, {}, mount), serverUrl: t.server.url, fingerprint: t.server.fingerprint });
    dir = makeTempDir('cli-m365-exchange');
    const caFile = path.join(dir, 'ca.pem');
    fs.writeFileSync(caFile, emu.caPem);
    cli = await loginCli(t, dir);
    await cli.ok(['destination', 'add', 'nas', '--node', 'cloud-ex', '--path', path.join(dir, 'repo')]);
    await cli.ok(
      ['m365', 'tenant', 'add', 'fabrikam', '--tenant-id', tenant.id, '--client-id', app.clientId, '--client-secret-stdin', '--node', 'cloud-ex', '--authority-host', emu.authorityHost, '--graph-url', emu.graphBaseUrl, '--ca-file', caFile],
      `${SECRET}\n`,
    );
    await cli.ok(['m365', 'tenant', 'sync', 'fabrikam', '--wait']);
  });

  afterAll(async () => {
    await node?.stop();
    await t?.destroy();
    await emu?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("backup run --wait backs up a mailbox-only user's mail, calendars and contacts", async () => {
    expect(await cli.ok(['m365', 'user', 'list', '--tenant', 'fabrikam'])).toMatch(/ann@fabrikam\.onmicrosoft\.com\s+Ann Abel\s+yes\s+no\s+present/);
    const out = await cli.ok(['m365', 'backup', 'run', ANN, '--destination', 'nas', '--wait']);
    expect(out).toMatch(/\nBacked up 3 parts: \d+ items \(5 files, messages, events and contacts, /);
    expect(out).toMatch(/\n {2}mail\s+full\s+\d+\s+3\s+/);
    backupId = Number(/\nBackup (\d+) on destination nas/.exec(out)![1]);
  });

  it('browse lists a mail folder with sender and subject, searches the mailbox, and lists events and contacts', async () => {
    const inbox = await cli.ok(['m365', 'browse', String(backupId), '/mail/Inbox']);
    expect(inbox).toMatch(/folder\s.*Archive 2025\//);
    expect(inbox).toMatch(/2026-02-04 \d\d:\d\d\s+Ben Berg <ben@fabrikam\.onmicrosoft\.com>\s+Lunch\?\s+/);
    expect(inbox).toMatch(/Supplier <billing@supplier\.example>\s+Invoice 42\s+\S+ \S+\s+1\s+Invoice 42 ~[0-9a-f]{8}\.eml/);
    expect(inbox).not.toContain('Old news');
    const found = await json<{ type: string; subject: string; path: string }[]>(['m365', 'browse', String(backupId), '--search', 'invoice-42', '--json']);
    expect(found.map((m) => [m.type, m.subject])).toEqual([['message', 'Invoice 42']]);
    const old = await cli.ok(['m365', 'browse', String(backupId), '/mail', '--from', 'news@', '--before', '2026-01-01']);
    expect(old).toMatch(/Old news\s+\d+ B\s+-\s+\/mail\/Inbox\/Archive 2025\/Old news ~[0-9a-f]{8}\.eml/);
    expect(await cli.ok(['m365', 'browse', String(backupId), '/calendar/Calendar'])).toMatch(/Board meeting\s+-\s+Room 4\s+Board meeting ~[0-9a-f]{8}\.ics/);
    expect(await cli.ok(['m365', 'browse', String(backupId), '/contacts/Contacts'])).toMatch(/Carla Cruz\s+carla@example\.com\s+-\s+Contoso\s+Carla Cruz ~[0-9a-f]{8}\.vcf/);
    const wrong = await cli.run(['m365', 'browse', String(backupId), '/contacts', '--search', 'x']);
    expect(wrong.code).toBe(2);
  });

  it('export writes an mbox and a zip that read back; a format that does not fit the paths exits 2', async () => {
    const mbox = path.join(dir, 'inbox.mbox');
    expect(await cli.ok(['m365', 'export', String(backupId), '/mail/Inbox', '--format', 'mbox', '--output', mbox])).toMatch(/^Saved \/mail\/Inbox of backup \d+ of ann@fabrikam\.onmicrosoft\.com .* to .*inbox\.mbox/m);
    const messages = fs.readFileSync(mbox, 'utf8').split(/^From .*\n/m).filter((m) => m.trim() !== '');
    expect((await Promise.all(messages.map(async (m) => (await simpleParser(m)).subject))).sort()).toEqual(['Invoice 42', 'Lunch?', 'Old news']);
    const zip = path.join(dir, 'all.zip');
    await cli.ok(['m365', 'export', String(backupId), '--output', zip]);
    const names = execFileSync('unzip', ['-Z1', zip], { encoding: 'utf8' }).split('\n');
    expect(names).toEqual(expect.arrayContaining(['mail/Inbox.mbox', 'mail/Inbox/Archive 2025.mbox', 'calendar/Calendar/', 'contacts/Contacts/']));
    expect(names.filter((n) => n.endsWith('.eml'))).toHaveLength(3);
    const mismatch = await cli.run(['m365', 'export', String(backupId), '/mail/Inbox', '--format', 'ics', '--output', path.join(dir, 'x.ics')]);
    expect(mismatch.code).toBe(2);
    expect(mismatch.output).toMatch(/--format ics exports calendars \(\/calendar\/…\) only, not \/mail\/Inbox/);
  });

  it("restore --wait puts a mail folder into another user's mailbox, in a new Restore folder", async () => {
    const out = await cli.ok(['m365', 'restore', String(backupId), '/mail/Inbox/Archive 2025', '--to', BEN, '--wait']);
    expect(out).toMatch(/^Restoring \/mail\/Inbox\/Archive 2025 from backup \d+ of ann@fabrikam\.onmicrosoft\.com .* to a new Restore-<date> folder in the mailbox of ben@fabrikam\.onmicrosoft\.com: task \d+ \(M365_RESTORE\)\./m);
    const root = /Restored 1 message and \d+ folders? \(.*\) to \/(Restore-[^/\n]+?) in the mailbox of ben/.exec(out)?.[1];
    expect(root, out).toBeDefined();
    const folder = benBox.findFolder(`${root}/Inbox/Archive 2025`);
    expect(folder).toBeDefined();
    const restored = benBox.messagesIn(folder!.id);
    expect((await simpleParser(await benBox.mimeOf(restored[0]!))).subject).toBe('Old news');
  });
});
