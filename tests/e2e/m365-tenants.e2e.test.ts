import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { M365Tenant } from '../../common/api/m365.js';
import { SHOTS, startSignedInE2e, type SignedInE2e } from '../support/e2e-setup.js';
import { GraphEmulator, type AppRegistration, type Tenant } from '../support/graph-emulator/index.js';

const SECRET = 'E2e~the-right-secret';

/**
 * Issue 13 in the browser: add a Microsoft 365 tenant from the modal (the Graph emulator's CA
 * given under Advanced) with a wrong secret (the sign-in's reason under the secret, nothing
 * added), then the right one (Test connection lists the permissions), and see its users and
 * sites once the sync ran. The dialog fits a 900 px high screen.
 */
describe('Microsoft 365 tenants in Chromium', () => {
  let emu: GraphEmulator;
  let tenant: Tenant;
  let app: AppRegistration;
  let e2e: SignedInE2e;
  let page: Page;

  beforeAll(async () => {
    emu = await GraphEmulator.start();
    tenant = emu.addTenant({ domain: 'northwind.onmicrosoft.com' });
    app = tenant.addApp({ secret: SECRET, roles: ['User.Read.All', 'Files.Read.All', 'Sites.Read.All', 'Mail.Read'] });
    tenant.addUser({ userPrincipalName: 'alice@northwind.onmicrosoft.com', displayName: 'Alice Archer' });
    tenant.addUser({ userPrincipalName: 'carol@northwind.onmicrosoft.com', displayName: 'Carol Cole', drive: false });
    tenant.addSite({ name: 'finance', displayName: 'Finance', libraries: ['Documents', 'Archive'] });
    e2e = await startSignedInE2e({ node: 'cloud-e2e', page: { viewport: { width: 1280, height: 900 } } });
    page = e2e.page;
  });
  afterAll(async () => {
    await e2e?.close();
    await emu?.stop();
  });

  it('a wrong secret shows the sign-in’s reason in the modal, and no tenant is added', async () => {
    await page.getByRole('link', { name: 'Microsoft 365', exact: true }).click();
    await page.getByRole('heading', { name: 'Microsoft 365', level: 1 }).waitFor();
    expect(await page.title()).toBe('Microsoft 365 · vPlus');
    await page.getByRole('link', { name: 'Help: Microsoft 365' }).waitFor();
    await page.getByRole('button', { name: 'Add tenant' }).click();
    const dialog = page.getByRole('dialog', { name: 'Add Microsoft 365 tenant' });
    await dialog.getByLabel('Name', { exact: true }).fill('northwind');
    await dialog.getByLabel('Directory (tenant) ID').fill(tenant.id);
    await dialog.getByLabel('Application (client) ID').fill(app.clientId);
    await dialog.locator('input[type="password"]').fill('not-the-secret');
    await dialog.getByRole('button', { name: /Advanced/ }).click();
    await dialog.getByLabel('Authority host').fill(emu.authorityHost);
    await dialog.getByLabel('Graph URL').fill(emu.graphBaseUrl);
    await dialog.getByLabel('Trusted CA (PEM)').fill(emu.caPem);
    await dialog.getByRole('button', { name: 'Add tenant' }).click();
    await dialog.getByText(/The client secret is wrong for app .*: use the secret's Value \(not its Secret ID\)/).waitFor({ timeout: 60_000 });
    expect(await dialog.isVisible()).toBe(true);
    expect((await e2e.api<M365Tenant[]>('GET', '/api/m365/tenants')).body).toEqual([]);
    await page.screenshot({ path: path.join(SHOTS, 'm365-wrong-secret.png') });
  });

  it('the right secret: Test connection lists the permissions, Add opens the tenant, its users and sites appear', async () => {
    const dialog = page.getByRole('dialog', { name: 'Add Microsoft 365 tenant' });
    await dialog.locator('input[type="password"]').fill(SECRET);
    await dialog.getByRole('button', { name: 'Test connection' }).click();
    const result = dialog.getByTestId('connection-test');
    await result.waitFor({ timeout: 60_000 });
    expect(await result.innerText()).toMatch(/Signed in; the app may read users, sites and files[\s\S]*User\.Read\.All[\s\S]*Sites\.Read\.All[\s\S]*Files\.Read\.All/);
    // Advanced open and the test's answer shown: the dialog still fits the screen, nothing scrolled away.
    const content = page.locator('.mantine-Modal-content');
    const box = (await content.boundingBox())!;
    expect(box.y + box.height).toBeLessThanOrEqual(900);
    expect(await content.evaluate((e) => e.scrollHeight - e.clientHeight)).toBeLessThanOrEqual(0);
    await page.screenshot({ path: path.join(SHOTS, 'm365-add-tenant.png') });

    await dialog.getByRole('button', { name: 'Add tenant' }).click();
    await page.getByRole('heading', { name: 'northwind', level: 1 }).waitFor({ timeout: 60_000 });
    const users = page.getByRole('table', { name: 'Users' });
    await users.getByText('carol@northwind.onmicrosoft.com').waitFor({ timeout: 60_000 });
    expect(await users.getByRole('row').filter({ hasText: 'carol@' }).innerText()).toMatch(/Carol Cole\s+None/);
    expect(await users.getByRole('row').filter({ hasText: 'alice@' }).innerText()).toMatch(/Alice Archer\s+Yes/);
    const finance = page.getByRole('table', { name: 'Sites' }).getByRole('row').filter({ hasText: 'Finance' });
    expect(await finance.innerText()).toMatch(/https:\/\/northwind\.sharepoint\.com\/sites\/finance\s+Archive\s+Documents/);

    // Sync again: a user added in the tenant appears.
    tenant.addUser({ userPrincipalName: 'dave@northwind.onmicrosoft.com', displayName: 'Dave Dunn' });
    await page.getByRole('button', { name: 'Sync northwind now' }).click();
    await users.getByText('dave@northwind.onmicrosoft.com').waitFor({ timeout: 60_000 });
    await page.screenshot({ path: path.join(SHOTS, 'm365-tenant.png'), fullPage: true });

    await page.getByRole('link', { name: 'All tenants' }).click();
    const row = page.getByRole('row').filter({ hasText: 'northwind' });
    // The list shows what it held until its refetch lands (stale-while-revalidate): wait for the sync's counts.
    await expect.poll(() => row.innerText(), { timeout: 30_000 }).toMatch(/Connected[\s\S]*Synced\s+3\s+2/i);
  });
});
