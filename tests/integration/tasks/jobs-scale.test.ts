import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobListQuery, JobPage } from '../../../common/api/jobs.js';
import type { SqlValue } from '../../../electron/server/db/catalog.js';
import { scaleVmName } from '../../../electron/server/db/scale-fixture.js';
import { encodeJobCursor, type JobRef } from '../../../electron/server/tasks/job-keyset.js';
import { jobListSql, STANDALONE_JOB_TYPES } from '../../../electron/server/tasks/jobs.repository.js';
import { startScaleServer, type ScaleServer } from '../../support/scale-catalog.js';

/** The fixture's size: small by default; VPLUS_SCALE_VMS=1000 VPLUS_SCALE_DAYS=365 for issue 17's catalog. */
const VMS = Number(process.env.VPLUS_SCALE_VMS ?? 60);
const DAYS = Number(process.env.VPLUS_SCALE_DAYS ?? 30);
/** Requests timed per list query (printed, not asserted: the benchmark is the judge of time). */
const TIMED = Number(process.env.VPLUS_SCALE_TIMED ?? 5);

type Filters = Pick<JobListQuery, 'kind' | 'state' | 'subject' | 'flat'>;

/**
 * The jobs list on the scale fixture (issue 17): a page deep in the history and filtered pages
 * are the rows a plain ORDER BY over every job gives, each table is read through an index from
 * the cursor (EXPLAIN), and the nightly runs are one job each.
 */
