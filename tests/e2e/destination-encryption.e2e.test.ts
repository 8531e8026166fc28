import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackupPage } from '../../common/api/backups.js';
import type { Destination } from '../../common/api/destinations.js';
import { isFinalState, type Task, type TaskDetails } from '../../common/api/tasks.js';
import { Repository } from '../../node-service/repository/index.js';
import { SHOTS, startSignedInE2e, type SignedInE2e } from '../support/e2e-setup.js';
import { waitFor } from '../support/test-server.js';

const NODE = 'encryption-e2e';
const FIRST_PASSWORD = 'vault-password-1';
const NEW_PASSWORD = 'vault-password-2';

/**
 * Issue 12, item 6: a new destination is encrypted unless the admin turns it off (before: the
 * switch started off), and its recovery key is shown once, to download, and kept nowhere on
 * the server; the key opens the repository without the password. Then the key is used: the
 * repository, forgotten by the catalog and its password lost, is added again with the key and
 * a new password (its backup comes back), and a destination whose password stopped working
 * gets a new one from its page.
 */
describe('new destinations are encrypted by default, in Chromium', () => {
  let e2e: SignedInE2e;
  let page: Page;
  let dir: string;
  let repoPath: string;
  /** The key as the dialog showed it, and the file it downloaded. */
  let shown = '';
  let keyFile = '';

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vplus-encryption-e2e-'));
    e2e = await startSignedInE2e({ server: { nodeHeartbeatSeconds: 1 }, node: NODE, page: { viewport: { width: 1280, height: 900 } } });
    page = e2e.page;
  });
  afterAll(async () => {
    await e2e?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const finished = (task: Task): Promise<TaskDetails> =>
    waitFor(`task ${task.id}`, async () => {
      const details = (await e2e.api<TaskDetails>('GET', `/api/tasks/${task.id}`)).body;
      return isFinalState(details.state) ? details : undefined;
    });

  it('adds an encrypted destination and shows its recovery key once, which opens the repository', async () => {
    repoPath = path.join(dir, 'vault');
    await page.goto(`${e2e.t.server.url}/destinations`);
    await page.getByRole('button', { name: 'Add destination' }).first().click();
    const dialog = page.getByRole('dialog', { name: 'Add destination' });
    await expect.poll(() => dialog.getByLabel('Node', { exact: true }).inputValue(), { timeout: 20_000 }).toBe(NODE);
    expect(await dialog.getByLabel('Encrypt backups').isChecked()).toBe(true);
    await dialog.getByText('Keep the password somewhere safe').waitFor();

    await dialog.getByLabel('Name', { exact: true }).fill('vault');
    await dialog.getByLabel('Path', { exact: true }).fill(repoPath);
    await dialog.getByLabel('Password', { exact: true }).fill(FIRST_PASSWORD);
    await dialog.getByLabel('Confirm password', { exact: true }).fill(FIRST_PASSWORD);
    await dialog.getByRole('button', { name: 'Add destination' }).click();

    const keyDialog = page.getByRole('dialog', { name: 'Recovery key' });
    await keyDialog.waitFor({ timeout: 60_000 });
    await keyDialog.getByText('it is shown only this once').waitFor();
    shown = (await keyDialog.getByTestId('recovery-key').textContent()) ?? '';
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
    keyFile = path.join(dir, download.suggestedFilename());
    fs.writeFileSync(keyFile, file);
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

  it('the key re-adds the repository after the catalog forgot it and the password is lost; its backup comes back', async () => {
    // A backup on the destination, as a node's STORE writes it; then the catalog forgets the destination.
    const repo = await Repository.open(repoPath, { password: FIRST_PASSWORD }, { threads: 1 });
    const writer = await repo.startBackup({ group: 'vm-ledger', source: { type: 'full', vm: { name: 'ledger' } } });
    const image = Buffer.concat([Buffer.alloc(512 * 1024, 7), Buffer.alloc(512 * 1024)]);
    await writer.writeDisk('vda', image.length, Readable.from([image]));
    const backupId = (await writer.commit()).id;
    await repo.close();
    expect((await e2e.api('DELETE', '/api/destinations/vault?force=true')).status).toBe(204);

    await page.goto(`${e2e.t.server.url}/destinations`);
    await page.getByRole('button', { name: 'Add destination' }).first().click();
    const dialog = page.getByRole('dialog', { name: 'Add destination' });
    await expect.poll(() => dialog.getByLabel('Node', { exact: true }).inputValue(), { timeout: 20_000 }).toBe(NODE);
    await dialog.getByLabel('Name', { exact: true }).fill('vault');
    await dialog.getByLabel('Path', { exact: true }).fill(repoPath);
    // The admin tries a password from memory: refused under the field, and the key is offered.
    await dialog.getByLabel('Password', { exact: true }).fill('a-guess-from-memory');
    await dialog.getByLabel('Confirm password', { exact: true }).fill('a-guess-from-memory');
    await dialog.getByRole('button', { name: 'Add destination' }).click();
    await dialog.getByText(/password for the encrypted repository .* is wrong/).waitFor({ timeout: 60_000 });
    await dialog.getByRole('button', { name: 'Use recovery key instead' }).scrollIntoViewIfNeeded();
    await page.screenshot({ path: path.join(SHOTS, 'destination-recovery-key-offer.png') });
    await dialog.getByRole('button', { name: 'Use recovery key instead' }).click();

    await dialog.getByText('Open the repository with its recovery key').waitFor();
    // Not a key: refused in the form, before anything is sent.
    await dialog.getByLabel('Recovery key', { exact: true }).fill('I think it was written on a post-it');
    await dialog.getByLabel('New password', { exact: true }).fill(NEW_PASSWORD);
    await dialog.getByLabel('Confirm new password', { exact: true }).fill(NEW_PASSWORD);
    await dialog.getByRole('button', { name: 'Set new password and add' }).click();
    await dialog.getByText(/Not a vPlus recovery key/).waitFor();

    await dialog.getByLabel('Recovery key', { exact: true }).fill(shown);
    await page.screenshot({ path: path.join(SHOTS, 'destination-recovery-key-use.png') });
    await dialog.getByRole('button', { name: 'Set new password and add' }).click();
    await dialog.waitFor({ state: 'detached', timeout: 60_000 });
    await page.getByText(/added with its recovery key; its new password is set and the old one no longer opens it\. It holds 1 backup/).waitFor();
    await expect.poll(() => page.getByRole('row').filter({ hasText: 'vault' }).count(), { timeout: 20_000 }).toBe(1);

    // The old password opens it no more, the new one does.
    await expect(Repository.open(repoPath, { password: FIRST_PASSWORD })).rejects.toMatchObject({ code: 'REPO_WRONG_PASSWORD' });
    await (await Repository.open(repoPath, { password: NEW_PASSWORD }, { threads: 1 })).close();

    // Re-import, from the row: the backup is in the catalog again, restorable.
    await page.getByRole('button', { name: 'Re-import vault' }).click();
    const reimport = page.getByRole('dialog', { name: 'Re-import backups from vault' });
    await reimport.getByRole('button', { name: 'Re-import' }).click();
    await reimport.getByText('1 backup found on the destination').waitFor({ timeout: 60_000 });
    await reimport.getByRole('table', { name: 'Re-imported backups' }).getByText('vm-ledger').waitFor();
    const backups = (await e2e.api<BackupPage>('GET', '/api/backups?destination=vault')).body.backups;
    expect(backups.map((b) => [b.repoBackupId, b.status])).toEqual([[backupId, 'available']]);
  });

  it('a destination whose password stopped working gets a new one from its page, with the downloaded key file', async () => {
    // Changed from elsewhere (another server using the same repository): the catalog's copy no longer opens it.
    const elsewhere = await Repository.openWithRecoveryKey(repoPath, shown, { threads: 1 });
    await elsewhere.changePassword('changed-elsewhere-3');
    await elsewhere.close();
    const check = await finished((await e2e.api<Task>('POST', '/api/destinations/vault/refresh', {})).body);
    expect(check.state).toBe('FAILED');

    await page.goto(`${e2e.t.server.url}/destinations/vault`);
    const problem = page.getByRole('alert').filter({ hasText: 'The destination has a problem' });
    await problem.getByText('Reset password (above, for administrators) sets a new one with the recovery key').waitFor({ timeout: 20_000 });
    await page.getByRole('button', { name: 'Reset password' }).click();
    const dialog = page.getByRole('dialog', { name: 'Reset password with recovery key' });
    const [chooser] = await Promise.all([page.waitForEvent('filechooser'), dialog.getByRole('button', { name: 'Load key file…' }).click()]);
    await chooser.setFiles(keyFile);
    // Only the block is kept from the downloaded file.
    await expect.poll(() => dialog.getByLabel('Recovery key', { exact: true }).inputValue()).toBe(shown.trim() + '\n');
    await dialog.getByLabel('New password', { exact: true }).fill('vault-password-4');
    await dialog.getByLabel('Confirm new password', { exact: true }).fill('vault-password-4');
    await page.screenshot({ path: path.join(SHOTS, 'destination-reset-password.png') });
    await dialog.getByRole('button', { name: 'Reset password' }).click();
    await dialog.waitFor({ state: 'detached', timeout: 60_000 });
    await page.getByText(/The new password of vault is set, and the destination works with it/).waitFor();
    await expect.poll(async () => problem.count(), { timeout: 20_000 }).toBe(0);
    expect((await e2e.api<Destination>('GET', '/api/destinations/vault')).body).toMatchObject({ status: 'ok', backups: 1 });
    await expect(Repository.open(repoPath, { password: 'changed-elsewhere-3' })).rejects.toMatchObject({ code: 'REPO_WRONG_PASSWORD' });

    // Nothing handed out or recorded holds the key.
    const keyLine = shown.split('\n')[3] ?? '';
    expect(JSON.stringify((await e2e.api('GET', '/api/tasks')).body)).not.toContain(keyLine);
    expect(JSON.stringify((await e2e.api('GET', '/api/audit?limit=100')).body)).not.toContain(keyLine);
  });
});
