import os from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SHOTS, startSignedInE2e, type SignedInE2e } from '../support/e2e-setup.js';
import { requireBuiltCli } from '../support/processes.js';

/** Issue 3's user journey: install a node on this computer from the wizard, then watch a real task run on it. */
describe('nodes and tasks in Chromium', () => {
  let e2e: SignedInE2e;
  let page: Page;

  beforeAll(async () => {
    requireBuiltCli(); // the local node runs the built `vplus node-service`
    e2e = await startSignedInE2e({ server: { nodeHeartbeatSeconds: 1 } });
    page = e2e.page;
  });
  afterAll(async () => {
    await e2e?.close();
  });

  it('installs a node on this computer from the wizard and shows it online', async () => {
    await page.getByRole('link', { name: 'Nodes', exact: true }).click();
    await page.getByRole('button', { name: 'Install node' }).first().click();
    await page.getByLabel('This computer', { exact: true }).check();
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByRole('button', { name: 'Install', exact: true }).click();
    await expect.poll(() => page.getByTestId('install-success').isVisible(), { timeout: 90_000 }).toBe(true);
    expect(await page.getByRole('log', { name: 'Install log' }).innerText()).toMatch(/online/);
    await page.screenshot({ path: path.join(SHOTS, 'node-installed.png'), fullPage: true });

    await page.getByRole('link', { name: 'Nodes', exact: true }).click();
    const row = page.getByRole('row').filter({ hasText: os.hostname() });
    await expect.poll(() => row.getByText('online', { exact: false }).first().isVisible(), { timeout: 20_000 }).toBe(true);
  });

  it('runs a node check and the progress bar moves to a finish', async () => {
    await page.getByRole('button', { name: `Check ${os.hostname()}` }).first().click();
    await page.waitForURL(/\/tasks\/\d+/, { timeout: 20_000 });
    const id = /\/tasks\/(\d+)/.exec(page.url())![1]!;
    const bar = page.getByRole('progressbar', { name: `Progress of task ${id}` });
    const seen: string[] = [];
    const deadline = Date.now() + 90_000;
    let state = '';
    while (Date.now() < deadline) {
      state = (await bar.getAttribute('data-state')) ?? '';
      seen.push(`${state}:${(await bar.getAttribute('aria-valuenow')) ?? '-'}`);
      if (state.startsWith('FINISHED') || state === 'FAILED') break;
      await page.waitForTimeout(50);
    }
    expect(state).toMatch(/^FINISHED/);
    expect(await bar.getAttribute('aria-valuenow')).toBe('100');
    // It was seen before it finished: queued, or running below 100%.
    expect(seen.some((s) => !s.startsWith('FINISHED') && !s.endsWith(':100')), seen.join(' ')).toBe(true);
    expect(await page.getByRole('log').innerText()).toMatch(/MiB\/s/);
    await page.screenshot({ path: path.join(SHOTS, 'node-check.png'), fullPage: true });
  });
});
