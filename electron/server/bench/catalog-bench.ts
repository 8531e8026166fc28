import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { encodeTimeCursor } from '../../../common/api/paging.js';
import { PinnedAgent } from '../../../common/net/pinned-agent.js';
import { parseBootConfig } from '../boot-config.js';
import { Catalog } from '../db/catalog.js';
import { openCatalog } from '../db/catalog-factory.js';
import { MIGRATIONS } from '../db/migrations/index.js';
import { Migrator } from '../db/migrator.js';
import { SCALE_DESTINATIONS, scaleVmName, scaleVmUuid, seedScaleFixture } from '../db/scale-fixture.js';
import { startServer, type RunningServer } from '../server.js';

/**
 * `npm run bench -- catalog`: issue 17's benchmark. A real server (its managed MariaDB, as the
 * product runs it) on the scale fixture; every list endpoint (first page, a page deep in the
 * history, each filter) and single objects, requested one after another over loopback HTTPS
 * with keep-alive; p50/p95/max of each. Results on stdout (a Markdown table for RESULTS.md) and
 * as JSON in bench-results/.
 *
 * Settings (environment):
 *   VPLUS_BENCH_VMS, VPLUS_BENCH_DAYS   the fixture (default 1000 × 365)
 *   VPLUS_BENCH_REQUESTS                requests per endpoint (default 100; 3 more warm up first)
 *   VPLUS_BENCH_DATA_DIR                the server's data dir; kept, and a seeded catalog in it is
 *                                       used again (seeding a year takes a minute), otherwise a
 *                                       temporary one is seeded and removed
 *   VPLUS_BENCH_ONLY                    a regular expression: only the endpoints it matches
 * The targets (issue 17): p95 < 200 ms for a list page and the dashboard, < 50 ms for one object.
 */

const ADMIN = { username: 'admin', password: 'bench-admin-password' };
const DAY_MS = 86_400_000;

interface Case {
  group: string;
  name: string;
  /** 'list' (target 200 ms) or 'one' (target 50 ms). */
  kind: 'list' | 'one';
  path: string;
}

export interface CaseResult {
  group: string;
  name: string;
  kind: Case['kind'];
  path: string;
  status: number;
  bytes: number;
  rows: number | null;
  p50: number;
  p95: number;
  max: number;
  error?: string;
}

