import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backup } from '../../common/api/backups.js';
import { defaultHandlers } from '../../node-service/agent/node-service.js';
import { launchChromium, requireBuiltUi, signIn } from '../support/browser.js';
import { ensureLibvirt, LibvirtTestHost, MiB, sh, type TestVm } from '../support/libvirt-host.js';
import { enrollTestNode, type TestNode } from '../support/test-node.js';
import { ADMIN, setupAdmin, startTestServer, type TestServer } from '../support/test-server.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const SHOTS = path.join(ROOT, 'test-results');

/** Issue 5 in the browser: back up a running VM now, then restore it to files that equal its disk. */
describe('VM backup and restore in Chromium', () => {
  let t: TestServer;
  let node: TestNode;
  let host: LibvirtTestHost;
  let vm: TestVm;
  let expected: string;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    requireBuiltUi(ROOT);
    await ensureLibvirt();
    host = new LibvirtTestHost('e2e');
    const disk = await host.createDisk('vda.qcow2', 32, [{ pattern: 0x5a, offset: MiB, length: 3 * MiB }]);
    vm = await host.defineVm([{ target: 'vda', path: disk }]);
    expected = path.join(host.dir, 'expected.raw');
    await sh('qemu-img', ['convert', '-f', 'qcow2', '-O', 'raw', disk, expected]);
    await host.start(vm);

    t = await startTestServer({ nodeHeartbeatSeconds: 1 });
    const admin = await setupAdmin(t.api);
    node = await enrollTestNode(t.api, admin, { name: 'kvm-e2e', handlers: defaultHandlers(), serverUrl: t.server.url, fingerprint: t.server.fingerprint });
    const api = <T>(m: string, p: string, b?: unknown) => t.api.request<T>(m, p, b, { token: admin });
    expect((await api('POST', '/api/destinations', { name: 'local', node: 'kvm-e2e', path: path.join(host.subdir('repo'), 'vplus') })).status).toBe(201);
    expect((await api('POST', '/api/hypervisors', { name: 'kvm1', node: 'kvm-e2e' })).status).toBe(201);

    browser = await launchChromium(t.server.url);
    page = await browser.newPage();
    await page.goto(t.server.url);
    await signIn(page, ADMIN.username, ADMIN.password);
  });
  afterAll(async () => {
    await browser?.close();
    await node?.stop();
    await t?.destroy();
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
    const token = await t.api.login(ADMIN.username, ADMIN.password);
    const backups = (await t.api.request<Backup[]>('GET', `/api/backups?vm=${vm.uuid}`, undefined, { token })).body;
    expect(backups).toHaveLength(1);
    await page.goto(`${t.server.url}/vms/${vm.uuid}`);
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
});
