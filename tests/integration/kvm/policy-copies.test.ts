import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backup, BackupPage } from '../../../common/api/backups.js';
import type { Policy, PolicyRun, PolicyRunPage } from '../../../common/api/policies.js';
import type { Task, TaskPage } from '../../../common/api/tasks.js';
import { startKvmSetup, type KvmSetup } from '../../support/kvm-setup.js';
import { MiB, type TestVm } from '../../support/libvirt-host.js';
import { waitFor } from '../../support/test-server.js';

/**
 * A backup policy with "copy to" on a real libvirt host, server and node: each backup of a
 * policy run is copied to the second destination, then the copy retention prunes that VM's
 * copies there (COPY → PRUNE → GC), and the catalog forgets the copies pruned.
 */
describe('policy copies on a real libvirt host', () => {
  let bed: KvmSetup;
  let vm: TestVm;
  const tag = Math.random().toString(16).slice(2, 8);
  const api = <T>(method: string, p: string, body?: unknown) => bed.api<T>(method, p, body);

  beforeAll(async () => {
    bed = await startKvmSetup({
      label: 'policy-copies',
      prepare: async (h) => {
        const disk = await h.createDisk(`copied-${tag}.qcow2`, 8, [{ pattern: 0x5a, offset: 0, length: MiB }]);
        vm = await h.defineVm([{ target: 'vda', path: disk }], `copied-${tag}`);
      },
      server: { gcGraceHours: 0 },
      node: { name: 'kvm-node' },
      destinations: ['nas', 'offsite'],
      hypervisor: 'kvm1',
    });
  });
  afterAll(async () => {
    await bed?.close();
  });

  const runToEnd = async (): Promise<PolicyRun> => {
    const started = await api<PolicyRun & { message?: string }>('POST', '/api/policies/copied/run', {});
    expect(started.status, started.body.message).toBe(202);
    return waitFor(`policy run ${started.body.id}`, async () => (await api<PolicyRunPage>('GET', '/api/policy-runs?limit=100')).body.runs.find((r) => r.id === started.body.id && r.state !== 'running'), 180_000);
  };
  const backups = async (): Promise<Backup[]> => (await api<BackupPage>(`GET`, `/api/backups?vm=${vm.uuid}`)).body.backups;
  const copyWorkflowsEnded = async (n: number): Promise<Task[]> =>
    waitFor(
      `${n} policy copies and their retention`,
      async () => {
        const gcs = (await api<TaskPage>('GET', '/api/tasks?type=GC&limit=50')).body.tasks.filter((t) => t.params.destinationId === offsite);
        return gcs.length >= n && gcs.every((t) => ['FINISHED', 'FINISHED_WITH_WARNINGS', 'FAILED', 'CANCELLED'].includes(t.state)) ? gcs : undefined;
      },
      180_000,
    );
  let offsite = 0;

  it('copies each backup of a policy run and keeps the copy retention on the target', async () => {
    offsite = (await api<{ id: number }>('GET', '/api/destinations/offsite')).body.id;
    const created = await api<Policy & { message?: string }>('POST', '/api/policies', {
      name: 'copied',
      destination: 'nas',
      schedules: ['incremental mon-fri 22:00'],
      retention: { keepLast: 5 },
      assignment: { include: [`^copied-${tag}$`] },
      copyTo: 'offsite',
      copyRetention: { keepLast: 1 },
    });
    expect(created.status, created.body.message).toBe(201);

    expect((await runToEnd()).state).toBe('finished');
    const gcs = await copyWorkflowsEnded(1);
    expect(gcs.map((t) => t.state)).toEqual(['FINISHED']);
    const [first] = await backups();
    expect(first!.copies).toEqual([expect.objectContaining({ destination: 'offsite', state: 'ok' })]);
    const copy = (await api<Task>('GET', `/api/tasks/${first!.copies![0]!.taskId}`)).body;
    expect(copy).toMatchObject({ type: 'COPY', state: 'FINISHED', params: { backupId: first!.id, policyId: created.body.id, targetDestinationId: offsite } });
    const offsiteRepo = bed.destinationPath('offsite');
    expect(fs.existsSync(path.join(offsiteRepo, 'backups', `${first!.repoBackupId}.manifest`))).toBe(true);

    // A second run: its backup is copied, and keepLast 1 on the target prunes the first copy.
    expect((await runToEnd()).state).toBe('finished');
    await copyWorkflowsEnded(2);
    const [second, older] = await backups();
    expect(older!.id).toBe(first!.id);
    expect(second!.copies?.map((c) => c.state)).toEqual(['ok']);
    await waitFor('the pruned copy forgotten', async () => ((await api<Backup>('GET', `/api/backups/${first!.id}`)).body.copies?.length === 0 ? true : undefined));
    expect(fs.existsSync(path.join(offsiteRepo, 'backups', `${first!.repoBackupId}.manifest`))).toBe(false);
    expect(fs.existsSync(path.join(offsiteRepo, 'backups', `${second!.repoBackupId}.manifest`))).toBe(true);
    // The primary keeps both (its own retention keeps 5).
    expect((await backups()).map((b) => b.status)).toEqual(['available', 'available']);
  });
});