function envInt(name: string, fallback: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a whole number of at least 1`);
  return n;
}

class Client {
  private readonly agent: PinnedAgent;
  token = '';

  constructor(
    private readonly baseUrl: string,
    fingerprint: string,
  ) {
    this.agent = new PinnedAgent(fingerprint, { keepAlive: true, maxSockets: 1 });
  }

  request(method: string, p: string, body?: unknown): Promise<{ status: number; text: string; ms: number }> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string> = {};
    if (payload !== undefined) headers['content-type'] = 'application/json';
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    const started = process.hrtime.bigint();
    return new Promise((resolve, reject) => {
      const req = https.request(new URL(p, this.baseUrl), { method, agent: this.agent, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), ms: Number(process.hrtime.bigint() - started) / 1e6 }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(payload);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

const quantile = (sorted: number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? NaN;

/** Rows of a list answer: an array, or the array inside a page object. */
function rowsOf(body: unknown): number | null {
  if (Array.isArray(body)) return body.length;
  if (body && typeof body === 'object') {
    for (const v of Object.values(body)) if (Array.isArray(v)) return v.length;
  }
  return null;
}

function hasCursor(body: unknown): boolean {
  return !!body && typeof body === 'object' && !Array.isArray(body) && 'nextCursor' in body;
}

/** The endpoints, with ids, names and deep positions looked up in the catalog the server runs on. */
async function cases(client: Client, db: Catalog, now: number): Promise<Case[]> {
  const first = async (sql: string): Promise<Record<string, unknown>> => (await db.query(sql))[0] ?? {};
  const probe = async (p: string): Promise<unknown> => {
    const res = await client.request('GET', p);
    try {
      return JSON.parse(res.text) as unknown;
    } catch {
      return undefined;
    }
  };
  const totalBackups = Number((await first('SELECT COUNT(*) AS n FROM backups')).n);
  const vms = Number((await first('SELECT COUNT(*) AS n FROM vms')).n);
  const k = Math.max(1, Math.round(vms / 2));
  const deepBackups = Math.floor(totalBackups * 0.82);
  const week = (daysAgo: number): string => `from=${new Date(now - daysAgo * DAY_MS).toISOString()}&to=${new Date(now - (daysAgo - 7) * DAY_MS).toISOString()}`;
  const midBackup = Number((await first(`SELECT id FROM backups ORDER BY id LIMIT 1 OFFSET ${Math.floor(totalBackups / 2)}`)).id);
  const task = Number((await first("SELECT id FROM tasks WHERE type = 'STORE' ORDER BY id LIMIT 1 OFFSET 1000")).id);
  const workflow = Number((await first('SELECT id FROM workflows ORDER BY id LIMIT 1 OFFSET 1000')).id);
  const deepAt = new Date(now - 300 * DAY_MS).toISOString();

  const backups = '/api/backups?limit=200';
  const backupsDeep = hasCursor(await probe(backups)) ? await backupsCursorAt(db, deepBackups) : `${backups}&offset=${deepBackups}`;
  const tasks = '/api/tasks?limit=100';
  const audit = '/api/audit?limit=100';
  const runs = '/api/policy-runs?limit=100';
  const jobs = '/api/jobs?limit=50';
  const deepRun = Number((await first('SELECT id FROM policy_runs ORDER BY id DESC LIMIT 1 OFFSET 1200')).id);
  const deepWorkflow = await first(`SELECT id, created_at FROM workflows WHERE created_at < '${deepAt.slice(0, 19).replace('T', ' ')}' ORDER BY id DESC LIMIT 1`);
  // The (time, id) cursors of rows 300 days back: what the page before them answered.
  const timeCursor = async (table: string, at: string): Promise<string> => {
    const row = await first(`SELECT id, ${at} AS at FROM ${table} WHERE ${at} < '${deepAt.slice(0, 19).replace('T', ' ')}' ORDER BY ${at} DESC, id DESC LIMIT 1`);
    return encodeTimeCursor({ at: row.at as Date, id: Number(row.id) });
  };

  return [
    { group: 'Backups', name: 'first page (200)', kind: 'list', path: backups },
    { group: 'Backups', name: `deep page (row ${deepBackups.toLocaleString('en')})`, kind: 'list', path: backupsDeep },
    { group: 'Backups', name: 'by VM', kind: 'list', path: `${backups}&vm=${scaleVmUuid(k)}` },
    { group: 'Backups', name: `by destination (${SCALE_DESTINATIONS[1].name})`, kind: 'list', path: `${backups}&destination=${SCALE_DESTINATIONS[1].name}` },
    { group: 'Backups', name: 'by state (damaged)', kind: 'list', path: `${backups}&status=damaged` },
    { group: 'Backups', name: 'protected', kind: 'list', path: `${backups}&protected=true` },
    { group: 'Backups', name: 'by date (a week, 6 months ago)', kind: 'list', path: `${backups}&${week(180)}` },
    { group: 'Backups', name: 'by VM and date', kind: 'list', path: `${backups}&vm=${scaleVmUuid(k)}&${week(180)}` },
    { group: 'Backups', name: 'search a VM name ("mail-04")', kind: 'list', path: `${backups}&search=mail-04` },
    { group: 'Backups', name: 'search notes ("auditors")', kind: 'list', path: `${backups}&search=auditors` },
    { group: 'Backups', name: 'one backup', kind: 'one', path: `/api/backups/${midBackup}` },
    { group: 'VMs', name: `all (${vms.toLocaleString('en')})`, kind: 'list', path: '/api/vms' },
    { group: 'VMs', name: 'one VM', kind: 'one', path: `/api/vms/${scaleVmName(k)}` },
    { group: 'Dashboard', name: 'dashboard', kind: 'list', path: '/api/dashboard' },
    { group: 'Tasks', name: 'first page (100)', kind: 'list', path: tasks },
    { group: 'Tasks', name: 'deep page (300 days ago)', kind: 'list', path: hasCursor(await probe(tasks)) ? `${tasks}&cursor=${await timeCursor('tasks', 'created_at')}` : `${tasks}&offset=600000` },
    { group: 'Tasks', name: 'one task', kind: 'one', path: `/api/tasks/${task}` },
    { group: 'Audit', name: 'first page (100)', kind: 'list', path: audit },
    { group: 'Audit', name: 'deep page (300 days ago)', kind: 'list', path: hasCursor(await probe(audit)) ? `${audit}&cursor=${await timeCursor('audit_log', 'at')}` : `${audit}&offset=30000` },
    { group: 'Policy runs', name: 'first page (100)', kind: 'list', path: runs },
    { group: 'Policy runs', name: 'deep page (row 1,200)', kind: 'list', path: hasCursor(await probe(runs)) ? `${runs}&cursor=${deepRun}` : `${runs}&offset=1200` },
    { group: 'Jobs', name: 'first page (50)', kind: 'list', path: jobs },
    {
      group: 'Jobs',
      name: 'deep page (300 days ago)',
      kind: 'list',
      path: hasCursor(await probe(jobs)) ? `${jobs}&cursor=${(deepWorkflow.created_at as Date).getTime()}.w${Number(deepWorkflow.id)}` : `${jobs}&offset=300000`,
    },
    { group: 'Jobs', name: 'one job', kind: 'one', path: `/api/jobs/w${workflow}` },
  ];
}

/** The cursor of the backup list at a row (newest first): what the page before it answered. */
async function backupsCursorAt(db: Catalog, row: number): Promise<string> {
  const [r] = await db.query<{ id: number; created_at: Date }>(`SELECT id, created_at FROM backups ORDER BY created_at DESC, id DESC LIMIT 1 OFFSET ${row - 1}`);
  return `/api/backups?limit=200&cursor=${encodeURIComponent(encodeTimeCursor({ at: r!.created_at, id: Number(r!.id) }))}`;
}

async function measure(client: Client, c: Case, requests: number): Promise<CaseResult> {
  const times: number[] = [];
  let last = { status: 0, text: '' };
  for (let i = 0; i < requests + 3; i++) {
    const res = await client.request('GET', c.path);
    last = res;
    if (res.status !== 200) break;
    if (i >= 3) times.push(res.ms);
  }
  const base = { group: c.group, name: c.name, kind: c.kind, path: c.path, status: last.status, bytes: Buffer.byteLength(last.text) };
  if (last.status !== 200) return { ...base, rows: null, p50: NaN, p95: NaN, max: NaN, error: last.text.slice(0, 200) };
  times.sort((a, b) => a - b);
  return { ...base, rows: c.kind === 'list' ? rowsOf(JSON.parse(last.text)) : null, p50: quantile(times, 0.5), p95: quantile(times, 0.95), max: times[times.length - 1]! };
}

const ms = (v: number): string => (Number.isNaN(v) ? '-' : v >= 100 ? `${v.toFixed(0)} ms` : `${v.toFixed(1)} ms`);
const kib = (b: number): string => (b >= 1024 * 1024 ? `${(b / 1024 / 1024).toFixed(1)} MiB` : `${(b / 1024).toFixed(1)} KiB`);

export function markdown(results: CaseResult[]): string {
  const lines = ['| endpoint | request | rows | size | p50 | p95 | max | target |', '| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |'];
  for (const r of results) {
    const target = r.kind === 'list' ? 200 : 50;
    const verdict = r.error ? `${r.status}: ${r.error.replace(/\|/g, '/').slice(0, 80)}` : r.p95 < target ? `met (< ${target} ms)` : `**missed** (< ${target} ms)`;
    lines.push(`| ${r.group}: ${r.name} | \`${r.path.replace(/\|/g, '%7C')}\` | ${r.rows ?? ''} | ${kib(r.bytes)} | ${ms(r.p50)} | ${ms(r.p95)} | ${ms(r.max)} | ${verdict} |`);
  }
  return lines.join('\n');
}

