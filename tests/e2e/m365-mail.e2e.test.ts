import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { simpleParser } from 'mailparser';
import type { Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CreatedM365Tenant, M365BackupPage } from '../../common/api/m365.js';
import type { Mount } from '../../common/api/mounts.js';
import { signIn } from '../support/browser.js';
import { addDestination, SHOTS, startSignedInE2e, type SignedInE2e } from '../support/e2e-setup.js';
import { GraphEmulator, type Mailbox, type Tenant } from '../support/graph-emulator/index.js';
import { createUser, makeTempDir, taskEnded } from '../support/test-server.js';

const NODE = 'm365-mail-e2e';
const SECRET = 'E2e~mail-app-secret';
const ALICE = 'alice@northwind.onmicrosoft.com';
const BOB = 'bob@northwind.onmicrosoft.com';
const TITLE = 'vPlus mail e2e';
const FINAL = ['FINISHED', 'FINISHED_WITH_WARNINGS', 'FAILED', 'CANCELLED'].map((state) => `[data-testid="task-follow"][data-state="${state}"]`).join(', ');
const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A followed task in a dialog, once it ended: its state, and its text to say why when it is not FINISHED. */
async function ended(dialog: Locator): Promise<{ state: string | null; text: string }> {
  const follow = dialog.locator(FINAL);
  await follow.waitFor({ timeout: 180_000 });
  return { state: await follow.getAttribute('data-state'), text: await follow.innerText() };
}

/**
 * A tiny HTTP server on loopback that records every request: the remote content of the hostile
 * message points at it, so "nothing was fetched" is what it saw, not a guess.
 */
