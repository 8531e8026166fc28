import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditPage } from '../../../common/api/audit.js';
import { DEFAULT_HISTORY_LIMITS, type HistoryLimits, type HistorySettings } from '../../../common/api/history.js';
import type { Policy, PolicyRunPage } from '../../../common/api/policies.js';
import type { Task, TaskDetails } from '../../../common/api/tasks.js';
import { defaultHandlers } from '../../../node-service/agent/node-service.js';
import type { TaskHandler, TaskRunContext } from '../../../node-service/agent/task-handler.js';
import type { Catalog } from '../../../electron/server/db/catalog.js';
import { DAY_MS, insertRows, openTestCatalog } from '../../support/catalog-rows.js';
import { enrollTestNode, type TestNode } from '../../support/test-node.js';
import { createUser, makeTempDir, setupAdmin, startTestServer, waitFor, type TestServer } from '../../support/test-server.js';

/**
 * History within limits on a real server and MariaDB: the settings' API, a prune that removes
 * exactly what the limits say (one minute either side of each limit), never what is queued or
 * running, a backup or what a backup refers to; and, while a prune works through a big table,
 * a task running on a node and the scheduler carry on as if nothing happened.
 */

const MINUTE = 60_000;

const settingsOf = async (t: TestServer, token: string): Promise<HistorySettings> => {
  const res = await t.api.request<HistorySettings>('GET', '/api/settings/history', undefined, { token });
  expect(res.status, res.text).toBe(200);
  return res.body;
};

/** Starts a prune and waits for it to end (no time is measured: the answer says when it ended). */
async function pruneNow(t: TestServer, token: string): Promise<HistorySettings> {
  const started = await t.api.request<HistorySettings>('POST', '/api/settings/history/prune', {}, { token });
  expect(started.status, started.text).toBe(202);
  expect(started.body.pruning).toBe(true);
  await t.server.history.idle();
  const ended = await settingsOf(t, token);
  expect(ended.pruning).toBe(false);
  return ended;
}

