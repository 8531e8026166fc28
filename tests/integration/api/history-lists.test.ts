import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEntry, AuditPage } from '../../../common/api/audit.js';
import type { PolicyRun, PolicyRunPage } from '../../../common/api/policies.js';
import type { Task, TaskDetails, TaskLogLine, TaskLogPage, TaskPage } from '../../../common/api/tasks.js';
import type { Catalog } from '../../../electron/server/db/catalog.js';
import { DAY_MS, insertRows, openTestCatalog } from '../../support/catalog-rows.js';
import { setupAdmin, startTestServer, type TestServer } from '../../support/test-server.js';

/**
 * The long lists page by cursor (keyset) on a real server and MariaDB: every row once, in order,
 * however many rows arrive between two pages; each filter gives exactly its rows, also a year
 * back; a task's long log pages back from its newest line. Rows are written straight into the
 * catalog from a model, so each answer is checked against what the model says.
 */

const FIRST_ID = 100_000;
const TASKS = 2_400;
const AUDIT = 1_500;
const RUNS = 400;
const STATES = ['FINISHED', 'FINISHED', 'FINISHED', 'FAILED', 'CANCELLED', 'FINISHED_WITH_WARNINGS'] as const;
const TYPES = ['EXPORT', 'STORE', 'VERIFY', 'NODE_CHECK'] as const;
const ACTORS = ['admin', 'operator', 'system', 'node:n1'] as const;
const ACTIONS = ['user.create', 'user.delete', 'policy.update', 'backup.run', 'backup.protect'] as const;
const RUN_STATES = ['finished', 'finished', 'failed', 'missed', 'finished_with_warnings'] as const;

interface ModelTask {
  id: number;
  createdAt: number;
  state: string;
  type: string;
  nodeId: number | null;
  requiredNodeId: number | null;
  subject: string;
}
interface ModelEntry {
  id: number;
  at: number;
  actor: string;
  action: string;
}

/** Newest first by time, then by id: the lists' order. */
const newestFirst = <T extends { id: number }>(time: (row: T) => number) => (a: T, b: T): number => time(b) - time(a) || b.id - a.id;