async function startRecorder(): Promise<{ url: string; hits: string[]; close: () => Promise<void> }> {
  const hits: string[] = [];
  const server = http.createServer((request, response) => {
    hits.push(request.url ?? '');
    response.writeHead(200, { 'content-type': 'image/png', 'access-control-allow-origin': '*' }).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, hits, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/**
 * The mail browser in Chromium (a real server with MariaDB, a node in this process with its real
 * handlers, the Graph emulator): one backup of a user's mailbox, browsed: folders, search by
 * sender and by attachment name, a message opened; a hostile message (script, onerror handler,
 * remote image) previewed without anything running or fetched; a message restored to another
 * user; a folder exported as mbox; a viewer offered neither restore nor export.
 */
describe('the mail browser in Chromium', () => {
  let emu: GraphEmulator;
  let tenant: Tenant;
  let bobBox: Mailbox;
  let recorder: Awaited<ReturnType<typeof startRecorder>>;
  let e2e: SignedInE2e;
  let page: Page;
  let mountId: number;
  let backupId: number;
  const consoleLines: string[] = [];

  const messages = () => page.getByTestId('mail-table');
  const messageRow = (subject: string) => messages().locator('tbody tr').filter({ has: page.getByRole('button', { name: subject, exact: true }) });
  const folders = () => page.getByRole('navigation', { name: 'Mail folders' });
  const subjectsShown = async (): Promise<string[]> => (await messages().locator('tbody tr td:nth-child(5)').allInnerTexts()).map((text) => text.trim()).sort();

  beforeAll(async () => {
    recorder = await startRecorder();
    emu = await GraphEmulator.start();
    tenant = emu.addTenant({ domain: 'northwind.onmicrosoft.com' });
    const app = tenant.addApp({ secret: SECRET });
    tenant.addUser({ userPrincipalName: ALICE, displayName: 'Alice Archer' });
    tenant.addUser({ userPrincipalName: BOB, displayName: 'Bob Baker' });
    tenant.addUser({ userPrincipalName: 'carol@northwind.onmicrosoft.com', displayName: 'Carol Cole', mailbox: false });
    bobBox = tenant.mailboxOf(BOB);
    await tenant.mailboxOf(ALICE).seed({
      inbox: [
        {
          subject: 'Quarterly numbers',
          from: { name: 'Dora Finance', address: 'dora@contoso.example' },
          to: [{ name: 'Alice Archer', address: ALICE }],
          text: 'The numbers are attached.',
          attachments: [{ name: 'q3-report.pdf', contentType: 'application/pdf', content: '%PDF-1.4 quarterly' }],
          receivedDateTime: new Date('2026-03-02T09:00:00Z'),
        },
        { subject: 'Lunch on Friday', from: { name: 'Erin Eats', address: 'erin@contoso.example' }, text: 'See you at noon.', receivedDateTime: new Date('2026-03-03T09:00:00Z') },
        {
          subject: 'Hostile newsletter',
          from: { name: 'Mallory', address: 'mallory@evil.example' },
          html: [
            '<p>Hello reader</p>',
            `<script>console.log('pwned-script'); window.top.document.title = 'pwned-script'; window.pwned = true; fetch('${recorder.url}/script');</script>`,
            `<img src="missing.png" onerror="console.log('pwned-onerror'); window.top.document.title = 'pwned-onerror'; new Image().src = '${recorder.url}/onerror';">`,
            `<img src="${recorder.url}/pixel.png" alt="tracker">`,
          ].join('\n'),
          receivedDateTime: new Date('2026-03-04T09:00:00Z'),
        },
      ],
      'Inbox/Projects': [{ subject: 'Project kickoff', from: { name: 'Fred Planner', address: 'fred@contoso.example' }, text: 'Kickoff on Monday.', receivedDateTime: new Date('2026-03-01T09:00:00Z') }],
    });

    e2e = await startSignedInE2e({ server: { nodeHeartbeatSeconds: 1 }, node: NODE, page: { viewport: { width: 1440, height: 1100 }, locale: 'en-GB' } });
    page = e2e.page;
    page.on('console', (message) => consoleLines.push(message.text()));
    await addDestination(e2e, { name: 'local', node: NODE, path: path.join(makeTempDir('m365-mail-repo'), 'vplus') });
    const added = await e2e.api<CreatedM365Tenant>('POST', '/api/m365/tenants', {
      name: 'northwind',
      node: NODE,
      tenantId: tenant.id,
      clientId: app.clientId,
      credentialKind: 'secret',
      clientSecret: SECRET,
      authorityHost: emu.authorityHost,
      graphUrl: emu.graphBaseUrl,
      caPem: emu.caPem,
    });
    expect(added.status, added.text).toBe(201);
    const sync = await taskEnded(e2e.t.api, e2e.admin, added.body.syncTaskId!);
    expect(sync.state, sync.error ?? '').toBe('FINISHED');

    // One backup for every test of the file: the UI's "Back up now" is proven in m365-backups.e2e.test.ts.
    const run = await e2e.api<{ taskId: number }>('POST', '/api/m365/backups', { user: ALICE, destination: 'local', full: true });
    expect(run.status, run.text).toBe(202);
    const backup = await taskEnded(e2e.t.api, e2e.admin, run.body.taskId, 180_000);
    expect(backup.state, backup.error ?? '').toMatch(/^FINISHED/);
    const [listed] = (await e2e.api<M365BackupPage>('GET', `/api/m365/backups?user=${encodeURIComponent(ALICE)}`)).body.backups;
    backupId = listed!.id;
    expect(listed!.parts.map((part) => part.name)).toContain('mail');
    const mount = await e2e.api<Mount>('POST', `/api/m365/backups/${backupId}/browse`, {});
    expect(mount.status, mount.text).toBeLessThan(300);
    mountId = mount.body.id;
  }, 300_000);
  afterAll(async () => {
    await e2e?.close();
    await emu?.stop();
    await recorder?.close();
  });

  it('browses the mailbox: a folder, a search by sender and by attachment name, a message', async () => {
    await page.goto(`${e2e.t.server.url}/mounts/${mountId}`);
    await page.getByRole('tab', { name: 'Mail' }).click({ timeout: 120_000 });
    expect(new URL(page.url()).searchParams.get('view')).toBe('mail');
    // The whole mailbox at first, newest first.
    await messageRow('Project kickoff').waitFor({ timeout: 60_000 });
    expect(await page.getByTestId('mail-count').innerText()).toBe('4 messages in All mail');

    await folders().getByRole('button', { name: 'Inbox', exact: true }).click();
    await expect.poll(() => page.getByTestId('mail-count').innerText()).toBe('3 messages in Inbox');
    expect(await subjectsShown()).toEqual(['Hostile newsletter', 'Lunch on Friday', 'Quarterly numbers']);
    // Sorted on the server, by the column clicked.
    const firstSubject = async () => (await messages().locator('tbody tr td:nth-child(5)').first().innerText()).trim();
    await messages().getByRole('button', { name: 'Sort by subject' }).click();
    await expect.poll(firstSubject).toBe('Hostile newsletter');
    await messages().getByRole('button', { name: 'Sort by subject' }).click();
    await expect.poll(firstSubject).toBe('Quarterly numbers');
    // Subfolders are listed when their folder is expanded.
    await folders().getByRole('button', { name: 'Expand Inbox' }).click();
    await folders().getByRole('button', { name: 'Projects', exact: true }).click();
    await messageRow('Project kickoff').waitFor();
    expect(await page.getByTestId('mail-count').innerText()).toBe('1 message in Projects');

    // A search reaches every folder: by sender…
    const search = page.getByRole('search', { name: 'Search the mailbox' });
    await search.getByRole('button', { name: 'Filters' }).click();
    await search.getByRole('textbox', { name: 'Sender' }).fill('dora@');
    await search.getByRole('button', { name: 'Search', exact: true }).click();
    await expect.poll(() => page.getByTestId('mail-count').innerText()).toBe('1 message found in every folder');
    await expect.poll(() => subjectsShown()).toEqual(['Quarterly numbers']);
    // …and by attachment name.
    await search.getByRole('textbox', { name: 'Sender' }).fill('');
    await search.getByRole('textbox', { name: 'Attachment name' }).fill('q3-rep');
    await search.getByRole('button', { name: 'Search', exact: true }).click();
    await expect.poll(() => subjectsShown()).toEqual(['Quarterly numbers']);
    expect(await messageRow('Quarterly numbers').getByTestId('has-attachments').count()).toBe(1);
    await search.getByRole('textbox', { name: 'Attachment name' }).fill('no-such-attachment');
    await search.getByRole('button', { name: 'Search', exact: true }).click();
    await page.getByText('No message matches: every folder of the backup was searched.').waitFor();

    // A message: its headers, its attachment to download, its text shown as text.
    await search.getByRole('button', { name: 'Clear' }).click();
    await folders().getByRole('button', { name: 'Inbox', exact: true }).click();
    await messageRow('Quarterly numbers').getByRole('button', { name: 'Quarterly numbers' }).click();
    const preview = page.getByTestId('mail-preview');
    await preview.getByRole('heading', { name: 'Quarterly numbers' }).waitFor();
    expect(await preview.getByTestId('mail-header-from').innerText()).toBe('Dora Finance <dora@contoso.example>');
    expect(await preview.getByTestId('mail-header-to').innerText()).toContain(ALICE);
    expect(await preview.getByTestId('mail-body-text').innerText()).toContain('The numbers are attached.');
    expect(await preview.getByTestId('mail-body-frame').count()).toBe(0);
    const [attachment] = await Promise.all([page.waitForEvent('download'), preview.getByRole('link', { name: 'Download q3-report.pdf' }).click()]);
    expect(fs.readFileSync(await attachment.path(), 'utf8')).toBe('%PDF-1.4 quarterly');
    await page.screenshot({ path: path.join(SHOTS, 'm365-mail-browser.png'), fullPage: true });
  }, 180_000);

  it('previews a hostile message without running its script or handler, or fetching anything', async () => {
    // The recorder is reachable from this browser: a page that may load it does.
    const probe = await e2e.browser.newPage();
    await probe.goto(`${recorder.url}/reachable`);
    await probe.close();
    expect(recorder.hits).toContain('/reachable');
    recorder.hits.length = 0;

    await page.evaluate(`document.title = ${JSON.stringify(TITLE)}`);
    consoleLines.length = 0;
    await folders().getByRole('button', { name: 'Inbox', exact: true }).click();
    const previewLoaded = page.waitForResponse((response) => response.url().includes(`/api/mounts/${mountId}/mail/preview?`), { timeout: 30_000 });
    await messageRow('Hostile newsletter').getByRole('button', { name: 'Hostile newsletter' }).click();
    const preview = page.getByTestId('mail-preview');
    const frameElement = preview.getByTestId('mail-body-frame');
    await frameElement.waitFor();

    // Sandboxed with no permission at all, and sent without a referrer.
    expect(await frameElement.getAttribute('sandbox')).toBe('');
    expect(await frameElement.getAttribute('referrerpolicy')).toBe('no-referrer');
    const response = await previewLoaded;
    expect(response.status()).toBe(200);
    expect(response.headers()['content-security-policy'] ?? '').toMatch(/default-src 'none'/);
    // The body is there (the frame loaded it), with its remote image counted as blocked.
    const body = await response.text();
    expect(body).toContain('Hello reader');
    expect(body).not.toMatch(/<script/i);
    expect(body).not.toMatch(/onerror/i);
    expect(await preview.getByTestId('remote-blocked').innerText()).toMatch(/^[1-9]\d* remote images? blocked/);

    // The frame's load event has fired: by then every image it would load has been asked for.
    const frame = await (await frameElement.elementHandle())?.contentFrame();
    expect(frame).toBeTruthy();
    await frame!.waitForLoadState('load');
    // The frame shows the message (it was not refused framing, which would leave a Chromium error page)…
    expect(frame!.url()).toContain(`/api/mounts/${mountId}/mail/preview?`);
    expect(await frame!.getByText('Hello reader').innerText()).toBe('Hello reader');
    // …and nothing of its script or handler ran, in it or in this page (DevTools reads the frame; its own scripts cannot run).
    expect(await frame!.evaluate('typeof window.pwned')).toBe('undefined');
    expect(await page.title()).toBe(TITLE);
    expect(await page.evaluate('typeof window.pwned')).toBe('undefined');
    expect(consoleLines.filter((line) => line.includes('pwned'))).toEqual([]);
    // A round trip of this page's own after the load: a request the frame made would have reached the recorder by now.
    await page.evaluate("fetch('/api/health').then((r) => r.status)");
    expect(recorder.hits).toEqual([]);
    await page.screenshot({ path: path.join(SHOTS, 'm365-mail-hostile-preview.png'), fullPage: true });
  }, 120_000);

  it('restores a message to another user into a new Restore folder, and shows the summary', async () => {
    await messageRow('Quarterly numbers').getByRole('checkbox').check();
    expect(await page.getByTestId('selection-count').innerText()).toBe('1 selected');
    await page.getByTestId('exchange-actions').getByRole('button', { name: 'Restore…' }).click();
    const dialog = page.getByRole('dialog', { name: new RegExp(`^Restore 1 message of ${escape(ALICE)} from `) });
    expect(await dialog.getByRole('list', { name: 'To restore' }).innerText()).toMatch(/^mail\/Inbox\/Quarterly numbers ~[0-9a-f]{8}\.eml$/);
    await dialog.getByRole('button', { name: 'Next' }).click();
    await dialog.getByRole('radio', { name: 'Another user of the tenant' }).check();
    await dialog.getByRole('button', { name: 'Next' }).click();
    await dialog.getByText('Choose the user to restore to').waitFor();
    await dialog.getByRole('combobox', { name: 'User', exact: true }).click();
    // Carol has no mailbox; Alice is the original.
    expect(await page.getByRole('option', { name: /carol@/ }).count()).toBe(0);
    expect(await page.getByRole('option', { name: /alice@/ }).count()).toBe(0);
    await page.getByRole('option', { name: `Bob Baker (${BOB})` }).click();
    expect(await dialog.getByRole('radio', { name: 'Into a new mail folder' }).isChecked()).toBe(true);
    await dialog.getByRole('button', { name: 'Next' }).click();
    expect(await dialog.getByRole('radio', { name: 'Skip' }).isChecked()).toBe(true);
    expect(await dialog.getByTestId('m365-restore-recap').innerText()).toMatch(new RegExp(`^1 message → ${escape(BOB)}'s mailbox, into the new mail folder “Restore-`));
    await dialog.getByRole('button', { name: 'Start restore' }).click();
    await dialog.getByRole('progressbar', { name: 'Restore progress' }).waitFor();
    const done = await ended(dialog);
    expect(done.state, done.text).toBe('FINISHED');
    const summary = (await dialog.getByTestId('m365-restore-result').innerText()).replace(/\s+/g, ' ');
    expect(summary).toMatch(/Restored 1 message and \d+ folders? \(\d+(\.\d+)? [KM]?i?B\) to .*Restore-/);
    expect(summary).toContain('0 skipped, 0 failed.');
    await page.screenshot({ path: path.join(SHOTS, 'm365-mail-restore.png') });

    // In Bob's mailbox, in one new top folder Restore-<date>, as a received message with its attachment.
    const restoreFolder = [...bobBox.folders.values()].find((folder) => folder.parentId === bobBox.rootId && folder.displayName.startsWith('Restore-'));
    expect(restoreFolder).toBeDefined();
    const restored = [...bobBox.messages.values()].filter((message) => message.subject === 'Quarterly numbers');
    expect(restored).toHaveLength(1);
    const folderChain = (id: string): string[] => {
      const folder = bobBox.folders.get(id);
      return folder === undefined || id === bobBox.rootId ? [] : [...folderChain(folder.parentId), folder.displayName];
    };
    expect(folderChain(restored[0]!.folderId)[0]).toBe(restoreFolder!.displayName);
    expect(restored[0]!.isDraft).toBe(false);
    expect(restored[0]!.attachments.map((a) => a.name)).toContain('q3-report.pdf');
    await dialog.getByRole('button', { name: 'Close' }).click();
    await dialog.waitFor({ state: 'detached' });
  }, 240_000);

  it('exports a folder as mbox: a download with each of its messages, its subfolders\' too', async () => {
    await page.getByTestId('exchange-actions').getByRole('button', { name: 'Clear selection' }).click();
    expect(await page.getByTestId('selection-count').innerText()).toBe('Nothing selected: the actions take the mail folder Inbox.');
    await page.getByTestId('exchange-actions').getByRole('button', { name: 'Export' }).click();
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('menuitem', { name: 'Mailbox file (.mbox)' }).click()]);
    expect(download.suggestedFilename()).toMatch(/\.mbox$/);
    const mbox = fs.readFileSync(await download.path(), 'utf8');
    // mboxrd: each message starts with a "From " line.
    const parts = mbox.split(/^From .*\r?\n/m).filter((part) => part.trim() !== '');
    expect(mbox.startsWith('From ')).toBe(true);
    const subjects = (await Promise.all(parts.map(async (part) => (await simpleParser(part)).subject))).sort();
    // The folder with everything in it: its subfolder's message too.
    expect(subjects).toEqual(['Hostile newsletter', 'Lunch on Friday', 'Project kickoff', 'Quarterly numbers']);
  }, 120_000);

  it('a viewer is offered no restore or export, and the API refuses them both', async () => {
    const token = await createUser(e2e.t.api, e2e.admin, 'vera', 'viewer');
    const viewer = await e2e.browser.newPage({ viewport: { width: 1440, height: 1000 }, locale: 'en-GB' });
    try {
      await viewer.goto(e2e.t.server.url);
      await signIn(viewer, 'vera', 'vera-password-1');
      await viewer.goto(`${e2e.t.server.url}/mounts/${mountId}?view=mail`);
      await viewer.getByRole('alert').first().waitFor();
      expect(await viewer.getByRole('button', { name: /^(Restore…|Export)$/ }).count()).toBe(0);
      expect(await viewer.getByRole('link', { name: /Download/ }).count()).toBe(0);

      const exported = await e2e.t.api.request('GET', `/api/mounts/${mountId}/export?format=mbox&path=mail%2FInbox`, undefined, { token });
      expect(exported.status).toBe(403);
      const restore = await e2e.t.api.request('POST', `/api/m365/backups/${backupId}/restore`, { paths: ['mail/Inbox'] }, { token });
      expect(restore.status).toBe(403);
    } finally {
      await viewer.close();
    }
  });
});
