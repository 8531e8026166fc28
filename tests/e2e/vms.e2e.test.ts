import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackupPage } from '../../common/api/backups.js';
import type { Task } from '../../common/api/tasks.js';
import { damageOneChunk } from '../support/damage.js';
import { addDestination, addHypervisor, SHOTS, startSignedInE2e, type SignedInE2e } from '../support/e2e-setup.js';
import { ensureLibvirt, LibvirtTestHost, MiB, sh, type TestVm } from '../support/libvirt-host.js';
import { waitFor } from '../support/test-server.js';

/** Issue 5 in the browser: back up a running VM now, then restore it to files that equal its disk. */
describe('VM backup and restore in Chromium', () => {
  let e2e: SignedInE2e;
  let host: LibvirtTestHost;
  let vm: TestVm;
  let expected: string;
  let page: Page;

  beforeAll(async () => {
    await ensureLibvirt();
    host = new LibvirtTestHost('e2e');
    const disk = await host.createDisk('vda.qcow2', 32, [{ pattern: 0x5a, offset: MiB, length: 3 * MiB }]);
    vm = await host.defineVm([{ target: 'vda', path: disk }]);
    expected = path.join(host.dir, 'expected.raw');
    await sh('qemu-img', ['convert', '-f', 'qcow2', '-O', 'raw', disk, expected]);
    await host.start(vm);

    e2e = await startSignedInE2e({ server: { nodeHeartbeatSeconds: 1 }, node: 'kvm-e2e' });
    page = e2e.page;
    await addDestination(e2e, { name: 'local', node: 'kvm-e2e', path: path.join(host.subdir('repo'), 'vplus') });
    await addHypervisor(e2e, { name: 'kvm1', node: 'kvm-e2e' });
  });
  afterAll(async () => {
    await e2e?.close();
    await host?.cleanup();
  });

  it('backs up a running VM from the Virtual machines page and shows the result', async () => {
    await page.getByRole('link', { name: 'Virtual machines', exact: true }).click();
    const row = page.getByRole('row').filter({ hasText: vm.name });
    await row.getByRole('button', { name: 'Back up now' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByRole('button', { name: 'Start backup' }).click();
    await page.getByTestId('backup-result').waitFor({ timeout: 120_000 });
    expect(await page.getByTestId('backup-result').innerText()).toMatch(/^Full backup of .* stored: /);
    await page.screenshot({ path: path.join(SHOTS, 'vm-backup.png'), fullPage: true });
    await page.keyboard.press('Escape');
  });

  it('restores that backup to files on the node from the restore wizard, equal to the disk', async () => {
    const backups = (await e2e.api<BackupPage>('GET', `/api/backups?vm=${vm.uuid}`)).body.backups;
    expect(backups).toHaveLength(1);
    await page.goto(`${e2e.t.server.url}/vms/${vm.uuid}`);
    await page.getByRole('button', { name: 'Restore' }).first().click();
    const dialog = page.getByRole('dialog');
    await dialog.getByRole('button', { name: 'Next' }).click();
    await dialog.getByLabel('Files on a node').check();
    const dir = host.subdir('restored');
    await dialog.getByLabel('Directory').fill(dir);
    await dialog.getByRole('button', { name: 'Start restore' }).click();
    await page.getByTestId('restore-result').waitFor({ timeout: 120_000 });
    expect(await page.getByTestId('restore-result').innerText()).toContain(`Files written to ${dir}`);
    await page.screenshot({ path: path.join(SHOTS, 'vm-restore.png'), fullPage: true });
    const restored = path.join(dir, (await sh('ls', [dir])).split('\n').find((f) => f.startsWith('vda'))!);
    // The default format is qcow2; qemu-img compares across formats.
    expect(restored.endsWith('.qcow2')).toBe(true);
    await sh('qemu-img', ['compare', '-F', 'raw', restored, expected]);
  });
  it('shows a backup verify found damaged as Damaged, with why, and offers no restore of it', async () => {
    const [backup] = (await e2e.api<BackupPage>('GET', `/api/backups?vm=${vm.uuid}`)).body.backups;
    await damageOneChunk(path.join(host.subdir('repo'), 'vplus'), backup!.repoBackupId);
    const verify = await e2e.api<Task>('POST', '/api/destinations/local/verify', {});
    expect(verify.status).toBe(202);
    await waitFor('verify to mark the backup', async () => ((await e2e.api<BackupPage>('GET', `/api/backups?vm=${vm.uuid}`)).body.backups[0]?.status === 'damaged' ? true : undefined));

    await page.goto(`${e2e.t.server.url}/backups`);
    // The VM's only backup: its row is the one marked damaged (the grouped page shows no repository id).
    const row = page.getByRole('row').filter({ has: page.locator('[data-status="damaged"]') });
    const badge = row.locator('[data-status="damaged"]');
    await badge.waitFor();
    expect(await badge.innerText()).toMatch(/damaged/i);
    expect(await badge.getAttribute('aria-description')).toMatch(/1 damaged or missing chunk/);
    expect(await row.getByRole('button', { name: 'Restore' }).count()).toBe(0);
    await page.screenshot({ path: path.join(SHOTS, 'backup-damaged.png'), fullPage: true });
  });
});
