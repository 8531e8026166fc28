import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobDetails } from '../../common/api/jobs.js';
import type { PolicyRun } from '../../common/api/policies.js';
import type { TaskPage } from '../../common/api/tasks.js';
import { formatBytes } from '../../common/format.js';
import { signIn } from '../support/browser.js';
import { addDestination, addHypervisor, SHOTS, startSignedInE2e, type SignedInE2e } from '../support/e2e-setup.js';
import { ensureLibvirt, LibvirtTestHost, MiB, type TestVm } from '../support/libvirt-host.js';
import { createUser, taskEnded, waitFor } from '../support/test-server.js';

/**
 * Jobs (issue 12) in Chromium on a real libvirt host: a viewer opening a VM page creates no
 * task; a backup is one job with both steps and the VM's name; progress labels match the bar
 * and count only the bytes read (an incremental with nothing changed reads nothing); a policy
 * run of two VMs is one job whose page has both VMs with their steps.
 */
describe('Jobs in Chromium', () => {
  let e2e: SignedInE2e;
  let host: LibvirtTestHost;
  let vm: TestVm;
  /** Backed up only by the policy run of the last test. */
  let other: TestVm;
  let page: Page;
  const tag = Math.random().toString(16).slice(2, 8);

  /** The newest task's id: unchanged when no task was made. */
  const newestTask = async (): Promise<number> => (await e2e.api<TaskPage>('GET', '/api/tasks?limit=1')).body.tasks[0]?.id ?? 0;
  const backUp = async (): Promise<number[]> => {
    const res = await e2e.api<{ taskIds: number[] }>('POST', '/api/backups/run', { vm: vm.uuid, destination: 'local' });
    expect(res.status).toBe(202);
    for (const id of res.body.taskIds) expect((await taskEnded(e2e.t.api, e2e.admin, id)).state).toMatch(/^FINISHED/);
    return res.body.taskIds;
  };
  /** Each bar on the page: how full it is drawn, what it says, and its label. */
  const bars = async (p: Page): Promise<{ name: string; valuenow: string | null; drawn: number; text: string }[]> => {
    const out = [];
    for (const bar of await p.getByRole('progressbar').all()) {
      const whole = await bar.boundingBox();
      const section = await bar.locator(':scope > *').first().boundingBox();
      out.push({
        name: (await bar.getAttribute('aria-label')) ?? '',
        valuenow: await bar.getAttribute('aria-valuenow'),
        drawn: whole && section ? (section.width / whole.width) * 100 : 0,
        text: await bar.locator('xpath=..').locator('p').first().innerText(),
      });
    }
    return out;
  };

  beforeAll(async () => {
    await ensureLibvirt();
    host = new LibvirtTestHost('e2e-jobs');
    const disk = await host.createDisk('vda.qcow2', 32, [{ pattern: 0x4b, offset: MiB, length: 2 * MiB }]);
    vm = await host.defineVm([{ target: 'vda', path: disk }], `jobs-e2e-${tag}`);
    await host.start(vm);
    const otherDisk = await host.createDisk('other.qcow2', 8, [{ pattern: 0x62, offset: 0, length: MiB }]);
    other = await host.defineVm([{ target: 'vda', path: otherDisk }], `jobs-e2e-${tag}-other`);
    e2e = await startSignedInE2e({ server: { nodeHeartbeatSeconds: 1 }, node: 'kvm-jobs-e2e', page: { viewport: { width: 1440, height: 1000 }, locale: 'en-GB' } });
    page = e2e.page;
    await addDestination(e2e, { name: 'local', node: 'kvm-jobs-e2e', path: path.join(host.subdir('repo'), 'vplus') });
    await addHypervisor(e2e, { name: 'kvm1', node: 'kvm-jobs-e2e' });
  });
  afterAll(async () => {
    await e2e?.close();
    await host?.cleanup();
  });

  it('a viewer opening a VM page sees its snapshots and creates no task', async () => {
    await createUser(e2e.t.api, e2e.admin, 'vera', 'viewer');
    const viewer = await e2e.browser.newPage({ viewport: { width: 1440, height: 1000 }, locale: 'en-GB' });
    await viewer.goto(e2e.t.server.url);
    await signIn(viewer, 'vera', 'vera-password-1');
    const before = await newestTask();
    for (let i = 0; i < 2; i++) {
      await viewer.goto(`${e2e.t.server.url}/vms/${vm.uuid}`);
      await viewer.getByRole('heading', { name: vm.name, level: 1 }).waitFor({ timeout: 20_000 });
      await viewer.getByRole('region', { name: 'Snapshots' }).getByText(`${vm.name} has no snapshot.`).waitFor({ timeout: 30_000 });
    }
    expect(await newestTask()).toBe(before);
    await viewer.close();
  });

  it('shows a backup as one job with both steps, the VM named, a summary and a log', async () => {
    await backUp();
    await page.goto(`${e2e.t.server.url}/jobs`);
    const row = page.getByRole('table', { name: 'Jobs' }).locator('tbody tr').filter({ hasText: vm.name });
    await row.waitFor({ timeout: 20_000 });
    expect(await row.count()).toBe(1);
    const rowText = await row.innerText();
    expect(rowText).toContain(`Backup · VM ${vm.name}`);
    expect(rowText).toContain('Export → Store');
    expect(rowText).toMatch(/Read \d/);
    await row.getByRole('link', { name: new RegExp(vm.name) }).click();
    await page.getByRole('heading', { name: `Backup · VM ${vm.name}`, level: 1 }).waitFor();
    expect(await page.getByTestId('job-step-1').getAttribute('aria-label')).toBe('Step 1: Export');
    expect(await page.getByTestId('job-step-2').getAttribute('aria-label')).toBe('Step 2: Store');
    const summary = await page.getByRole('region', { name: 'Summary' }).innerText();
    expect(summary).toMatch(/Read\s+2(\.00)? MiB/);
    expect(summary).toContain('Duration');
    expect(await page.getByRole('log', { name: 'Job log' }).innerText()).toMatch(/Store: backup .* stored/);
    await page.screenshot({ path: path.join(SHOTS, 'job-backup.png'), fullPage: true });
  });

  it('labels each bar as it is drawn, counting only the bytes read (an unchanged incremental reads 0 B)', async () => {
    const [, store] = await backUp();
    const stored = await taskEnded(e2e.t.api, e2e.admin, store!);
    expect(stored.result).toMatchObject({ type: 'incremental' });
    const read = (stored.result as { bytesRead: number }).bytesRead;
    expect(read).toBeLessThan(MiB);
    await page.goto(`${e2e.t.server.url}/tasks/${store}`);
    await page.getByRole('heading', { name: new RegExp(`^Task ${store}`) }).waitFor();
    const [bar] = await bars(page);
    expect(bar).toBeDefined();
    expect(Math.abs(bar!.drawn - Number(bar!.valuenow))).toBeLessThan(1);
    // Not "100% · 32 MiB of 32 MiB": the disk's size is no part of an incremental that read nothing.
    expect(bar!.text).not.toContain('32 MiB');
    expect(bar!.text).toBe(read === 0 ? '100%' : `100% · ${formatBytes(read)} of ${formatBytes(read)}`);
    await page.screenshot({ path: path.join(SHOTS, 'job-incremental-progress.png'), fullPage: true });
    // Every bar on the job page is drawn as full as its label says.
    await page.goto(`${e2e.t.server.url}/jobs/w${stored.workflowId}`);
    await page.getByTestId('job-step-2').waitFor();
    for (const b of await bars(page)) {
      expect(Math.abs(b.drawn - Number(b.valuenow)), `${b.name}: ${b.text}`).toBeLessThan(1);
      expect(b.text.startsWith(`${b.valuenow}%`), `${b.name}: ${b.text}`).toBe(true);
    }
  });

  it('shows a policy run of two VMs as one job whose page has both VMs and their steps', async () => {
    const policy = await e2e.api<{ message?: string }>('POST', '/api/policies', { name: 'pair', destination: 'local', assignment: { include: [`^jobs-e2e-${tag}`] } });
    expect(policy.status, policy.body.message).toBe(201);
    const run = await e2e.api<PolicyRun>('POST', '/api/policies/pair/run', {});
    expect(run.status).toBe(202);
    await waitFor('the run to end', async () => ((await e2e.api<JobDetails>('GET', `/api/jobs/p${run.body.id}`)).body.state === 'FINISHED' ? true : undefined), 180_000);

    await page.goto(`${e2e.t.server.url}/jobs`);
    const rows = page.getByRole('table', { name: 'Jobs' }).locator('tbody tr');
    const row = rows.filter({ hasText: 'Policy run · pair' });
    await row.waitFor({ timeout: 20_000 });
    // One row for the run; its VMs' backups are inside it, not rows of their own.
    expect(await row.count()).toBe(1);
    expect(await rows.filter({ hasText: other.name }).count()).toBe(0);
    const rowText = await row.innerText();
    expect(rowText).toContain('2 VMs · 2 ok');
    expect(rowText).toMatch(/Read \d/);
    await page.screenshot({ path: path.join(SHOTS, 'jobs-policy-run-row.png'), fullPage: true });

    await row.getByRole('link', { name: 'Policy run · pair' }).click();
    await page.getByRole('heading', { name: 'Policy run · pair', level: 1 }).waitFor();
    expect(await page.getByRole('region', { name: 'Summary' }).innerText()).toMatch(/VMs\s+2\/2/);
    const lines = page.getByRole('region', { name: 'Virtual machines' });
    for (const v of [vm, other]) {
      const line = lines.locator('tbody tr').filter({ hasText: v.name }).filter({ has: page.getByRole('link', { name: v.name, exact: true }) });
      expect(await line.getAttribute('data-state')).toBe('FINISHED');
      for (const [i, step] of ['Export', 'Store'].entries()) expect(await line.getByRole('group', { name: `${v.name} step ${i + 1}: ${step}` }).getAttribute('data-state')).toBe('FINISHED');
    }
    await page.screenshot({ path: path.join(SHOTS, 'job-policy-run.png'), fullPage: true });

    // A VM's own job: both steps, and the way back to its run.
    await lines.getByRole('link', { name: other.name, exact: true }).click();
    await page.getByRole('heading', { name: `Backup · VM ${other.name}`, level: 1 }).waitFor();
    expect(await page.getByTestId('job-step-2').getAttribute('aria-label')).toBe('Step 2: Store');
    await page.getByRole('link', { name: 'run of policy pair' }).click();
    await page.getByRole('heading', { name: 'Policy run · pair', level: 1 }).waitFor();

    // Experts can still list each VM's job on its own line.
    await page.goto(`${e2e.t.server.url}/jobs?flat=1`);
    const flat = page.getByRole('table', { name: 'Jobs' }).locator('tbody tr').filter({ has: page.getByRole('link', { name: '· run of pair' }) });
    await expect.poll(() => flat.count(), { timeout: 20_000 }).toBe(2);
  });
});
