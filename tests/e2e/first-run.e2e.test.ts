import fs from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { submitSignIn } from '../support/browser.js';
import { SHOTS, startE2e, type E2e } from '../support/e2e-setup.js';
import { createUser, type TestServer } from '../support/test-server.js';

/** A new admin's first minutes, in a real Chromium against a real server and MariaDB. */
describe('admin UI in Chromium', () => {
  let e2e: E2e;
  let t: TestServer;
  let page: Page;
  const password = 'first-admin-pass-1';

  beforeAll(async () => {
    e2e = await startE2e();
    ({ t, page } = e2e);
  });
  afterAll(async () => {
    await e2e?.close();
  });

  const signIn = (username: string, pw: string): Promise<void> => submitSignIn(page, username, pw);

  it('walks through first-run setup to the dashboard; the About page shows the catalog version', async () => {
    await page.goto(t.server.url);
    await expect.poll(() => page.title(), { timeout: 20_000 }).toBe('Create the first administrator · vPlus');
    // The form names where the code is; a wrong code is refused under its field.
    await expect.poll(() => page.getByText(`${t.dataDir}/setup-code`).first().isVisible(), { timeout: 20_000 }).toBe(true);
    await page.getByLabel('Setup code').fill('AAAA-BBBB-CCCC');
    await page.getByLabel('Username').fill('admin');
    await page.getByLabel('Password', { exact: true }).fill(password);
    await page.getByLabel('Confirm password').fill(password);
    await page.getByRole('button', { name: 'Create administrator' }).click();
    await expect.poll(() => page.getByText('the setup code is wrong').isVisible(), { timeout: 20_000 }).toBe(true);
    await page.getByLabel('Setup code').fill(fs.readFileSync(path.join(t.dataDir, 'setup-code'), 'utf8').trim());
    await page.getByLabel('Password', { exact: true }).fill(password);
    await page.getByLabel('Confirm password').fill(password);
    await page.getByRole('button', { name: 'Create administrator' }).click();
    await expect.poll(() => page.getByRole('heading', { name: 'Dashboard', level: 1 }).isVisible(), { timeout: 20_000 }).toBe(true);
    const health = await t.api.request<{ catalog: { engine: string; version: string } }>('GET', '/api/health');
    const catalog = `${health.body.catalog.engine} ${health.body.catalog.version}`;
    expect(catalog).toMatch(/^MariaDB \d+\.\d+\.\d+$/);
    await page.screenshot({ path: path.join(SHOTS, 'dashboard.png'), fullPage: true });
    // Versions, catalog and uptime moved off the dashboard, which leads with what needs attention.
    expect(await page.getByText(catalog).count()).toBe(0);
    await page.getByRole('link', { name: 'About', exact: true }).click();
    await expect.poll(() => page.getByText(catalog).first().isVisible(), { timeout: 20_000 }).toBe(true);
    expect(await page.getByText('TLS certificate fingerprint (SHA-256)').isVisible()).toBe(true);
  });

  it('signs out and back in, and rejects a wrong password with a message', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await expect.poll(() => page.getByRole('button', { name: 'Sign in' }).isVisible(), { timeout: 20_000 }).toBe(true);
    expect(await page.title()).toBe('Sign in · vPlus');
    await signIn('admin', 'not-the-password');
    await expect.poll(() => page.getByText('wrong username or password').isVisible(), { timeout: 20_000 }).toBe(true);
    await signIn('admin', password);
    await expect.poll(() => page.getByRole('heading', { name: 'Dashboard', level: 1 }).isVisible(), { timeout: 20_000 }).toBe(true);
    for (const link of ['Dashboard', 'Nodes', 'Virtual machines', 'Backups', 'Tasks', 'Policies', 'Destinations', 'Settings', 'Audit log', 'About']) {
      expect(await page.getByRole('link', { name: link, exact: true }).count(), link).toBeGreaterThan(0);
    }
  });

  it('names each tab after its page, and links each page to its section of the README', async () => {
    for (const name of ['Nodes', 'Virtual machines', 'Backups', 'Tasks', 'Policies', 'Destinations', 'Settings', 'Audit log', 'About', 'Dashboard']) {
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name, exact: true }).click();
      await page.getByRole('heading', { name, level: 1 }).waitFor({ timeout: 20_000 });
      await expect.poll(() => page.title(), { timeout: 5_000 }).toBe(`${name} · vPlus`);
    }
    await page.getByRole('link', { name: 'Backups', exact: true }).click();
    await page.getByRole('link', { name: 'Help: Virtual machines (KVM/libvirt)' }).click();
    await expect.poll(() => page.title(), { timeout: 20_000 }).toBe('Help · vPlus');
    expect(new URL(page.url()).hash).toBe('#virtual-machines-kvmlibvirt');
    const section = page.getByRole('heading', { name: 'Virtual machines (KVM/libvirt)', level: 2 });
    await expect.poll(() => section.isVisible(), { timeout: 20_000 }).toBe(true);
    // The page scrolled to the section.
    await expect.poll(async () => (await section.boundingBox())?.y ?? -1, { timeout: 5_000 }).toBeLessThan(200);
    await page.getByRole('link', { name: 'Nodes', exact: true }).click();
    await page.getByRole('link', { name: 'Help: Nodes' }).click();
    await expect.poll(() => page.getByRole('heading', { name: 'Nodes', level: 2 }).isVisible(), { timeout: 20_000 }).toBe(true);
    await page.screenshot({ path: path.join(SHOTS, 'help-nodes.png') });
  });

  it('lets an admin add a user from user management and shows it in the audit log', async () => {
    await page.goto(`${t.server.url}/settings/users`);
    await page.getByRole('button', { name: 'Add user' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Username').fill('olivia');
    await dialog.getByLabel('Password', { exact: true }).fill('olivia-password-1');
    await dialog.getByLabel('Role', { exact: true }).click();
    await page.getByRole('option', { name: /operator/i }).click();
    await dialog.getByRole('button', { name: /add|create/i }).click();
    await expect.poll(() => page.getByRole('cell', { name: 'olivia', exact: true }).first().isVisible(), { timeout: 20_000 }).toBe(true);
    await page.getByRole('link', { name: 'Audit log', exact: true }).click();
    await expect.poll(() => page.getByText('user.create').first().isVisible(), { timeout: 20_000 }).toBe(true);
  });

  it('does not offer user management actions to a viewer', async () => {
    const adminToken = await t.api.login('admin', password);
    await createUser(t.api, adminToken, 'victor', 'viewer', 'victor-password-1');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await expect.poll(() => page.getByRole('button', { name: 'Sign in' }).isVisible(), { timeout: 20_000 }).toBe(true);
    await signIn('victor', 'victor-password-1');
    await expect.poll(() => page.getByRole('heading', { name: 'Dashboard', level: 1 }).isVisible(), { timeout: 20_000 }).toBe(true);
    await page.goto(`${t.server.url}/settings/users`);
    await expect.poll(() => page.getByText(/administrators only|admin-only|only administrators/i).first().isVisible(), { timeout: 20_000 }).toBe(true);
    expect(await page.getByRole('button', { name: 'Add user' }).count()).toBe(0);
    expect(await page.getByRole('button', { name: /delete|remove|reset password|change role/i }).count()).toBe(0);
    await page.screenshot({ path: path.join(SHOTS, 'viewer-users.png'), fullPage: true });
    await page.getByRole('button', { name: 'Sign out' }).click();
    await expect.poll(() => page.getByRole('button', { name: 'Sign in' }).isVisible(), { timeout: 20_000 }).toBe(true);
    // Signed out for real: the session cookie no longer opens the API.
    const me = await page.evaluate(async () => (await fetch('/api/auth/me')).status);
    expect(me).toBe(401);
  });
});
