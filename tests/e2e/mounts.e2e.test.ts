import fs from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackupPage } from '../../common/api/backups.js';
import type { Mount } from '../../common/api/mounts.js';
import type { TaskDetails } from '../../common/api/tasks.js';
import { damageOneChunk } from '../support/damage.js';
import { addDestination, addHypervisor, SHOTS, startSignedInE2e, type SignedInE2e } from '../support/e2e-setup.js';
import { ensureLibvirt, LibvirtTestHost, MiB, sh, type TestVm } from '../support/libvirt-host.js';
import { run } from '../support/shell.js';
import { taskEnded, waitFor } from '../support/test-server.js';

const NODE = 'kvm-mount-e2e';
const HELLO = 'hello from inside the backup\nsecond line\n';
const README = '# Notes\n\nKept in a folder of the backed-up disk.\n';
const SECTOR = 512;

/** The files the backed-up filesystem holds: relative path → content. */
const FILES: Record<string, string> = {
  'hello.txt': HELLO,
  'notes/readme.md': README,
  'notes/todo.txt': 'restore a single file\n',
  'data/blob.bin': 'x'.repeat(10_000),
};

/**
 * A raw disk with a GPT and one ext4 partition (vda1) holding FILES, an inside symlink and an
 * outside one, built without mounting anything: mkfs.ext4 -d fills a partition image, which is
 * then written at the partition's offset. Converted to qcow2 for the VM.
 */
async function buildDisk(host: LibvirtTestHost): Promise<string> {
  const src = host.subdir('fs-src');
  for (const [rel, content] of Object.entries(FILES)) {
    fs.mkdirSync(path.dirname(path.join(src, rel)), { recursive: true });
    fs.writeFileSync(path.join(src, rel), content);
  }
  fs.chmodSync(path.join(src, 'hello.txt'), 0o640);
  fs.symlinkSync('hello.txt', path.join(src, 'link-to-hello'));
  fs.symlinkSync('/etc/shadow', path.join(src, 'link-outside'));

  const raw = path.join(host.dir, 'vda.raw');
  fs.writeFileSync(raw, '');
  fs.truncateSync(raw, 64 * MiB);
  await run('sfdisk', ['--quiet', raw], { input: 'label: gpt\n,,L\n' });
  const table = JSON.parse(await sh('sfdisk', ['--json', raw])) as { partitiontable: { partitions: { start: number; size: number }[] } };
  const partition = table.partitiontable.partitions[0]!;
  const image = path.join(host.dir, 'vda1.img');
  await sh('mkfs.ext4', ['-q', '-F', '-L', 'data', '-d', src, image, `${(partition.size * SECTOR) / 1024}k`]);
  await sh('dd', [`if=${image}`, `of=${raw}`, 'bs=1M', `seek=${partition.start * SECTOR}`, 'oflag=seek_bytes', 'conv=notrunc,sparse', 'status=none']);
  fs.rmSync(image);
  const qcow2 = path.join(host.dir, 'vda.qcow2');
  await sh('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', raw, qcow2]);
  fs.rmSync(raw);
  return qcow2;
}

