import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HistorySettings } from '../../common/api/history.js';
import type { TaskPage } from '../../common/api/tasks.js';
import type { Catalog } from '../../electron/server/db/catalog.js';
import { DAY_MS, openTestCatalog } from '../support/catalog-rows.js';
import { SHOTS, startSignedInE2e, type SignedInE2e } from '../support/e2e-setup.js';

/**
 * Settings → History in Chromium: limits set in the form (a too-short one refused under its
 * field), a prune run from there that removes the old tasks and audit entries; then the Tasks
 * and Audit log pages page through what is left by cursor, every row once, newer and older.
 */
describe('history limits and cursor pages in the admin UI', () => {
  let e2e: SignedInE2e;
  let page: Page;
  let catalog: Catalog;
  const now = Date.now();
  const RECENT = 120;

  beforeAll(async () => {
    e2e = await startSignedInE2e({ page: { viewport: { width: 1440, height: 1000 }, locale: 'en-GB' } });
    page = e2e.page;
    catalog = openTestCatalog(e2e.t);
    // Tasks and audit entries of the last 120 days, one a day, and as many from two years ago.
    for (const [daysBack, tag] of [
      [0, 'recent'],
      [730, 'old'],
    ] as const) {
      await catalog.execute(
        `INSERT INTO tasks (type, state, subject, params, created_at, finished_at)
         SELECT 'VERIFY', 'FINISHED', CONCAT('destination:${tag}-', seq), '{}', ? - INTERVAL seq DAY, ? - INTERVAL seq DAY FROM seq_1_to_${RECENT}`,
        [new Date(now - daysBack * DAY_MS), new Date(now - daysBack * DAY_MS)],
      );
      await catalog.execute(`INSERT INTO audit_log (at, actor, action, target) SELECT ? - INTERVAL seq DAY, 'admin', 'policy.update', CONCAT('policy:${tag}-', seq) FROM seq_1_to_${RECENT}`, [
        new Date(now - daysBack * DAY_MS),
      ]);
    }
  });
  afterAll(async () => {
    await catalog?.close();
    await e2e?.close();
  });

  /** The ids in the Tasks table, top to bottom. */
  const shownTaskIds = async (): Promise<number[]> =>
    (await page.getByRole('table', { name: 'Tasks' }).getByRole('link', { name: /^Task \d+$/ }).allTextContents()).map(Number);
  const shownTargets = async (): Promise<string[]> => page.getByRole('table', { name: 'Audit log' }).locator('tbody tr td:nth-child(4)').allTextContents();

  it('sets the limits in Settings → History and prunes the old history from there', async () => {
    await page.getByRole('link', { name: 'Settings', exact: true }).click();
    await page.getByRole('tab', { name: 'History' }).click();
    const form = page.getByRole('form', { name: 'History limits' });
    await form.getByLabel('Task logs', { exact: true }).waitFor({ timeout: 20_000 });
    await form.getByLabel('Task logs', { exact: true }).fill('3');
    await form.getByLabel('Other tasks', { exact: true }).fill('180');
    await form.getByLabel('Audit entries', { exact: true }).fill('180');
    await form.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => form.getByText('At least 7 days').isVisible(), { timeout: 10_000 }).toBe(true);
    await form.getByLabel('Task logs', { exact: true }).fill('30');
    await form.getByLabel('Keep policy runs for ever').check({ force: true });
    await form.getByRole('button', { name: 'Save' }).click();
    await expect.poll(async () => (await e2e.api<HistorySettings>('GET', '/api/settings/history')).body.limits, { timeout: 10_000 }).toEqual({
      taskLogsDays: 30,
      tasksDays: 180,
      workflowsDays: 365,
      policyRunsDays: null,
      auditDays: 180,
    });

    await page.getByRole('button', { name: 'Prune now' }).click();
    const status = page.getByTestId('prune-status');
    await expect.poll(() => status.textContent(), { timeout: 60_000 }).toMatch(/^Last pruned .+ \(by admin\): removed 0 log lines, 120 tasks, 0 jobs, 0 policy runs and 120 audit entries\.$/);
    await expect.poll(() => page.getByRole('table', { name: 'Catalog size by table' }).isVisible()).toBe(true);
    await page.screenshot({ path: path.join(SHOTS, 'history-settings.png'), fullPage: true });
  });

  it('pages through the tasks by cursor: every task once, older and newer', async () => {
    const all = (await e2e.api<TaskPage>('GET', '/api/tasks?limit=500')).body;
    expect(all.nextCursor).toBeNull();
    const expected = all.tasks.map((t) => t.id);
    expect(expected.length).toBe(RECENT);

    await page.getByRole('link', { name: 'Tasks', exact: true }).click();
    const pager = page.getByRole('navigation', { name: 'Pages of tasks' });
    await pager.getByText('The newest 50 tasks').waitFor({ timeout: 20_000 });
    const pages: number[][] = [await shownTaskIds()];
    while (await pager.getByRole('button', { name: 'Older' }).isEnabled()) {
      const before = pages.at(-1)!;
      await pager.getByRole('button', { name: 'Older' }).click();
      await expect.poll(async () => (await shownTaskIds())[0] !== before[0], { timeout: 20_000 }).toBe(true);
      await pager.getByText(`Page ${pages.length + 1}:`).waitFor();
      pages.push(await shownTaskIds());
    }
    expect(pages.flat()).toEqual(expected);
    expect(pages.length).toBe(Math.ceil(expected.length / 50));

    await pager.getByRole('button', { name: 'Newer' }).click();
    await expect.poll(() => shownTaskIds(), { timeout: 20_000 }).toEqual(pages.at(-2));
    await pager.getByRole('button', { name: 'Newest' }).click();
    await expect.poll(() => shownTaskIds(), { timeout: 20_000 }).toEqual(pages[0]);

    // A filter pages by cursor too, and starts again from its newest.
    await page.getByLabel('Subject').fill('destination:recent-60');
    await expect.poll(() => shownTaskIds(), { timeout: 20_000 }).toEqual(all.tasks.filter((t) => t.subject === 'destination:recent-60').map((t) => t.id));
    expect(await pager.count()).toBe(0);
  });

  it('pages through the audit log by cursor, filters by action', async () => {
    await page.getByRole('link', { name: 'Audit log', exact: true }).click();
    const pager = page.getByRole('navigation', { name: 'Pages of entries' });
    await pager.getByText('The newest 50 entries').waitFor({ timeout: 20_000 });
    const targets: string[] = [...(await shownTargets())];
    for (let n = 2; await pager.getByRole('button', { name: 'Older' }).isEnabled(); n++) {
      const previous = (await shownTargets()).join('\n');
      await pager.getByRole('button', { name: 'Older' }).click();
      await pager.getByText(`Page ${n}:`).waitFor({ timeout: 20_000 });
      // The pager's line can change before the table's rows do (seen once under load): wait for the rows too.
      await expect.poll(async () => (await shownTargets()).join('\n'), { timeout: 20_000 }).not.toBe(previous);
      targets.push(...(await shownTargets()));
    }
    // The recent entries, newest first, each once; the old ones were pruned.
    const written = targets.filter((x) => x.startsWith('policy:'));
    expect(written).toEqual(Array.from({ length: RECENT }, (_, i) => `policy:recent-${i + 1}`));
    const counted = await catalog.query<{ n: number }>('SELECT COUNT(*) AS n FROM audit_log');
    expect(targets.length).toBe(Number(counted[0]?.n));

    await page.getByLabel('Action').fill('history.');
    await expect.poll(async () => (await page.getByRole('table', { name: 'Audit log' }).locator('tbody tr td:nth-child(3)').allTextContents()).join(','), { timeout: 20_000 }).toBe(
      'history.prune,history.update',
    );
  });
});
