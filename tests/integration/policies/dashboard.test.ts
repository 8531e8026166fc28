import os from 'node:os';
import path from 'node:path';
import { DateTime } from 'luxon';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Dashboard } from '../../../common/api/policies.js';
import { defaultTimeZone } from '../../../common/schedule-occurrences.js';
import { refreshVmSummaries } from '../../../electron/server/backups/vm-summaries.js';
import { Catalog } from '../../../electron/server/db/catalog.js';
import { setupAdmin, startTestServer, type TestServer } from '../../support/test-server.js';

const GiB = 1024 ** 3;

/**
 * The dashboard's numbers on a real server and MariaDB, from rows written straight into the
 * catalog at known times: "last night" counts scheduled backups only, the problems of the last
 * 24 h, protection coverage, and each destination's days until full.
 */
describe('dashboard API numbers', () => {
  let t: TestServer;
  let admin: string;
  let catalog: Catalog;
  // 08:00 this morning, server time zone: "last night" began at 18:00 yesterday.
  const now = DateTime.now().setZone(defaultTimeZone()).startOf('day').set({ hour: 8 });
  const at = (d: DateTime): Date => new Date(d.toMillis());
  const yesterday = (hour: number, minute = 0): Date => at(now.minus({ days: 1 }).set({ hour, minute }));
  const dashboard = async (query = ''): Promise<Dashboard> => {
    const res = await t.api.request<Dashboard>('GET', `/api/dashboard${query}`, undefined, { token: admin });
    expect(res.status, res.text).toBe(200);
    return res.body;
  };
  const workflow = async (state: string, createdBy: string, finished: Date): Promise<number> =>
    (await catalog.execute("INSERT INTO workflows (type, state, subject, created_by, created_at, finished_at) VALUES ('BACKUP', ?, 'vm:web', ?, ?, ?)", [state, createdBy, finished, finished])).insertId;
  const task = async (f: { type: string; state: string; workflowId?: number; error?: string; warnings?: string[]; finished: Date; subject?: string }): Promise<number> =>
    (
      await catalog.execute('INSERT INTO tasks (workflow_id, type, state, subject, params, error, warnings, created_at, finished_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)', [
        f.workflowId ?? null,
        f.type,
        f.state,
        f.subject ?? 'vm:web',
        '{}',
        f.error ?? null,
        f.warnings ? JSON.stringify(f.warnings) : null,
        f.finished,
        f.finished,
      ])
    ).insertId;

  beforeAll(async () => {
    t = await startTestServer({}, { clock: { now: () => now.toMillis() } });
    admin = await setupAdmin(t.api);
    catalog = new Catalog({ mode: 'managed', pool: { socketPath: path.join(t.dataDir, 'mariadb', 'run', 'mysqld.sock'), user: os.userInfo().username, database: 'vplus' } });
  });
  afterAll(async () => {
    await catalog?.close();
    await t?.destroy();
  });

  it('on an empty server, nothing is set up and nothing is wrong', async () => {
    const d = await dashboard();
    expect(d.setup).toEqual({ nodes: 0, destinations: 0, hypervisors: 0, policies: 0 });
    expect(d.problems).toMatchObject({ failed: 0, warnings: 0, missed: 0, items: [] });
    expect(d.coverage).toEqual({ days: 7, total: 0, covered: 0, stale: [] });
    expect(d.space).toEqual([]);
  });

  it('counts what the checklist asks for, the last 24 h of problems, coverage and the space forecast', async () => {
    const nodeId = (await catalog.execute("INSERT INTO nodes (name, host, install_method, credential_hash, status) VALUES ('n1', 'localhost', 'manual', ?, 'online')", ['a'.repeat(64)])).insertId;
    // Still installing: not enrolled, so the checklist's first step is not done by it.
    await catalog.execute("INSERT INTO nodes (name, host, install_method, status) VALUES ('n2', 'otherhost', 'ssh-systemd', 'installing')");
    const nas = (await catalog.execute("INSERT INTO destinations (name, node_id, path, encrypted, stored_bytes, free_bytes, total_bytes) VALUES ('nas', ?, '/srv/nas', 0, ?, ?, ?)", [nodeId, 40 * GiB, 100 * GiB, 200 * GiB])).insertId;
    await catalog.execute("INSERT INTO destinations (name, node_id, path, encrypted, stored_bytes, free_bytes) VALUES ('usb', ?, '/media/usb', 0, 0, NULL)", [nodeId]);
    // One reading a day for 11 days, growing 1 GiB a day: 100 GiB free lasts 100 days.
    for (let day = 10; day >= 0; day--) {
      await catalog.execute('INSERT INTO destination_usage (destination_id, at, stored_bytes, logical_bytes, backups) VALUES (?, ?, ?, ?, 1)', [nas, at(now.minus({ days: day })), (40 - day) * GiB, (40 - day) * GiB]);
    }
    const hv = (await catalog.execute("INSERT INTO hypervisors (name, node_id, uri, status) VALUES ('kvm1', ?, 'qemu:///system', 'ok')", [nodeId])).insertId;
    const vm = async (name: string, present = 1): Promise<void> => {
      await catalog.execute("INSERT INTO vms (hypervisor_id, uuid, name, state, present, disks, excluded_disks) VALUES (?, ?, ?, 'running', ?, '[]', '[]')", [hv, `uuid-${name}`, name, present]);
    };
    const backup = async (name: string, daysAgo: number): Promise<void> => {
      await catalog.execute("INSERT INTO backups (destination_id, repo_backup_id, vm, type, status, created_at) VALUES (?, ?, ?, 'full', 'available', ?)", [nas, `b-${name}-${daysAgo}`, `uuid-${name}`, at(now.minus({ days: daysAgo }))]);
      // Written past the repositories, which keep each VM's summary as they write its backups.
      await refreshVmSummaries(catalog, [`uuid-${name}`]);
    };
    await vm('web');
    await vm('db');
    await vm('fresh');
    await vm('gone', 0);
    await backup('web', 2);
    await backup('db', 10);
    const policy = (await catalog.execute("INSERT INTO policies (name, kind, destination_id, enabled, time_zone, schedules, assignment) VALUES ('nightly', 'backup', ?, 0, 'UTC', '[\"incremental daily 22:00\"]', '{}')", [nas])).insertId;

    // Scheduled: one backup succeeded, one failed. By hand in the evening: one succeeded, one failed.
    const scheduledOk = await workflow('FINISHED', 'scheduler', yesterday(22, 30));
    const scheduledBad = await workflow('FAILED', 'scheduler', yesterday(23));
    const failedTask = await task({ type: 'EXPORT', state: 'FAILED', workflowId: scheduledBad, error: 'disk vda is locked', finished: yesterday(23) });
    const handOk = await workflow('FINISHED', 'admin', yesterday(19));
    const handBad = await workflow('FAILED', 'admin', yesterday(20));
    const handTask = await task({ type: 'EXPORT', state: 'FAILED', workflowId: handBad, error: 'hand-run failure', finished: yesterday(20) });
    expect(handOk).toBeGreaterThan(0);
    const warned = await task({ type: 'VERIFY', state: 'FINISHED_WITH_WARNINGS', warnings: ['1 chunk is damaged'], finished: at(now.minus({ hours: 3 })), subject: 'destination:nas' });
    await task({ type: 'EXPORT', state: 'FAILED', error: 'too old to show', finished: at(now.minus({ hours: 30 })) });
    const run = (state: string, scheduledFor: Date, workflows: number[], finished: Date | null, message: string | null = null) =>
      catalog.execute("INSERT INTO policy_runs (policy_id, purpose, `trigger`, scheduled_for, started_at, finished_at, state, workflows, message) VALUES (?, 'run', 'schedule', ?, ?, ?, ?, ?, ?)", [
        policy,
        scheduledFor,
        scheduledFor,
        finished,
        state,
        JSON.stringify(workflows),
        message,
      ]);
    await run('finished', yesterday(22), [scheduledOk], yesterday(22, 40));
    const failedRun = (await run('failed', yesterday(22, 5), [scheduledBad], yesterday(23), '1 of 1 backups failed')).insertId;
    const missedRun = (await run('missed', at(now.minus({ hours: 5 })), [], at(now.minus({ hours: 5 })), 'the server was not running'));

    const d = await dashboard();
    expect(d.setup).toEqual({ nodes: 1, destinations: 2, hypervisors: 1, policies: 1 });
    // Only the policy's scheduled backups: the two run by hand in the evening are not "last night".
    expect(d.lastNight).toMatchObject({ succeeded: 1, failed: 1, missed: 1, running: 0 });
    // The chart of backups per day still shows every backup.
    const perDay = d.daily.find((x) => x.day === now.minus({ days: 1 }).toISODate());
    expect(perDay).toMatchObject({ succeeded: 2, failed: 2 });

    expect(d.problems).toMatchObject({ failed: 3, warnings: 1, missed: 1 });
    expect(d.problems.items.map((p) => [p.kind, p.severity, p.taskId])).toEqual([
      ['task', 'warning', warned],
      ['policy-run', 'missed', null],
      ['task', 'failed', failedTask],
      ['policy-run', 'failed', failedTask],
      ['task', 'failed', handTask],
    ]);
    expect(d.problems.items[1]).toMatchObject({ id: missedRun.insertId, title: 'Policy nightly', policy: 'nightly', message: 'the server was not running' });
    expect(d.problems.items[0]).toMatchObject({ title: 'Verify · destination:nas', message: '1 chunk is damaged' });
    expect(d.problems.items[2]).toMatchObject({ title: 'Export · vm:web', message: 'disk vda is locked' });
    expect(d.problems.items[3]).toMatchObject({ id: failedRun, message: '1 of 1 backups failed' });

    expect(d.coverage).toMatchObject({ days: 7, total: 3, covered: 1 });
    expect(d.coverage.stale.map((v) => [v.name, v.lastBackupAt])).toEqual([
      ['fresh', null],
      ['db', now.minus({ days: 10 }).toUTC().toISO()],
    ]);
    const fortnight = await dashboard('?coverageDays=14');
    expect(fortnight.coverage).toMatchObject({ days: 14, total: 3, covered: 2 });
    expect((await t.api.request('GET', '/api/dashboard?coverageDays=0', undefined, { token: admin })).status).toBe(400);

    const [nasSpace, usbSpace] = d.space;
    expect(nasSpace).toMatchObject({ destination: 'nas', storedBytes: 40 * GiB, freeBytes: 100 * GiB, totalBytes: 200 * GiB });
    expect(nasSpace!.growthBytesPerDay! / GiB).toBeCloseTo(1, 6);
    expect(nasSpace!.daysUntilFull).toBeCloseTo(100, 4);
    expect(usbSpace).toMatchObject({ destination: 'usb', freeBytes: null, growthBytesPerDay: null, daysUntilFull: null });
  });
});