/** A managed catalog in dataDir with the fixture in it (seeded now unless it already is). */
async function seeded(dataDir: string, vms: number, days: number, log: (s: string) => void): Promise<void> {
  const logger = pino({ level: 'warn' });
  const opened = await openCatalog({ dataDir, logger });
  try {
    await new Migrator(opened.catalog, MIGRATIONS, logger).migrate();
    const [row] = await opened.catalog.query<{ n: number }>('SELECT COUNT(*) AS n FROM backups');
    if (Number(row?.n) > 0) {
      log(`Using the catalog in ${dataDir} (${Number(row?.n).toLocaleString('en')} backups).`);
      return;
    }
    log(`Seeding ${vms} VMs × ${days} nights into ${dataDir}…`);
    const s = await seedScaleFixture(opened.catalog, { vms, days });
    log(`Seeded in ${s.seconds.toFixed(1)} s: ${s.backups.toLocaleString('en')} backups, ${s.tasks.toLocaleString('en')} tasks, ${s.taskLogs.toLocaleString('en')} task log lines.`);
  } finally {
    await opened.close();
  }
}

export async function runCatalogBenchmark(): Promise<CaseResult[]> {
  const vms = envInt('VPLUS_BENCH_VMS', 1000);
  const days = envInt('VPLUS_BENCH_DAYS', 365);
  const requests = envInt('VPLUS_BENCH_REQUESTS', 100);
  const only = process.env.VPLUS_BENCH_ONLY ? new RegExp(process.env.VPLUS_BENCH_ONLY, 'i') : undefined;
  const keep = process.env.VPLUS_BENCH_DATA_DIR;
  const dataDir = keep ? path.resolve(keep) : fs.mkdtempSync(path.join(os.tmpdir(), 'vplus-catalog-bench-'));
  const log = (s: string): void => void process.stdout.write(`${s}\n`);

  let server: RunningServer | undefined;
  let client: Client | undefined;
  let db: Catalog | undefined;
  let cleaned: Promise<void> | undefined;
  // The server's MariaDB runs in its own session: a Ctrl-C stops the server first, as a stop would.
  const cleanup = (): Promise<void> =>
    (cleaned ??= (async () => {
      client?.close();
      await db?.close();
      await server?.close();
      if (!keep) fs.rmSync(dataDir, { recursive: true, force: true });
    })());
  const interrupted = (signal: NodeJS.Signals): void => {
    log(`${signal}: stopping the server…`);
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    await seeded(dataDir, vms, days, log);
    server = await startServer(parseBootConfig({ dataDir, port: 0, bind: '127.0.0.1' }), { logger: pino({ level: 'warn' }) });
    client = new Client(server.url, server.fingerprint);
    const setup = await client.request('POST', '/api/setup', { ...ADMIN, setupCode: server.setupCode() ?? '' });
    if (setup.status !== 201 && setup.status !== 409) throw new Error(`first-run setup failed: ${setup.status} ${setup.text}`);
    const login = await client.request('POST', '/api/auth/login', { ...ADMIN, issueToken: true });
    if (login.status !== 200) throw new Error(`login failed: ${login.status} ${login.text}`);
    client.token = (JSON.parse(login.text) as { token: string }).token;
    db = new Catalog({ mode: 'managed', pool: { socketPath: path.join(dataDir, 'mariadb', 'run', 'mysqld.sock'), user: os.userInfo().username, database: 'vplus', connectionLimit: 1 } });

    const list = (await cases(client, db, Date.now())).filter((c) => !only || only.test(`${c.group}: ${c.name}`));
    const load = os.loadavg()[0]!;
    log(`${list.length} endpoints × ${requests} requests, one at a time (load average ${load.toFixed(1)} on ${os.cpus().length} CPUs)…`);
    const results: CaseResult[] = [];
    for (const c of list) {
      const r = await measure(client, c, requests);
      results.push(r);
      log(`  ${r.group}: ${r.name}: ${r.error ? `${r.status} ${r.error}` : `p50 ${ms(r.p50)}, p95 ${ms(r.p95)}, ${kib(r.bytes)}`}`);
    }
    const at = new Date().toISOString();
    log(`\n${at} · load average ${load.toFixed(1)} → ${os.loadavg()[0]!.toFixed(1)} · ${vms} VMs × ${days} nights · ${requests} requests each\n`);
    log(markdown(results));
    const dir = path.resolve('bench-results');
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `catalog-bench-${at.replace(/[:.]/g, '-')}.json`);
    fs.writeFileSync(file, JSON.stringify({ at, vms, days, requests, load: [load, os.loadavg()[0]], results }, null, 2));
    log(`\nJSON: ${file}`);
    return results;
  } finally {
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
    await cleanup();
  }
}
