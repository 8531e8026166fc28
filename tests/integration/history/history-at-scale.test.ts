import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditPage } from '../../../common/api/audit.js';
import type { HistoryLimits, HistorySettings } from '../../../common/api/history.js';
import type { PolicyRunPage } from '../../../common/api/policies.js';
import type { TaskPage } from '../../../common/api/tasks.js';
import { SCALE_DESTINATIONS, scaleVmName } from '../../../electron/server/db/scale-fixture.js';
import { DAY_MS } from '../../support/catalog-rows.js';
import { startScaleServer, type ScaleServer } from '../../support/scale-catalog.js';

/**
 * The lists and history pruning on the scale fixture (40 VMs, 120 nights): each task, audit
 * and policy-run filter, paged by cursor, gives what a plain query of the catalog gives, also
 * from a page deep in the history; a prune removes what the limits say of the fixture's
 * history, and never a backup.
 */
const VMS = 40;
const DAYS = 120;

describe('lists and pruning on the scale fixture', () => {
  let s: ScaleServer;
  const now = Date.now();
  const iso = (daysAgo: number): string => new Date(now - daysAgo * DAY_MS).toISOString();
  const sqlTime = (daysAgo: number): Date => new Date(now - daysAgo * DAY_MS);

  beforeAll(async () => {
    s = await startScaleServer({ vms: VMS, days: DAYS, now: new Date(now) });
  });
  afterAll(async () => {
    await s?.destroy();
  });

  const get = async <T>(path: string): Promise<T> => {
    const res = await s.api.request<T>('GET', path, undefined, { token: s.token });
    expect(res.status, `${path}: ${res.text}`).toBe(200);
    return res.body;
  };
  /** Every page from `cursor` on (all of them without one), the ids in the order given. */
  async function pagedIds(path: string, rowsOf: (page: never) => { id: number }[], cursor?: string): Promise<number[]> {
    const ids: number[] = [];
    let next: string | null = cursor ?? null;
    do {
      const page: { nextCursor: string | null } = await get(next === null ? path : `${path}&cursor=${encodeURIComponent(next)}`);
      ids.push(...rowsOf(page as never).map((r) => r.id));
      next = page.nextCursor;
    } while (next !== null);
    return ids;
  }
  const plainIds = async (sql: string, params: unknown[] = []): Promise<number[]> => (await s.catalog.query<{ id: number }>(sql, params as never)).map((r) => Number(r.id));

  it('each task filter pages through exactly what a plain query finds, also from deep in the history', async () => {
    const node2 = (await s.catalog.query<{ id: number }>("SELECT id FROM nodes WHERE name = 'scale-node-2'"))[0]!.id;
    const cases: [string, string, unknown[]][] = [
      ['state=FAILED', "state = 'FAILED'", []],
      ['type=STORE', "type = 'STORE'", []],
      ['node=scale-node-2', "(node_id = ? OR required_node_id = ? OR subject = 'node:scale-node-2')", [node2, node2]],
      [`subject=vm:${scaleVmName(3)}`, 'subject = ?', [`vm:${scaleVmName(3)}`]],
      [`from=${iso(67)}&to=${iso(60)}`, 'created_at >= ? AND created_at < ?', [sqlTime(67), sqlTime(60)]],
      [`state=FINISHED&type=EXPORT&from=${iso(100)}&to=${iso(93)}`, "state = 'FINISHED' AND type = 'EXPORT' AND created_at >= ? AND created_at < ?", [sqlTime(100), sqlTime(93)]],
    ];
    for (const [query, where, params] of cases) {
      const expected = await plainIds(`SELECT id FROM tasks WHERE ${where} ORDER BY created_at DESC, id DESC`, params);
      expect(expected.length, query).toBeGreaterThan(10);
      expect(await pagedIds(`/api/tasks?limit=100&${query}`, (p: TaskPage) => p.tasks), query).toEqual(expected);
    }
    // From a cursor 90 days back: the rest, in order.
    const all = await s.catalog.query<{ id: number; created_at: Date }>('SELECT id, created_at FROM tasks ORDER BY created_at DESC, id DESC');
    const at = all.findIndex((r) => r.created_at.getTime() < now - 90 * DAY_MS);
    const deep = await pagedIds('/api/tasks?limit=500', (p: TaskPage) => p.tasks, `${all[at]!.created_at.getTime()}.${all[at]!.id}`);
    expect(deep).toEqual(all.slice(at + 1).map((r) => Number(r.id)));
  });

  it('each audit filter and the policy runs page through what a plain query finds', async () => {
    const audit: [string, string, unknown[]][] = [
      ['actor=operator', "actor = 'operator'", []],
      ['action=auth.', "action LIKE 'auth.%'", []],
      [`actor=admin&action=backup.&to=${iso(30)}`, "actor = 'admin' AND action LIKE 'backup.%' AND at < ?", [sqlTime(30)]],
      [`from=${iso(67)}&to=${iso(60)}`, 'at >= ? AND at < ?', [sqlTime(67), sqlTime(60)]],
    ];
    for (const [query, where, params] of audit) {
      const expected = await plainIds(`SELECT id FROM audit_log WHERE ${where} ORDER BY at DESC, id DESC`, params);
      expect(expected.length, query).toBeGreaterThan(10);
      expect(await pagedIds(`/api/audit?limit=100&${query}`, (p: AuditPage) => p.entries), query).toEqual(expected);
    }
    const policy = `nightly-${SCALE_DESTINATIONS[2].name}`;
    expect(await pagedIds(`/api/policies/${policy}/runs?limit=50`, (p: PolicyRunPage) => p.runs)).toEqual(
      await plainIds('SELECT r.id FROM policy_runs r JOIN policies p ON p.id = r.policy_id WHERE p.name = ? ORDER BY r.id DESC', [policy]),
    );
    expect(await pagedIds('/api/policy-runs?limit=100', (p: PolicyRunPage) => p.runs)).toEqual(await plainIds('SELECT id FROM policy_runs ORDER BY id DESC'));
  });

  it('a prune removes what the limits say of the fixture, and no backup', async () => {
    const limits: HistoryLimits = { taskLogsDays: 30, tasksDays: 45, workflowsDays: 60, policyRunsDays: 60, auditDays: 90 };
    // The catalog before, to say afterwards what the limits, counted from the prune's start, leave.
    const tasks = await s.catalog.query<{ id: number; workflow_id: number | null; state: string; finished_at: Date | null }>('SELECT id, workflow_id, state, finished_at FROM tasks');
    const logs = new Map((await s.catalog.query<{ task_id: number; n: number }>('SELECT task_id, COUNT(*) AS n FROM task_logs GROUP BY task_id')).map((r) => [Number(r.task_id), Number(r.n)]));
    const workflows = await s.catalog.query<{ id: number; state: string; finished_at: Date | null; policy_run_id: number | null }>('SELECT id, state, finished_at, policy_run_id FROM workflows');
    const runs = await s.catalog.query<{ id: number; state: string; created_at: Date }>('SELECT id, state, created_at FROM policy_runs');
    const audit = await s.catalog.query<{ id: number; at: Date }>('SELECT id, at FROM audit_log');
    const backups = Number((await s.catalog.query<{ n: number }>('SELECT COUNT(*) AS n FROM backups'))[0]!.n);

    expect((await s.api.request('PUT', '/api/settings/history', limits, { token: s.token })).status).toBe(200);
    expect((await s.api.request('POST', '/api/settings/history/prune', {}, { token: s.token })).status).toBe(202);
    await s.server.history.idle();
    const last = (await get<HistorySettings>('/api/settings/history')).lastPrune!;
    expect(last.error).toBeNull();

    const start = Date.parse(last.startedAt);
    const before = (d: Date | null, days: number): boolean => d !== null && d.getTime() < start - days * DAY_MS;
    const FINAL = ['FINISHED', 'FINISHED_WITH_WARNINGS', 'FAILED', 'CANCELLED'];
    const unfinished = new Set(tasks.filter((t) => !FINAL.includes(t.state)).map((t) => t.workflow_id));
    const goneWorkflows = new Set(workflows.filter((w) => FINAL.includes(w.state) && before(w.finished_at, limits.workflowsDays!) && !unfinished.has(w.id)).map((w) => w.id));
    const goneTasks = new Set(
      tasks.filter((t) => (t.workflow_id !== null ? goneWorkflows.has(t.workflow_id) : FINAL.includes(t.state) && before(t.finished_at, limits.tasksDays!))).map((t) => t.id),
    );
    const keptRunRefs = new Set(workflows.filter((w) => !goneWorkflows.has(w.id)).map((w) => w.policy_run_id));
    const goneRuns = runs.filter((r) => r.state !== 'running' && before(r.created_at, limits.policyRunsDays!) && !keptRunRefs.has(r.id)).map((r) => r.id);
    const goneAudit = audit.filter((e) => before(e.at, limits.auditDays!)).map((e) => e.id);
    const logLinesGone = tasks.reduce((n, t) => n + (goneTasks.has(t.id) || (FINAL.includes(t.state) && before(t.finished_at, limits.taskLogsDays!)) ? (logs.get(t.id) ?? 0) : 0), 0);

    expect(goneWorkflows.size).toBeGreaterThan(VMS * 30);
    expect(goneRuns.length).toBeGreaterThan(0);
    expect(last.removed).toEqual({ taskLogs: logLinesGone, tasks: goneTasks.size, workflows: goneWorkflows.size, policyRuns: goneRuns.length, audit: goneAudit.length });
    const left = async (table: string): Promise<Set<number>> => new Set(await plainIds(`SELECT id FROM ${table}`));
    const leftWorkflows = await left('workflows');
    expect(workflows.filter((w) => !leftWorkflows.has(w.id)).map((w) => w.id).sort()).toEqual([...goneWorkflows].sort());
    const leftTasks = await left('tasks');
    expect(tasks.filter((t) => !leftTasks.has(t.id)).map((t) => t.id).sort()).toEqual([...goneTasks].sort());
    const leftRuns = await left('policy_runs');
    expect(runs.filter((r) => !leftRuns.has(r.id)).map((r) => r.id).sort()).toEqual([...goneRuns].sort());
    expect(Number((await s.catalog.query<{ n: number }>('SELECT COUNT(*) AS n FROM backups'))[0]!.n)).toBe(backups);
    // The lists still page from the first row to the last.
    expect(await pagedIds('/api/tasks?limit=500', (p: TaskPage) => p.tasks)).toEqual(await plainIds('SELECT id FROM tasks ORDER BY created_at DESC, id DESC'));
  });
});
