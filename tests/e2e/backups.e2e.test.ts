import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackupPage } from '../../common/api/backups.js';
import type { Task } from '../../common/api/tasks.js';
import { Repository } from '../../node-service/repository/index.js';
import { addDestination, addHypervisor, SHOTS, startSignedInE2e, type SignedInE2e } from '../support/e2e-setup.js';
import { ensureLibvirt, LibvirtTestHost, MiB, type TestVm } from '../support/libvirt-host.js';
import { taskEnded, waitFor } from '../support/test-server.js';

/**
 * Issue 12, the backup browser in Chromium: backups grouped by VM with their stored size, read
 * and duration; a VM backed up by hand without a policy reads "No policy"; protect, notes,
 * delete (refused while protected, the retention rules shown); filters by search and date.
 */
describe('Backups page in Chromium', () => {
  let e2e: SignedInE2e;
  let host: LibvirtTestHost;
  let vm: TestVm;
  let page: Page;
  let repoPath: string;
  const imported: string[] = [];

  const group = (name: string) => page.getByTestId('backup-group').and(page.locator(`[data-vm="${name}"]`));
  const rows = (name: string) => group(name).locator('tbody tr');
  const byRepoId = async (id: string) => (await e2e.api<BackupPage>('GET', '/api/backups')).body.backups.find((b) => b.repoBackupId === id);

  beforeAll(async () => {
    await ensureLibvirt();
    host = new LibvirtTestHost('e2e-backups');
    const disk = await host.createDisk('vda.qcow2', 16, [{ pattern: 0x3c, offset: 0, length: 2 * MiB }]);
    vm = await host.defineVm([{ target: 'vda', path: disk }]);
    e2e = await startSignedInE2e({ server: { nodeHeartbeatSeconds: 1 }, node: 'kvm-backups', page: { viewport: { width: 1440, height: 1000 }, locale: 'en-GB' } });
    page = e2e.page;
    repoPath = path.join(host.subdir('repo'), 'vplus');
    await addDestination(e2e, { name: 'local', node: 'kvm-backups', path: repoPath });
    await addHypervisor(e2e, { name: 'kvm1', node: 'kvm-backups' });
    // One real backup of the VM, by hand (no policy) …
    const run = await e2e.api<{ taskIds: number[] }>('POST', '/api/backups/run', { vm: vm.uuid, destination: 'local' });
    expect(run.status).toBe(202);
    for (const id of run.body.taskIds) expect((await taskEnded(e2e.t.api, e2e.admin, id)).state).toMatch(/^FINISHED/);
    // … and three of a VM long gone, found on the destination by a re-import.
    const repo = await Repository.open(repoPath);
    for (let i = 0; i < 3; i++) {
      const w = await repo.startBackup({ group: 'c0ffee00-0000-4000-8000-000000000001', source: { type: i === 0 ? 'full' : 'incremental', vm: { name: 'old-erp' } } });
      const image = randomBytes(MiB);
      await w.writeDisk('vda', image.length, Readable.from([image]));
      imported.push((await w.commit()).id);
    }
    await repo.close();
    const reimport = await e2e.api<Task>('POST', '/api/destinations/local/import', {});
    expect((await taskEnded(e2e.t.api, e2e.admin, reimport.body.id)).state).toBe('FINISHED');
  });
  afterAll(async () => {
    await e2e?.close();
    await host?.cleanup();
  });

  it('groups the backups by VM, with what each stored, read and took; a VM without a policy reads "No policy"', async () => {
    await page.getByRole('link', { name: 'Backups', exact: true }).click();
    await group(vm.name).waitFor();
    expect(await page.getByTestId('backup-group').count()).toBe(2);
    expect(await rows(vm.name).count()).toBe(1);
    expect(await rows('old-erp').count()).toBe(3);
    // Stored size shown (it read "—" everywhere before).
    const stored = await group(vm.name).getByTestId('stored-size').innerText();
    expect(stored).toMatch(/\d+(\.\d+)? (B|KiB|MiB)/);
    for (const text of await group('old-erp').getByTestId('stored-size').allInnerTexts()) expect(text).toMatch(/MiB/);
    const cells = await rows(vm.name).first().innerText();
    expect(cells).toMatch(/full/i);
    expect(cells).toMatch(/\d+(\.\d+)? (B|KiB|MiB)\s[\s\S]*\d+s/); // read, stored, duration
    expect(cells).toMatch(/Not yet/); // never verified
    const badge = group(vm.name).locator('[data-protected]');
    expect(await badge.innerText()).toBe('No policy');
    expect(await group('old-erp').innerText()).toMatch(/No longer in the inventory/);
    // Restore and Browse files stay on each point.
    expect(await rows(vm.name).first().getByRole('button', { name: 'Restore' }).count()).toBe(1);
    expect(await rows(vm.name).first().getByRole('button', { name: 'Browse files' }).count()).toBe(1);
    await page.screenshot({ path: path.join(SHOTS, 'backups-grouped.png'), fullPage: true });
  });

  it('protects a backup, and refuses to delete it while protected, showing the retention rules', async () => {
    const oldest = rows('old-erp').last();
    await oldest.getByRole('button', { name: /^Manage the backup of/ }).click();
    await page.getByRole('menuitem', { name: 'Protect from retention' }).click();
    await oldest.getByTestId('protected-badge').waitFor();
    expect((await byRepoId(imported[0]!))?.protected).toBe(true);

    await oldest.getByRole('button', { name: /^Manage the backup of/ }).click();
    await page.getByRole('menuitem', { name: 'Delete…' }).click();
    const dialog = page.getByRole('dialog');
    await expect.poll(() => dialog.getByTestId('delete-retention-rules').innerText()).toMatch(/No policy's retention covers this VM's backups on local/);
    expect(await dialog.innerText()).toMatch(/This backup is protected/);
    await dialog.getByRole('button', { name: 'Delete backup' }).click();
    await expect.poll(() => dialog.innerText()).toMatch(/is protected; unprotect it first/);
    await page.screenshot({ path: path.join(SHOTS, 'backups-delete-protected.png'), fullPage: true });
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    expect(fs.existsSync(path.join(repoPath, 'backups', `${imported[0]}.manifest`))).toBe(true);
    expect(await rows('old-erp').count()).toBe(3);
  });

  it('keeps notes on a backup and finds it by them', async () => {
    const newest = rows('old-erp').first();
    await newest.getByRole('button', { name: /^Manage the backup of/ }).click();
    await page.getByRole('menuitem', { name: 'Add notes…' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Notes').fill('last copy before the ERP migration');
    await dialog.getByRole('button', { name: 'Save notes' }).click();
    await dialog.waitFor({ state: 'detached' });
    await expect.poll(() => newest.getByTestId('backup-notes').innerText()).toBe('last copy before the ERP migration');
    expect((await byRepoId(imported[2]!))?.notes).toBe('last copy before the ERP migration');

    await page.getByLabel('Search').fill('ERP migration');
    await expect.poll(() => page.getByTestId('backup-group').count()).toBe(1);
    expect(await rows('old-erp').count()).toBe(1);
    await page.getByRole('button', { name: 'Clear filters' }).click();
    await expect.poll(() => page.getByTestId('backup-group').count()).toBe(2);
  });

  it('deletes one unprotected backup from the destination and the list', async () => {
    const middle = rows('old-erp').nth(1);
    await middle.getByRole('button', { name: /^Manage the backup of/ }).click();
    await page.getByRole('menuitem', { name: 'Delete…' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByTestId('delete-retention-rules').waitFor();
    await dialog.getByRole('button', { name: 'Delete backup' }).click();
    await dialog.waitFor({ state: 'detached' });
    await expect.poll(() => rows('old-erp').count(), { timeout: 30_000 }).toBe(2);
    expect(fs.existsSync(path.join(repoPath, 'backups', `${imported[1]}.manifest`))).toBe(false);
    await waitFor('the catalog to forget it', async () => ((await byRepoId(imported[1]!)) === undefined ? true : undefined));
  });

  it('filters by date: a range after today shows none', async () => {
    const tomorrow = new Date(Date.now() + 86_400_000);
    const day = `${tomorrow.getFullYear()}-${String(tomorrow.getMonth() + 1).padStart(2, '0')}-${String(tomorrow.getDate()).padStart(2, '0')}`;
    await page.getByLabel('From').fill(day);
    await page.getByText('No backups match these filters').waitFor();
    await page.getByRole('button', { name: 'Clear filters' }).click();
    await expect.poll(() => page.getByTestId('backup-group').count()).toBe(2);
  });
});
