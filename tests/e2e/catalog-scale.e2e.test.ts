import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackupPage } from '../../common/api/backups.js';
import type { Dashboard } from '../../common/api/policies.js';
import { scaleVmName } from '../../electron/server/db/scale-fixture.js';
import { launchChromium, requireBuiltUi, signIn } from '../support/browser.js';
import { ROOT } from '../support/processes.js';
import { startScaleServer, type ScaleServer } from '../support/scale-catalog.js';
import { ADMIN } from '../support/test-server.js';

const VMS = 250;
const DAYS = 30;

/**
 * Issue 17 in Chromium: the dashboard, VMs and backups pages on a catalog filled with the
 * scale fixture render their rows and page through them — a hundred VMs and a hundred backups
 * at a time, older backups by cursor and back. (How fast is the benchmark's business.)
 */
describe('a large catalog in Chromium', () => {
  let s: ScaleServer;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    requireBuiltUi(ROOT);
    s = await startScaleServer({ vms: VMS, days: DAYS });
    browser = await launchChromium(s.server.url);
    page = await browser.newPage({ viewport: { width: 1440, height: 1000 }, locale: 'en-GB', timezoneId: 'UTC' });
    await page.goto(s.server.url);
    await signIn(page, ADMIN.username, ADMIN.password);
  });
  afterAll(async () => {
    await browser?.close();
    await s?.destroy();
  });

  const api = async <T>(path: string): Promise<T> => (await s.api.request<T>('GET', path, undefined, { token: s.token })).body;
  const vmRows = () => page.getByRole('table', { name: 'Virtual machines' }).locator('tbody tr');
  const backupRows = () => page.getByTestId('backup-group').locator('tbody tr');
  const pager = () => page.getByRole('navigation', { name: 'Pages of backups' });

  it('shows the dashboard with the coverage of every VM', async () => {
    const { coverage } = await api<Dashboard>('/api/dashboard');
    expect(coverage.total).toBe(VMS - Math.floor(VMS / 50));
    await page.goto(`${s.server.url}/`);
    await page.getByRole('heading', { name: 'Dashboard', level: 1 }).waitFor();
    await page.getByTestId('dashboard-coverage').getByText(`${coverage.covered} of ${coverage.total}`).waitFor();
  });

  it('lists the VMs a hundred at a time, searched in the page', async () => {
    await page.goto(`${s.server.url}/vms`);
    await page.getByText(`VMs 1–100 of ${VMS}`).waitFor();
    expect(await vmRows().count()).toBe(100);
    const first = await vmRows().first().innerText();
    await page.getByLabel('Pages of virtual machines').getByRole('button', { name: '3', exact: true }).click();
    await page.getByText(`VMs 201–${VMS} of ${VMS}`).waitFor();
    expect(await vmRows().count()).toBe(VMS - 200);
    expect(await vmRows().first().innerText()).not.toBe(first);

    // A search starts again at the first page: VMs 5–8 are db-0005 … db-0008.
    await page.getByLabel('Search').fill('db-000');
    await expect.poll(() => vmRows().count()).toBe(4);
    await page.getByRole('table', { name: 'Virtual machines' }).getByText(scaleVmName(5)).waitFor();
    expect(await page.getByText(/^VMs \d+–\d+ of \d+$/).count()).toBe(0);
  });

  it('pages through the backups by cursor, older and back, newest first', async () => {
    const newest = (await api<BackupPage>('/api/backups?limit=100')).backups;
    const older = (await api<BackupPage>(`/api/backups?limit=100&cursor=${encodeURIComponent((await api<BackupPage>('/api/backups?limit=100')).nextCursor!)}`)).backups;
    await page.goto(`${s.server.url}/backups`);
    await pager().getByText('The newest 100 backups').waitFor();
    expect(await backupRows().count()).toBe(100);
    expect(await page.getByTestId('backup-group').count()).toBe(new Set(newest.map((b) => b.vm)).size);

    await pager().getByRole('button', { name: 'Older' }).click();
    await pager().getByText('Page 2: 100 older backups').waitFor();
    await expect.poll(async () => page.getByTestId('backup-group').count()).toBe(new Set(older.map((b) => b.vm)).size);
    expect(await backupRows().count()).toBe(100);
    const oldestShown = older.at(-1)!;
    await page.getByTestId('backup-group').and(page.locator(`[data-vm="${oldestShown.vmName}"]`)).waitFor();

    await pager().getByRole('button', { name: 'Newer' }).click();
    await pager().getByText('The newest 100 backups').waitFor();
    await page.getByTestId('backup-group').and(page.locator(`[data-vm="${newest[0]!.vmName}"]`)).waitFor();
  });

  it('filters on the server: one VM, one night', async () => {
    const [newest] = (await api<BackupPage>('/api/backups?limit=1')).backups;
    const all = (await api<BackupPage>(`/api/backups?limit=1000&vm=${newest!.vm}`)).backups;
    expect(all).toHaveLength(DAYS);
    await page.goto(`${s.server.url}/backups?vm=${newest!.vm}`);
    await page.getByText(`${DAYS} backups of 1 VM on this page`).waitFor();
    expect(await backupRows().count()).toBe(DAYS);
    expect(await pager().count()).toBe(0);

    // The last night (days in the browser's zone, UTC here): every VM's backup, a page at a time.
    const night = newest!.createdAt.slice(0, 10);
    await page.goto(`${s.server.url}/backups?from=${night}&to=${night}`);
    await pager().getByText('The newest 100 backups').waitFor();
    await pager().getByRole('button', { name: 'Older' }).click();
    await pager().getByText('Page 2: 100 older backups').waitFor();
    await pager().getByRole('button', { name: 'Older' }).click();
    await pager().getByText(`Page 3: ${VMS - 200} older backups`).waitFor();
    expect(await backupRows().count()).toBe(VMS - 200);
    expect(await pager().getByRole('button', { name: 'Older' }).isDisabled()).toBe(true);
  });
});
