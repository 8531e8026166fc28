import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addDestination, SHOTS, startSignedInE2e, type SignedInE2e } from '../support/e2e-setup.js';
import { makeTempDir } from '../support/test-server.js';

interface PolicyBody {
  id: number;
  schedules: string[];
}

/**
 * The schedule builder (issue 12, item 6): days, times, full or incremental, every N hours in a
 * range; it writes the same rule text as the text form, switching keeps the rules, and a rule
 * it cannot show stays as text with a note.
 */
describe('schedule builder in Chromium', () => {
  let e2e: SignedInE2e;
  let page: Page;

  beforeAll(async () => {
    e2e = await startSignedInE2e({ server: { nodeHeartbeatSeconds: 1 }, node: 'builder-e2e', page: { viewport: { width: 1440, height: 1000 }, locale: 'en-GB' } });
    page = e2e.page;
    await addDestination(e2e, { name: 'local', node: 'builder-e2e', path: path.join(makeTempDir('builder-repo'), 'vplus') });
  });
  afterAll(async () => {
    await e2e?.close();
  });

  const textRule = (row: number) => page.getByRole('textbox', { name: `Schedule rule ${row}` });
  const mode = (name: 'Builder' | 'Text') => page.getByRole('radiogroup', { name: 'Write the schedule with' }).getByText(name, { exact: true }).click();

  it('builds rules that read exactly like the ones typed in the text form', async () => {
    await page.goto(`${e2e.t.server.url}/policies/new`);
    await page.getByRole('heading', { name: 'Create policy', level: 1 }).waitFor();
    await page.getByLabel('Name', { exact: true }).fill('built');

    // A new policy starts in the builder, with a rule that is saved as shown.
    await expect.poll(() => page.getByTestId('builder-rule-1').textContent()).toBe('Rule: incremental mon-fri 22:00');
    const rule1 = page.getByRole('group', { name: 'Rule 1' });
    await rule1.getByText('Full', { exact: true }).click();
    await rule1.getByRole('button', { name: 'Weekend' }).click();
    await page.getByLabel('Time 1, rule 1').fill('03:30');
    await page.getByRole('combobox', { name: 'Must start within, rule 1' }).click();
    await page.getByRole('option', { name: '2 hours', exact: true }).click();
    await expect.poll(() => page.getByTestId('builder-rule-1').textContent()).toBe('Rule: full sat,sun 03:30 window 2h');

    await page.getByRole('button', { name: 'Add rule' }).click();
    const rule2 = page.getByRole('group', { name: 'Rule 2' });
    await rule2.getByRole('button', { name: 'Every day' }).click();
    await rule2.getByText('Every few hours', { exact: true }).click();
    await page.getByLabel('Every how many hours, rule 2').fill('4');
    await page.getByLabel('From, rule 2').fill('08:00');
    await page.getByLabel('To, rule 2').fill('20:00');
    await expect.poll(() => page.getByTestId('builder-rule-2').textContent()).toBe('Rule: incremental every 4h 08:00-20:00');
    const nextRuns = page.getByTestId('next-runs-preview');
    await expect.poll(() => nextRuns.locator('tbody tr').count(), { timeout: 10_000 }).toBe(10);
    await page.screenshot({ path: path.join(SHOTS, 'schedule-builder.png'), fullPage: true });

    // The text form shows the very rules the builder wrote; the same text typed there is the same rule.
    await mode('Text');
    expect(await textRule(1).inputValue()).toBe('full sat,sun 03:30 window 2h');
    expect(await textRule(2).inputValue()).toBe('incremental every 4h 08:00-20:00');
    await textRule(2).fill('incremental mon,tue,wed,thu,fri,sat,sun every 4h 08:00-20:00');
    await page.getByRole('button', { name: 'Add rule' }).click();
    await textRule(3).fill('full last fri 23:00');

    // Back in the builder: the rules it can show are choices again, the one it cannot stays as text with a note.
    await mode('Builder');
    await expect.poll(() => page.getByTestId('builder-rule-1').textContent()).toBe('Rule: full sat,sun 03:30 window 2h');
    expect(await page.getByTestId('builder-rule-2').textContent()).toBe('Rule: incremental every 4h 08:00-20:00');
    expect(await textRule(3).inputValue()).toBe('full last fri 23:00');
    await page.getByText('The builder cannot show this rule').waitFor();
    expect(await page.getByTestId('builder-rule-3').count()).toBe(0);

    await page.getByRole('button', { name: 'Create policy' }).click();
    await page.getByRole('heading', { name: 'built', level: 1 }).waitFor();
    const saved = await e2e.api<PolicyBody>('GET', '/api/policies/built');
    // The builder's rules are saved in their canonical text (rule 2 was typed in a longer form).
    expect(saved.body.schedules).toEqual(['full sat,sun 03:30 window 2h', 'incremental every 4h 08:00-20:00', 'full last fri 23:00']);
  });

  it('a policy created from text reads the same in the builder, and an unfinished choice is not saved', async () => {
    const typed = await e2e.api<PolicyBody>('POST', '/api/policies', { name: 'typed', destination: 'local', schedules: ['incremental mon-fri 22:00'] });
    expect(typed.status).toBe(201);
    await page.goto(`${e2e.t.server.url}/policies/typed/edit`);
    await expect.poll(() => page.getByTestId('builder-rule-1').textContent()).toBe('Rule: incremental mon-fri 22:00');

    // No day chosen: the form refuses to save, rather than keep the older rule.
    const rule1 = page.getByRole('group', { name: 'Rule 1' });
    // The chips' inputs are hidden; people click the chip.
    for (const day of ['Mon', 'Tue', 'Wed', 'Thu', 'Fri']) await rule1.getByText(day, { exact: true }).click();
    expect(await rule1.getByRole('checkbox', { name: 'Monday' }).isChecked()).toBe(false);
    await rule1.getByText('Choose at least one day').first().waitFor();
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.waitForTimeout(500);
    expect((await e2e.api<PolicyBody>('GET', '/api/policies/typed')).body.schedules).toEqual(['incremental mon-fri 22:00']);

    await rule1.getByText('Sun', { exact: true }).click();
    await expect.poll(() => page.getByTestId('builder-rule-1').textContent()).toBe('Rule: incremental sun 22:00');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await expect.poll(async () => (await e2e.api<PolicyBody>('GET', '/api/policies/typed')).body.schedules).toEqual(['incremental sun 22:00']);
  });
});