describe('history limits: the settings and an exact prune', () => {
  let t: TestServer;
  let admin: string;
  let catalog: Catalog;
  const now = Math.floor(Date.now() / 1000) * 1000;
  const ago = (days: number, minutes = 0): Date => new Date(now - days * DAY_MS - minutes * MINUTE);
  const limits: HistoryLimits = { taskLogsDays: 30, tasksDays: 60, workflowsDays: 90, policyRunsDays: 120, auditDays: 150 };

  beforeAll(async () => {
    t = await startTestServer({}, { clock: { now: () => now } });
    admin = await setupAdmin(t.api);
    catalog = openTestCatalog(t);
  });
  afterAll(async () => {
    await catalog?.close();
    await t?.destroy();
  });

  it('keeps the defaults until an admin sets limits; refuses what is too short, naming the field', async () => {
    expect((await settingsOf(t, admin)).limits).toEqual(DEFAULT_HISTORY_LIMITS);
    const put = (body: unknown, token = admin) => t.api.request<{ field?: string; message: string }>('PUT', '/api/settings/history', body, { token });
    const refused = async (body: unknown, field: string): Promise<string> => {
      const res = await put(body);
      expect(res.status, res.text).toBe(400);
      expect(res.body.field).toBe(field);
      return res.body.message;
    };
    expect(await refused({ ...limits, taskLogsDays: 3 }, 'taskLogsDays')).toMatch(/at least 7 days/);
    expect(await refused({ ...limits, auditDays: 10 }, 'auditDays')).toMatch(/at least 30 days/);
    await refused({ ...limits, tasksDays: 40.5 }, 'tasksDays');
    await refused({ ...limits, workflowsDays: 100_000 }, 'workflowsDays');
    const { policyRunsDays: _left, ...missing } = limits;
    await refused(missing, 'policyRunsDays');

    const operator = await createUser(t.api, admin, 'olga', 'operator');
    expect((await put(limits, operator)).status).toBe(403);
    expect((await t.api.request('POST', '/api/settings/history/prune', {}, { token: operator })).status).toBe(403);
    expect((await t.api.request('GET', '/api/catalog/size', undefined, { token: operator })).status).toBe(200);

    const saved = await put({ ...limits, auditDays: null });
    expect(saved.status, saved.text).toBe(200);
    expect((await settingsOf(t, admin)).limits).toEqual({ ...limits, auditDays: null });
    const ok = await put(limits);
    expect(ok.status).toBe(200);
    const audit = (await t.api.request<AuditPage>('GET', '/api/audit?action=history.update', undefined, { token: admin })).body.entries;
    expect(audit.map((e) => e.details?.after)).toEqual([limits, { ...limits, auditDays: null }]);
  });

  it('removes exactly what is older than each limit, never what runs, a backup or what a backup refers to', async () => {
    // A later schema's key from backups to the workflow that made them: what it points at stays.
    await catalog.execute('ALTER TABLE backups ADD COLUMN made_by_workflow BIGINT UNSIGNED NULL, ADD CONSTRAINT fk_test_backup_workflow FOREIGN KEY (made_by_workflow) REFERENCES workflows (id) ON DELETE CASCADE');
    const node = (await catalog.execute("INSERT INTO nodes (name, host, install_method) VALUES ('n0', 'h0', 'manual')")).insertId;
    const destination = (await catalog.execute("INSERT INTO destinations (name, node_id, path, encrypted) VALUES ('nas', ?, '/srv/nas', 0)", [node])).insertId;
    const policy = (await catalog.execute("INSERT INTO policies (name, kind, enabled, time_zone, schedules, assignment) VALUES ('p', 'snapshot', 0, 'UTC', '[]', '{}')")).insertId;

    // id: [state, finished (null: not yet), workflow, log lines, kept, log lines kept]
    interface ModelTask {
      id: number;
      state: string;
      finished: Date | null;
      workflow: number | null;
      logs: number;
      kept: boolean;
      logsKept: number;
    }
    const tasks: ModelTask[] = [];
    const task = (id: number, state: string, finished: Date | null, workflow: number | null, kept: boolean, logsKept: boolean): void => {
      tasks.push({ id, state, finished, workflow, logs: 3, kept, logsKept: logsKept ? 3 : 0 });
    };
    // Outside jobs: log lines go at 30 days, tasks at 60.
    task(1001, 'FINISHED', ago(30, 1), null, true, false);
    task(1002, 'FINISHED', ago(30, -1), null, true, true);
    task(1003, 'FAILED', ago(60, 1), null, false, false);
    task(1004, 'CANCELLED', ago(60, -1), null, true, false);
    task(1005, 'RUNNING', null, null, true, true);
    task(1006, 'QUEUED', null, null, true, true);
    // A mount of a backup still names this MOUNT task: it stays, its log goes.
    task(1007, 'FINISHED', ago(200), null, true, false);
    // Jobs: at 90 days, with their steps.
    const workflows: { id: number; state: string; finished: Date; run: number | null; kept: boolean }[] = [
      { id: 2001, state: 'FINISHED', finished: ago(90, 1), run: null, kept: false },
      { id: 2002, state: 'FINISHED', finished: ago(90, -1), run: null, kept: true },
      // Failed, but one of its steps still runs.
      { id: 2003, state: 'FAILED', finished: ago(300), run: null, kept: true },
      // A backup refers to it.
      { id: 2004, state: 'FINISHED', finished: ago(200), run: null, kept: true },
      // Within its limit, and of an old policy run that therefore stays.
      { id: 2005, state: 'FINISHED', finished: ago(80), run: 3003, kept: true },
    ];
    for (const w of workflows) {
      const running = w.id === 2003;
      task(w.id * 10 + 1, 'FINISHED', w.finished, w.id, w.kept, false);
      task(w.id * 10 + 2, running ? 'RUNNING' : 'FINISHED', running ? null : w.finished, w.id, w.kept, running);
    }
    const runs = [
      { id: 3001, state: 'finished', created: ago(120, 1), kept: false },
      { id: 3002, state: 'finished', created: ago(120, -1), kept: true },
      { id: 3003, state: 'finished', created: ago(200), kept: true },
      { id: 3004, state: 'running', created: ago(300), kept: true },
    ];
    const audit = [
      { id: 4001, at: ago(150, 1), kept: false },
      { id: 4002, at: ago(150, -1), kept: true },
    ];

    await insertRows(catalog, 'policy_runs', runs.map((r) => ({ id: r.id, policy_id: policy, purpose: 'run', trigger: 'schedule', scheduled_for: r.created, state: r.state, workflows: '[]', created_at: r.created, finished_at: r.state === 'running' ? null : r.created })));
    await insertRows(catalog, 'workflows', workflows.map((w) => ({ id: w.id, type: 'BACKUP', state: w.state, subject: 'vm:web', created_at: w.finished, finished_at: w.finished, policy_run_id: w.run })));
    await insertRows(
      catalog,
      'tasks',
      tasks.map((x) => ({ id: x.id, workflow_id: x.workflow, type: x.id === 1007 ? 'MOUNT' : 'VERIFY', state: x.state, params: '{}', created_at: x.finished ?? ago(200), started_at: x.state === 'QUEUED' ? null : (x.finished ?? ago(200)), finished_at: x.finished })),
    );
    await insertRows(catalog, 'task_logs', tasks.flatMap((x) => Array.from({ length: x.logs }, (_, i) => ({ task_id: x.id, at: x.finished ?? ago(200), level: 'info', message: `line ${i}` }))));
    await insertRows(catalog, 'audit_log', audit.map((e) => ({ id: e.id, at: e.at, actor: 'admin', action: 'policy.update', target: null })));
    await insertRows(catalog, 'backups', [
      { id: 5001, destination_id: destination, repo_backup_id: 'b-old', vm: 'web', type: 'full', status: 'available', created_at: ago(400), made_by_workflow: null },
      { id: 5002, destination_id: destination, repo_backup_id: 'b-made', vm: 'web', type: 'full', status: 'available', created_at: ago(200), made_by_workflow: 2004 },
    ]);
    await catalog.execute("INSERT INTO mounts (kind, backup_id, node_id, task_id, state, idle_seconds, created_by, created_at, closed_at) VALUES ('browse', 5001, ?, 1007, 'CLOSED', 600, 'admin', ?, ?)", [node, ago(200), ago(200)]);

    const pruned = await pruneNow(t, admin);
    const last = pruned.lastPrune!;
    expect(last).toMatchObject({ by: 'admin', error: null });
    expect(last.finishedAt).not.toBeNull();

    const ids = async (table: string): Promise<Set<number>> => new Set((await catalog.query<{ id: number }>(`SELECT id FROM ${table}`)).map((r) => Number(r.id)));
    const taskIds = await ids('tasks');
    const logCounts = new Map((await catalog.query<{ task_id: number; n: number }>('SELECT task_id, COUNT(*) AS n FROM task_logs GROUP BY task_id')).map((r) => [Number(r.task_id), Number(r.n)]));
    for (const x of tasks) {
      expect(taskIds.has(x.id), `task ${x.id}`).toBe(x.kept);
      expect(logCounts.get(x.id) ?? 0, `log lines of task ${x.id}`).toBe(x.logsKept);
    }
    const workflowIds = await ids('workflows');
    for (const w of workflows) expect(workflowIds.has(w.id), `workflow ${w.id}`).toBe(w.kept);
    const runIds = await ids('policy_runs');
    for (const r of runs) expect(runIds.has(r.id), `policy run ${r.id}`).toBe(r.kept);
    const auditIds = await ids('audit_log');
    for (const e of audit) expect(auditIds.has(e.id), `audit entry ${e.id}`).toBe(e.kept);
    expect([...(await ids('backups'))].sort()).toEqual([5001, 5002]);
    expect((await ids('mounts')).size).toBe(1);

    expect(last.removed).toEqual({
      taskLogs: tasks.reduce((n, x) => n + x.logs - x.logsKept, 0),
      tasks: tasks.filter((x) => !x.kept).length,
      workflows: workflows.filter((w) => !w.kept).length,
      policyRuns: runs.filter((r) => !r.kept).length,
      audit: audit.filter((e) => !e.kept).length,
    });
    // Asked for and recorded; and a prune again finds nothing more.
    const entries = (await t.api.request<AuditPage>('GET', '/api/audit?action=history.prune', undefined, { token: admin })).body.entries;
    expect(entries.map((e) => e.actor)).toEqual(['admin']);
    expect((await pruneNow(t, admin)).lastPrune!.removed).toEqual({ taskLogs: 0, tasks: 0, workflows: 0, policyRuns: 0, audit: 0 });
  });

  it("reports the catalog's size per table", async () => {
    const res = await t.api.request<{ totalBytes: number; freeBytes: number; tables: { name: string; dataBytes: number; indexBytes: number }[] }>('GET', '/api/catalog/size', undefined, { token: admin });
    expect(res.status).toBe(200);
    const names = res.body.tables.map((x) => x.name);
    for (const table of ['tasks', 'task_logs', 'workflows', 'audit_log', 'backups', 'policy_runs']) expect(names).toContain(table);
    expect(res.body.totalBytes).toBe(res.body.tables.reduce((n, x) => n + x.dataBytes + x.indexBytes, 0));
  });
});

