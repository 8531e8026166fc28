import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackupPage } from '../../common/api/backups.js';
import type { Policy } from '../../common/api/policies.js';
import type { Task } from '../../common/api/tasks.js';
import { Repository } from '../../node-service/repository/index.js';
import { addDestination, SHOTS, startSignedInE2e, type SignedInE2e } from '../support/e2e-setup.js';
import { makeTempDir, taskEnded } from '../support/test-server.js';

/**
 * Issue 19 in Chromium: a backup's copies on its row (destination, state), "Copy to…" with a
 * destination picker followed to its end, and the policy form's "Copy each backup to" with the
 * copies' own retention.
 */
describe('Backup copies in Chromium', () => {
  let e2e: SignedInE2e;
  let page: Page;
  const dir = makeTempDir('e2e-copies');
  const nas = path.join(dir, 'nas');
  let repoId = '';

  const rows = () => page.getByTestId('backup-group').and(page.locator('[data-vm="web-copy"]')).locator('tbody tr');

  beforeAll(async () => {
    e2e = await startSignedInE2e({ server: { nodeHeartbeatSeconds: 1 }, node: 'copy-e2e', page: { viewport: { width: 1440, height: 1000 }, locale: 'en-GB' } });
    page = e2e.page;
    await addDestination(e2e, { name: 'nas', node: 'copy-e2e', path: nas });
    await addDestination(e2e, { name: 'offsite', node: 'copy-e2e', path: path.join(dir, 'offsite') });
    const repo = await Repository.open(nas);
    const w = await repo.startBackup({ group: 'c0ffee00-0000-4000-8000-0000000000c1', source: { type: 'full', vm: { name: 'web-copy' } } });
    const image = randomBytes(1048576);
    await w.writeDisk('vda', image.length, Readable.from([image]));
    repoId = (await w.commit()).id;
    await repo.close();
    const reimport = await e2e.api<Task>('POST', '/api/destinations/nas/import', {});
    expect((await taskEnded(e2e.t.api, e2e.admin, reimport.body.id)).state).toBe('FINISHED');
  });
  afterAll(async () => {
    await e2e?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('copies a backup to another destination from its row, and shows the copy there', async () => {
    await page.getByRole('link', { name: 'Backups', exact: true }).click();
    await rows().first().waitFor();
    expect(await rows().first().getByLabel('No copies').count()).toBe(1);
    await rows().first().getByRole('button', { name: /^Manage the backup of/ }).click();
    await page.getByRole('menuitem', { name: 'Copy to…' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByRole('combobox', { name: 'Copy to' }).click();
    // Its own destination is not offered.
    expect(await page.getByRole('option', { name: /^nas/ }).count()).toBe(0);
    await page.getByRole('option', { name: 'offsite' }).click();
    await dialog.getByRole('button', { name: 'Copy', exact: true }).click();
    await expect.poll(() => dialog.getByTestId('task-follow').getAttribute('data-state'), { timeout: 30_000 }).toBe('FINISHED');
    await page.screenshot({ path: path.join(SHOTS, 'backup-copy-dialog.png'), fullPage: true });
    await dialog.getByRole('button', { name: 'Close' }).click();
    const badge = rows().first().getByTestId('backup-copies').locator('[data-copy-state="ok"]');
    await badge.waitFor({ timeout: 20_000 });
    expect(await badge.innerText()).toMatch(/offsite · copy/i);
    expect(fs.existsSync(path.join(dir, 'offsite', 'backups', `${repoId}.manifest`))).toBe(true);
    await page.screenshot({ path: path.join(SHOTS, 'backup-copies-row.png'), fullPage: true });

    // The delete dialog says the copy goes too, unless kept.
    await rows().first().getByRole('button', { name: /^Manage the backup of/ }).click();
    await page.getByRole('menuitem', { name: 'Delete…' }).click();
    expect(await page.getByRole('dialog').getByTestId('delete-copies').innerText()).toMatch(/copy on offsite are deleted too/);
    await page.getByRole('dialog').getByRole('button', { name: 'Cancel' }).click();
    const backup = (await e2e.api<BackupPage>('GET', '/api/backups')).body.backups.find((b) => b.repoBackupId === repoId);
    expect(backup?.copies?.map((c) => [c.destination, c.state])).toEqual([['offsite', 'ok']]);
  });

  it('sets a policy to copy each backup to a second destination, with its own retention there', async () => {
    await page.getByRole('link', { name: 'Policies', exact: true }).click();
    await page.getByRole('link', { name: 'Create policy' }).click();
    await page.getByRole('heading', { name: 'Create policy', level: 1 }).waitFor();
    await page.getByLabel('Name', { exact: true }).fill('with-copies');
    await page.getByRole('combobox', { name: 'Destination' }).click();
    await page.getByRole('option', { name: 'nas (on copy-e2e)' }).click();
    await page.getByRole('radiogroup', { name: 'Write the schedule with' }).getByText('Text', { exact: true }).click();
    await page.getByRole('textbox', { name: 'Schedule rule 1' }).fill('incremental mon-fri 22:00');
    await page.getByRole('combobox', { name: 'Copy each backup to' }).click();
    await page.getByRole('option', { name: 'offsite (on copy-e2e)' }).click();
    const copyKeepLast = page.getByLabel('Keep last', { exact: true }).nth(1);
    await copyKeepLast.fill('30');
    await page.screenshot({ path: path.join(SHOTS, 'policy-form-copies.png'), fullPage: true });
    await page.getByRole('button', { name: 'Create policy' }).click();
    await page.getByRole('heading', { name: 'with-copies', level: 1 }).waitFor({ timeout: 20_000 });
    const saved = (await e2e.api<Policy>('GET', '/api/policies/with-copies')).body;
    expect(saved).toMatchObject({ copyDestination: 'offsite', copyRetention: { keepLast: 30 } });
  });
});
