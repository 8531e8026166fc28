import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackupPage } from '../../../common/api/backups.js';
import type { Destination } from '../../../common/api/destinations.js';
import type { Vm } from '../../../common/api/hypervisors.js';
import type { Dashboard, Policy, PolicyPreview, PolicyRun, PolicyRunPage } from '../../../common/api/policies.js';
import type { Task, TaskDetails } from '../../../common/api/tasks.js';
import { Repository } from '../../../node-service/repository/repository.js';
import { startKvmSetup, type KvmSetup } from '../../support/kvm-setup.js';
import { MiB, virsh, type LibvirtTestHost, type TestVm } from '../../support/libvirt-host.js';
import { taskEnded, waitFor } from '../../support/test-server.js';

/**
 * Backup policies on a real libvirt inventory, through the server with a real node:
 * auto-assignment by include/exclude rules (and a VM created later joining at the next
 * sync), manual assignment, "assign and remove", a policy run that backs up every VM in
 * the policy, and retention end to end on the real repository: after a simulated sequence
 * of daily backups exactly the expected ones remain, they all restore, and GC freed the space.
 */
describe('backup policies on a real libvirt host', () => {
  let bed: KvmSetup;
  let host: LibvirtTestHost;
  let repoPath: string;
  const tag = Math.random().toString(16).slice(2, 8);
  const vms: Record<string, TestVm> = {};

  const api = <T>(method: string, p: string, body?: unknown) => bed.api<T>(method, p, body);
  const policy = async (): Promise<Policy> => (await api<Policy>('GET', '/api/policies/prod')).body;
  const ours = (names: string[]): string[] => names.filter((n) => n.endsWith(`-${tag}`)).sort();
  const inPolicy = async (): Promise<string[]> => ours((await policy()).vms.map((v) => v.name));
  const finished = (id: number): Promise<TaskDetails> => taskEnded(bed.t.api, bed.admin, id);
  const runEnd = async (id: number): Promise<PolicyRun> =>
    waitFor(`policy run ${id}`, async () => (await api<PolicyRunPage>('GET', '/api/policy-runs?limit=100')).body.runs.find((r) => r.id === id && r.state !== 'running'), 180_000);
  const sync = async (): Promise<void> => {
    const task = await api<Task>('POST', '/api/hypervisors/kvm1/sync');
    expect(task.status).toBe(202);
    await finished(task.body.id);
  };
  const vmNamed = (prefix: string): string => `${prefix}-${tag}`;

  beforeAll(async () => {
    bed = await startKvmSetup({
      label: 'policies',
      prepare: async (h) => {
        for (const name of ['prod-web', 'prod-db', 'prod-web-test', 'dev-app']) {
          const disk = await h.createDisk(`${name}.qcow2`, 8, [{ pattern: 0x40 + name.length, offset: 0, length: MiB }]);
          vms[name] = await h.defineVm([{ target: 'vda', path: disk }], vmNamed(name));
        }
      },
      server: { gcGraceHours: 0 },
      node: { name: 'kvm-node' },
      destinations: ['nas'],
      hypervisor: 'kvm1',
    });
    host = bed.host;
    repoPath = bed.destinationPath('nas');
  });
  afterAll(async () => {
    await bed?.close();
  });

  it('assigns the VMs whose names match the include rule and not the exclude rule', async () => {
    const preview = await api<PolicyPreview>('POST', '/api/policies/preview', { schedules: ['incremental mon-fri 22:00', 'full sun 22:00', 'incremental mnday 22:00'], assignment: { include: ['^prod-'], exclude: ['-test-'] }, timeZone: 'Europe/Berlin', count: 10 });
    expect(preview.status).toBe(200);
    expect(preview.body.nextRuns).toHaveLength(10);
    expect(preview.body.scheduleErrors).toEqual([{ index: 2, message: expect.stringMatching(/could not read "mnday"/) }]);
    const matched = preview.body.assignment.filter((a) => a.vm.endsWith(tag));
    expect(matched.filter((a) => a.matches).map((a) => a.vm).sort()).toEqual([vmNamed('prod-db'), vmNamed('prod-web')]);
    expect(matched.find((a) => a.vm === vmNamed('prod-web-test'))!.reason).toBe('excluded by -test-');

    const res = await api<Policy & { message?: string }>('POST', '/api/policies', {
      name: 'prod',
      destination: 'nas',
      schedules: ['incremental mon-fri 22:00', 'full sun 22:00'],
      retention: { keepLast: 2, daily: 7, weekly: 4, monthly: 2 },
      assignment: { include: ['^prod-'], exclude: ['-test-'] },
    });
    expect(res.status, res.body.message).toBe(201);
    expect(ours(res.body.vms.map((v) => v.name))).toEqual([vmNamed('prod-db'), vmNamed('prod-web')]);
    expect(res.body.vms.every((v) => v.source === 'auto')).toBe(true);
    const vm = (await api<Vm>('GET', `/api/vms/${vms['prod-web']!.uuid}`)).body;
    expect(vm.policy).toBe('prod');
    expect((await api<Vm>('GET', `/api/vms/${vms['dev-app']!.uuid}`)).body.policy).toBeNull();
  });

  it('picks up a VM created after the policy at the next inventory sync', async () => {
    const disk = await host.createDisk('prod-new.qcow2', 8, [{ pattern: 0x77, offset: 0, length: MiB }]);
    vms['prod-new'] = await host.defineVm([{ target: 'vda', path: disk }], vmNamed('prod-new'));
    expect(await inPolicy()).not.toContain(vmNamed('prod-new'));
    await sync();
    expect(await inPolicy()).toEqual([vmNamed('prod-db'), vmNamed('prod-new'), vmNamed('prod-web')]);
  });

  it('keeps a VM that stops matching in an assign-only policy, and removes it in assign-and-remove mode', async () => {
    const exclude = { include: ['^prod-'], exclude: ['-test-', '^prod-db-'] };
    expect((await api('PATCH', '/api/policies/prod', { assignment: { ...exclude, mode: 'assign-only' } })).status).toBe(200);
    expect(await inPolicy()).toContain(vmNamed('prod-db'));
    expect((await api('PATCH', '/api/policies/prod', { assignment: { ...exclude, mode: 'assign-and-remove' } })).status).toBe(200);
    expect(await inPolicy()).toEqual([vmNamed('prod-new'), vmNamed('prod-web')]);
    // A second policy takes the VM the first one let go, and a VM is never in two.
    const other = await api<Policy & { message?: string }>('POST', '/api/policies', { name: 'databases', destination: 'nas', schedules: ['full daily 01:00'], assignment: { include: ['^prod-db-'] } });
    expect(other.status, other.body.message).toBe(201);
    expect(ours(other.body.vms.map((v) => v.name))).toEqual([vmNamed('prod-db')]);
    expect((await api<Vm>('GET', `/api/vms/${vms['prod-db']!.uuid}`)).body.policy).toBe('databases');
  });

  it('assigns by hand, and the rules never undo it', async () => {
    const res = await api<Policy>('POST', '/api/policies/prod/assign', { vms: [vmNamed('dev-app')] });
    expect(res.status).toBe(200);
    expect(res.body.vms.find((v) => v.name === vmNamed('dev-app'))?.source).toBe('manual');
    await sync();
    expect(await inPolicy()).toEqual([vmNamed('dev-app'), vmNamed('prod-new'), vmNamed('prod-web')]);
    const missing = await api<{ message: string }>('POST', '/api/policies/prod/assign', { vms: ['no-such-vm'] });
    expect(missing.status).toBe(404);
    expect(missing.body.message).toBe('there is no VM "no-such-vm"');
  });

  it('a policy run backs up every VM in the policy, then applies retention', async () => {
    const started = await api<PolicyRun & { message?: string }>('POST', '/api/policies/prod/run', {});
    expect(started.status, started.body.message).toBe(202);
    expect(started.body).toMatchObject({ trigger: 'manual', state: 'running', vms: 3 + (await policy()).vms.filter((v) => !v.name.endsWith(tag)).length });
    const run = await runEnd(started.body.id);
    expect(run.state, run.message ?? '').toBe('finished');
    expect(run.succeeded).toBe(run.vms);
    for (const name of ['dev-app', 'prod-new', 'prod-web']) {
      const backups = (await api<BackupPage>('GET', `/api/backups?vm=${vms[name]!.uuid}`)).body.backups;
      expect(backups.map((b) => b.type), name).toEqual(['full']);
    }
    expect((await api<BackupPage>('GET', `/api/backups?vm=${vms['prod-db']!.uuid}`)).body.backups).toEqual([]);
    // Retention ran after the backups (nothing to remove yet: one backup per VM).
    const retention = await waitFor('the retention run', async () => (await api<PolicyRunPage>('GET', '/api/policies/prod/runs')).body.runs.find((r) => r.trigger === 'retention' && r.state !== 'running'));
    expect(retention.state, retention.message ?? '').toBe('finished');
  });

  it('retention end to end: after 40 simulated daily backups exactly the expected ones remain, they restore, and GC freed the space', async () => {
    // prod-web-test joins the policy by hand; it has no real backups. 40 daily backups of it
    // at 12:00 UTC, 2026-10-01 … 2026-11-09, are written into the destination's repository as
    // the node's STORE would, each with 1 MiB of its own data.
    expect((await api('POST', '/api/policies/prod/assign', { vms: [vmNamed('prod-web-test')] })).status).toBe(200);
    const group = vms['prod-web-test']!.uuid;
    const day = (i: number): string => new Date(Date.UTC(2026, 9, 1 + i, 12)).toISOString();
    let at = 0;
    const repo = await Repository.open(repoPath, {}, { clock: { now: () => at } });
    const unique = (i: number): Buffer => {
      // 1 MiB that does not compress: a keystream of the day's hash.
      const out = Buffer.alloc(MiB);
      let block = createHash('sha256').update(`day ${i}`).digest();
      for (let o = 0; o < MiB; o += 32) {
        block.copy(out, o);
        block = createHash('sha256').update(block).digest();
      }
      return out;
    };
    const image = (i: number): Buffer => Buffer.concat([Buffer.alloc(MiB, 0x5a), unique(i)]);
    for (let i = 0; i < 40; i++) {
      at = Date.parse(day(i));
      const w = await repo.startBackup({ group, source: { type: 'full', vm: { name: vmNamed('prod-web-test'), uuid: group } } });
      const img = image(i);
      await w.writeDisk('vda', img.length, Readable.from([img]));
      await w.commit();
    }
    await repo.close();
    const reimport = await api<Task>('POST', '/api/destinations/nas/import', {});
    const imported = await finished(reimport.body.id);
    expect(imported.state).toBe('FINISHED');
    // The catalog takes the backups in just after the task's end is recorded: done once its count is the node's.
    const found = (imported.result as { backups: unknown[] }).backups.length;
    const before = await waitFor('the re-imported backups in the catalog', async () => {
      const d = (await api<Destination>('GET', '/api/destinations/nas')).body;
      return d.backups === found ? d : undefined;
    });
    expect((await api<BackupPage>('GET', `/api/backups?vm=${group}`)).body.backups).toHaveLength(40);

    // The preview says what will go, before anything does.
    const preview = (await api<PolicyPreview>('POST', '/api/policies/preview', { policy: 'prod', count: 1 })).body;
    const previewKept = preview.retention.filter((r) => r.vm === vmNamed('prod-web-test') && r.keep).map((r) => r.createdAt.slice(0, 10));

    const started = await api<PolicyRun>('POST', '/api/policies/prod/retention');
    expect(started.status).toBe(202);
    const run = await runEnd(started.body.id);
    expect(run.state, run.message ?? '').toBe('finished');

    // last=2: Nov 9, 8; daily=7: Nov 3–9; weekly=4 (ISO weeks, newest of each): Nov 9 (W46),
    // Nov 8 (W45), Nov 1 (W44), Oct 25 (W43); monthly=2: Nov 9, Oct 31.
    const expected = ['2026-10-25', '2026-10-31', '2026-11-01', '2026-11-03', '2026-11-04', '2026-11-05', '2026-11-06', '2026-11-07', '2026-11-08', '2026-11-09'];
    const remaining = (await api<BackupPage>('GET', `/api/backups?vm=${group}&status=available`)).body.backups;
    expect(remaining.map((b) => b.createdAt.slice(0, 10)).sort()).toEqual(expected);
    expect(previewKept.sort()).toEqual(expected);
    const removed = (await api<BackupPage>('GET', `/api/backups?vm=${group}&status=removed`)).body.backups;
    expect(removed).toHaveLength(40 - expected.length);

    // Every remaining simulated backup restores to exactly what was written that day.
    for (const b of remaining) {
      const i = Math.round((Date.parse(b.createdAt) - Date.parse(day(0))) / 86_400_000);
      const dir = host.subdir(`restore-${i}`);
      const res = await api<{ taskIds: number[]; message?: string }>('POST', '/api/restores', { mode: 'files', backup: b.id, node: 'kvm-node', path: dir, format: 'raw' });
      expect(res.status, res.body.message).toBe(202);
      const done = (await finished(res.body.taskIds[0]!));
      expect(done.state, done.error ?? '').toBe('FINISHED');
      const file = (done.result as { files: { path: string }[] }).files[0]!.path;
      expect(fs.readFileSync(file).equals(image(i)), `backup of day ${i}`).toBe(true);
    }

    // GC after the prune freed the removed days' own data (30 × 1 MiB that does not compress).
    const after = (await api<Destination>('GET', '/api/destinations/nas')).body;
    expect(after.storedBytes).toBeLessThan(before.storedBytes - 28 * MiB);
    expect(after.backups).toBe(before.backups - removed.length);
    // The dashboard's stored-size chart ends with the destination's latest reading.
    const dash = (await api<Dashboard>('GET', '/api/dashboard')).body;
    expect(after.storedBytes).toBeGreaterThan(0);
    expect(dash.storage.at(-1)!.storedBytes).toBe(after.storedBytes);
  });
});

