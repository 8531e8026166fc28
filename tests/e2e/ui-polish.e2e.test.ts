import fs from 'node:fs';
import path from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackupPage } from '../../common/api/backups.js';
import type { Mount } from '../../common/api/mounts.js';
import { addDestination, addHypervisor, SHOTS, startSignedInE2e, type SignedInE2e } from '../support/e2e-setup.js';
import { placement, textLayout } from '../support/layout-probes.js';
import { ensureLibvirt, LibvirtTestHost, MiB, sh, type TestVm } from '../support/libvirt-host.js';
import { run } from '../support/shell.js';
import { taskEnded, waitFor } from '../support/test-server.js';

const NODE = 'kvm-polish-e2e';
const SECTOR = 512;
/** A file deep in the backed-up filesystem, under long folder names (with hyphens, where browsers like to break). */
const DEEP_DIR = 'projects/accounting-department-2024/quarterly-reports-and-invoices/customer-correspondence-archive';
const DEEP_FILE = 'final-version-approved-by-management.txt';
const VIEWPORTS = [
  { width: 1280, height: 900 },
  { width: 1366, height: 768 },
];

/** A raw disk with a GPT and one ext4 partition holding the deep file, as a qcow2 under `dir`. */
async function buildDisk(host: LibvirtTestHost, dir: string): Promise<string> {
  const src = host.subdir('fs-src');
  fs.mkdirSync(path.join(src, DEEP_DIR), { recursive: true });
  fs.writeFileSync(path.join(src, DEEP_DIR, DEEP_FILE), 'approved\n');
  const raw = path.join(host.dir, 'vda.raw');
  fs.writeFileSync(raw, '');
  fs.truncateSync(raw, 32 * MiB);
  await run('sfdisk', ['--quiet', raw], { input: 'label: gpt\n,,L\n' });
  const table = JSON.parse(await sh('sfdisk', ['--json', raw])) as { partitiontable: { partitions: { start: number; size: number }[] } };
  const partition = table.partitiontable.partitions[0]!;
  const image = path.join(host.dir, 'vda1.img');
  await sh('mkfs.ext4', ['-q', '-F', '-d', src, image, `${(partition.size * SECTOR) / 1024}k`]);
  await sh('dd', [`if=${image}`, `of=${raw}`, 'bs=1M', `seek=${partition.start * SECTOR}`, 'oflag=seek_bytes', 'conv=notrunc,sparse', 'status=none']);
  fs.rmSync(image);
  fs.mkdirSync(dir, { recursive: true });
  const qcow2 = path.join(dir, 'office-file-server-system-disk.qcow2');
  await sh('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', raw, qcow2]);
  fs.rmSync(raw);
  return qcow2;
}

/** The lines (all but the last) that end inside a name rather than after a separator. */
const brokenInsideNames = (lines: string[]): string[] => lines.slice(0, -1).filter((line) => !/[/\\]$/.test(line));

/**
 * Issue 12, item 7 (polish) in Chromium: dialogs keep their title and main button in view on
 * 900 px and 768 px high screens; paths wrap at their separators, never inside a name; primary
 * actions have words, icon-only ones a name and a tooltip.
 */
