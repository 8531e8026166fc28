import fs from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Task } from '../../common/api/tasks.js';
import { defaultHandlers } from '../../node-service/agent/node-service.js';
import { addDestination, addHypervisor, SHOTS, startSignedInE2e, type SignedInE2e } from '../support/e2e-setup.js';
import { ensureLibvirt } from '../support/libvirt-host.js';
import { enrollTestNode, type TestNode } from '../support/test-node.js';
import { makeTempDir, taskEnded } from '../support/test-server.js';

/**
 * Issue 12, first run: the dashboard's getting-started checklist ticks itself as a fresh server
 * gets a node, a destination, a hypervisor and a policy, and goes away; then a failed task
 * leads the dashboard and links to the task.
 */
describe('getting started and the failures panel in Chromium', () => {
  let e2e: SignedInE2e;
  let page: Page;
  let node: TestNode | undefined;
  const repo = path.join(makeTempDir('getting-started'), 'vplus');

  beforeAll(async () => {
    await ensureLibvirt();
    e2e = await startSignedInE2e();
    page = e2e.page;
  });
  afterAll(async () => {
    await node?.stop();
    await e2e?.close();
  });

  const checklist = () => page.getByTestId('getting-started');
  const step = (label: string, state: 'done' | 'to do') => checklist().getByRole('listitem', { name: `${label}: ${state}` });
  const dashboard = async (): Promise<void> => {
    await page.goto(e2e.t.server.url);
    await page.getByRole('heading', { name: 'Dashboard', level: 1 }).waitFor({ timeout: 20_000 });
  };

  it('shows the four steps undone on an empty server, each linking to its form', async () => {
    await dashboard();
    await checklist().waitFor({ timeout: 20_000 });
    expect(await page.title()).toBe('Dashboard · vPlus');
    for (const label of ['Install a node', 'Add a destination', 'Add a hypervisor', 'Create a policy']) {
      await step(label, 'to do').waitFor({ timeout: 20_000 });
    }
    expect(await checklist().innerText()).toContain('0 of 4 done');
    await page.screenshot({ path: path.join(SHOTS, 'getting-started-empty.png'), fullPage: true });
    // A step's button opens its form, not only its page.
    await checklist().getByRole('link', { name: 'Add destination' }).click();
    await page.getByRole('dialog', { name: 'Add destination' }).waitFor({ timeout: 20_000 });
    expect(await page.title()).toBe('Destinations · vPlus');
    await page.keyboard.press('Escape');
    await dashboard();
    await checklist().getByRole('link', { name: 'Install node' }).click();
    await expect.poll(() => new URL(page.url()).pathname).toBe('/nodes/install');
  });

  it('can be dismissed, and stays dismissed in this browser', async () => {
    await dashboard();
    await page.getByRole('button', { name: 'Dismiss the getting-started checklist' }).click();
    await expect.poll(() => checklist().count(), { timeout: 10_000 }).toBe(0);
    await dashboard();
    await page.getByTestId('dashboard-problems').waitFor({ timeout: 20_000 });
    expect(await checklist().count()).toBe(0);
    // Back for the next test, which watches it tick.
    await page.evaluate("localStorage.removeItem('vplus.getting-started.dismissed')");
    await dashboard();
    await checklist().waitFor({ timeout: 20_000 });
  });

  it('ticks each step as the node, destination, hypervisor and policy appear, then goes away', async () => {
    node = await enrollTestNode(e2e.t.api, e2e.admin, { name: 'first', handlers: (mount) => defaultHandlers({ name: 'first' }, {}, mount), serverUrl: e2e.t.server.url, fingerprint: e2e.t.server.fingerprint });
    await dashboard();
    await step('Install a node', 'done').waitFor({ timeout: 20_000 });
    await step('Add a destination', 'to do').waitFor();

    await addDestination(e2e, { name: 'nas', node: 'first', path: repo });
    await dashboard();
    await step('Add a destination', 'done').waitFor({ timeout: 20_000 });
    expect(await checklist().innerText()).toContain('2 of 4 done');

    await addHypervisor(e2e, { name: 'kvm1', node: 'first' });
    await dashboard();
    await step('Add a hypervisor', 'done').waitFor({ timeout: 20_000 });
    await step('Create a policy', 'to do').waitFor();
    await page.screenshot({ path: path.join(SHOTS, 'getting-started-3-of-4.png'), fullPage: true });

    const policy = await e2e.api<{ message?: string }>('POST', '/api/policies', { name: 'nightly', destination: 'nas', schedules: ['incremental daily 22:00'], retention: { daily: 7 }, assignment: { include: ['^nothing-matches$'] } });
    expect(policy.status, policy.body.message).toBe(201);
    await dashboard();
    await page.getByTestId('dashboard-problems').waitFor({ timeout: 20_000 });
    await expect.poll(() => checklist().count(), { timeout: 20_000 }).toBe(0);
  });

  it('leads with a failed task of the last 24 hours, linking to it', async () => {
    expect(await page.getByTestId('dashboard-problems').innerText()).toContain('Nothing failed');
    // The repository is gone from under the destination: its verify fails for real.
    fs.rmSync(repo, { recursive: true, force: true });
    const started = await e2e.api<Task>('POST', '/api/destinations/nas/verify', {});
    expect(started.status).toBe(202);
    const task = await taskEnded(e2e.t.api, e2e.admin, started.body.id);
    expect(task.state).toBe('FAILED');
    await dashboard();
    const panel = page.getByTestId('dashboard-problems');
    await expect.poll(() => panel.textContent(), { timeout: 20_000 }).toMatch(/1 failed/);
    // The server's reason is shown with it, not only a state.
    expect(await panel.innerText()).toContain(task.error!);
    await page.screenshot({ path: path.join(SHOTS, 'dashboard-failures.png'), fullPage: true });
    await panel.getByRole('link', { name: /Verify/ }).first().click();
    await expect.poll(() => new URL(page.url()).pathname, { timeout: 20_000 }).toBe(`/tasks/${task.id}`);
    await expect.poll(() => page.title()).toMatch(/ · vPlus$/);
  });
});
