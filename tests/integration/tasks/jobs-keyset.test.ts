import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobDetails, JobPage } from '../../../common/api/jobs.js';
import { Catalog } from '../../../electron/server/db/catalog.js';
import { migration as policyRunJobs } from '../../../electron/server/db/migrations/2026-12-07-0012-policy-run-jobs.js';
import { setupAdmin, startTestServer, type TestServer } from '../../support/test-server.js';

/**
 * The jobs list on a real server and MariaDB, from rows written straight into the catalog: a
 * policy run is one job (its workflows are not listed beside it, unless asked for one by one),
 * keyset pages cover every job exactly once while new jobs arrive between pages (jobs created
 * in the same millisecond included), filters, and migration 0012's backfill of the runs'
 * workflows.
 */
describe('jobs list: policy runs as one job, keyset pages', () => {
  let t: TestServer;
  let admin: string;
  let catalog: Catalog;
  let policyId: number;
  const base = Date.parse('2026-11-01T22:00:00.000Z');
  const at = (minutes: number): Date => new Date(base + minutes * 60_000);

  const jobs = async (query: string): Promise<JobPage> => {
    const res = await t.api.request<JobPage>('GET', `/api/jobs?${query}`, undefined, { token: admin });
    expect(res.status, res.text).toBe(200);
    return res.body;
  };
  const job = async (id: string): Promise<JobDetails> => {
    const res = await t.api.request<JobDetails>('GET', `/api/jobs/${id}`, undefined, { token: admin });
    expect(res.status, res.text).toBe(200);
    return res.body;
  };
  /** Every page of a list, `between` run after each page but the last. */
  const allPages = async (query: string, between: () => Promise<void> = async () => {}): Promise<string[]> => {
    const ids: string[] = [];
    let cursor: string | null = null;
    for (let pages = 0; pages < 100; pages++) {
      const page = await jobs(`${query}${cursor === null ? '' : `&cursor=${cursor}`}`);
      ids.push(...page.jobs.map((j) => j.id));
      cursor = page.nextCursor;
      if (cursor === null) return ids;
      await between();
    }
    throw new Error('more than 100 pages');
  };

  /** A backup workflow (EXPORT → STORE, finished) that read and stored `mib` MiB. */
  const backup = async (vm: string, created: Date, runId: number | null = null, state = 'FINISHED'): Promise<number> => {
    const w = (await catalog.execute("INSERT INTO workflows (type, state, subject, created_by, created_at, finished_at, policy_run_id) VALUES ('BACKUP', ?, ?, 'scheduler', ?, ?, ?)", [state, `vm:${vm}`, created, created, runId])).insertId;
    const failed = state === 'FAILED';
    await catalog.execute("INSERT INTO tasks (workflow_id, seq, type, state, subject, params, error, created_at, started_at, finished_at) VALUES (?, 0, 'EXPORT', ?, ?, '{}', ?, ?, ?, ?)", [
      w,
      failed ? 'FAILED' : 'FINISHED',
      `vm:${vm}`,
      failed ? 'the disk is gone' : null,
      created,
      created,
      created,
    ]);
    await catalog.execute("INSERT INTO tasks (workflow_id, seq, type, state, subject, params, result, warnings, created_at, started_at, finished_at) VALUES (?, 1, 'STORE', ?, ?, '{}', ?, ?, ?, ?, ?)", [
      w,
      failed ? 'CANCELLED' : 'FINISHED',
      `vm:${vm}`,
      failed ? null : JSON.stringify({ bytesRead: 2 * 1048576, backup: { storedBytes: 1048576 } }),
      vm.endsWith('-warn') ? JSON.stringify(['a disk was skipped']) : null,
      created,
      created,
      new Date(created.getTime() + 60_000),
    ]);
    return w;
  };
  /** A policy run of these VMs' backups, its workflows listed as the runner lists them. */
  const policyRun = async (created: Date, vms: string[], state = 'finished'): Promise<{ run: number; workflows: number[] }> => {
    const run = (
      await catalog.execute(
        "INSERT INTO policy_runs (policy_id, purpose, `trigger`, backup_type, scheduled_for, started_at, finished_at, state, vms, succeeded, failed, workflows, created_at) VALUES (?, 'run', 'schedule', 'incremental', ?, ?, ?, ?, ?, ?, 0, '[]', ?)",
        [policyId, created, created, new Date(created.getTime() + 600_000), state, vms.length, vms.length, created],
      )
    ).insertId;
    const workflows: number[] = [];
    for (const vm of vms) workflows.push(await backup(vm, created, run));
    await catalog.execute('UPDATE policy_runs SET workflows = ? WHERE id = ?', [JSON.stringify(workflows), run]);
    return { run, workflows };
  };
  const mount = async (created: Date): Promise<number> =>
    (await catalog.execute("INSERT INTO tasks (type, state, subject, params, created_at, started_at) VALUES ('MOUNT', 'RUNNING', 'backup:1', '{}', ?, ?)", [created, created])).insertId;

  let nightly1: { run: number; workflows: number[] };
  let nightly2: { run: number; workflows: number[] };
  let before: string[];

  beforeAll(async () => {
    t = await startTestServer();
    admin = await setupAdmin(t.api);
    catalog = new Catalog({ mode: 'managed', pool: { socketPath: path.join(t.dataDir, 'mariadb', 'run', 'mysqld.sock'), user: os.userInfo().username, database: 'vplus' } });
    policyId = (await catalog.execute(`INSERT INTO policies (name, kind, time_zone, schedules, assignment) VALUES ('nightly', 'backup', 'UTC', '[]', '{}')`)).insertId;
    // Two nightly runs of three VMs (one warns, one fails the second night), backups by hand in
    // between, mounts, and a missed run; several jobs share one millisecond.
    nightly1 = await policyRun(at(0), ['web-1', 'db-1', 'mail-warn']);
    await backup('web-1', at(0));
    await mount(at(0));
    await backup('db-1', at(30));
    await backup('web-1', at(30), null, 'FAILED');
    await mount(at(45));
    nightly2 = await policyRun(at(24 * 60), ['web-1', 'db-1']);
    const failedOne = await backup('mail-warn', at(24 * 60), nightly2.run, 'FAILED');
    nightly2.workflows.push(failedOne);
    await catalog.execute("UPDATE policy_runs SET state = 'finished_with_warnings', vms = 3, succeeded = 2, failed = 1, workflows = ? WHERE id = ?", [JSON.stringify(nightly2.workflows), nightly2.run]);
    await catalog.execute(
      "INSERT INTO policy_runs (policy_id, purpose, `trigger`, scheduled_for, finished_at, state, message, workflows, created_at) VALUES (?, 'run', 'schedule', ?, ?, 'missed', 'the server was off', '[]', ?)",
      [policyId, at(48 * 60), at(48 * 60), at(48 * 60)],
    );
    await backup('web-1', at(48 * 60 + 5));
    before = await allPages('limit=100');
  });
  afterAll(async () => {
    await catalog?.close();
    await t?.destroy();
  });

  it('lists a policy run once, as a job of its VMs, and never its workflows beside it', async () => {
    // Newest first: the hand-run backup, run 2, the two mounts and three hand-run backups (two
    // in one millisecond with run 1 and a mount), run 1. No missed run.
    expect(before).toHaveLength(8);
    expect(before.filter((id) => id.startsWith('p'))).toEqual([`p${nightly2.run}`, `p${nightly1.run}`]);
    for (const w of [...nightly1.workflows, ...nightly2.workflows]) expect(before).not.toContain(`w${w}`);
    // Within one millisecond: workflows, then tasks, then runs.
    expect(before.slice(-3).map((id) => id[0])).toEqual(['w', 't', 'p']);

    const page = await jobs('limit=100&kind=POLICY_RUN');
    const run1 = page.jobs.find((j) => j.id === `p${nightly1.run}`)!;
    expect(run1).toMatchObject({ kind: 'POLICY_RUN', state: 'FINISHED', steps: [], subject: 'policy:nightly', parent: null });
    expect(run1.run).toMatchObject({ policy: 'nightly', purpose: 'run', trigger: 'schedule', total: 3, succeeded: 3, failed: 0 });
    // Read and stored are the sums of its VMs' (totals not recorded yet: summed now).
    expect(run1.summary).toMatchObject({ bytesRead: 6 * 1048576, bytesStored: 3 * 1048576, durationSeconds: 600, warningCount: 1 });
  });

  it("shows a run's VMs as lines, each linking to its own job, which links back", async () => {
    const details = await job(`p${nightly2.run}`);
    expect(details.state).toBe('FINISHED_WITH_WARNINGS');
    expect(details.lines.map((l) => [l.subjectInfo?.name, l.state, l.steps.map((s) => s.type).join('→')])).toEqual([
      ['web-1', 'FINISHED', 'EXPORT→STORE'],
      ['db-1', 'FINISHED', 'EXPORT→STORE'],
      ['mail-warn', 'FAILED', 'EXPORT→STORE'],
    ]);
    expect(details.lines[2]!.summary.error).toBe('the disk is gone');
    expect(details.summary).toMatchObject({ bytesRead: 4 * 1048576, bytesStored: 2 * 1048576 });
    const vm = await job(details.lines[0]!.id);
    expect(vm.parent).toEqual({ id: `p${nightly2.run}`, policy: 'nightly' });
    expect(vm.steps.map((s) => s.type)).toEqual(['EXPORT', 'STORE']);
    // The missed run is no job.
    expect((await t.api.request('GET', `/api/jobs/p${nightly2.run + 1}`, undefined, { token: admin })).status).toBe(404);
  });

  it("lists each VM's job one by one when asked: flat, or one VM's jobs", async () => {
    const flat = await allPages('limit=4&flat=1');
    expect(flat.filter((id) => id.startsWith('p'))).toEqual([]);
    for (const w of [...nightly1.workflows, ...nightly2.workflows]) expect(flat).toContain(`w${w}`);
    // The runs' 6 workflows, 4 by hand, 2 mounts.
    expect(flat).toHaveLength(6 + 4 + 2);
    const web = await jobs('limit=50&subject=vm:web-1');
    expect(web.jobs.map((j) => j.id)).toHaveLength(5);
    expect(web.jobs.every((j) => j.subject === 'vm:web-1')).toBe(true);
    expect(web.jobs.filter((j) => j.parent !== null).map((j) => j.parent!.id)).toEqual([`p${nightly2.run}`, `p${nightly1.run}`]);
  });

  it('filters by kind and state from the server', async () => {
    expect((await jobs('limit=50&kind=MOUNT')).jobs.map((j) => j.kind)).toEqual(['MOUNT', 'MOUNT']);
    const failed = await jobs('limit=50&state=FAILED');
    expect(failed.jobs.map((j) => [j.kind, j.subject])).toEqual([['BACKUP', 'vm:web-1']]);
    expect((await jobs('limit=50&state=FINISHED_WITH_WARNINGS')).jobs.map((j) => j.id)).toEqual([`p${nightly2.run}`]);
    expect((await jobs('limit=50&state=QUEUED&kind=POLICY_RUN')).jobs).toEqual([]);
    const bad = await t.api.request('GET', '/api/jobs?cursor=12.x3', undefined, { token: admin });
    expect(bad.status).toBe(400);
  });

  it('covers every job exactly once in pages of 3 while new jobs arrive between pages', async () => {
    let minute = 49 * 60;
    const added: string[][] = [];
    const seen = await allPages('limit=3', async () => {
      // A new hand-run backup, a new mount and a new policy run (with a workflow) every page, in one millisecond.
      minute += 1;
      added.push([`w${await backup('web-1', at(minute))}`, `t${await mount(at(minute))}`, `p${(await policyRun(at(minute), ['db-1'])).run}`]);
    });
    expect(added.length).toBeGreaterThanOrEqual(2);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toEqual(before);
    // They are there, newest first, on the first pages of a new listing.
    expect(await allPages('limit=100')).toEqual([...added.reverse().flat(), ...before]);
  });

  it("migration 0012 sets each run's workflows from the runs' records, and records the totals of ended runs", async () => {
    await catalog.execute('UPDATE workflows SET policy_run_id = NULL');
    await catalog.execute("UPDATE policy_runs SET totals_recorded = 0, bytes_read = NULL WHERE state <> 'missed'");
    for (const statement of policyRunJobs.statements) await catalog.execute(statement);
    const rows = await catalog.query<{ id: number; policy_run_id: number | null }>('SELECT id, policy_run_id FROM workflows WHERE id IN (?, ?, ?)', [
      nightly1.workflows[0]!,
      nightly2.workflows[1]!,
      nightly2.workflows[0]! - 1,
    ]);
    expect(new Map(rows.map((r) => [r.id, r.policy_run_id]))).toEqual(
      new Map([
        [nightly1.workflows[0]!, nightly1.run],
        [nightly2.workflows[1]!, nightly2.run],
        [nightly2.workflows[0]! - 1, null],
      ]),
    );
    const [run] = await catalog.query<{ bytes_read: number; bytes_stored: number; warnings: number; totals_recorded: number }>('SELECT bytes_read, bytes_stored, warnings, totals_recorded FROM policy_runs WHERE id = ?', [nightly1.run]);
    expect(run).toEqual({ bytes_read: 6 * 1048576, bytes_stored: 3 * 1048576, warnings: 1, totals_recorded: 1 });
    // Recorded totals are what the list shows.
    const listed = (await jobs('limit=100&kind=POLICY_RUN')).jobs.find((j) => j.id === `p${nightly1.run}`)!;
    expect(listed.summary).toMatchObject({ bytesRead: 6 * 1048576, bytesStored: 3 * 1048576, warningCount: 1 });
  });
});