/** Issue 11 in the browser: open a backup, browse, preview, download and restore a file, close it. */
describe('Mount / file-level restore in Chromium', () => {
  let e2e: SignedInE2e;
  let host: LibvirtTestHost;
  let vm: TestVm;
  let page: Page;
  let mountId: number;

  const table = () => page.getByTestId('file-table');
  const row = (name: string) => table().locator('tbody tr').filter({ has: page.getByText(name, { exact: true }) });

  beforeAll(async () => {
    await ensureLibvirt();
    host = new LibvirtTestHost('e2e-mounts');
    const disk = await buildDisk(host);
    vm = await host.defineVm([{ target: 'vda', path: disk }], `mount-e2e-${Math.random().toString(16).slice(2, 8)}`);
    await host.start(vm);

    e2e = await startSignedInE2e({ server: { nodeHeartbeatSeconds: 1 }, node: NODE, page: { viewport: { width: 1440, height: 1000 }, locale: 'en-GB' } });
    page = e2e.page;
    await addDestination(e2e, { name: 'local', node: NODE, path: path.join(host.subdir('repo'), 'vplus') });
    await addHypervisor(e2e, { name: 'kvm1', node: NODE });
    const started = await waitFor('the backup to start', async () => {
      const res = await e2e.api<{ taskIds: number[] }>('POST', '/api/backups/run', { vm: vm.uuid, destination: 'local', full: true });
      return res.status === 202 ? res.body : undefined;
    });
    for (const id of started.taskIds) {
      const task = await taskEnded(e2e.t.api, e2e.admin, id);
      expect(task.state, task.error ?? '').toBe('FINISHED');
    }
  });
  afterAll(async () => {
    await e2e?.close();
    await host?.cleanup();
  });

  it('opens the backup from the Backups page with "Browse files" and lists its filesystem', async () => {
    await page.getByRole('link', { name: 'Backups', exact: true }).click();
    const backupRow = page.getByRole('row').filter({ hasText: vm.name });
    await backupRow.getByRole('button', { name: 'Browse files' }).click();
    await page.waitForURL(/\/mounts\/\d+$/, { timeout: 20_000 });
    mountId = Number(/\/mounts\/(\d+)$/.exec(page.url())![1]);

    const filesystems = page.getByRole('table', { name: 'Filesystems' });
    await filesystems.getByRole('link', { name: 'vda1' }).waitFor({ timeout: 120_000 });
    const text = (await filesystems.innerText()).replace(/\s+/g, ' ');
    expect(text).toContain('ext4');
    expect(text).toContain('data');
    expect(await page.getByTestId('mount-expires').innerText()).toMatch(/closes at/);
    await page.screenshot({ path: path.join(SHOTS, 'mount-root.png'), fullPage: true });
  });

  it('opens vda1 and shows its files with size, owner and mode; symlinks as links', async () => {
    await page.getByRole('table', { name: 'Filesystems' }).getByRole('link', { name: 'vda1' }).click();
    await row('hello.txt').waitFor({ timeout: 30_000 });
    const hello = (await row('hello.txt').innerText()).replace(/\s+/g, ' ');
    expect(hello).toContain('-rw-r-----');
    expect(hello).toContain('0:0');
    expect(hello).toMatch(/\d+ B/);
    expect(await row('notes').getByRole('link', { name: 'notes' }).count()).toBe(1);
    expect(await row('link-to-hello').innerText()).toContain('→ hello.txt');
    expect(await row('link-outside').innerText()).toContain('→ /etc/shadow');
    // A link out of the filesystem is shown, never followed: no button to follow it.
    expect(await row('link-outside').getByRole('button', { name: 'link-outside' }).count()).toBe(0);
    // lost+found, data, notes, hello.txt and the two links.
    expect(await page.getByTestId('entry-count').innerText()).toMatch(/^6 entries/);
    // The folder tree lists the directories only.
    const tree = page.getByRole('navigation', { name: 'Folders' });
    await tree.getByRole('link', { name: 'notes' }).waitFor();
    expect(await tree.getByRole('link', { name: 'hello.txt' }).count()).toBe(0);
    await page.screenshot({ path: path.join(SHOTS, 'mount-explorer.png'), fullPage: true });
  });

  it('previews a text file as text', async () => {
    await row('hello.txt').getByRole('button', { name: 'Preview hello.txt' }).click();
    const preview = page.getByTestId('text-preview');
    await preview.waitFor();
    expect(await preview.textContent()).toBe(HELLO);
    await page.screenshot({ path: path.join(SHOTS, 'mount-preview.png') });
    await page.keyboard.press('Escape');
    await preview.waitFor({ state: 'detached' });
  });

  it('downloads a file through its link, and a selection as a zip', async () => {
    const link = row('hello.txt').getByRole('link', { name: 'Download hello.txt' });
    const href = (await link.getAttribute('href'))!;
    expect(href).toBe(`/api/mounts/${mountId}/content?path=vda1%2Fhello.txt&download=1`);
    const fetched = await page.evaluate(async (url) => {
      const res = await fetch(url);
      return { status: res.status, disposition: res.headers.get('content-disposition'), text: await res.text() };
    }, href);
    expect(fetched.status).toBe(200);
    expect(fetched.disposition).toMatch(/attachment/);
    expect(fetched.text).toBe(HELLO);

    const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
    expect(fs.readFileSync(await download.path(), 'utf8')).toBe(HELLO);

    await row('hello.txt').getByRole('checkbox').check();
    await row('notes').getByRole('checkbox').check();
    const zip = page.getByRole('link', { name: 'Download as zip' });
    const zipHref = (await zip.getAttribute('href'))!;
    expect(zipHref).toBe(`/api/mounts/${mountId}/zip?path=vda1%2Fhello.txt&path=vda1%2Fnotes`);
    const zipped = await page.evaluate(async (url) => {
      const res = await fetch(url);
      const bytes = new Uint8Array(await res.arrayBuffer());
      return { status: res.status, type: res.headers.get('content-type'), magic: Array.from(bytes.slice(0, 4)), text: new TextDecoder('latin1').decode(bytes) };
    }, zipHref);
    expect(zipped.status).toBe(200);
    expect(zipped.magic).toEqual([0x50, 0x4b, 0x03, 0x04]);
    expect(zipped.text).toContain('notes/readme.md');
    await page.getByRole('button', { name: 'Clear selection' }).click();
  });

  it('restores a file to a directory on the node, following the task', async () => {
    const dir = host.subdir('restored-files');
    await row('hello.txt').getByRole('checkbox').check();
    await page.getByRole('button', { name: 'Restore…' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Destination directory').fill('relative/path');
    await dialog.getByRole('button', { name: 'Start restore' }).click();
    await dialog.getByText('the path must be absolute').waitFor();

    await dialog.getByLabel('Destination directory').fill(dir);
    await dialog.getByRole('button', { name: 'Start restore' }).click();
    const result = dialog.getByTestId('file-restore-result');
    await result.waitFor({ timeout: 60_000 });
    expect(await result.innerText()).toContain(`written to ${dir}`);
    expect(await dialog.getByRole('link', { name: /^Task \d+$/ }).count()).toBe(1);
    await page.screenshot({ path: path.join(SHOTS, 'mount-restore.png') });
    expect(fs.readFileSync(path.join(dir, 'hello.txt'), 'utf8')).toBe(HELLO);
    expect(fs.statSync(path.join(dir, 'hello.txt')).mode & 0o777).toBe(0o640);

    // The same again refuses to overwrite, where the person is looking.
    await dialog.getByRole('button', { name: 'Close' }).click();
    await row('hello.txt').getByRole('checkbox').check();
    await page.getByRole('button', { name: 'Restore…' }).click();
    await dialog.getByLabel('Destination directory').fill(dir);
    await dialog.getByRole('button', { name: 'Start restore' }).click();
    const refusal = dialog.getByTestId('task-error').or(dialog.getByTestId('form-error'));
    await refusal.waitFor({ timeout: 60_000 });
    expect(await refusal.innerText()).toMatch(/exist/i);
    await dialog.getByRole('button', { name: 'Close' }).click();
  });

  it('finds a file by name from the root (every filesystem) and opens its folder', async () => {
    await page.getByRole('navigation', { name: 'Folder path' }).getByRole('link', { name: 'All filesystems' }).click();
    await page.getByRole('table', { name: 'Filesystems' }).waitFor();
    await page.getByRole('textbox', { name: 'Search by name' }).fill('*.md');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    const results = page.getByTestId('search-results');
    await results.getByRole('button', { name: 'vda1/notes/readme.md' }).waitFor();
    expect(await results.getByTestId('search-summary').innerText()).toMatch(/^1 match for “\*\.md”/);
    await results.getByRole('button', { name: 'vda1/notes/readme.md' }).click();
    await row('readme.md').waitFor();
    expect(new URL(page.url()).searchParams.get('path')).toBe('vda1/notes');
    expect(await page.getByRole('navigation', { name: 'Folder path' }).innerText()).toMatch(/All filesystems.*vda1.*notes/s);
  });

  it('follows a symlink inside the filesystem', async () => {
    await page.getByRole('navigation', { name: 'Folder path' }).getByRole('link', { name: 'vda1' }).click();
    await row('link-to-hello').getByRole('button', { name: 'link-to-hello' }).click();
    const preview = page.getByTestId('text-preview');
    await preview.waitFor();
    expect(await preview.textContent()).toBe(HELLO);
    await page.keyboard.press('Escape');
  });

  it('lists the mount on the Mounts page, and closes it from the explorer', async () => {
    await page.getByRole('link', { name: 'Mounts', exact: true }).click();
    const mountRow = page.getByRole('table', { name: 'Mounts' }).locator('tbody tr').filter({ hasText: vm.name });
    await mountRow.waitFor();
    expect(await mountRow.innerText()).toMatch(/mounted/i);
    await mountRow.getByRole('link', { name: 'Open' }).click();
    await page.getByRole('table', { name: 'Filesystems' }).waitFor();

    await page.getByRole('button', { name: 'Close', exact: true }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Close mount' }).click();
    await page.getByTestId('mount-closed').waitFor({ timeout: 60_000 });
    const mount = await waitFor('the mount to close', async () => {
      const m = (await e2e.api<Mount>('GET', `/api/mounts/${mountId}`)).body;
      return m.state === 'CLOSED' ? m : undefined;
    });
    expect(mount.closedAt).not.toBeNull();
    const task = (await e2e.api<TaskDetails>('GET', `/api/tasks/${mount.taskId}`)).body;
    expect(task.state).toBe('FINISHED');
    await page.screenshot({ path: path.join(SHOTS, 'mount-closed.png'), fullPage: true });
  });

  it('offers no browsing of a damaged backup, and says why', async () => {
    const [backup] = (await e2e.api<BackupPage>('GET', `/api/backups?vm=${vm.uuid}`)).body.backups;
    await damageOneChunk(path.join(host.subdir('repo'), 'vplus'), backup!.repoBackupId);
    expect((await e2e.api('POST', '/api/destinations/local/verify', {})).status).toBe(202);
    await waitFor('verify to mark the backup', async () => ((await e2e.api<BackupPage>('GET', `/api/backups?vm=${vm.uuid}`)).body.backups[0]?.status === 'damaged' ? true : undefined));

    await page.goto(`${e2e.t.server.url}/backups`);
    // The VM's only backup: its row is the one marked damaged.
    const backupRow = page.getByRole('row').filter({ has: page.locator('[data-status="damaged"]') });
    await backupRow.waitFor();
    const browse = backupRow.getByRole('button', { name: 'Browse files' });
    expect(await browse.getAttribute('aria-disabled')).toBe('true');
    await browse.hover();
    await page.getByRole('tooltip').filter({ hasText: 'damaged' }).waitFor();
    // aria-disabled: Playwright would wait for it to be enabled; a forced click must do nothing.
    await browse.click({ force: true });
    expect(new URL(page.url()).pathname).toBe('/backups');
  });
});