describe('keyset pages of tasks, audit entries, policy runs and a task log', () => {
  let t: TestServer;
  let admin: string;
  let catalog: Catalog;
  let n1 = 0;
  let n2 = 0;
  let p1 = 0;
  // 300 days of history, ending yesterday.
  const start = Math.floor(Date.now() / 1000) * 1000 - 301 * DAY_MS;
  const tasks: ModelTask[] = [];
  const audit: ModelEntry[] = [];
  const runs: { id: number; policyId: number; state: string }[] = [];

  const get = async <T>(path: string): Promise<T> => {
    const res = await t.api.request<T>('GET', path, undefined, { token: admin });
    expect(res.status, `${path}: ${res.text}`).toBe(200);
    return res.body;
  };
  /** Every page of a list, following nextCursor; the rows in the order the pages gave them. */
  async function allPages<R>(path: string, rowsOf: (page: never) => R[], between?: () => Promise<void>): Promise<R[]> {
    const rows: R[] = [];
    let cursor: string | null = null;
    for (let pages = 0; ; pages++) {
      expect(pages).toBeLessThan(2_000);
      const sep = path.includes('?') ? '&' : '?';
      const page: { nextCursor: string | null } = await get<{ nextCursor: string | null }>(cursor === null ? path : `${path}${sep}cursor=${encodeURIComponent(cursor)}`);
      rows.push(...rowsOf(page as never));
      cursor = page.nextCursor;
      if (cursor === null) return rows;
      await between?.();
    }
  }
  const taskIds = (path: string, between?: () => Promise<void>): Promise<number[]> => allPages(path, (p: TaskPage) => p.tasks.map((x: Task) => x.id), between);
  const auditIds = (path: string, between?: () => Promise<void>): Promise<number[]> => allPages(path, (p: AuditPage) => p.entries.map((x: AuditEntry) => x.id), between);
  const iso = (ms: number): string => new Date(ms).toISOString();

  beforeAll(async () => {
    t = await startTestServer();
    admin = await setupAdmin(t.api);
    catalog = openTestCatalog(t);
    n1 = (await catalog.execute("INSERT INTO nodes (name, host, install_method) VALUES ('n1', 'h1', 'manual')")).insertId;
    n2 = (await catalog.execute("INSERT INTO nodes (name, host, install_method) VALUES ('n2', 'h2', 'manual')")).insertId;

    for (let i = 0; i < TASKS; i++) {
      const day = Math.floor(i / 8);
      // Four tasks of each day share one millisecond (the id orders them); every 50th was
      // written later than its neighbours with an older time (the time orders it, not the id).
      const createdAt = start + day * DAY_MS + (i % 8 < 4 ? 0 : (i % 8) * 60_000) - (i % 50 === 49 ? 3 * DAY_MS : 0);
      tasks.push({
        id: FIRST_ID + i,
        createdAt,
        state: STATES[i % STATES.length]!,
        type: TYPES[i % TYPES.length]!,
        nodeId: i % 3 === 0 ? n1 : i % 3 === 1 ? n2 : null,
        requiredNodeId: i % 7 === 0 ? n2 : null,
        subject: i % 11 === 0 ? 'node:n2' : `vm:vm-${i % 13}`,
      });
    }
    await insertRows(
      catalog,
      'tasks',
      tasks.map((x) => ({
        id: x.id,
        type: x.type,
        state: x.state,
        node_id: x.nodeId,
        required_node_id: x.requiredNodeId,
        subject: x.subject,
        params: '{}',
        created_at: new Date(x.createdAt),
        finished_at: new Date(x.createdAt + 3_600_000),
      })),
    );

    for (let i = 0; i < AUDIT; i++) {
      audit.push({ id: FIRST_ID + i, at: start + Math.floor(i / 5) * DAY_MS + Math.floor((i % 5) / 3) * 1000, actor: ACTORS[i % ACTORS.length]!, action: ACTIONS[i % ACTIONS.length]! });
    }
    await insertRows(catalog, 'audit_log', audit.map((e) => ({ id: e.id, at: new Date(e.at), actor: e.actor, action: e.action, target: null })));

    p1 = (await catalog.execute("INSERT INTO policies (name, kind, enabled, time_zone, schedules, assignment) VALUES ('p1', 'snapshot', 0, 'UTC', '[]', '{}')")).insertId;
    const p2 = (await catalog.execute("INSERT INTO policies (name, kind, enabled, time_zone, schedules, assignment) VALUES ('p2', 'snapshot', 0, 'UTC', '[]', '{}')")).insertId;
    for (let i = 0; i < RUNS; i++) runs.push({ id: FIRST_ID + i, policyId: i % 3 === 0 ? p2 : p1, state: RUN_STATES[i % RUN_STATES.length]! });
    await insertRows(
      catalog,
      'policy_runs',
      runs.map((r, i) => ({ id: r.id, policy_id: r.policyId, purpose: 'run', trigger: 'schedule', scheduled_for: new Date(start + i * 3_600_000), state: r.state, workflows: '[]', created_at: new Date(start + i * 3_600_000) })),
    );
  });
  afterAll(async () => {
    await catalog?.close();
    await t?.destroy();
  });

  it('pages through every task exactly once, newest first, while tasks and audit entries keep arriving', async () => {
    const before = await catalog.query<{ id: number }>('SELECT id FROM tasks ORDER BY created_at DESC, id DESC');
    let arrived = 0;
    const seen = await taskIds('/api/tasks?limit=97', async () => {
      // A task made through the API (queued: n1 is not connected) and one written with the current time.
      const made = await t.api.request<Task>('POST', '/api/tasks/node-check', { node: 'n1', sampleBytes: 1048576 }, { token: admin });
      expect(made.status, made.text).toBe(201);
      await insertRows(catalog, 'tasks', [{ type: 'GC', state: 'FINISHED', subject: 'destination:new', params: '{}' }]);
      await insertRows(catalog, 'audit_log', [{ actor: 'arrival', action: 'arrival.test', target: null }]);
      arrived += 2;
    });
    expect(arrived).toBeGreaterThan(40);
    expect(seen).toEqual(before.map((r) => r.id));
    expect(new Set(seen).size).toBe(seen.length);
    // The model's order: time first, so the late writes sit among older tasks.
    expect(seen.filter((id) => id >= FIRST_ID)).toEqual([...tasks].sort(newestFirst((x) => x.createdAt)).map((x) => x.id));
    // What arrived meanwhile is on a new first page.
    const first = await get<TaskPage>(`/api/tasks?limit=${arrived}`);
    expect(first.tasks.every((x) => !seen.includes(x.id))).toBe(true);
  });

  it('pages through every audit entry exactly once while entries keep arriving', async () => {
    const before = await catalog.query<{ id: number }>('SELECT id FROM audit_log ORDER BY at DESC, id DESC');
    const seen = await auditIds('/api/audit?limit=89', async () => {
      await insertRows(catalog, 'audit_log', [{ actor: 'arrival', action: 'arrival.test', target: null }]);
      // A sign-in writes one too.
      await t.api.login('admin', 'admin-password-1');
    });
    expect(seen).toEqual(before.map((r) => r.id));
    expect(seen.filter((id) => id >= FIRST_ID && id < FIRST_ID + AUDIT)).toEqual([...audit].sort(newestFirst((e) => e.at)).map((e) => e.id));
  });

  it('each task filter gives exactly its tasks, a page at a time, also deep in the history', async () => {
    const expectIds = (match: (x: ModelTask) => boolean): number[] => tasks.filter(match).sort(newestFirst((x) => x.createdAt)).map((x) => x.id);
    // Days 20 to 34 of 300: the oldest part of the history.
    const from = start + 20 * DAY_MS;
    const to = start + 35 * DAY_MS;
    const inRange = (x: ModelTask): boolean => x.createdAt >= from && x.createdAt < to;
    const cases: [string, (x: ModelTask) => boolean][] = [
      ['state=FAILED', (x) => x.state === 'FAILED'],
      ['type=STORE', (x) => x.type === 'STORE'],
      // Ran on it, must run on it, or is about it.
      ['node=n2', (x) => x.nodeId === n2 || x.requiredNodeId === n2 || x.subject === 'node:n2'],
      [`node=${n1}&state=FAILED`, (x) => x.state === 'FAILED' && x.nodeId === n1],
      ['subject=vm%3Avm-5', (x) => x.subject === 'vm:vm-5'],
      [`from=${iso(from)}&to=${iso(to)}`, inRange],
      [`state=FINISHED&type=EXPORT&from=${iso(from)}&to=${iso(to)}`, (x) => x.state === 'FINISHED' && x.type === 'EXPORT' && inRange(x)],
      [`node=n2&subject=node%3An2&from=${iso(from)}`, (x) => x.subject === 'node:n2' && x.createdAt >= from],
    ];
    for (const [query, match] of cases) {
      const expected = expectIds(match);
      expect(expected.length, query).toBeGreaterThan(13);
      expect(await taskIds(`/api/tasks?limit=13&${query}`), query).toEqual(expected);
    }
    // A page deep in the history starts where its cursor says, with the filter still applied.
    const failed = expectIds((x) => x.state === 'FAILED');
    const deep = failed[failed.length - 12]!;
    const deepTask = tasks.find((x) => x.id === deep)!;
    const page = await get<TaskPage>(`/api/tasks?state=FAILED&limit=5&cursor=${deepTask.createdAt}.${deep}`);
    expect(page.tasks.map((x) => x.id)).toEqual(failed.slice(failed.length - 11, failed.length - 6));
  });

  it('each audit filter gives exactly its entries, also deep in the history', async () => {
    const from = start + 10 * DAY_MS;
    const to = start + 40 * DAY_MS;
    const inRange = (e: ModelEntry): boolean => e.at >= from && e.at < to;
    const cases: [string, (e: ModelEntry) => boolean][] = [
      ['actor=operator', (e) => e.actor === 'operator'],
      ['actor=node%3An1', (e) => e.actor === 'node:n1'],
      [`action=backup.&to=${iso(start + 299 * DAY_MS)}`, (e) => e.action.startsWith('backup.') && e.at < start + 299 * DAY_MS],
      [`action=policy.update&from=${iso(from)}&to=${iso(to)}`, (e) => e.action === 'policy.update' && inRange(e)],
      [`actor=system&from=${iso(from)}&to=${iso(to)}`, (e) => e.actor === 'system' && inRange(e)],
    ];
    for (const [query, match] of cases) {
      const expected = audit.filter(match).sort(newestFirst((e) => e.at)).map((e) => e.id);
      expect(expected.length, query).toBeGreaterThan(11);
      expect(await auditIds(`/api/audit?limit=11&${query}`), query).toEqual(expected);
    }
  });

  it("pages a policy's runs and all runs by id, with the state filter", async () => {
    const byId = (match: (r: (typeof runs)[number]) => boolean): number[] => runs.filter(match).map((r) => r.id).sort((a, b) => b - a);
    const ids = (path: string): Promise<number[]> => allPages(path, (p: PolicyRunPage) => p.runs.map((r: PolicyRun) => r.id));
    expect(await ids('/api/policy-runs?limit=33')).toEqual(byId(() => true));
    expect(await ids('/api/policies/p1/runs?limit=9')).toEqual(byId((r) => r.policyId === p1));
    expect(await ids('/api/policy-runs?limit=9&state=failed&policy=p1')).toEqual(byId((r) => r.policyId === p1 && r.state === 'failed'));
  });

  it("a task's long log: the newest lines come with the task, the earlier ones a page at a time", async () => {
    const task = FIRST_ID + 7;
    await insertRows(
      catalog,
      'task_logs',
      Array.from({ length: 2_500 }, (_, i) => ({ task_id: task, level: i % 10 === 0 ? 'warn' : 'info', message: `line ${i}` })),
    );
    const details = await get<TaskDetails>(`/api/tasks/${task}`);
    expect(details.log.map((l) => l.message)).toEqual(Array.from({ length: 1_000 }, (_, i) => `line ${1_500 + i}`));
    expect(details.logCursor).toBe(String(details.log[0]!.id));
    const earlier: TaskLogLine[][] = [];
    let cursor = details.logCursor;
    while (cursor) {
      const page = await get<TaskLogPage>(`/api/tasks/${task}/log?limit=700&cursor=${cursor}`);
      earlier.unshift(page.lines);
      cursor = page.nextCursor;
    }
    const whole = [...earlier.flat(), ...details.log].map((l) => l.message);
    expect(whole).toEqual(Array.from({ length: 2_500 }, (_, i) => `line ${i}`));
    const newest = await get<TaskLogPage>(`/api/tasks/${task}/log?limit=3`);
    expect(newest.lines.map((l) => l.message)).toEqual(['line 2497', 'line 2498', 'line 2499']);
    expect((await t.api.request('GET', '/api/tasks/99/log', undefined, { token: admin })).status).toBe(404);
  });

  it('a cursor or a date that is not one is refused, naming the field', async () => {
    const bad = async (path: string, field: string): Promise<void> => {
      const res = await t.api.request<{ field?: string; message: string }>('GET', path, undefined, { token: admin });
      expect(res.status, path).toBe(400);
      expect(res.body.field, path).toBe(field);
    };
    await bad('/api/tasks?cursor=abc', 'cursor');
    // A policy-run cursor (an id) is not a task list's (time and id).
    await bad('/api/tasks?cursor=12', 'cursor');
    await bad('/api/audit?cursor=1.2.3', 'cursor');
    await bad('/api/tasks?from=yesterday', 'from');
    await bad('/api/audit?to=2026-13-01', 'to');
    await bad('/api/policy-runs?cursor=1.2', 'cursor');
    await bad('/api/tasks/1/log?cursor=-1', 'cursor');
  });
});
