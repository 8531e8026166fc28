import type { PoolConnection } from 'mariadb';
import { refreshAllVmSummaries } from '../backups/vm-summaries.js';
import type { Catalog, Sql } from './catalog.js';

/**
 * A catalog at scale (issue 17): VMs on a few hypervisors and nodes, a year of nightly backups
 * of each with the workflows, EXPORT/STORE tasks and task logs that made them, the nightly
 * policy runs, and audit entries; written through the real schema (after the migrations) with
 * MariaDB's SEQUENCE engine, one INSERT … SELECT per table, so 1,000 VMs × 365 days take well
 * under a minute. The benchmark (`npm run bench -- catalog`) and the scale tests use it;
 * `npm run seed:scale` fills a catalog with it.
 *
 * Everything is a function of a VM's number k (1…vms) and a day's number i (0 = oldest), so a
 * test can say which rows a filter must return; the layout:
 * - nodes scale-node-1…3, a hypervisor kvm-N on each, destinations nas-1 and usb-1 (node 1),
 *   nas-2 (node 2), nas-3 (node 3); VM k backs up to destination (k-1) % 4 on that one's node;
 * - VM names `<role>-<k, 4 digits>` (role by ⌊(k-1)/4⌋ % 10); every 50th VM is missing from its
 *   host; every 20th is in no policy (its nightly backups are run by hand by "admin");
 * - one backup of each VM each night at 01:00 UTC plus a few seconds per VM: full on Sundays and
 *   the first night, incremental otherwise; usb-1's policy keeps 30 days, 12 weeks, 12 months,
 *   the rest are "removed"; a few are damaged or missing, protected, or carry notes;
 * - every backup has its workflow (EXPORT + STORE, finished, a few with warnings) and each
 *   task 2–3 log lines; a few failed manual backups the afternoon before (EXPORT failed, STORE
 *   cancelled) leave no backup; each policy has one run per night listing its workflows.
 */
export interface ScaleFixtureOptions {
  /** VMs (default 1,000). */
  vms?: number;
  /** Nights of backups (default 365). */
  days?: number;
  /** "Now": the newest backups are of the night before (default: the current time). */
  now?: Date;
  /** Sign-ins recorded in the audit log per day (default 40). */
  loginsPerDay?: number;
  /** Told after each table is written: what, how many rows, how long it took. */
  onProgress?: (step: string, rows: number, seconds: number) => void;
}

export interface ScaleFixtureSummary {
  vms: number;
  days: number;
  backups: number;
  workflows: number;
  tasks: number;
  taskLogs: number;
  policyRuns: number;
  auditEntries: number;
  /** The oldest night's 00:00 UTC. */
  firstDay: Date;
  seconds: number;
}

export const SCALE_NODES = ['scale-node-1', 'scale-node-2', 'scale-node-3'] as const;
export const SCALE_HYPERVISORS = ['kvm-1', 'kvm-2', 'kvm-3'] as const;
/** Destination (k-1) % 4 of VM k, and the node (1-based) each is on. */
export const SCALE_DESTINATIONS = [
  { name: 'nas-1', node: 1 },
  { name: 'usb-1', node: 1 },
  { name: 'nas-2', node: 2 },
  { name: 'nas-3', node: 3 },
] as const;
export const SCALE_ROLES = ['web', 'db', 'mail', 'files', 'app', 'dc', 'build', 'test', 'erp', 'crm'] as const;
const NOTES = ['before the upgrade to the new release', 'month-end close', 'kept for the auditors', 'last state before migration', 'known good after the incident'];

const DAY_MS = 86_400_000;
const GIB = 1024 ** 3;

/** VM k's name (1-based), as the fixture writes it. */
export function scaleVmName(k: number): string {
  return `${SCALE_ROLES[Math.floor((k - 1) / 4) % SCALE_ROLES.length]}-${String(k).padStart(4, '0')}`;
}

/** VM k's UUID, as the fixture writes it. */
export function scaleVmUuid(k: number): string {
  return `5ca1e000-0000-4000-8000-${k.toString(16).padStart(12, '0')}`;
}

/** The midnight (UTC) of the first night: the last night is the one before `now` (backups end by 03:00). */
export function scaleFirstDay(now: Date, days: number): Date {
  const last = Math.floor((now.getTime() - 3 * 3_600_000) / DAY_MS) * DAY_MS;
  return new Date(last - (days - 1) * DAY_MS);
}