describe('snapshot policies on a real libvirt host', () => {
  let bed: KvmSetup;
  let vm: TestVm;
  /** The server's clock: snapshot names carry its time to the second, so each run moves it on by one. */
  let now = Date.now();
  const api = <T>(method: string, p: string, body?: unknown) => bed.api<T>(method, p, body);
  const snapshotNames = async (): Promise<string[]> =>
    (await virsh('snapshot-list', vm.name, '--name'))
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean)
      .sort();

  beforeAll(async () => {
    bed = await startKvmSetup({
      label: 'snap-policy',
      prepare: async (host) => {
        const disk = await host.createDisk('vda.qcow2', 8, [{ pattern: 0x61, offset: 0, length: MiB }]);
        vm = await host.defineVm([{ target: 'vda', path: disk }], `snap-${Math.random().toString(16).slice(2, 8)}`);
        await host.start(vm);
      },
      clock: { now: () => now },
      node: { name: 'snap-node' },
      destinations: ['nas'],
      hypervisor: 'kvm1',
    });
    await virsh('snapshot-create-as', vm.name, 'by-hand');
  });
  afterAll(async () => {
    await bed?.close();
  });

  const backupNow = async (): Promise<TaskDetails[]> => {
    const res = await api<{ taskIds: number[]; message?: string }>('POST', '/api/backups/run', { vm: vm.uuid, destination: 'nas' });
    expect(res.status, res.body.message).toBe(202);
    const out: TaskDetails[] = [];
    for (const id of res.body.taskIds) out.push(await taskEnded(bed.t.api, bed.admin, id));
    return out;
  };

  it('keeps a rolling set of the last N policy snapshots, never touches the others, and the backup chain goes on', async () => {
    // A running VM with a backup checkpoint: its chain must survive the snapshot policy.
    const [, full] = await backupNow();
    expect(full!.result).toMatchObject({ type: 'full' });
    const bad = await api<{ message: string; field: string }>('POST', '/api/policies', { name: 'snaps', kind: 'snapshot', schedules: ['incremental daily 12:00'], assignment: { include: [`^${vm.name}$`] } });
    expect(bad.status).toBe(400);
    expect(bad.body.field).toBe('schedules.0');
    const res = await api<Policy & { message?: string }>('POST', '/api/policies', {
      name: 'snaps',
      kind: 'snapshot',
      schedules: ['every 4h'],
      retention: { keepLast: 2 },
      assignment: { include: [`^${vm.name}$`] },
    });
    expect(res.status, res.body.message).toBe(201);
    expect(res.body.vms.map((v) => v.name)).toEqual([vm.name]);
    const made: string[][] = [];
    for (let i = 0; i < 3; i++) {
      const started = await api<PolicyRun>('POST', '/api/policies/snaps/run', {});
      expect(started.status).toBe(202);
      const run = await waitFor('the snapshot run', async () => (await api<PolicyRunPage>('GET', '/api/policies/snaps/runs')).body.runs.find((r) => r.id === started.body.id && r.state !== 'running'), 120_000);
      expect(run.state, run.message ?? '').toBe('finished');
      made.push(await snapshotNames());
      now += 1000; // the next run's snapshot is a second later
    }
    const prefix = `vplus-p${res.body.id}-`;
    expect(made[0]!.filter((n) => n.startsWith(prefix))).toHaveLength(1);
    expect(made[1]!.filter((n) => n.startsWith(prefix))).toHaveLength(2);
    const last = made[2]!;
    expect(last.filter((n) => n.startsWith(prefix))).toHaveLength(2);
    // The oldest policy snapshot went; the newest two stayed; the one made by hand stayed.
    const first = made[0]!.find((n) => n.startsWith(prefix))!;
    expect(last).not.toContain(first);
    expect(last).toContain('by-hand');
    // The chain is intact: the next backup is incremental, with no warning.
    const [exported, next] = await backupNow();
    expect(exported!.warnings).toEqual([]);
    expect(next!.result).toMatchObject({ type: 'incremental' });
  });
});
