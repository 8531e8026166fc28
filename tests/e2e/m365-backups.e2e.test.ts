import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CreatedM365Tenant, M365BackupPage } from '../../common/api/m365.js';
import { signIn } from '../support/browser.js';
import { addDestination, SHOTS, startSignedInE2e, type SignedInE2e } from '../support/e2e-setup.js';
import { GraphEmulator, type Drive, type Tenant } from '../support/graph-emulator/index.js';
import { createUser, makeTempDir, taskEnded } from '../support/test-server.js';

const NODE = 'm365-backup-e2e';
const SECRET = 'E2e~backup-app-secret';
const ALICE = 'alice@northwind.onmicrosoft.com';
const BOB = 'bob@northwind.onmicrosoft.com';
const HELLO = 'hello from OneDrive\n';
/** Alice's OneDrive: a file at the root and a folder with a nested one. */
const FILES: Record<string, string> = {
  'hello.txt': HELLO,
  'Documents/Report.txt': 'the quarterly report\n',
  'Documents/Q3/numbers.csv': 'month,sales\njul,10\naug,12\n',
  'Documents/Q3/Deep/notes.md': '# notes kept deep down\n',
};
const sha = (text: string): string => createHash('sha256').update(text).digest('hex');
const FINAL = ['FINISHED', 'FINISHED_WITH_WARNINGS', 'FAILED', 'CANCELLED'].map((state) => `[data-testid="task-follow"][data-state="${state}"]`).join(', ');

/** A followed task in a dialog, once it ended: its state, and its error or warnings to say why when it is not FINISHED. */
async function ended(dialog: Locator): Promise<{ state: string | null; text: string }> {
  const follow = dialog.locator(FINAL);
  await follow.waitFor({ timeout: 180_000 });
  return { state: await follow.getAttribute('data-state'), text: await follow.innerText() };
}

/**
 * Microsoft 365 backups in Chromium (a real server with MariaDB, a node in this process with its
 * real handlers, the Graph emulator): back up a user's OneDrive from the tenant page, see the
 * backup in its Backups tab, browse it in the file explorer and download a file, restore a
 * nested folder to another user into a new Restore folder and read the summary; a viewer sees
 * the backups but no action, and the API refuses them a restore.
 */
