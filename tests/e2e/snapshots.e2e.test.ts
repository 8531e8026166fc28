import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addDestination, addHypervisor, SHOTS, startSignedInE2e, type SignedInE2e } from '../support/e2e-setup.js';
import { ensureLibvirt, LibvirtTestHost, MiB, virsh, type TestVm } from '../support/libvirt-host.js';
import { taskEnded } from '../support/test-server.js';

const POLICY = 'snapshots-e2e';
const FIRST = 'e2e-first';

/**
 * VM snapshots in the browser, on a real libvirt host: take one from the VM's page, create a
 * snapshot policy through the form and run it, then revert a VM that has a backup checkpoint
 * (refused, with the node's reason where the person looks; then with the checkpoints
 * discarded, done).
 */
describe('VM snapshots and snapshot policies in Chromium', () => {
  let e2e: SignedInE2e;
  let host: LibvirtTestHost;
  let vm: TestVm;
  let page: Page;
  let policyId: number;

  const snapshotsSection = () => page.getByRole('region', { name: 'Snapshots' });
  const snapshotRow = (name: string | RegExp) => snapshotsSection().getByRole('table', { name: `Snapshots of ${vm.name}` }).locator('tbody tr').filter({ hasText: name });
  const openVm = async () => {
    await page.goto(`${e2e.t.server.url}/vms/${vm.uuid}`);
    await page.getByRole('heading', { name: vm.name, level: 1 }).waitFor({ timeout: 20_000 });
  };

  beforeAll(async () => {
    await ensureLibvirt();
    host = new LibvirtTestHost('e2e-snapshots');
    const disk = await host.createDisk('vda.qcow2', 16, [{ pattern: 0x3c, offset: MiB, length: MiB }]);
    vm = await host.defineVm([{ target: 'vda', path: disk }], `snap-e2e-${Math.random().toString(16).slice(2, 8)}`);
    await host.start(vm);

    e2e = await startSignedInE2e({ server: { nodeHeartbeatSeconds: 1 }, node: 'kvm-snap-e2e', page: { viewport: { width: 1440, height: 1000 }, locale: 'en-GB' } });
    page = e2e.page;
    await addHypervisor(e2e, { name: 'kvm1', node: 'kvm-snap-e2e' });
  });
  afterAll(async () => {
    await e2e?.close();
    await host?.cleanup();
  });

  it('takes a snapshot from the VM page and lists it as the current one', async () => {
    await openVm();
    const section = snapshotsSection();
    await section.getByText(`${vm.name} has no snapshot.`).waitFor({ timeout: 60_000 });

    await section.getByRole('button', { name: 'Take snapshot' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Name').fill('bad name');
    await dialog.getByRole('button', { name: 'Take snapshot' }).click();
    await dialog.getByText('snapshot names may contain letters, digits').waitFor();

    await dialog.getByLabel('Name').fill(FIRST);
    await dialog.getByRole('button', { name: 'Take snapshot' }).click();
    const success = dialog.getByTestId('snapshot-success');
    await success.waitFor({ timeout: 60_000 });
    expect(await success.innerText()).toBe(`Snapshot ${FIRST} taken.`);
    expect(await dialog.getByTestId('task-follow').getAttribute('data-state')).toBe('FINISHED');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });

    // The list was written from the task's answer, without a reload.
    const row = snapshotRow(FIRST);
    await row.waitFor({ timeout: 20_000 });
    const text = (await row.textContent()) ?? '';
    expect(text).toContain('Running');
    expect(text).toContain('Current');
    expect((await virsh('snapshot-list', vm.name, '--name')).trim()).toBe(FIRST);
    await page.screenshot({ path: path.join(SHOTS, 'vm-snapshots.png'), fullPage: true });
  });

  it('creates a snapshot policy through the form and runs it; the VM lists the policy snapshot', async () => {
    await page.getByRole('link', { name: 'Policies', exact: true }).click();
    await page.getByRole('heading', { name: 'No policies yet' }).waitFor();
    await page.getByRole('link', { name: 'Create policy' }).click();
    await page.getByRole('heading', { name: 'Create policy', level: 1 }).waitFor();

    await page.getByRole('radiogroup', { name: 'Kind' }).getByText('Snapshot', { exact: true }).click();
    // Snapshots stay on the hosts: no destination, and retention is one number.
    await expect.poll(() => page.getByRole('combobox', { name: 'Destination' }).count()).toBe(0);
    expect(await page.getByLabel('Retention schedule').count()).toBe(0);
    await page.getByLabel('Name', { exact: true }).fill(POLICY);

    // A rule with a backup type is refused for a snapshot policy, under the rule.
    await page.getByRole('radiogroup', { name: 'Write the schedule with' }).getByText('Text', { exact: true }).click();
    const rule = page.getByRole('textbox', { name: 'Schedule rule 1' });
    await rule.fill('incremental every 4h');
    await expect.poll(() => rule.getAttribute('aria-invalid'), { timeout: 10_000 }).toBe('true');
    await rule.fill('every 4h');
    await expect.poll(() => rule.getAttribute('aria-invalid'), { timeout: 10_000 }).not.toBe('true');
    const nextRuns = page.getByTestId('next-runs-preview');
    await expect.poll(() => nextRuns.locator('tbody tr').count(), { timeout: 10_000 }).toBe(10);
    expect(await nextRuns.locator('thead').innerText()).not.toContain('Type');

    await page.getByLabel('Keep last').fill('2');
    await page.getByRole('textbox', { name: 'Include pattern 1' }).fill(`^${vm.name}$`);
    // Other test runs' VMs on the same libvirt host may be listed too: exactly one matches.
    await expect.poll(() => page.getByRole('region', { name: 'Matching VMs' }).innerText(), { timeout: 10_000 }).toMatch(/\b1 of \d+ match/);
    await page.screenshot({ path: path.join(SHOTS, 'snapshot-policy-form.png'), fullPage: true });

    await page.getByRole('button', { name: 'Create policy' }).click();
    await page.getByRole('heading', { name: POLICY, level: 1 }).waitFor({ timeout: 20_000 });
    policyId = Number(/\/policies\/(\d+)$/.exec(page.url())?.[1]);
    expect(policyId).toBeGreaterThan(0);
    expect(await page.locator('[data-kind="snapshot"]').first().textContent()).toBe('Snapshot policy');
    const settings = await page.getByRole('region', { name: 'Settings' }).innerText();
    expect(settings).toContain('every 4h');
    expect(settings).toContain('Keeps the last 2 snapshots of each VM');

    // A snapshot policy has nothing to choose: Run now starts at once.
    await page.getByRole('button', { name: 'Run now' }).click();
    const run = page.getByRole('table', { name: `Runs of ${POLICY}` }).locator('tbody tr').first();
    await run.waitFor({ timeout: 20_000 });
    await expect.poll(() => run.locator('[data-state]').getAttribute('data-state'), { timeout: 90_000 }).toBe('finished');
    const runText = (await run.textContent()) ?? '';
    expect(runText).toContain('Manual');
    expect(runText).toContain('Snapshot');
    expect(runText).toContain('1 ok of 1');
    await page.screenshot({ path: path.join(SHOTS, 'snapshot-policy-run.png'), fullPage: true });

    await page.getByRole('link', { name: 'All policies' }).click();
    const listed = page.getByRole('table', { name: 'Policies' }).getByRole('row').filter({ hasText: POLICY });
    await listed.waitFor();
    const listedText = (await listed.textContent()) ?? '';
    expect(listedText).toContain('Snapshot');
    expect(listedText).toContain('keeps the last 2 snapshots');
    await page.screenshot({ path: path.join(SHOTS, 'snapshot-policies.png'), fullPage: true });

    // Edited, it stays a snapshot policy: the kind is shown, not changeable.
    await page.getByRole('link', { name: POLICY, exact: true }).click();
    await page.getByRole('link', { name: 'Edit', exact: true }).click();
    await page.getByRole('heading', { name: `Edit policy ${POLICY}`, level: 1 }).waitFor();
    expect(await page.getByRole('radio', { name: 'Snapshot' }).isChecked()).toBe(true);
    expect(await page.getByRole('radio', { name: 'Backup' }).isDisabled()).toBe(true);
    const keep = page.getByLabel('Keep last');
    expect(await keep.inputValue()).toBe('2');
    await keep.fill('3');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByRole('heading', { name: POLICY, level: 1 }).waitFor({ timeout: 20_000 });
    expect(await page.getByRole('region', { name: 'Settings' }).innerText()).toContain('Keeps the last 3 snapshots of each VM');

    await openVm();
    const prefix = `vplus-p${policyId}-`;
    const policyRow = snapshotRow(prefix);
    await policyRow.waitFor({ timeout: 60_000 });
    expect(await policyRow.textContent()).toContain(`Taken by policy ${POLICY}`);
    expect(await policyRow.textContent()).toContain('Current');
    expect(await snapshotRow(FIRST).count()).toBe(1);
  });

  it('reverts a VM with a backup checkpoint: refused without discarding, done with it', async () => {
    await addDestination(e2e, { name: 'local', node: 'kvm-snap-e2e', path: path.join(host.subdir('repo'), 'vplus') });
    const backup = await e2e.api<{ taskIds: number[] }>('POST', '/api/backups/run', { vm: vm.uuid, destination: 'local' });
    expect(backup.status, backup.text).toBe(202);
    for (const id of backup.body.taskIds) {
      const task = await taskEnded(e2e.t.api, e2e.admin, id);
      expect(task.state, task.error ?? '').toBe('FINISHED');
    }
    expect((await virsh('checkpoint-list', vm.name, '--name')).trim()).not.toBe('');

    await openVm();
    const row = snapshotRow(FIRST);
    await row.waitFor({ timeout: 60_000 });
    await row.getByRole('button', { name: 'Revert…' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByRole('heading', { name: `Revert ${vm.name} to ${FIRST}?` }).waitFor();
    expect(await dialog.innerText()).toContain('without this a VM with backup checkpoints cannot be reverted');

    await dialog.getByRole('button', { name: 'Revert', exact: true }).click();
    const error = dialog.getByTestId('task-error');
    await error.waitFor({ timeout: 60_000 });
    expect(await error.innerText()).toContain('Revert with "discard checkpoints" to delete them first (the next backup is then a full one)');
    expect(await dialog.getByTestId('task-follow').getAttribute('data-state')).toBe('FAILED');
    await page.screenshot({ path: path.join(SHOTS, 'snapshot-revert-refused.png'), fullPage: true });

    await dialog.getByLabel('Discard backup checkpoints first (the next backup will be a full one)').check();
    await dialog.getByRole('button', { name: 'Revert again' }).click();
    const success = dialog.getByTestId('snapshot-success');
    await success.waitFor({ timeout: 60_000 });
    expect(await success.innerText()).toContain(`${vm.name} is back at ${FIRST}. Its backup checkpoints were deleted`);
    expect(await dialog.getByTestId('task-error').count()).toBe(0);
    await page.screenshot({ path: path.join(SHOTS, 'snapshot-revert.png'), fullPage: true });
    await page.keyboard.press('Escape');

    expect((await virsh('checkpoint-list', vm.name, '--name')).trim()).toBe('');
    await expect.poll(async () => (await snapshotRow(FIRST).textContent()) ?? '', { timeout: 20_000 }).toContain('Current');
  });
});