describe('UI polish in Chromium', () => {
  let e2e: SignedInE2e;
  let host: LibvirtTestHost;
  let vm: TestVm;
  let page: Page;
  let repoPath: string;
  let vmId: number;
  let mountId: number;

  const url = (p: string) => `${e2e.t.server.url}${p}`;
  const dialog = () => page.getByRole('dialog');

  /** The dialog's title and its main button are on screen, inside the dialog, and take a click. */
  const expectInView = async (name: string, primary: Locator) => {
    await primary.waitFor();
    const viewport = page.viewportSize()!;
    const title = await placement(dialog().locator('.mantine-Modal-title'));
    const button = await placement(primary);
    const where = `${name} at ${viewport.width}×${viewport.height}`;
    // Soft: one run tells every dialog that gets it wrong.
    expect.soft(title.inViewport && title.reachable, `${where}: the title at ${title.box}`).toBe(true);
    expect.soft(button, `${where}: the main button at ${button.box}`).toMatchObject({ inViewport: true, inScrollport: true, reachable: true });
    await page.screenshot({ path: path.join(SHOTS, `polish-dialog-${name}-${viewport.height}.png`) });
  };
  const closeDialog = async () => {
    await page.keyboard.press('Escape');
    await dialog().waitFor({ state: 'detached' });
  };

  beforeAll(async () => {
    await ensureLibvirt();
    host = new LibvirtTestHost('polish');
    const disk = await buildDisk(host, path.join(host.dir, 'virtual-machine-images', 'office-file-server-production'));
    vm = await host.defineVm([{ target: 'vda', path: disk }], `polish-e2e-${Math.random().toString(16).slice(2, 8)}`);
    e2e = await startSignedInE2e({ server: { nodeHeartbeatSeconds: 1 }, node: NODE, page: { viewport: VIEWPORTS[0], locale: 'en-GB' } });
    page = e2e.page;
    repoPath = path.join(host.subdir('repo/nas-office-share/backups-of-the-office'), 'vplus-repository-primary');
    await addDestination(e2e, { name: 'office-nas', node: NODE, path: repoPath });
    await addHypervisor(e2e, { name: 'kvm1', node: NODE });
    const started = await waitFor('the backup to start', async () => {
      const res = await e2e.api<{ taskIds: number[] }>('POST', '/api/backups/run', { vm: vm.uuid, destination: 'office-nas', full: true });
      return res.status === 202 ? res.body : undefined;
    });
    for (const id of started.taskIds) expect((await taskEnded(e2e.t.api, e2e.admin, id)).state).toBe('FINISHED');
    vmId = (await e2e.api<{ id: number; uuid: string }[]>('GET', '/api/vms')).body.find((v) => v.uuid === vm.uuid)!.id;
    const [backup] = (await e2e.api<BackupPage>('GET', `/api/backups?vm=${vm.uuid}`)).body.backups;
    const mount = await e2e.api<Mount>('POST', '/api/mounts', { backup: backup!.id });
    expect(mount.status).toBe(202);
    mountId = mount.body.id;
    await waitFor('the mount', async () => ((await e2e.api<Mount>('GET', `/api/mounts/${mountId}`)).body.state === 'MOUNTED' ? true : undefined), 120_000);
  });
  afterAll(async () => {
    await e2e?.close();
    await host?.cleanup();
  });

  for (const viewport of VIEWPORTS) {
    it(`keeps each dialog's title and main button in view at ${viewport.width}×${viewport.height}`, async () => {
      await page.setViewportSize(viewport);

      await page.goto(url('/destinations'));
      await page.getByRole('button', { name: 'Add destination' }).click();
      // Encrypted by default: the password fields and their warning make it the tallest form.
      await expectInView('add-destination', dialog().getByRole('button', { name: 'Add destination' }));
      await closeDialog();

      await page.goto(url('/vms'));
      await page.getByRole('button', { name: 'Add hypervisor' }).first().click();
      await expectInView('add-hypervisor', dialog().getByRole('button', { name: 'Add hypervisor' }));
      await closeDialog();

      await page.goto(url(`/vms/${vmId}`));
      await page.getByRole('button', { name: 'Restore', exact: true }).first().click();
      await expectInView('restore-point', dialog().getByRole('button', { name: 'Next' }));
      await dialog().getByRole('button', { name: 'Next' }).click();
      await dialog().getByLabel('New VM on a hypervisor').check();
      await dialog().getByLabel('Overwrite an existing VM or disk files of that name').check();
      await expectInView('restore-target', dialog().getByRole('button', { name: 'Start restore' }));
      await closeDialog();

      // A backup followed live: both steps, their bars and logs, then the result.
      await page.getByRole('button', { name: 'Back up now' }).first().click();
      await dialog().getByRole('button', { name: 'Start backup' }).click();
      await dialog().getByText('Backup stored').waitFor({ timeout: 60_000 });
      await expectInView('backup-followed', dialog().getByRole('button', { name: 'Close', exact: true }).last());
      await closeDialog();

      // A prune preview lists what it would remove and keep above the buttons.
      await page.goto(url('/destinations'));
      await page.getByRole('link', { name: 'office-nas' }).click();
      // The list's rows have a Prune button too: click the destination page's, once it is there.
      await page.getByRole('heading', { name: 'office-nas', level: 1 }).waitFor();
      await page.getByRole('button', { name: 'Prune' }).click();
      await dialog().getByLabel('Keep last').fill('1');
      await dialog().getByRole('button', { name: 'Preview' }).click();
      await dialog().getByText(/^Preview: /).waitFor({ timeout: 60_000 });
      await expectInView('prune-previewed', dialog().getByRole('button', { name: 'Prune now' }));
      await closeDialog();

      await page.goto(url('/backups'));
      const newest = page.getByTestId('backup-group').and(page.locator(`[data-vm="${vm.name}"]`)).locator('tbody tr').first();
      await newest.getByRole('button', { name: /^Manage the backup of/ }).click();
      await page.getByRole('menuitem', { name: /notes/ }).click();
      await dialog().getByLabel('Notes').fill(Array.from({ length: 14 }, (_, i) => `Line ${i + 1} of what this backup holds`).join('\n'));
      await expectInView('notes', dialog().getByRole('button', { name: 'Save notes' }));
      await closeDialog();
      await newest.getByRole('button', { name: /^Manage the backup of/ }).click();
      await page.getByRole('menuitem', { name: /Delete/ }).click();
      await expectInView('delete-backup', dialog().getByRole('button', { name: 'Delete backup' }));
      await closeDialog();

      await page.goto(url(`/mounts/${mountId}?path=${encodeURIComponent(`vda1/${DEEP_DIR}`)}`));
      const row = page.getByTestId('file-table').locator('tbody tr').filter({ hasText: DEEP_FILE });
      await row.getByRole('checkbox').check();
      await page.getByRole('button', { name: 'Restore…' }).click();
      await dialog().getByLabel('Overwrite existing files').check();
      await expectInView('restore-files', dialog().getByRole('button', { name: 'Start restore' }));
      await closeDialog();
    });
  }

  it('wraps paths at their separators, never inside a name, and never past their box', async () => {
    await page.setViewportSize(VIEWPORTS[0]!);
    const expectWrapsAtSeparators = async (where: string, el: Locator, expected: string) => {
      await el.waitFor();
      const layout = await textLayout(el);
      expect(layout.text, where).toBe(expected);
      // Soft: one run tells every place that gets it wrong.
      expect.soft(layout.lines.length, `${where}: ${JSON.stringify(layout.lines)}`).toBeGreaterThan(1);
      expect.soft(brokenInsideNames(layout.lines), `${where}: ${JSON.stringify(layout.lines)}`).toEqual([]);
      expect.soft(layout.overflows, `${where}: a character outside its box`).toBe(false);
    };

    await page.goto(url('/destinations'));
    const destinationRow = page.getByRole('table', { name: 'Destinations' }).locator('tbody tr').filter({ hasText: 'office-nas' });
    await expectWrapsAtSeparators('destinations table', destinationRow.getByText(repoPath, { exact: true }), repoPath);

    await destinationRow.getByRole('link', { name: 'office-nas' }).click();
    await page.getByRole('heading', { name: 'office-nas', level: 1 }).waitFor();
    // The page header has room for it on one line at 1280 px: it only must not overflow.
    const header = await textLayout(page.getByText(new RegExp(`^${repoPath}`)).first());
    expect.soft(header.overflows, `page header: ${JSON.stringify(header.lines)}`).toBe(false);
    expect.soft(brokenInsideNames(header.lines), `page header: ${JSON.stringify(header.lines)}`).toEqual([]);

    // A file deep in a mounted backup: found by name, its path in the results, the preview and the restore dialog.
    const deepPath = `vda1/${DEEP_DIR}/${DEEP_FILE}`;
    await page.goto(url(`/mounts/${mountId}?path=vda1`));
    await page.getByRole('textbox', { name: 'Search by name' }).fill('final-*');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await expectWrapsAtSeparators('search result', page.getByTestId('search-results').getByText(deepPath, { exact: true }), deepPath);
    await page.getByTestId('search-results').getByRole('button', { name: deepPath }).click();
    const fileRow = page.getByTestId('file-table').locator('tbody tr').filter({ hasText: DEEP_FILE });
    await fileRow.getByRole('button', { name: `Preview ${DEEP_FILE}` }).click();
    await expectWrapsAtSeparators('file preview', page.getByRole('dialog').getByText(deepPath, { exact: true }), deepPath);
    await page.screenshot({ path: path.join(SHOTS, 'polish-path-preview.png') });
    await page.keyboard.press('Escape');
    await fileRow.getByRole('checkbox').check();
    await page.getByRole('button', { name: 'Restore…' }).click();
    await expectWrapsAtSeparators('restore dialog', dialog().getByText(deepPath, { exact: true }), deepPath);
    await page.screenshot({ path: path.join(SHOTS, 'polish-path-restore.png') });
    await closeDialog();

    // The VM's disk path, in a narrow window.
    await page.setViewportSize({ width: 900, height: 900 });
    await page.goto(url(`/vms/${vmId}`));
    const diskPath = vm.disks[0]!.path;
    await expectWrapsAtSeparators('VM disks', page.getByText(diskPath, { exact: true }), diskPath);
    await page.screenshot({ path: path.join(SHOTS, 'polish-path-disk.png'), fullPage: true });
    await page.setViewportSize(VIEWPORTS[0]!);
  });

  it('gives primary actions words, and every icon-only control a name and a tooltip', async () => {
    await page.setViewportSize(VIEWPORTS[0]!);
    // A table row's main action is a labelled button that fits on the screen.
    await page.goto(url('/destinations'));
    const verify = page.getByRole('button', { name: 'Verify office-nas' });
    await verify.waitFor();
    await page.screenshot({ path: path.join(SHOTS, 'polish-destinations.png') });
    expect(await verify.innerText()).toBe('Verify');
    expect(await placement(verify)).toMatchObject({ inViewport: true, reachable: true });
    // Its other maintenance actions stay icons (named, with a tooltip: below); rename and remove wait in a menu.
    for (const other of ['Prune', 'Collect garbage', 'Re-import', 'Refresh']) expect(await page.getByRole('button', { name: `${other} office-nas` }).count()).toBe(1);
    await page.getByRole('button', { name: 'More actions for office-nas' }).click();
    for (const item of ['Rename', 'Remove']) await page.getByRole('menuitem', { name: item }).waitFor();
    await page.keyboard.press('Escape');
    await page.screenshot({ path: path.join(SHOTS, 'polish-destinations.png') });

    await page.goto(url('/nodes'));
    const check = page.getByRole('button', { name: `Check ${NODE}` });
    expect(await check.innerText()).toBe('Check');
    expect(await placement(check)).toMatchObject({ inViewport: true, reachable: true });

    // The other lists' row actions, already in words, are on the screen too (not past a table's right edge).
    const rowActions: [string, Locator][] = [
      ['/vms', page.getByRole('table', { name: 'Virtual machines' }).getByRole('button', { name: 'Back up now' })],
      ['/backups', page.getByTestId('backup-group').getByRole('button', { name: 'Restore', exact: true })],
      ['/backups', page.getByTestId('backup-group').getByRole('button', { name: 'Browse files' })],
    ];
    for (const [p, action] of rowActions) {
      await page.goto(url(p));
      await action.first().waitFor();
      expect.soft(await placement(action.first()), `${p}: ${(await action.first().innerText()).trim()}`).toMatchObject({ inViewport: true, reachable: true });
      await page.screenshot({ path: path.join(SHOTS, `polish-rows-${p.slice(1)}.png`) });
    }

    const pages = ['/', '/nodes', '/vms', `/vms/${vmId}`, '/backups', '/mounts', `/mounts/${mountId}?path=vda1`, '/policies', '/destinations', '/destinations/1', '/settings'];
    for (const p of pages) {
      await page.goto(url(p));
      await page.getByRole('heading', { level: 1 }).waitFor();
      await page.waitForLoadState('networkidle');
      // The page header's actions: buttons with words.
      const headerActions = page.getByRole('heading', { level: 1 }).locator('xpath=ancestor::div[contains(@class, "mantine-Group-root")][1]').locator('button, a.mantine-Button-root');
      for (const action of await headerActions.all()) expect((await action.innerText()).trim(), `${p}: a header action without words`).not.toBe('');
      // Icon-only controls: a name, and a tooltip with words on hover (tree toggles, an input's clear button and "…"
      // menus, whose items are in words, need only the name).
      const icons = page.locator('main .mantine-ActionIcon-root, header .mantine-ActionIcon-root');
      for (const icon of await icons.all()) {
        if (!(await icon.isVisible())) continue;
        const name = (await icon.getAttribute('aria-label')) ?? '';
        expect(name, `${p}: an icon-only control without a name`).not.toBe('');
        if (/^(Expand|Collapse) |^Clear the search$/.test(name) || (await icon.getAttribute('aria-haspopup')) === 'menu') continue;
        await icon.hover();
        const tooltip = page.getByRole('tooltip');
        await tooltip.waitFor({ timeout: 3_000 }).catch(() => undefined);
        expect(await tooltip.count(), `${p}: no tooltip on "${name}"`).toBeGreaterThan(0);
        expect((await tooltip.first().innerText()).trim(), `${p}: "${name}"`).not.toBe('');
        await page.mouse.move(0, 0);
        await tooltip.waitFor({ state: 'detached' }).catch(() => undefined);
      }
    }
  });
});
