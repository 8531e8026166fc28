import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackupPage } from '../../../common/api/backups.js';
import { SCALE_DESTINATIONS, scaleVmName, scaleVmUuid } from '../../../electron/server/db/scale-fixture.js';
import { startScaleServer, type ScaleServer } from '../../support/scale-catalog.js';

const VMS = 40;
const DAYS = 21;

/** The fixture fills the real schema consistently: what the API and the benchmark stand on. */
describe('scale fixture', () => {
  let s: ScaleServer;
  beforeAll(async () => {
    s = await startScaleServer({ vms: VMS, days: DAYS, now: new Date('2026-06-15T12:00:00Z') });
  });
  afterAll(async () => {
    await s?.destroy();
  });

  const count = async (sql: string): Promise<number> => Number((await s.catalog.query<{ n: number }>(sql))[0]?.n);

  it('writes one backup, workflow, EXPORT and STORE per VM and night, and the failed attempts besides', async () => {
    expect(s.fixture.backups).toBe(VMS * DAYS);
    expect(await count('SELECT COUNT(*) AS n FROM backups')).toBe(VMS * DAYS);
    const failed = await count("SELECT COUNT(*) AS n FROM workflows WHERE state = 'FAILED'");
    expect(failed).toBeGreaterThan(0);
    expect(s.fixture.workflows).toBe(VMS * DAYS + failed);
    expect(await count("SELECT COUNT(*) AS n FROM tasks WHERE state IN ('FINISHED','FINISHED_WITH_WARNINGS')")).toBe(2 * VMS * DAYS);
    expect(await count('SELECT COUNT(*) AS n FROM tasks t LEFT JOIN workflows w ON w.id = t.workflow_id WHERE w.id IS NULL')).toBe(0);
    expect(await count('SELECT COUNT(*) AS n FROM task_logs l LEFT JOIN tasks t ON t.id = l.task_id WHERE t.id IS NULL')).toBe(0);
    expect(s.fixture.taskLogs).toBe(5 * VMS * DAYS + 2 * failed);
    // Each VM's backups go to its own destination on its hypervisor's node.
    expect(
      await count('SELECT COUNT(*) AS n FROM backups b JOIN vms v ON v.uuid = b.vm JOIN hypervisors h ON h.id = v.hypervisor_id JOIN destinations d ON d.id = b.destination_id WHERE d.node_id <> h.node_id'),
    ).toBe(0);
    // Each STORE names the backup it made.
    expect(await count("SELECT COUNT(*) AS n FROM tasks t JOIN backups b ON b.repo_backup_id = JSON_VALUE(t.result, '$.backupId') WHERE t.type = 'STORE'")).toBe(VMS * DAYS);
  });

  it('is served by the API like any catalog', async () => {
    const vms = await s.api.request<{ name: string; uuid: string; backups: number; policy: string | null }[]>('GET', '/api/vms', undefined, { token: s.token });
    expect(vms.status).toBe(200);
    expect(vms.body).toHaveLength(VMS);
    const first = vms.body.find((v) => v.name === scaleVmName(1))!;
    expect(first.uuid).toBe(scaleVmUuid(1));
    expect(first.policy).toBe(`nightly-${SCALE_DESTINATIONS[0].name}`);
    expect(vms.body.find((v) => v.name === scaleVmName(20))!.policy).toBeNull();

    const res = await s.api.request<BackupPage>('GET', `/api/backups?limit=5&vm=${scaleVmUuid(3)}`, undefined, { token: s.token });
    expect(res.status).toBe(200);
    // The newest is of the night before "now", newest first.
    const backups = res.body.backups;
    expect(backups[0]!.createdAt.slice(0, 10)).toBe('2026-06-15');
    expect(backups.map((b) => b.createdAt)).toEqual([...backups.map((b) => b.createdAt)].sort().reverse());

    const dashboard = await s.api.request<{ setup: { nodes: number; destinations: number; hypervisors: number; policies: number } }>('GET', '/api/dashboard', undefined, { token: s.token });
    expect(dashboard.status).toBe(200);
    expect(dashboard.body.setup).toEqual({ nodes: 3, destinations: 4, hypervisors: 3, policies: 4 });
  });

  it('refuses a catalog that already holds an inventory', async () => {
    const { seedScaleFixture } = await import('../../../electron/server/db/scale-fixture.js');
    await expect(seedScaleFixture(s.catalog, { vms: 1, days: 1 })).rejects.toThrow(/fills a new catalog/);
  });
});
