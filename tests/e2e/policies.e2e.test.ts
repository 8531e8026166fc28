import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addDestination, SHOTS, startSignedInE2e, type SignedInE2e } from '../support/e2e-setup.js';
import { makeTempDir } from '../support/test-server.js';

const POLICY = 'nightly-e2e';

/**
 * Backup policies in the browser: create one through the form (its schedule preview answers
 * as rules are typed, a bad rule is marked where it was typed), find it in the list, run it
 * now and watch the run end, and see its next run on the dashboard. No VM is needed: a
 * policy without VMs runs and finishes saying so.
 */
describe('backup policies in Chromium', () => {
  let e2e: SignedInE2e;
  let page: Page;

  beforeAll(async () => {
    // en-GB: dates as "Mon, 12 May 2025, 22:00", which the checks below read.
    e2e = await startSignedInE2e({ server: { nodeHeartbeatSeconds: 1 }, node: 'policy-e2e', page: { viewport: { width: 1440, height: 1000 }, locale: 'en-GB' } });
    page = e2e.page;
    await addDestination(e2e, { name: 'local', node: 'policy-e2e', path: path.join(makeTempDir('policy-repo'), 'vplus') });
  });
  afterAll(async () => {
    await e2e?.close();
  });

  it('creates a policy through the form, with the next runs previewed as rules are typed', async () => {
    await page.getByRole('link', { name: 'Policies', exact: true }).click();
    await page.getByRole('heading', { name: 'No policies yet' }).waitFor();
    await page.getByRole('link', { name: 'Create policy' }).click();
    await page.getByRole('heading', { name: 'Create policy', level: 1 }).waitFor();

    await page.getByLabel('Name', { exact: true }).fill(POLICY);
    // The only destination is chosen already.
    await expect.poll(() => page.getByRole('combobox', { name: 'Destination' }).inputValue()).toBe('local (on policy-e2e)');

    // Rules as text (the builder is the default; schedule-builder.e2e.test.ts covers it).
    await page.getByRole('radiogroup', { name: 'Write the schedule with' }).getByText('Text', { exact: true }).click();
    await page.getByRole('textbox', { name: 'Schedule rule 1' }).fill('incremental mon-fri 22:00');
    const nextRuns = page.getByTestId('next-runs-preview');
    await expect.poll(() => nextRuns.locator('tbody tr').count(), { timeout: 10_000 }).toBe(10);
    // textContent: badges are upper-cased by CSS only.
    const firstRun = (await nextRuns.locator('tbody tr').first().textContent()) ?? '';
    expect(firstRun).toContain('Incremental');
    expect(firstRun).toContain('incremental mon-fri 22:00');
    // Mondays to Fridays only, at 22:00 on the server's clock (the browser shares it here).
    const days = await nextRuns.locator('tbody tr time').allInnerTexts();
    expect(days.every((day) => !/^(Sat|Sun)/.test(day) && day.includes('22:00')), days.join(' | ')).toBe(true);

    await page.getByRole('button', { name: 'Add rule' }).click();
    const badRule = page.getByRole('textbox', { name: 'Schedule rule 2' });
    await badRule.fill('full someday 03:00');
    await expect.poll(() => badRule.getAttribute('aria-invalid'), { timeout: 10_000 }).toBe('true');
    await page.getByText('could not read "someday" as days').waitFor();
    // The good rule still previews while the bad one is marked.
    expect(await nextRuns.locator('tbody tr').count()).toBe(10);
    await page.screenshot({ path: path.join(SHOTS, 'policy-form-error.png'), fullPage: true });

    await badRule.fill('full sun 03:00');
    await expect.poll(() => badRule.getAttribute('aria-invalid'), { timeout: 10_000 }).not.toBe('true');
    await expect.poll(() => nextRuns.innerText(), { timeout: 10_000 }).toContain('full sun 03:00');
    await page.screenshot({ path: path.join(SHOTS, 'policy-form.png'), fullPage: true });

    // A retention rule of 0 is refused under its field: an empty field is how a rule is not used.
    const daily = page.getByLabel('Daily', { exact: true });
    await daily.fill('0');
    await page.getByRole('button', { name: 'Create policy' }).click();
    await expect.poll(() => daily.getAttribute('aria-invalid'), { timeout: 10_000 }).toBe('true');
    await page.getByText('At least 1; leave it empty to not use this rule').waitFor();
    expect(page.url()).toMatch(/\/policies\/new$/);
    await daily.fill('7');
    await expect.poll(() => daily.getAttribute('aria-invalid'), { timeout: 10_000 }).not.toBe('true');

    await page.getByRole('button', { name: 'Create policy' }).click();
    await page.getByRole('heading', { name: POLICY, level: 1 }).waitFor({ timeout: 20_000 });
    expect(page.url()).toMatch(/\/policies\/\d+$/);
    const settings = page.getByRole('region', { name: 'Settings' });
    expect(await settings.innerText()).toContain('incremental mon-fri 22:00');
    expect(await settings.innerText()).toContain('full sun 03:00');
  });

  it('lists the policy with its destination, schedules and next run', async () => {
    await page.getByRole('link', { name: 'Policies', exact: true }).click();
    const row = page.getByRole('table', { name: 'Policies' }).getByRole('row').filter({ hasText: POLICY });
    await row.waitFor();
    const text = (await row.textContent()) ?? '';
    expect(text).toContain('local');
    expect(text).toContain('incremental mon-fri 22:00');
    expect(text).toContain('Enabled');
    expect(text).toContain('Never');
    expect(text).toMatch(/in \d+/);
    await page.screenshot({ path: path.join(SHOTS, 'policies.png'), fullPage: true });
  });

  it('runs the policy now from its page, and the run appears and ends', async () => {
    await page.getByRole('link', { name: POLICY, exact: true }).click();
    await page.getByRole('heading', { name: POLICY, level: 1 }).waitFor();
    await page.getByText('This policy has not run yet').waitFor();

    await page.getByRole('button', { name: 'Run now' }).click();
    await page.getByRole('menuitem', { name: /^Incremental backup/ }).click();
    const runs = page.getByRole('table', { name: `Runs of ${POLICY}` });
    const run = runs.locator('tbody tr').first();
    await run.waitFor({ timeout: 20_000 });
    const badge = run.locator('[data-state]');
    await expect.poll(() => badge.getAttribute('data-state'), { timeout: 30_000 }).toBe('finished');
    const text = (await run.textContent()) ?? '';
    expect(text).toContain('Manual');
    expect(text).toContain('Incremental');
    expect(text).toContain('No VMs');
    expect(text).toContain('no virtual machines are in this policy');
    await page.screenshot({ path: path.join(SHOTS, 'policy-run.png'), fullPage: true });

    // The list shows it as the last run.
    await page.getByRole('link', { name: 'All policies' }).click();
    const row = page.getByRole('table', { name: 'Policies' }).getByRole('row').filter({ hasText: POLICY });
    await expect.poll(() => row.locator('[data-state]').getAttribute('data-state'), { timeout: 10_000 }).toBe('finished');
  });

  it('edits the policy: a refusal shows on its field, a change is saved', async () => {
    const other = await e2e.api('POST', '/api/policies', { name: 'other', destination: 'local' });
    expect(other.status, other.text).toBe(201);

    await page.getByRole('link', { name: POLICY, exact: true }).click();
    await page.getByRole('link', { name: 'Edit', exact: true }).click();
    await page.getByRole('heading', { name: `Edit policy ${POLICY}`, level: 1 }).waitFor();
    const name = page.getByLabel('Name', { exact: true });
    await name.fill('other');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await expect.poll(() => name.getAttribute('aria-invalid'), { timeout: 10_000 }).toBe('true');
    await page.getByText('there is already a policy "other"').waitFor();

    await name.fill(POLICY);
    await page.getByLabel('Priority').fill('70');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByRole('heading', { name: POLICY, level: 1 }).waitFor({ timeout: 20_000 });
    expect(await page.getByRole('region', { name: 'Settings' }).textContent()).toMatch(/Priority\s*70/);
  });

  it('creates a Microsoft 365 policy: its patterns are over users and sites, with no VM checklist or hypervisors', async () => {
    await page.getByRole('link', { name: 'Policies', exact: true }).click();
    await page.getByRole('link', { name: 'Create policy' }).click();
    await page.getByRole('heading', { name: 'Create policy', level: 1 }).waitFor();
    await page.getByRole('radiogroup', { name: 'Kind' }).getByText('Microsoft 365', { exact: true }).click();
    await page.getByText('Include users and sites named like').waitFor();
    expect(await page.getByRole('region', { name: 'Virtual machines' }).count()).toBe(0);
    expect(await page.getByLabel('Hypervisors').count()).toBe(0);

    await page.getByLabel('Name', { exact: true }).fill('m365-e2e');
    await expect.poll(() => page.getByRole('combobox', { name: 'Destination' }).inputValue()).toBe('local (on policy-e2e)');
    await page.getByRole('radiogroup', { name: 'Write the schedule with' }).getByText('Text', { exact: true }).click();
    await page.getByRole('textbox', { name: 'Schedule rule 1' }).fill('incremental daily 21:00');
    await page.getByRole('textbox', { name: 'Include pattern 1' }).fill('^alice@');
    await page.getByRole('button', { name: 'Create policy' }).click();
    await page.getByRole('heading', { name: 'm365-e2e', level: 1 }).waitFor({ timeout: 20_000 });
    await page.getByRole('heading', { name: 'Users and sites (0)' }).waitFor();
    expect(await page.getByRole('region', { name: 'Settings' }).innerText()).toContain('^alice@');
    const saved = (await e2e.api('GET', '/api/policies/m365-e2e')).body as { kind: string; assignment: { include: string[]; hypervisors: string[] } };
    expect(saved).toMatchObject({ kind: 'm365', assignment: { include: ['^alice@'], hypervisors: [] } });
    await page.screenshot({ path: path.join(SHOTS, 'policy-m365.png'), fullPage: true });
  });

  it('shows the next runs on the dashboard', async () => {
    await page.getByRole('link', { name: 'Dashboard', exact: true }).click();
    const nextRuns = page.getByTestId('dashboard-next-runs');
    await nextRuns.waitFor();
    await expect.poll(() => nextRuns.innerText(), { timeout: 10_000 }).toContain(POLICY);
    expect(await nextRuns.textContent()).toMatch(/Incremental|Full/);
    expect(await page.getByTestId('dashboard-last-night').innerText()).toContain('Succeeded');
    await page.screenshot({ path: path.join(SHOTS, 'dashboard-policies.png'), fullPage: true });
  });
});