const int = (n: number, what: string, min: number): number => {
  if (!Number.isInteger(n) || n < min) throw new Error(`the scale fixture's ${what} must be an integer of at least ${min}`);
  return n;
};
const sqlTime = (d: Date): string => `'${d.toISOString().slice(0, 23).replace('T', ' ')}'`;
const q = (s: string): string => `'${s.replace(/'/g, "''")}'`;

/**
 * Fills `catalog` (already migrated, with no inventory, destinations or backups yet) with the
 * fixture. Runs on one connection with foreign-key and unique checks off while it loads (every
 * row it writes refers to rows it wrote first).
 */
export async function seedScaleFixture(catalog: Catalog, options: ScaleFixtureOptions = {}): Promise<ScaleFixtureSummary> {
  const started = Date.now();
  const V = int(options.vms ?? 1000, 'number of VMs', 1);
  const D = int(options.days ?? 365, 'number of days', 1);
  const logins = int(options.loginsPerDay ?? 40, 'sign-ins per day', 0);
  const now = options.now ?? new Date();
  const firstDay = scaleFirstDay(now, D);
  // Two connections: the backups and the workflows with their tasks are written side by side.
  return catalog.withConnection((a) =>
    catalog.withConnection(async (b) => {
      const lanes = [new Lane(a, options.onProgress), new Lane(b, options.onProgress)] as const;
      const taken = await lanes[0].one(
        `SELECT (SELECT COUNT(*) FROM vms) + (SELECT COUNT(*) FROM hypervisors) + (SELECT COUNT(*) FROM destinations) + (SELECT COUNT(*) FROM backups) + (SELECT COUNT(*) FROM policies)
              + (SELECT COUNT(*) FROM nodes WHERE name IN (${SCALE_NODES.map(q).join(',')})) AS n`,
      );
      if (taken > 0) throw new Error('the scale fixture fills a new catalog: this one already has hypervisors, VMs, destinations, policies, backups or scale-node-N nodes');
      // Nested loops without a join buffer: rows come in the order of the ids they get (night, then VM).
      for (const lane of lanes) await lane.conn.query('SET SESSION foreign_key_checks = 0, unique_checks = 0, join_cache_level = 0');
      try {
        return { ...(await load(lanes, { V, D, logins, now, firstDay })), seconds: (Date.now() - started) / 1000 };
      } finally {
        for (const lane of lanes) await lane.conn.query('SET SESSION foreign_key_checks = 1, unique_checks = 1, join_cache_level = DEFAULT');
      }
    }),
  );
}

/** One connection of the load. */
class Lane {
  constructor(
    readonly conn: PoolConnection,
    private readonly onProgress: ScaleFixtureOptions['onProgress'],
  ) {}

  async run(step: string, sql: string): Promise<number> {
    const t0 = Date.now();
    const rows = Number((await this.conn.query<{ affectedRows: number }>(sql)).affectedRows ?? 0);
    this.onProgress?.(step, rows, (Date.now() - t0) / 1000);
    return rows;
  }

  async one(sql: string): Promise<number> {
    return Number((await this.conn.query<Record<string, unknown>[]>(sql))[0]?.n ?? 0);
  }

  async insertId(sql: string, params: unknown[]): Promise<number> {
    return Number((await this.conn.query<{ insertId: number }>(sql, params)).insertId);
  }

  /** What a repository's function runs on, told as a step. */
  async call(step: string, fn: (sql: Sql) => Promise<void>): Promise<void> {
    const t0 = Date.now();
    await fn({
      query: async <T>(sql: string, params?: unknown[]) => Array.from(await this.conn.query<T[]>(sql, params)),
      execute: async (sql: string, params?: unknown[]) => {
        const res = await this.conn.query<{ affectedRows: number; insertId: number }>(sql, params);
        return { affectedRows: Number(res.affectedRows), insertId: Number(res.insertId) };
      },
    } as Sql);
    this.onProgress?.(step, 0, (Date.now() - t0) / 1000);
  }
}

