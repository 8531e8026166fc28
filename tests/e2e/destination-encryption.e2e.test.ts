import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Destination } from '../../common/api/destinations.js';
import { Repository } from '../../node-service/repository/index.js';
import { SHOTS, startSignedInE2e, type SignedInE2e } from '../support/e2e-setup.js';

const NODE = 'encryption-e2e';

/**
 * Issue 12, item 6: a new destination is encrypted unless the admin turns it off (before: the
 * switch started off), and its recovery key is shown once, to download, and kept nowhere on
 * the server; the key opens the repository without the password.
 */
describe('new destinations are encrypted by default, in Chromium', () => {
  let e2e: SignedInE2e;
  let page: Page;
  let dir: string;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vplus-encryption-e2e-'));
    e2e = await startSignedInE2e({ server: { nodeHeartbeatSeconds: 1 }, node: NODE, page: { viewport: { width: 1280, height: 900 } } });
    page = e2e.page;
  });
  afterAll(async () => {
    await e2e?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('adds an encrypted destination and shows its recovery key once, which opens the repository', async () => {
    const repoPath = path.join(dir, 'vault');
    await page.goto(`${e2e.t.server.url}/destinations`);
    await page.getByRole('button', { name: 'Add destination' }).first().click();
    const dialog = page.getByRole('dialog', { name: 'Add destination' });
    await expect.poll(() => dialog.getByLabel('Node', { exact: true }).inputValue(), { timeout: 20_000 }).toBe(NODE);
    expect(await dialog.getByLabel('Encrypt backups').isChecked()).toBe(true);
    await dialog.getByText('Keep the password somewhere safe').waitFor();

    await dialog.getByLabel('Name', { exact: true }).fill('vault');
    await dialog.getByLabel('Path', { exact: true }).fill(repoPath);
    await dialog.getByLabel('Password', { exact: true }).fill('vault-password-1');
    await dialog.getByLabel('Confirm password', { exact: true }).fill('vault-password-1');
    await dialog.getByRole('button', { name: 'Add destination' }).click();

    const keyDialog = page.getByRole('dialog', { name: 'Recovery key' });
    await keyDialog.waitFor({ timeout: 60_000 });
    await keyDialog.getByText('it is shown only this once').waitFor();
    const shown = (await keyDialog.getByTestId('recovery-key').textContent()) ?? '';
    expect(shown).toMatch(/^-----BEGIN VPLUS RECOVERY KEY-----\nRepository: [0-9a-f]{32}\n/);
    // Not closed by Escape, nor "Done" before the key is kept.
    await page.keyboard.press('Escape');
    expect(await keyDialog.isVisible()).toBe(true);
    expect(await keyDialog.getByRole('button', { name: 'Done' }).isDisabled()).toBe(true);
    await page.screenshot({ path: path.join(SHOTS, 'destination-recovery-key.png') });

    const [download] = await Promise.all([page.waitForEvent('download'), keyDialog.getByRole('button', { name: 'Download recovery key' }).click()]);
    expect(download.suggestedFilename()).toBe('vplus-recovery-key-vault.txt');
    const file = fs.readFileSync(await download.path(), 'utf8');
    expect(file).toContain(shown.trim());
    await keyDialog.getByRole('button', { name: 'Done' }).click();
    await keyDialog.waitFor({ state: 'detached' });
    await expect.poll(() => page.getByRole('row').filter({ hasText: 'vault' }).count(), { timeout: 20_000 }).toBe(1);

    // The server kept it nowhere it hands out: not in the destination, not in its tasks.
    const destination = await e2e.api<Destination & { recoveryKey?: string }>('GET', '/api/destinations/vault');
    expect(destination.body.encrypted).toBe(true);
    expect(destination.body.recoveryKey).toBeUndefined();
    const keyHex = (shown.split('\n')[3] ?? '').replace(/ /g, '');
    expect(keyHex).toHaveLength(24);
    expect(JSON.stringify((await e2e.api('GET', '/api/tasks')).body)).not.toContain(keyHex);

    // The downloaded key opens the repository without the password.
    const opened = await Repository.openWithRecoveryKey(repoPath, file, { threads: 1 });
    try {
      expect(opened.encrypted).toBe(true);
      expect(await opened.listBackups()).toEqual([]);
    } finally {
      await opened.close();
    }
  });
});
