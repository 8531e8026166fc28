import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Policy } from '../../common/api/policies.js';
import { addDestination, addHypervisor, SHOTS, startSignedInE2e, type SignedInE2e } from '../support/e2e-setup.js';
import { ensureLibvirt, LibvirtTestHost } from '../support/libvirt-host.js';

const POLICY = 'picked-e2e';
const OTHER = 'other-e2e';

/**
 * Issue 12, item 6: VMs chosen by ticking them in the policy form, besides the regex rules.
 * Create a policy by ticking two VMs (they are its VMs by hand), edit it to untick one and
 * tick a VM of another policy (which says it moves), and see the VM the rules match marked
 * as such; a refused VM change leaves the new policy open in its edit form with the reason.
 * On a real libvirt host whose VMs are only defined: listing them is all the form needs.
 */
describe('choosing a policy’s VMs from a checklist in Chromium', () => {
  let e2e: SignedInE2e;
  let host: LibvirtTestHost;
  let page: Page;
  // Other tests' VMs may share the host: ours carry a tag the search box finds.
  const tag = `pick-${randomBytes(3).toString('hex')}`;
  const vm = { a: `${tag}-a`, b: `${tag}-b`, rule: `${tag}-rule`, moving: `${tag}-moving` };

  const checklist = () => page.getByTestId('vm-checklist');
  const choice = (name: string) => checklist().locator(`[data-vm="${name}"]`);
  const box = (name: string) => checklist().getByRole('checkbox', { name, exact: true });
  // textContent: badges are upper-cased by CSS only.
  const says = async (name: string): Promise<string> => (await choice(name).textContent()) ?? '';
  /** The policy page's VMs of this test, as name:source (source: manual or auto). */
  const members = async (policy: string): Promise<string[]> => {
    const rows = page.getByRole('table', { name: `Virtual machines in ${policy}` }).locator('tbody tr');
    const found: string[] = [];
    for (const row of await rows.all()) {
      const name = (await row.locator('td').first().innerText()).trim();
      if (name.startsWith(tag)) found.push(`${name}:${await row.locator('[data-source]').getAttribute('data-source')}`);
    }
    return found.sort();
  };
  const policyVms = async (name: string): Promise<string[]> =>
    (await e2e.api<Policy>('GET', `/api/policies/${name}`)).body.vms.filter((v) => v.name.startsWith(tag)).map((v) => `${v.name}:${v.source}`).sort();
  const openChecklist = async () => {
    await page.getByLabel('Search VMs').fill(tag);
    await expect.poll(() => checklist().locator('[data-vm]').count(), { timeout: 20_000 }).toBe(4);
  };

  beforeAll(async () => {
    await ensureLibvirt();
    host = new LibvirtTestHost('e2e-checklist');
    for (const name of Object.values(vm)) await host.defineVm([{ target: 'vda', path: await host.createDisk(`${name}.qcow2`, 4) }], name);

    // 900 px high: the form, its checklist included, has to work on such a screen.
    e2e = await startSignedInE2e({ server: { nodeHeartbeatSeconds: 1 }, node: 'checklist-e2e', page: { viewport: { width: 1440, height: 900 }, locale: 'en-GB' } });
    page = e2e.page;
    await addDestination(e2e, { name: 'local', node: 'checklist-e2e', path: path.join(host.subdir('repo'), 'vplus') });
    await addHypervisor(e2e, { name: 'kvm1', node: 'checklist-e2e' });
    expect((await e2e.api('POST', '/api/policies', { name: OTHER, destination: 'local' })).status).toBe(201);
    expect((await e2e.api('POST', `/api/policies/${OTHER}/assign`, { vms: [vm.moving] })).status).toBe(200);
  });
  afterAll(async () => {
    await e2e?.close();
    await host?.cleanup();
  });

  it('creates a policy by ticking two VMs: the policy page lists them as added by hand', async () => {
    await page.goto(`${e2e.t.server.url}/policies/new`);
    await page.getByRole('heading', { name: 'Create policy', level: 1 }).waitFor();
    await page.getByLabel('Name', { exact: true }).fill(POLICY);
    await expect.poll(() => page.getByRole('combobox', { name: 'Destination' }).inputValue()).toBe('local (on checklist-e2e)');
    await page.getByRole('textbox', { name: 'Include pattern 1' }).fill(`^${tag}-rule$`);

    await openChecklist();
    // Labelled by host; the rules' VM marked, the other policy's VM named with it.
    expect(await checklist().getByRole('group', { name: 'VMs on kvm1' }).count()).toBe(1);
    await expect.poll(() => choice(vm.rule).getAttribute('data-matched'), { timeout: 10_000 }).toBe('true');
    expect(await says(vm.rule)).toContain('Matched by rules');
    expect(await choice(vm.a).getAttribute('data-matched')).toBe('false');
    expect(await says(vm.moving)).toContain(`In policy ${OTHER}`);

    await box(vm.a).check();
    await box(vm.b).check();
    expect(await checklist().textContent()).toContain('2 ticked');
    // The list scrolls inside a box of its own height whatever the inventory, so the form fits a 900 px screen.
    const list = page.getByTestId('vm-checklist-scroll');
    const maxHeight = await page.evaluate(`getComputedStyle(document.querySelector('[data-testid="vm-checklist-scroll"]')).maxHeight`);
    expect(Number.parseFloat(String(maxHeight))).toBeLessThanOrEqual(300);
    expect((await list.boundingBox())?.height ?? Infinity).toBeLessThanOrEqual(300);
    await page.screenshot({ path: path.join(SHOTS, 'policy-vm-checklist.png'), fullPage: true });

    await page.getByRole('button', { name: 'Create policy' }).click();
    await page.getByRole('heading', { name: POLICY, level: 1 }).waitFor({ timeout: 20_000 });
    await expect.poll(() => members(POLICY), { timeout: 10_000 }).toEqual([`${vm.a}:manual`, `${vm.b}:manual`, `${vm.rule}:auto`]);
  });

  it('edits it: an unticked VM leaves, the other stays, a VM of another policy moves here', async () => {
    await page.getByRole('link', { name: 'Edit', exact: true }).click();
    await page.getByRole('heading', { name: `Edit policy ${POLICY}`, level: 1 }).waitFor();
    await openChecklist();
    expect(await box(vm.a).isChecked()).toBe(true);
    expect(await box(vm.b).isChecked()).toBe(true);
    // In by its rules, not by hand: shown so, and not ticked.
    expect(await box(vm.rule).isChecked()).toBe(false);
    const rule = await says(vm.rule);
    expect(rule).toContain('Matched by rules');
    expect(rule).toContain('In this policy by its rules');

    await box(vm.b).uncheck();
    expect(await says(vm.b)).toContain('Leaves this policy');
    await box(vm.moving).check();
    expect(await says(vm.moving)).toContain(`Moves here from policy ${OTHER}`);
    await page.screenshot({ path: path.join(SHOTS, 'policy-vm-checklist-edit.png'), fullPage: true });

    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByRole('heading', { name: POLICY, level: 1 }).waitFor({ timeout: 20_000 });
    await expect.poll(() => members(POLICY), { timeout: 10_000 }).toEqual([`${vm.a}:manual`, `${vm.moving}:manual`, `${vm.rule}:auto`]);
    expect(await policyVms(OTHER)).toEqual([]);
  });

  it('a refused VM change leaves the new policy open in its edit form, with the server’s reason', async () => {
    await page.goto(`${e2e.t.server.url}/policies/new`);
    await page.getByRole('heading', { name: 'Create policy', level: 1 }).waitFor();
    await page.getByLabel('Name', { exact: true }).fill('second-e2e');
    await openChecklist();
    await box(vm.b).check();
    // The VM is gone by the time the form saves: the server is asked about one it does not know.
    await page.route('**/api/policies/*/vms', (route) => route.continue({ postData: JSON.stringify({ assign: ['999999999'] }) }));
    await page.getByRole('button', { name: 'Create policy' }).click();

    await page.getByRole('heading', { name: 'Edit policy second-e2e', level: 1 }).waitFor({ timeout: 20_000 });
    expect(page.url()).toMatch(/\/policies\/\d+\/edit$/);
    const refusal = page.getByTestId('vms-refusal');
    await refusal.waitFor();
    expect(await refusal.innerText()).toMatch(/there is no VM "999999999"/i);
    expect(await refusal.innerText()).toContain('second-e2e was created');
    await page.unroute('**/api/policies/*/vms');
    await openChecklist();
    // What was ticked still is: saving again finishes the job.
    expect(await box(vm.b).isChecked()).toBe(true);
    expect(await policyVms('second-e2e')).toEqual([]);
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByRole('heading', { name: 'second-e2e', level: 1 }).waitFor({ timeout: 20_000 });
    await expect.poll(() => members('second-e2e'), { timeout: 10_000 }).toEqual([`${vm.b}:manual`]);
  });
});