describe('jobs list on the scale fixture', () => {
  let s: ScaleServer;

  /** Every job in list order, the slow way: what each page must be a slice of. */
  const everyJob = async (f: Filters): Promise<JobRef[]> => {
    const flat = f.flat === '1' || f.subject !== undefined;
    const parts: Record<JobRef['k'], { where: string[]; params: SqlValue[] }> = {
      w: { where: [flat ? 'TRUE' : 'policy_run_id IS NULL'], params: [] },
      t: { where: [`workflow_id IS NULL AND type IN (${STANDALONE_JOB_TYPES.map((x) => `'${x}'`).join(', ')})`], params: [] },
      p: { where: [flat || (f.kind !== undefined && f.kind !== 'POLICY_RUN') ? 'FALSE' : "state <> 'missed'"], params: [] },
    };
    const filter = (value: string | undefined, conditions: Partial<Record<JobRef['k'], string>>): void => {
      if (value === undefined) return;
      for (const [k, condition] of Object.entries(conditions) as [JobRef['k'], string][]) {
        parts[k].where.push(condition);
        parts[k].params.push(value);
      }
    };
    filter(f.kind, { w: 'type = ?', t: 'type = ?' });
    filter(f.state, { w: 'state = ?', t: 'state = ?', p: 'UPPER(state) = ?' });
    filter(f.subject, { w: 'subject = ?', t: 'subject = ?' });
    const { w, t, p } = parts;
    const rows = await s.catalog.query<{ k: JobRef['k']; id: number; created_at: Date }>(
      `SELECT k, id, created_at FROM (
         SELECT 'w' AS k, id, created_at FROM workflows WHERE ${w.where.join(' AND ')}
         UNION ALL SELECT 't', id, created_at FROM tasks WHERE ${t.where.join(' AND ')}
         UNION ALL SELECT 'p', id, created_at FROM policy_runs WHERE ${p.where.join(' AND ')}) j
       ORDER BY created_at DESC, k DESC, id DESC`,
      [...w.params, ...t.params, ...p.params],
    );
    return rows.map((r) => ({ k: r.k, id: Number(r.id), createdAt: r.created_at }));
  };
  const page = async (q: string): Promise<JobPage> => {
    const res = await s.api.request<JobPage>('GET', `/api/jobs?${q}`, undefined, { token: s.token });
    expect(res.status, res.text).toBe(200);
    return res.body;
  };
  const query = (f: Filters, extra: Record<string, string> = {}): string =>
    new URLSearchParams({ ...Object.fromEntries(Object.entries(f).filter(([, v]) => v !== undefined)), ...extra }).toString();

  const FILTERS: Array<[string, Filters]> = [
    ['all', {}],
    ['policy runs', { kind: 'POLICY_RUN' }],
    ['backups', { kind: 'BACKUP' }],
    ['failed', { state: 'FAILED' }],
    ['flat', { flat: '1' }],
    ['one VM', { subject: `vm:${scaleVmName(7)}` }],
  ];

  beforeAll(async () => {
    // "Now" is the current time: the scheduler finds every night handled and runs nothing while the test reads.
    s = await startScaleServer({ vms: VMS, days: DAYS });
  }, 180_000 + VMS * DAYS * 5);
  afterAll(async () => {
    await s?.destroy();
  });

  it("shows each night's policy runs once, not their thousands of workflows", async () => {
    // Backups by hand (VMs in no policy) and failed attempts are jobs of their own; policy runs' workflows never are.
    expect((await page('limit=200')).jobs.filter((j) => j.parent !== null)).toEqual([]);
    const runs = (await page('limit=50&kind=POLICY_RUN')).jobs;
    expect(runs).toHaveLength(Math.min(50, 4 * DAYS));
    const [newest] = await s.catalog.query<{ n: number }>('SELECT COUNT(*) AS n FROM workflows WHERE policy_run_id = ?', [runs[0]!.run!.id]);
    expect(runs[0]!.run!.total).toBe(Number(newest!.n));
    for (const run of runs) {
      expect(run.run!.succeeded).toBe(run.run!.total);
      expect(run.summary.bytesRead).toBeGreaterThan(0);
    }
  });

  for (const [name, filters] of FILTERS) {
    it(`${name}: the first page and one deep in the history are the right jobs`, async () => {
      const all = await everyJob(filters);
      expect(all.length).toBeGreaterThan(1);
      const ids = (refs: JobRef[]): string[] => refs.map((r) => `${r.k}${r.id}`);
      const first = await page(query(filters, { limit: '50' }));
      expect(first.jobs.map((j) => j.id)).toEqual(ids(all.slice(0, 50)));
      const deep = Math.floor(all.length * 0.8);
      const later = await page(query(filters, { limit: '50', cursor: encodeJobCursor(all[deep - 1]!) }));
      expect(later.jobs.map((j) => j.id)).toEqual(ids(all.slice(deep, deep + 50)));
      expect(later.nextCursor).toBe(deep + 50 < all.length ? encodeJobCursor(all[deep + 49]!) : null);

      // Each table is read through an index from the cursor, never sorted whole.
      const sql = jobListSql({ limit: 50, ...filters, cursor: encodeJobCursor(all[deep - 1]!) })!;
      const plan = await s.catalog.query<{ id: number | null; table: string; key: string | null; rows: number; Extra: string | null }>(`EXPLAIN ${sql.sql}`, sql.params);
      // (One table alone is read as a derived table; its own line is the one to check.)
      for (const row of plan.filter((r) => r.id !== null && !r.table.startsWith('<'))) {
        expect(row.key, `${name}: ${JSON.stringify(row)}`).not.toBeNull();
        if (row.table === 'w' || row.table === 't') expect(row.Extra ?? '', `${name}: ${JSON.stringify(row)}`).not.toContain('filesort');
      }

      const times: number[] = [];
      for (let i = 0; i < TIMED; i++) {
        const t0 = performance.now();
        await page(query(filters, { limit: '50', cursor: encodeJobCursor(all[deep - 1]!) }));
        times.push(performance.now() - t0);
      }
      times.sort((a, b) => a - b);
      console.log(`jobs ${name} (${VMS} VMs × ${DAYS} days, ${all.length} jobs), a page at 80 %: p50 ${times[Math.floor(TIMED / 2)]!.toFixed(1)} ms, p95 ${times[Math.ceil(TIMED * 0.95) - 1]!.toFixed(1)} ms`);
      console.log(plan.map((r) => `  ${r.id ?? '-'} ${r.table} key=${r.key} rows=${r.rows} ${r.Extra ?? ''}`).join('\n'));
    });
  }
});