/** A NODE_CHECK that runs until the test lets it end. */
class GatedCheck implements TaskHandler {
  readonly type = 'NODE_CHECK';
  readonly gates = new Map<number, () => void>();
  run(ctx: TaskRunContext): Promise<{ result: Record<string, unknown> }> {
    ctx.log('info', 'gated check started');
    return new Promise((resolve) => {
      this.gates.set(ctx.taskId, () => {
        ctx.log('info', 'gated check done');
        resolve({ result: { stagingPath: ctx.stagingDir, freeBytes: 1, totalBytes: 2, writeBytesPerSecond: 3, sampleBytes: 4 } });
      });
    });
  }
}

describe('a prune on a big table leaves running work and the scheduler alone', () => {
  let t: TestServer;
  let admin: string;
  let catalog: Catalog;
  let node: TestNode;
  let repo = '';
  const check = new GatedCheck();
  let now = Math.floor(Date.now() / MINUTE) * MINUTE;
  const ago = (days: number): Date => new Date(now - days * DAY_MS);
  // The prune stops after its third batch until the test lets it go on.
  let pauses = 0;
  let holding = true;
  let release: () => void = () => undefined;
  const released = new Promise<void>((resolve) => (release = resolve));
  const OLD_TASKS = 20_000;

  const api = <T>(method: string, p: string, body?: unknown) => t.api.request<T>(method, p, body, { token: admin });
  const task = async (id: number): Promise<TaskDetails> => (await api<TaskDetails>('GET', `/api/tasks/${id}`)).body;
  const startCheck = async (): Promise<number> => {
    const res = await api<Task>('POST', '/api/tasks/node-check', { node: 'worker', sampleBytes: 1048576 });
    expect(res.status, res.text).toBe(201);
    await waitFor(`task ${res.body.id} on the node`, async () => check.gates.get(res.body.id));
    return res.body.id;
  };

  beforeAll(async () => {
    t = await startTestServer(
      {},
      {
        clock: { now: () => now },
        historyPrune: {
          batch: 500,
          pauseMs: 0,
          pause: async () => {
            pauses++;
            if (holding && pauses >= 3) await released;
          },
        },
      },
    );
    admin = await setupAdmin(t.api);
    catalog = openTestCatalog(t);
    node = await enrollTestNode(t.api, admin, {
      name: 'worker',
      handlers: [check, ...defaultHandlers({ name: 'worker' }).filter((h) => h.type !== 'NODE_CHECK')],
      maxConcurrentTasks: 4,
      serverUrl: t.server.url,
      fingerprint: t.server.fingerprint,
    });
    repo = makeTempDir('history-repo');
    const dest = await api<{ message?: string }>('POST', '/api/destinations', { name: 'nas', node: 'worker', path: path.join(repo, 'vplus') });
    expect(dest.status, dest.body.message).toBe(201);
    // Due in 30 minutes of the test's clock.
    const at = new Date(now + 30 * MINUTE);
    const hhmm = `${String(at.getUTCHours()).padStart(2, '0')}:${String(at.getUTCMinutes()).padStart(2, '0')}`;
    const policy = await api<Policy & { message?: string }>('POST', '/api/policies', { name: 'nightly', destination: 'nas', timeZone: 'UTC', schedules: [`incremental daily ${hhmm} window 1h`] });
    expect(policy.status, policy.body.message).toBe(201);

    // A year and more of finished checks, three log lines each, and as many audit entries.
    await catalog.execute(`INSERT INTO tasks (type, state, params, created_at, finished_at) SELECT 'VERIFY', 'FINISHED', '{}', ?, ? FROM seq_1_to_${OLD_TASKS}`, [ago(400), ago(400)]);
    await catalog.execute("INSERT INTO task_logs (task_id, at, level, message) SELECT t.id, t.created_at, 'info', CONCAT('old line ', s.seq) FROM tasks t JOIN seq_1_to_3 s WHERE t.type = 'VERIFY'");
    await catalog.execute(`INSERT INTO audit_log (at, actor, action) SELECT ?, 'admin', 'policy.update' FROM seq_1_to_${OLD_TASKS}`, [ago(400)]);
  });
  afterAll(async () => {
    release();
    await node?.stop();
    await catalog?.close();
    await t?.destroy();
    if (repo) fs.rmSync(repo, { recursive: true, force: true });
  });

  it('while the prune works, a long task goes on, new tasks run and the scheduler runs its policy', async () => {
    // A check that has run on the node "for 500 days", with its log as old.
    const long = await startCheck();
    await catalog.execute('UPDATE tasks SET created_at = ?, started_at = ? WHERE id = ?', [ago(500), ago(500), long]);
    await catalog.execute('UPDATE task_logs SET at = ? WHERE task_id = ?', [ago(500), long]);
    const longLog = await waitFor('its first log line', async () => {
      const lines = (await task(long)).log.map((l) => l.message);
      return lines.includes('gated check started') ? lines : undefined;
    });

    await api('PUT', '/api/settings/history', DEFAULT_HISTORY_LIMITS);
    const started = await api<HistorySettings>('POST', '/api/settings/history/prune', {});
    expect(started.status).toBe(202);
    await waitFor('the prune to reach its third batch', async () => pauses >= 3);
    const midway = (await api<HistorySettings>('GET', '/api/settings/history')).body;
    expect(midway.pruning).toBe(true);
    expect(midway.lastPrune!.removed.taskLogs).toBeGreaterThan(0);

    // New work is dispatched, runs and ends.
    const quick = await startCheck();
    check.gates.get(quick)!();
    await waitFor('the new check to end', async () => (await task(quick)).state === 'FINISHED');
    // The scheduler's time comes: it runs the policy (no VMs in it: the run ends at once).
    now += 30 * MINUTE;
    await t.server.scheduler.tick();
    const run = await waitFor('the scheduled run', async () => (await api<PolicyRunPage>('GET', '/api/policies/nightly/runs')).body.runs.find((r) => r.state !== 'running'));
    expect(run).toMatchObject({ trigger: 'schedule', state: 'finished' });
    expect((await api<HistorySettings>('GET', '/api/settings/history')).body.pruning).toBe(true);

    holding = false;
    release();
    await t.server.history.idle();
    const ended = (await api<HistorySettings>('GET', '/api/settings/history')).body;
    expect(ended.pruning).toBe(false);
    expect(ended.lastPrune).toMatchObject({ error: null, removed: { taskLogs: 3 * OLD_TASKS, tasks: OLD_TASKS, workflows: 0, policyRuns: 0 } });
    // The old entries, and none of today's (the settings change, the prune, the policy).
    expect(ended.lastPrune!.removed.audit).toBe(OLD_TASKS);

    // The long check was never touched: it ends normally, with all its log.
    const still = await task(long);
    expect(still.state).toBe('RUNNING');
    expect(still.log.map((l) => l.message)).toEqual(longLog);
    check.gates.get(long)!();
    const done = await waitFor('the long check to end', async () => {
      const d = await task(long);
      return d.state === 'FINISHED' ? d : undefined;
    });
    expect(done.log.map((l) => l.message)).toEqual([...longLog, 'gated check done']);
  });
});