describe('Microsoft 365 backups in Chromium', () => {
  let emu: GraphEmulator;
  let tenant: Tenant;
  let alice: Drive;
  let bob: Drive;
  let financeArchive: Drive;
  let salesDocuments: Drive;
  let e2e: SignedInE2e;
  let page: Page;
  let tenantId: number;

  const table = () => page.getByTestId('file-table');
  const row = (name: string) => table().locator('tbody tr').filter({ has: page.getByText(name, { exact: true }) });

  beforeAll(async () => {
    emu = await GraphEmulator.start();
    tenant = emu.addTenant({ domain: 'northwind.onmicrosoft.com' });
    // Backup reads, restore writes: the default roles (ALL_ROLES: User.Read.All, Files.ReadWrite.All, Sites.ReadWrite.All, and Mail, Calendars, Contacts ReadWrite).
    const app = tenant.addApp({ secret: SECRET });
    tenant.addUser({ userPrincipalName: ALICE, displayName: 'Alice Archer' });
    tenant.addUser({ userPrincipalName: BOB, displayName: 'Bob Baker' });
    tenant.addUser({ userPrincipalName: 'carol@northwind.onmicrosoft.com', displayName: 'Carol Cole', drive: false });
    alice = tenant.driveOf(ALICE);
    bob = tenant.driveOf(BOB);
    alice.seed(FILES);
    financeArchive = tenant.addSite({ name: 'finance', displayName: 'Finance', libraries: ['Documents', 'Archive'] }).library('Archive');
    financeArchive.seed({ '2025/ledger.csv': 'account,amount\n1,100\n', 'policy.txt': 'keep seven years\n' });
    salesDocuments = tenant.addSite({ name: 'sales', displayName: 'Sales', libraries: ['Documents'] }).library('Documents');

    e2e = await startSignedInE2e({ server: { nodeHeartbeatSeconds: 1 }, node: NODE, page: { viewport: { width: 1440, height: 1000 }, locale: 'en-GB' } });
    page = e2e.page;
    await addDestination(e2e, { name: 'local', node: NODE, path: path.join(makeTempDir('m365-backup-repo'), 'vplus') });
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
    tenantId = added.body.tenant.id;
    const sync = await taskEnded(e2e.t.api, e2e.admin, added.body.syncTaskId!);
    expect(sync.state, sync.error ?? '').toBe('FINISHED');
  });
  afterAll(async () => {
    await e2e?.close();
    await emu?.stop();
  });

  it('backs up a OneDrive with "Back up now" on the tenant page, following the task to its summary', async () => {
    await page.goto(`${e2e.t.server.url}/m365/${tenantId}`);
    const users = page.getByRole('table', { name: 'Users' });
    const aliceRow = users.getByRole('row').filter({ hasText: ALICE });
    await aliceRow.waitFor();
    expect(await aliceRow.innerText()).toMatch(/Never/);
    // Carol has no OneDrive: nothing to back up.
    expect(await users.getByRole('row').filter({ hasText: 'carol@' }).getByRole('button', { name: 'Back up now' }).isDisabled()).toBe(true);

    await aliceRow.getByRole('button', { name: 'Back up now' }).click();
    const dialog = page.getByRole('dialog', { name: `Back up ${ALICE}` });
    // The only destination is chosen already.
    await expect.poll(() => dialog.getByRole('combobox', { name: 'Destination' }).inputValue()).toMatch(/^local/);
    await dialog.getByRole('checkbox', { name: 'Full backup' }).check();
    await dialog.getByRole('button', { name: 'Start backup' }).click();
    await dialog.getByRole('progressbar', { name: 'Backup progress' }).waitFor();
    expect(await dialog.getByRole('link', { name: /^Task \d+$/ }).count()).toBe(1);
    const done = await ended(dialog);
    expect(done.state, done.text).toBe('FINISHED');
    const summary = await dialog.getByTestId('m365-backup-result').innerText();
    expect(summary).toMatch(/drive: full, 4 files/);
    await page.screenshot({ path: path.join(SHOTS, 'm365-backup-now.png') });
    await dialog.getByRole('button', { name: 'Close' }).click();
    await dialog.waitFor({ state: 'detached' });
    // The inventory says when: the last backup is no longer "Never".
    await expect.poll(async () => aliceRow.innerText(), { timeout: 30_000 }).not.toMatch(/Never/);
  }, 240_000);

  it('lists the backup in the Backups tab, filtered by user', async () => {
    await page.getByRole('tab', { name: 'Backups' }).click();
    const backups = page.getByRole('table', { name: 'Microsoft 365 backups' });
    const backupRow = backups.getByRole('row').filter({ hasText: ALICE });
    await backupRow.waitFor();
    const text = (await backupRow.innerText()).replace(/\s+/g, ' ');
    expect(text).toContain('OneDrive');
    // The type badge is set in capitals.
    expect(text).toMatch(/\bfull\b/i);
    expect(text).toContain('4 files');
    expect(text).toContain('on local');

    await page.getByRole('combobox', { name: 'Backups of' }).click();
    await page.getByRole('option', { name: ALICE }).click();
    await expect.poll(() => new URL(page.url()).searchParams.get('subject')).toMatch(/^user:\d+$/);
    await backupRow.waitFor();
    expect(await backups.locator('tbody tr').count()).toBe(1);
    const api = await e2e.api<M365BackupPage>('GET', `/api/m365/backups?tenant=${tenantId}&user=${encodeURIComponent(ALICE)}`);
    expect(api.body.backups).toHaveLength(1);
    await page.screenshot({ path: path.join(SHOTS, 'm365-backups-tab.png'), fullPage: true });
  });

  it('browses the backup: its drive, then its folders and files', async () => {
    const backupRow = page.getByRole('table', { name: 'Microsoft 365 backups' }).getByRole('row').filter({ hasText: ALICE });
    await backupRow.getByRole('button', { name: 'Browse' }).click();
    await page.waitForURL(/\/mounts\/\d+$/, { timeout: 20_000 });
    await page.getByRole('heading', { level: 1, name: new RegExp(`^OneDrive and mailbox of ${ALICE.replace(/\./g, '\\.')}: `) }).waitFor();
    const drives = page.getByRole('table', { name: 'Drives' });
    await drives.getByRole('link', { name: 'drive', exact: true }).waitFor({ timeout: 120_000 });
    expect((await drives.innerText()).replace(/\s+/g, ' ')).toMatch(/drive OneDrive 4/);
    // Nothing of a VM's: no iSCSI, no node-directory restore.
    expect(await page.getByText(/iSCSI/).count()).toBe(0);

    await drives.getByRole('link', { name: 'drive', exact: true }).click();
    await row('hello.txt').waitFor({ timeout: 30_000 });
    // OneDrive keeps no Unix owner or mode: those columns are left out.
    expect(await table().getByRole('columnheader', { name: 'Mode' }).count()).toBe(0);
    expect(await table().getByRole('columnheader', { name: 'Modified' }).count()).toBe(1);
    expect(await row('Documents').getByRole('link', { name: 'Documents' }).count()).toBe(1);
    expect(await page.getByRole('button', { name: 'Restore…', exact: true }).count()).toBe(0);
    await row('Documents').getByRole('link', { name: 'Documents' }).click();
    await row('Q3').waitFor();
    await row('Report.txt').waitFor();
    expect(await page.getByRole('navigation', { name: 'Folder path' }).innerText()).toMatch(/All drives.*drive.*Documents/s);
    await page.screenshot({ path: path.join(SHOTS, 'm365-browse.png'), fullPage: true });
  });

  it('downloads a file of the backup', async () => {
    await page.getByRole('navigation', { name: 'Folder path' }).getByRole('link', { name: 'drive', exact: true }).click();
    const link = row('hello.txt').getByRole('link', { name: 'Download hello.txt' });
    await link.waitFor();
    const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
    expect(fs.readFileSync(await download.path(), 'utf8')).toBe(HELLO);
  });

  it('restores a nested folder to another user into a new Restore folder, and shows the summary', async () => {
    await row('Documents').getByRole('link', { name: 'Documents' }).click();
    await row('Q3').getByRole('checkbox').check();
    await page.getByRole('button', { name: 'Restore to Microsoft 365…' }).click();
    const dialog = page.getByRole('dialog', { name: new RegExp(`^Restore ${ALICE.replace(/\./g, '\\.')} from `) });
    expect(await dialog.getByRole('list', { name: 'To restore' }).innerText()).toContain('drive/Documents/Q3');
    await dialog.getByRole('button', { name: 'Next' }).click();

    // Where: another user, chosen from the tenant's users with a OneDrive (not Carol, not Alice herself).
    await dialog.getByRole('radio', { name: 'Another user or site of the tenant' }).check();
    await dialog.getByRole('button', { name: 'Next' }).click();
    await dialog.getByText('Choose the user or site to restore to').waitFor();
    await dialog.getByRole('combobox', { name: 'User or site' }).click();
    expect(await page.getByRole('option', { name: /carol@/ }).count()).toBe(0);
    expect(await page.getByRole('option', { name: /alice@/ }).count()).toBe(0);
    await page.getByRole('option', { name: `Bob Baker (${BOB})` }).click();
    expect(await dialog.getByRole('radio', { name: 'Into a new folder' }).isChecked()).toBe(true);
    await dialog.getByRole('button', { name: 'Next' }).click();

    // Conflicts: keep both by default, each choice explained.
    expect(await dialog.getByRole('radio', { name: 'Keep both' }).isChecked()).toBe(true);
    expect(await dialog.getByTestId('m365-restore-recap').innerText()).toMatch(new RegExp(`1 item of OneDrive → ${BOB.replace(/\./g, '\\.')}'s OneDrive, into the new folder “Restore-`));
    await dialog.getByRole('button', { name: 'Start restore' }).click();
    await dialog.getByRole('progressbar', { name: 'Restore progress' }).waitFor();
    const done = await ended(dialog);
    expect(done.state, done.text).toBe('FINISHED');
    const summary = dialog.getByTestId('m365-restore-result');
    const text = (await summary.innerText()).replace(/\s+/g, ' ');
    expect(text).toMatch(/Restored 2 files and \d+ folders? \(\d+ B\) to .*Restore-/);
    expect(text).toContain('0 skipped, 0 failed.');
    await page.screenshot({ path: path.join(SHOTS, 'm365-restore.png') });

    // In Bob's OneDrive, under one new Restore-<date> folder, with the backed-up bytes.
    const restored: Record<string, string> = {};
    for (const [p, entry] of Object.entries(await bob.snapshot())) {
      const inside = /^\/(Restore-[^/]+)\/(.+)$/.exec(p);
      if (inside !== null && entry.type === 'file') restored[inside[2]!] = entry.sha256;
    }
    expect(restored).toEqual({ 'Documents/Q3/numbers.csv': sha(FILES['Documents/Q3/numbers.csv']!), 'Documents/Q3/Deep/notes.md': sha(FILES['Documents/Q3/Deep/notes.md']!) });

    // The task's own page tells the same, under its type and subject.
    await dialog.getByRole('link', { name: /^Task \d+$/ }).click();
    await page.getByRole('heading', { level: 1, name: /^Task \d+: Microsoft 365 restore$/ }).waitFor();
    expect((await page.getByTestId('m365-restore-result').innerText()).replace(/\s+/g, ' ')).toMatch(/Restored 2 files/);
  }, 240_000);

  it('restoring to the original places with "Skip" leaves the files there and lists each one skipped with why', async () => {
    await page.goto(`${e2e.t.server.url}/m365/${tenantId}?tab=backups`);
    const backupRow = page.getByRole('table', { name: 'Microsoft 365 backups' }).getByRole('row').filter({ hasText: ALICE });
    await backupRow.getByRole('button', { name: 'Browse' }).click();
    await page.waitForURL(/\/mounts\/\d+$/, { timeout: 20_000 });
    await page.getByRole('table', { name: 'Drives' }).getByRole('link', { name: 'drive', exact: true }).click();
    await row('hello.txt').getByRole('checkbox').check();
    await page.getByRole('button', { name: 'Restore to Microsoft 365…' }).click();
    const dialog = page.getByRole('dialog', { name: new RegExp(`^Restore ${ALICE.replace(/\./g, '\\.')} from `) });
    await dialog.getByRole('button', { name: 'Next' }).click();
    await dialog.getByRole('radio', { name: 'Back to the original places' }).check();
    await dialog.getByRole('button', { name: 'Next' }).click();
    await dialog.getByRole('radio', { name: 'Skip' }).check();
    await dialog.getByRole('button', { name: 'Start restore' }).click();
    const done = await ended(dialog);
    expect(done.state, done.text).toMatch(/^FINISHED/);
    const summary = dialog.getByTestId('m365-restore-result');
    expect((await summary.innerText()).replace(/\s+/g, ' ')).toMatch(/Restored 0 files .* 1 skipped, 0 failed\. Skipped \/hello\.txt: .*exist/);
    expect((await alice.snapshot())['/hello.txt']).toMatchObject({ sha256: sha(HELLO) });
    await dialog.getByRole('button', { name: 'Close' }).click();
  }, 240_000);

  it('backs up a site (both libraries), then restores one library into another site\'s library', async () => {
    await page.goto(`${e2e.t.server.url}/m365/${tenantId}`);
    const financeRow = page.getByRole('table', { name: 'Sites' }).getByRole('row').filter({ hasText: 'Finance' });
    await financeRow.getByRole('button', { name: 'Back up now' }).click();
    const backup = page.getByRole('dialog', { name: 'Back up Finance' });
    await expect.poll(() => backup.getByRole('combobox', { name: 'Destination' }).inputValue()).toMatch(/^local/);
    await backup.getByRole('button', { name: 'Start backup' }).click();
    const backedUp = await ended(backup);
    expect(backedUp.state, backedUp.text).toBe('FINISHED');
    const perDrive = await backup.getByTestId('m365-backup-result').innerText();
    expect(perDrive).toMatch(/^Documents: full, 0 files/m);
    expect(perDrive).toMatch(/^Archive: full, 2 files/m);
    await backup.getByRole('button', { name: 'Close' }).click();

    await page.getByRole('tab', { name: 'Backups' }).click();
    const siteRow = page.getByRole('table', { name: 'Microsoft 365 backups' }).getByRole('row').filter({ hasText: 'Site · ' });
    await siteRow.getByRole('button', { name: 'Restore…' }).click();
    const dialog = page.getByRole('dialog', { name: /^Restore finance from / });
    // A site's backup holds a drive per library: a restore takes one.
    await dialog.getByRole('button', { name: 'Next' }).click();
    await dialog.getByText('Choose the drive to restore').waitFor();
    await dialog.getByRole('combobox', { name: 'Drive' }).click();
    await page.getByRole('option', { name: /^library Archive/ }).click();
    await dialog.getByRole('button', { name: 'Next' }).click();
    await dialog.getByRole('radio', { name: 'Another user or site of the tenant' }).check();
    await dialog.getByRole('combobox', { name: 'User or site' }).click();
    await page.getByRole('option', { name: 'Sales (sales)' }).click();
    // Sales has no Archive library: its Documents is offered.
    await expect.poll(() => dialog.getByRole('combobox', { name: 'Document library' }).inputValue()).toBe('Documents');
    await dialog.getByRole('textbox', { name: "New folder's name" }).fill('From Finance');
    await dialog.getByRole('button', { name: 'Next' }).click();
    expect(await dialog.getByTestId('m365-restore-recap').innerText()).toContain('→ site sales, library Documents, into the new folder “From Finance”');
    await dialog.getByRole('button', { name: 'Start restore' }).click();
    const done = await ended(dialog);
    expect(done.state, done.text).toBe('FINISHED');
    expect((await dialog.getByTestId('m365-restore-result').innerText()).replace(/\s+/g, ' ')).toMatch(/Restored 2 files .* to \/From Finance/);
    const files = Object.entries(await salesDocuments.snapshot()).filter(([, entry]) => entry.type === 'file').map(([p]) => p).sort();
    expect(files).toEqual(['/From Finance/2025/ledger.csv', '/From Finance/policy.txt']);
    await page.screenshot({ path: path.join(SHOTS, 'm365-site-restore.png') });
    await dialog.getByRole('button', { name: 'Close' }).click();
  }, 240_000);

  it('a viewer sees the backups without Browse or Restore, and the API refuses them a restore', async () => {
    const token = await createUser(e2e.t.api, e2e.admin, 'vera', 'viewer');
    const viewer = await e2e.browser.newPage({ viewport: { width: 1440, height: 1000 }, locale: 'en-GB' });
    try {
      await viewer.goto(e2e.t.server.url);
      await signIn(viewer, 'vera', 'vera-password-1');
      await viewer.goto(`${e2e.t.server.url}/m365/${tenantId}`);
      await viewer.getByRole('table', { name: 'Users' }).getByRole('row').filter({ hasText: ALICE }).waitFor();
      expect(await viewer.getByRole('button', { name: 'Back up now' }).count()).toBe(0);
      await viewer.getByRole('tab', { name: 'Backups' }).click();
      const backupRow = viewer.getByRole('table', { name: 'Microsoft 365 backups' }).getByRole('row').filter({ hasText: ALICE });
      await backupRow.waitFor();
      expect(await backupRow.getByRole('button').count()).toBe(0);

      const [backup] = (await e2e.api<M365BackupPage>('GET', `/api/m365/backups?tenant=${tenantId}`)).body.backups;
      const refused = await e2e.t.api.request('POST', `/api/m365/backups/${backup!.id}/restore`, { paths: ['drive/hello.txt'] }, { token });
      expect(refused.status).toBe(403);
    } finally {
      await viewer.close();
    }
  });
});