async function load(lanes: readonly [Lane, Lane], o: { V: number; D: number; logins: number; now: Date; firstDay: Date }): Promise<Omit<ScaleFixtureSummary, 'seconds'>> {
  const { V, D, logins, now, firstDay } = o;
  const [a, b] = lanes;

  // ---- the small tables, row by row ----
  const nodeIds: number[] = [];
  for (const [n, name] of SCALE_NODES.entries()) {
    nodeIds.push(
      await a.insertId(
        `INSERT INTO nodes (name, host, status, install_method, credential_hash, version, capabilities, last_seen_at) VALUES (?, ?, 'offline', 'manual', SHA2(?, 256), '0.1.0', '{"kvm":true}', ?)`,
        [name, `node-${n + 1}.scale.test`, `vplus-scale-${name}`, now],
      ),
    );
  }
  const hvIds: number[] = [];
  for (const [n, name] of SCALE_HYPERVISORS.entries()) {
    hvIds.push(await a.insertId(`INSERT INTO hypervisors (name, node_id, uri, status, last_sync_at) VALUES (?, ?, 'qemu:///system', 'ok', ?)`, [name, nodeIds[n], now]));
  }
  const destIds: number[] = [];
  for (const d of SCALE_DESTINATIONS) {
    destIds.push(
      await a.insertId(`INSERT INTO destinations (name, node_id, path, encrypted, status, total_bytes, last_checked_at) VALUES (?, ?, ?, 1, 'ok', ?, ?)`, [
        d.name,
        nodeIds[d.node - 1],
        `/mnt/${d.name}/vplus`,
        100 * 1024 * GIB,
        now,
      ]),
    );
  }
  const policyIds: number[] = [];
  for (const [n, d] of SCALE_DESTINATIONS.entries()) {
    const retention = d.name === 'usb-1' ? { daily: 30, weekly: 12, monthly: 12, keepLatestOfExistingVm: true } : { daily: 400, keepLatestOfExistingVm: true };
    policyIds.push(
      await a.insertId(
        `INSERT INTO policies (name, kind, destination_id, priority, enabled, time_zone, schedules, retention, assignment, evaluated_until, created_at)
         VALUES (?, 'backup', ?, 50, 1, 'UTC', ?, ?, '{"include":[],"exclude":[],"hypervisors":[],"mode":"assign-only"}', ?, ?)`,
        [`nightly-${d.name}`, destIds[n], JSON.stringify(['incremental mon-sat 01:00', 'full sun 01:00']), JSON.stringify(retention), now, new Date(firstDay.getTime() - DAY_MS)],
      ),
    );
  }

  // ---- per-VM and per-backup expressions (k: VM number, i: day number) ----
  const vmBase = await a.one('SELECT COALESCE(MAX(id), 0) AS n FROM vms');
  const wfBase = await a.one('SELECT COALESCE(MAX(id), 0) AS n FROM workflows');
  const taskBase = await a.one('SELECT COALESCE(MAX(id), 0) AS n FROM tasks');
  const backupBase = await a.one('SELECT COALESCE(MAX(id), 0) AS n FROM backups');
  const pick = (k: string, ids: number[]): string => `CAST(ELT(((${k}) - 1) % 4 + 1, ${ids.join(", ")}) AS UNSIGNED)`;
  const hvOfDest = SCALE_DESTINATIONS.map((d) => hvIds[d.node - 1]!);
  const nodeOfDest = SCALE_DESTINATIONS.map((d) => nodeIds[d.node - 1]!);
  const vda = (k: string): string => `((20 + ((${k}) - 1) % 9 * 20) * ${GIB})`;
  const vdb = (k: string): string => `IF((${k}) % 3 = 0, ${100 * GIB}, 0)`;

  await a.run(
    'vms',
    `INSERT INTO vms (id, hypervisor_id, uuid, name, state, present, vcpus, memory_bytes, disks, excluded_disks, updated_at)
     SELECT ${vmBase} + s.seq, ${pick('s.seq', hvOfDest)},
            CONCAT('5ca1e000-0000-4000-8000-', LPAD(LOWER(HEX(s.seq)), 12, '0')),
            CONCAT(ELT(FLOOR((s.seq - 1) / 4) % 10 + 1, ${SCALE_ROLES.map(q).join(', ')}), '-', LPAD(s.seq, 4, '0')),
            IF(s.seq % 7 = 0, 'shut off', 'running'), IF(s.seq % 50 = 0, 0, 1), 1 + s.seq % 8, (1 + s.seq % 16) * ${GIB},
            IF(s.seq % 3 = 0,
               JSON_ARRAY(JSON_OBJECT('target', 'vda', 'path', CONCAT('/var/lib/libvirt/images/vm', s.seq, '.qcow2'), 'format', 'qcow2', 'virtualBytes', ${vda('s.seq')}, 'allocatedBytes', ${vda('s.seq')} DIV 2),
                          JSON_OBJECT('target', 'vdb', 'path', CONCAT('/var/lib/libvirt/images/vm', s.seq, '-data.qcow2'), 'format', 'qcow2', 'virtualBytes', ${vdb('s.seq')}, 'allocatedBytes', ${vdb('s.seq')} DIV 3)),
               JSON_ARRAY(JSON_OBJECT('target', 'vda', 'path', CONCAT('/var/lib/libvirt/images/vm', s.seq, '.qcow2'), 'format', 'qcow2', 'virtualBytes', ${vda('s.seq')}, 'allocatedBytes', ${vda('s.seq')} DIV 2))),
            '[]', ${sqlTime(now)}
       FROM seq_1_to_${V} s`,
  );
  await a.run(
    'vm policies',
    `INSERT INTO vm_policies (vm_id, kind, policy_id, source, assigned_at) SELECT id, 'backup', ${pick(`id - ${vmBase}`, policyIds)}, 'manual', ${sqlTime(firstDay)} FROM vms WHERE id > ${vmBase} AND (id - ${vmBase}) % 20 <> 0`);

  // One row per VM and night, with what every table derives from it.
  const night = `SELECT v.id AS vm_id, v.uuid, v.name, v.id - ${vmBase} AS k, d.seq AS i, ${D - 1} - d.seq AS age,
        (d.seq * ${V} + v.id - ${vmBase} - 1) AS ord,
        ${pick(`v.id - ${vmBase}`, destIds)} AS dest_id, ${pick(`v.id - ${vmBase}`, nodeOfDest)} AS node_id, (v.id - ${vmBase} - 1) % 4 AS di,
        (v.id - ${vmBase}) % 20 <> 0 AS scheduled,
        TIMESTAMPADD(SECOND, 3600 + ((v.id - ${vmBase} - 1) % 250) * 20, ${sqlTime(firstDay)} + INTERVAL d.seq DAY) AS t,
        (d.seq = 0 OR DAYOFWEEK(${sqlTime(firstDay)} + INTERVAL d.seq DAY) = 1) AS is_full,
        DAYOFWEEK(${sqlTime(firstDay)} + INTERVAL d.seq DAY) = 1 AS sunday, DAYOFMONTH(${sqlTime(firstDay)} + INTERVAL d.seq DAY) AS mday,
        ${vda(`v.id - ${vmBase}`)} + ${vdb(`v.id - ${vmBase}`)} AS size
      FROM seq_0_to_${D - 1} d STRAIGHT_JOIN vms v ON v.id > ${vmBase}`;
  const dur = `IF(n.is_full, 600 + n.k * 37 % 1200, 60 + (n.k * 7 + n.i * 11) % 240)`;
  const repoId = `CONCAT(DATE_FORMAT(n.t, '%Y%m%dT%H%i%sZ'), '-', LPAD(LOWER(HEX((n.ord + 1) * 2654435761 % 1099511627776)), 10, '0'))`;
  // Rare states, spread over VMs and nights by a multiplicative hash (so a small fixture has some too).
  const rare = (salt: number, every: number): string => `((n.k * 7919 + n.i * 104729 + ${salt}) * 2654435761 % 4294967296 % ${every} = 0)`;
  const protectedExpr = rare(1, 401);
  const damagedExpr = rare(2, 1009);
  const missingExpr = rare(3, 2003);
  const removedExpr = `(n.di = 1 AND n.age >= 30 AND NOT (n.sunday AND n.age < 84) AND NOT (n.sunday AND n.mday <= 7 AND n.age < 366))`;
  const stored = `IF(n.is_full, n.size * (25 + n.k % 20) DIV 100, n.size * (4 + (n.k * 13 + n.i * 7) % 40) DIV 2000)`;
  const warned = `((n.k + n.i * 13) % 97 = 0)`;
  /** What a STORE read: 60 % of the disks for a full, the changed extents for an incremental. */
  const storeRead = `IF(n.is_full, n.size * 6 DIV 10, ${stored} * 9 DIV 5)`;
  const typ = `IF(n.is_full, 'full', 'incremental')`;
  const notesExpr = `IF(${rare(4, 257)}, ELT((n.k + n.i) % 5 + 1, ${NOTES.map(q).join(', ')}), NULL)`;

  const failed = `((n.k * 31 + n.i) % 199 = 0)`;

  // Lane A: the backups and what is derived from them.
  const laneA = async (): Promise<{ backups: number; auditEntries: number }> => {
    const backups = await a.run(
      'backups',
      `INSERT INTO backups (id, destination_id, repo_backup_id, vm, type, status, created_at, logical_bytes, stored_bytes, source, recorded_at,
                            verified_at, damaged_chunks, status_detail, protected, notes, read_bytes, duration_seconds)
       SELECT ${backupBase} + n.ord + 1, n.dest_id, ${repoId}, n.uuid, ${typ},
              CASE WHEN ${protectedExpr} THEN 'available' WHEN ${removedExpr} THEN 'removed'
                   WHEN ${damagedExpr} THEN 'damaged' WHEN ${missingExpr} THEN 'missing' ELSE 'available' END,
              n.t, n.size, ${stored},
              JSON_OBJECT('type', ${typ}, 'vm', JSON_OBJECT('name', n.name, 'uuid', n.uuid), 'checkpoint', CONCAT('vplus-', ${repoId}),
                          'disks', IF(n.k % 3 = 0, JSON_ARRAY(JSON_OBJECT('name', 'vda', 'format', 'qcow2', 'size', ${vda('n.k')}), JSON_OBJECT('name', 'vdb', 'format', 'qcow2', 'size', ${vdb('n.k')})),
                                                   JSON_ARRAY(JSON_OBJECT('name', 'vda', 'format', 'qcow2', 'size', ${vda('n.k')})))),
              TIMESTAMPADD(SECOND, ${dur}, n.t),
              IF(n.age >= 7 AND NOT ${removedExpr}, TIMESTAMPADD(HOUR, 75 + 24 * (6 - (n.i % 7)), n.t), NULL),
              IF(NOT ${protectedExpr} AND NOT ${removedExpr} AND ${damagedExpr}, 1 + n.k % 5, NULL),
              CASE WHEN ${protectedExpr} OR ${removedExpr} THEN NULL
                   WHEN ${damagedExpr} THEN CONCAT(1 + n.k % 5, ' damaged or missing chunks (verify)')
                   WHEN ${missingExpr} THEN 'its manifest is gone from the destination (verify)' END,
              ${protectedExpr}, ${notesExpr},
              IF(n.is_full, n.size * 6 DIV 10, ${stored} * 9 DIV 5), ${dur}
         FROM (${night}) n`,
    );

    // Each destination's numbers per night (its backups still there, as its checks read them) and the last as its own.
    await a.run(
      'destination usage',
      `INSERT INTO destination_usage (destination_id, at, stored_bytes, logical_bytes, backups)
       SELECT destination_id, day + INTERVAL 4 HOUR, SUM(stored) OVER w, SUM(logical) OVER w, SUM(n) OVER w
         FROM (SELECT destination_id, DATE(created_at) AS day, SUM(stored_bytes) AS stored, SUM(logical_bytes) AS logical, COUNT(*) AS n
                 FROM backups WHERE id > ${backupBase} AND status IN ('available','damaged') GROUP BY destination_id, DATE(created_at)) x
       WINDOW w AS (PARTITION BY destination_id ORDER BY day)`,
    );
    await a.run(
      'destinations',
      `UPDATE destinations d JOIN destination_usage u ON u.destination_id = d.id AND u.at = (SELECT MAX(at) FROM destination_usage WHERE destination_id = d.id)
          SET d.backups = u.backups, d.logical_bytes = u.logical_bytes, d.stored_bytes = u.stored_bytes,
              d.free_bytes = IF(d.total_bytes > u.stored_bytes, d.total_bytes - u.stored_bytes, 0), d.dedup_ratio = 3.1, d.compression_ratio = 1.6
        WHERE d.id IN (${destIds.join(', ')})`,
    );
    // Each VM's chain goes on from its newest backup.
    await a.run(
      'vm chains',
      `INSERT INTO vm_chains (vm_id, destination_id, checkpoint, repo_backup_id)
       SELECT v.id, x.destination_id, CONCAT('vplus-', x.repo_backup_id), x.repo_backup_id
         FROM vms v JOIN backups x ON x.id = ${backupBase} + ${(D - 1) * V} + (v.id - ${vmBase}) WHERE v.id > ${vmBase}`,
    );
    // Each VM's backup summary (migration 0013), as the repositories keep it.
    await a.call('vm summaries', refreshAllVmSummaries);

    // The audit log in time order: sign-ins; backups run by hand, protected, given notes.
    const destName = `ELT(n.di + 1, ${SCALE_DESTINATIONS.map((d) => q(d.name)).join(', ')})`;
    const auditEntries = await a.run(
      'audit log',
      `INSERT INTO audit_log (at, actor, action, target, details, ip)
       SELECT at, actor, action, target, details, ip FROM (
         SELECT ${sqlTime(firstDay)} + INTERVAL d.seq DAY + INTERVAL 7 HOUR + INTERVAL (l.seq * 613) SECOND AS at,
                ELT(l.seq % 3 + 1, 'admin', 'operator', 'viewer') AS actor, 'auth.login' AS action, NULL AS target,
                JSON_OBJECT('via', 'cookie') AS details, CONCAT('192.0.2.', 10 + l.seq % 40) AS ip
           FROM seq_0_to_${D - 1} d JOIN seq_1_to_${Math.max(logins, 1)} l ON ${logins > 0 ? '1' : '0'}
         UNION ALL
         SELECT ELT(r.seq, n.t, n.t - INTERVAL 11 HOUR, n.t + INTERVAL 9 HOUR, n.t + INTERVAL 9 HOUR), 'admin',
                ELT(r.seq, 'backup.run', 'backup.run', 'backup.protect', 'backup.notes'),
                IF(r.seq <= 2, CONCAT('vm:', n.name), CONCAT('backup:', ${backupBase} + n.ord + 1)),
                IF(r.seq <= 2,
                   JSON_OBJECT('destination', ${destName}, 'full', JSON_EXTRACT(IF(r.seq = 2, 'true', 'false'), '$'), 'workflowId', ${wfBase} + 2 * n.ord + 3 - r.seq),
                   IF(r.seq = 3, JSON_OBJECT('vm', n.uuid, 'destination', ${destName}, 'repoBackupId', ${repoId}),
                                 JSON_OBJECT('vm', n.uuid, 'destination', ${destName}, 'repoBackupId', ${repoId}, 'notes', ${notesExpr}))),
                '192.0.2.10'
           FROM (${night}) n STRAIGHT_JOIN seq_1_to_4 r
          WHERE (r.seq = 1 AND NOT n.scheduled) OR (r.seq = 2 AND ${failed}) OR (r.seq = 3 AND ${protectedExpr}) OR (r.seq = 4 AND ${notesExpr} IS NOT NULL)
       ) e WHERE at <= ${sqlTime(now)} ORDER BY at`,
    );
    return { backups, auditEntries };
  };

  // Lane B: the workflows (the backup's, and a failed manual one the afternoon before on some days), their tasks and logs, the policy runs.
  const laneB = async (): Promise<{ workflows: number; tasks: number; taskLogs: number; policyRuns: number }> => {
    // Each policy's nightly run, listing its workflows, with the totals it keeps once ended (migration 0012);
    // first, so that each of its workflows is written with the run's id (policy_run_id).
    const policyRuns = await b.run(
      'policy runs',
      `INSERT INTO policy_runs (policy_id, purpose, \`trigger\`, backup_type, scheduled_for, started_at, finished_at, state, vms, succeeded, failed, cancelled, message, workflows, created_at,
                                bytes_read, bytes_stored, warnings, totals_recorded)
       SELECT CAST(ELT(n.di + 1, ${policyIds.join(', ')}) AS UNSIGNED), 'run', 'schedule', IF(MAX(n.is_full), 'full', 'incremental'),
              ${sqlTime(firstDay)} + INTERVAL n.i DAY + INTERVAL 1 HOUR, ${sqlTime(firstDay)} + INTERVAL n.i DAY + INTERVAL 1 HOUR,
              MAX(TIMESTAMPADD(SECOND, ${dur}, n.t)), IF(MAX(${warned}), 'finished_with_warnings', 'finished'), COUNT(*), COUNT(*), 0, 0,
              IF(MAX(${warned}), CONCAT(SUM(${warned}), ' backup(s) ended with warnings'), NULL),
              JSON_ARRAYAGG(${wfBase} + 2 * n.ord + 2 ORDER BY n.ord), ${sqlTime(firstDay)} + INTERVAL n.i DAY + INTERVAL 1 HOUR,
              SUM(${storeRead}), NULL, SUM(${warned}), 1
         FROM (${night}) n WHERE n.scheduled GROUP BY n.i, n.di ORDER BY n.i, n.di`,
    );
    // One statement per table: InnoDB loads an empty table in bulk (its indexes sorted once) when
    // one statement fills it with the checks off, which it then no longer is for a second one.
    // Per night and VM: the failed manual attempt's rows (where there is one), then the backup's.
    const workflows = await b.run(
      'workflows',
      `INSERT INTO workflows (id, type, state, subject, created_by, created_at, finished_at, policy_run_id)
       SELECT ${wfBase} + 2 * n.ord + w.seq, 'BACKUP', IF(w.seq = 1, 'FAILED', IF(${warned}, 'FINISHED_WITH_WARNINGS', 'FINISHED')), CONCAT('vm:', n.name),
              IF(w.seq = 2 AND n.scheduled, 'scheduler', 'admin'), IF(w.seq = 1, n.t - INTERVAL 11 HOUR, n.t),
              IF(w.seq = 1, n.t - INTERVAL 11 HOUR + INTERVAL 40 SECOND, TIMESTAMPADD(SECOND, ${dur}, n.t)), r.id
         FROM (${night}) n STRAIGHT_JOIN seq_1_to_2 w
         LEFT JOIN policy_runs r ON w.seq = 2 AND n.scheduled AND r.policy_id = CAST(ELT(n.di + 1, ${policyIds.join(', ')}) AS UNSIGNED) AND r.purpose = 'run'
                                AND r.scheduled_for = ${sqlTime(firstDay)} + INTERVAL n.i DAY + INTERVAL 1 HOUR
        WHERE w.seq = 2 OR ${failed}`,
    );

    // Tasks 1, 2: the failed attempt's EXPORT (failed) and STORE (cancelled); 3, 4: the backup's.
    const vmRef = `JSON_OBJECT('uuid', n.uuid, 'name', n.name)`;
    const exportParams = (mode: string, previous: string): string =>
      `JSON_OBJECT('uri', 'qemu:///system', 'vm', ${vmRef}, 'destinationId', n.dest_id, 'mode', ${mode}, 'previous', ${previous}, 'excludeDisks', JSON_ARRAY(), 'vmId', n.vm_id)`;
    const storeParams = `JSON_OBJECT('destinationId', n.dest_id, 'vm', ${vmRef}, 'keepCheckpoints', JSON_ARRAY(), 'vmId', n.vm_id)`;
    const disksResult = `IF(n.k % 3 = 0, JSON_ARRAY(JSON_OBJECT('target', 'vda', 'size', ${vda('n.k')}), JSON_OBJECT('target', 'vdb', 'size', ${vdb('n.k')})), JSON_ARRAY(JSON_OBJECT('target', 'vda', 'size', ${vda('n.k')})))`;
    const guestAgent = 'the guest agent did not answer: the backup is crash-consistent';
    const exportFailed = 'virsh backup-begin failed: domain is locked by another job (another backup or a migration); run the backup again when it ended';
    const afternoon = 'n.t - INTERVAL 11 HOUR';
    const tasks = await b.run(
      'tasks',
      `INSERT INTO tasks (id, workflow_id, seq, depends_on, type, state, priority, node_id, required_node_id, subject, params, result, error, warnings,
                          bytes_done, bytes_total, rate, progress_message, created_by, created_at, started_at, finished_at)
       SELECT ${taskBase} + 4 * n.ord + s.seq, ${wfBase} + 2 * n.ord + IF(s.seq <= 2, 1, 2), 1 - s.seq % 2, IF(s.seq % 2 = 0, ${taskBase} + 4 * n.ord + s.seq - 1, NULL),
              IF(s.seq % 2 = 1, 'EXPORT', 'STORE'), ELT(s.seq, 'FAILED', 'CANCELLED', 'FINISHED', 'FINISHED'), 50, IF(s.seq = 2, NULL, n.node_id), n.node_id,
              CONCAT('vm:', n.name),
              ELT(s.seq, ${exportParams(`'full'`, 'NULL')}, ${storeParams},
                         ${exportParams(`'auto'`, `IF(n.is_full, NULL, JSON_OBJECT('checkpoint', 'vplus-previous', 'backupId', 'previous'))`)}, ${storeParams}),
              ELT(s.seq, NULL, NULL,
                  JSON_OBJECT('exportId', CONCAT('exp-', n.ord), 'type', ${typ}, 'disks', ${disksResult}, 'warnings', IF(${warned}, JSON_ARRAY('${guestAgent}'), JSON_ARRAY())),
                  JSON_OBJECT('backupId', ${repoId}, 'type', ${typ}, 'checkpoint', CONCAT('vplus-', ${repoId}), 'bytesRead', ${storeRead}, 'logicalBytes', n.size)),
              ELT(s.seq, '${exportFailed}', CONCAT('an earlier step (EXPORT task ', ${taskBase} + 4 * n.ord + 1, ') failed'), NULL, NULL),
              IF(s.seq = 3 AND ${warned}, JSON_ARRAY('${guestAgent}'), NULL),
              IF(s.seq = 4, ${storeRead}, 0), IF(s.seq = 4, ${storeRead}, NULL), IF(s.seq = 4, 150e6, NULL), NULL,
              IF(s.seq >= 3 AND n.scheduled, 'scheduler', 'admin'), IF(s.seq <= 2, ${afternoon}, n.t),
              ELT(s.seq, ${afternoon} + INTERVAL 1 SECOND, NULL, n.t + INTERVAL 1 SECOND, n.t + INTERVAL 20 SECOND),
              ELT(s.seq, ${afternoon} + INTERVAL 40 SECOND, ${afternoon} + INTERVAL 40 SECOND, n.t + INTERVAL 20 SECOND, TIMESTAMPADD(SECOND, ${dur}, n.t))
         FROM (${night}) n STRAIGHT_JOIN seq_1_to_4 s
        WHERE s.seq >= 3 OR ${failed}`,
    );

    // Task logs as the nodes write them: 2 lines for the failed EXPORT, then 2 per EXPORT and 3 per STORE.
    const taskLogs = await b.run(
      'task logs',
      `INSERT INTO task_logs (task_id, at, level, message)
       SELECT ${taskBase} + 4 * n.ord + ELT(l.seq, 1, 1, 3, 3, 4, 4, 4),
              IF(l.seq <= 2, ${afternoon} + INTERVAL l.seq SECOND, n.t + INTERVAL IF(l.seq <= 4, l.seq - 2, 15 + l.seq) SECOND),
              ELT(l.seq, 'info', 'error', 'info', IF(${warned}, 'warn', 'info'), 'info', 'info', 'info'),
              ELT(l.seq, CONCAT('exporting vm:', n.name, ' (full)'), '${exportFailed}',
                         CONCAT('exporting vm:', n.name, ' (', ${typ}, ')'),
                         IF(${warned}, '${guestAgent}', CONCAT('checkpoint vplus-', ${repoId}, ' created; ', IF(n.k % 3 = 0, 2, 1), ' disk(s) exported')),
                         CONCAT('read ', ${storeRead}, ' bytes of ', n.size),
                         CONCAT('stored ', ${stored}, ' new bytes'),
                         CONCAT('backup ', ${repoId}, ' committed'))
         FROM (${night}) n STRAIGHT_JOIN seq_1_to_7 l
        WHERE l.seq >= 3 OR ${failed}`,
    );

    return { workflows, tasks, taskLogs, policyRuns };
  };

  const [{ backups, auditEntries }, { workflows, tasks, taskLogs, policyRuns }] = await Promise.all([laneA(), laneB()]);
  return { vms: V, days: D, backups, workflows, tasks, taskLogs, policyRuns, auditEntries, firstDay };
}
