import fs from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackupPage } from '../../common/api/backups.js';
import type { TaskPage } from '../../common/api/tasks.js';
import { addDestination, addHypervisor, SHOTS, startSignedInE2e, type SignedInE2e } from '../support/e2e-setup.js';
import { ensureLibvirt, LibvirtTestHost, MiB, type TestVm } from '../support/libvirt-host.js';
import { taskEnded } from '../support/test-server.js';

/** Issue 12 in the browser: restoring as a new VM under a name the hypervisor has is refused before any file is written. */
describe('restore as a new VM, name clash, in Chromium', () => {
  let e2e: SignedInE2e;
  let host: LibvirtTestHost;
  let vm: TestVm;
  let page: Page;

  beforeAll(async () => {
    await ensureLibvirt();
    host = new LibvirtTestHost('e2e-restore-safety');
    const disk = await host.createDisk('vda.qcow2', 16, [{ pattern: 0x5a, offset: 0, length: MiB }]);
    vm = await host.defineVm([{ target: 'vda', path: disk }]);
    e2e = await startSignedInE2e({ server: { nodeHeartbeatSeconds: 1 }, node: 'kvm-e2e' });
    page = e2e.page;
    await addDestination(e2e, { name: 'local', node: 'kvm-e2e', path: path.join(host.subdir('repo'), 'vplus') });
    await addHypervisor(e2e, { name: 'kvm1', node: 'kvm-e2e' });
    const run = await e2e.api<{ taskIds: number[] }>('POST', '/api/backups/run', { vm: vm.uuid, destination: 'local' });
    expect(run.status).toBe(202);
    for (const id of run.body.taskIds) expect((await taskEnded(e2e.t.api, e2e.admin, id)).state).toMatch(/^FINISHED/);
  });
  afterAll(async () => {
    await e2e?.close();
    await host?.cleanup();
  });

  it('shows the clash under the name field, starts no task and writes nothing', async () => {
    expect((await e2e.api<BackupPage>('GET', `/api/backups?vm=${vm.uuid}`)).body.backups).toHaveLength(1);
    await page.goto(`${e2e.t.server.url}/vms/${vm.uuid}`);
    await page.getByRole('button', { name: 'Restore' }).first().click();
    const dialog = page.getByRole('dialog');
    await dialog.getByRole('button', { name: 'Next' }).click();
    await dialog.getByLabel('New VM on a hypervisor').check();
    await dialog.getByLabel('New VM name').fill(vm.name);
    const storageDir = host.subdir('images');
    await dialog.getByLabel('Storage directory').fill(storageDir);
    await dialog.getByRole('button', { name: 'Start restore' }).click();

    const name = dialog.getByLabel('New VM name');
    await expect.poll(() => name.getAttribute('aria-invalid')).toBe('true');
    await expect.poll(() => dialog.innerText()).toMatch(new RegExp(`VM named "${vm.name}" already exists on hypervisor "kvm1"`));
    await page.screenshot({ path: path.join(SHOTS, 'restore-name-clash.png'), fullPage: true });
    expect(fs.readdirSync(storageDir)).toEqual([]);
    const { tasks } = (await e2e.api<TaskPage>('GET', '/api/tasks')).body;
    expect(tasks.some((t) => t.type === 'EXPORT')).toBe(true);
    expect(tasks.filter((t) => t.type === 'RESTORE' || t.type === 'IMPORT')).toEqual([]);
  });
});
