import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobDetails, JobPage } from '../../../common/api/jobs.js';
import type { Policy, PolicyRun } from '../../../common/api/policies.js';
import { startKvmSetup, type KvmSetup } from '../../support/kvm-setup.js';
import { MiB, type TestVm } from '../../support/libvirt-host.js';
import { taskEnded, waitFor } from '../../support/test-server.js';

/**
 * A policy run of two VMs on a real libvirt host, server and node is one job: its two VMs'
 * backups are lines inside it (names, steps, bytes), each still a job of its own that links
 * back to the run, and the list shows the run once, never its workflows beside it. A backup
 * run by hand stays a job of its own.
 */
describe('a policy run is one job', () => {
  let bed: KvmSetup;
  const tag = Math.random().toString(16).slice(2, 8);
  const vms: TestVm[] = [];
  const api = <T>(method: string, p: string, body?: unknown) => bed.api<T>(method, p, body);
  const jobs = async (query: string): Promise<JobPage> => {
    const res = await api<JobPage>('GET', `/api/jobs?${query}`);
    expect(res.status, res.text).toBe(200);
    return res.body;
  };
  const runJob = (id: number): Promise<JobDetails> =>
    waitFor(`the job of policy run ${id}`, async () => {
      const job = (await api<JobDetails>('GET', `/api/jobs/p${id}`)).body;
      return job.state === 'RUNNING' || job.state === 'QUEUED' ? undefined : job;
    }, 180_000);

  beforeAll(async () => {
    bed = await startKvmSetup({
      label: 'jobs-run',
      prepare: async (host) => {
        for (const [i, name] of ['alpha', 'beta'].entries()) {
          const disk = await host.createDisk(`${name}.qcow2`, 8, [{ pattern: 0x51 + i, offset: 0, length: MiB }]);
          vms.push(await host.defineVm([{ target: 'vda', path: disk }], `${name}-${tag}`));
        }
      },
      node: { name: 'kvm-node' },
      destinations: ['nas'],
      hypervisor: 'kvm1',
    });
  });
  afterAll(async () => {
    await bed?.close();
  });

  it('shows the run with its two VMs as lines, and each VM job links back to it', async () => {
    const created = await api<Policy & { message?: string }>('POST', '/api/policies', { name: 'pair', destination: 'nas', assignment: { include: [`-${tag}$`] } });
    expect(created.status, created.body.message).toBe(201);
    const started = await api<PolicyRun>('POST', '/api/policies/pair/run', {});
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    const run = await runJob(started.body.id);

    expect(run).toMatchObject({ id: `p${started.body.id}`, kind: 'POLICY_RUN', state: 'FINISHED', subject: 'policy:pair', steps: [], parent: null });
    expect(run.run).toMatchObject({ policy: 'pair', purpose: 'run', trigger: 'manual', total: 2, succeeded: 2, failed: 0 });
    expect(run.lines.map((l) => [l.subjectInfo?.name, l.kind, l.state, l.steps.map((s) => `${s.type} ${s.state}`)])).toEqual(
      vms.map((vm) => [vm.name, 'BACKUP', 'FINISHED', ['EXPORT FINISHED', 'STORE FINISHED']]),
    );
    for (const line of run.lines) {
      expect(line.parent).toEqual({ id: run.id, policy: 'pair' });
      expect(line.summary.bytesRead).toBeGreaterThanOrEqual(MiB);
    }
    expect(run.summary.bytesRead).toBe(run.lines.reduce((sum, l) => sum + l.summary.bytesRead!, 0));
    expect(run.summary.bytesStored).toBeGreaterThan(0);

    // Each VM's backup is still a job of its own, with its steps, that says which run it is part of.
    const own = (await api<JobDetails>('GET', `/api/jobs/${run.lines[0]!.id}`)).body;
    expect(own).toMatchObject({ kind: 'BACKUP', parent: { id: run.id, policy: 'pair' }, lines: [] });
    expect(own.steps.map((s) => s.type)).toEqual(['EXPORT', 'STORE']);
    expect(own.log.length).toBeGreaterThan(0);

    // The list: the run once, with the totals it kept when it ended; its workflows only one by one.
    const listed = await jobs('limit=50');
    expect(listed.jobs.map((j) => j.id)).toEqual([run.id]);
    expect(listed.jobs[0]!.summary).toMatchObject({ bytesRead: run.summary.bytesRead, bytesStored: run.summary.bytesStored });
    const flat = await jobs('limit=50&flat=1');
    expect(flat.jobs.map((j) => j.id).sort()).toEqual(run.lines.map((l) => l.id).sort());
    const ofVm = await jobs(`limit=50&subject=${encodeURIComponent(`vm:${vms[1]!.name}`)}`);
    expect(ofVm.jobs.map((j) => j.id)).toEqual([run.lines[1]!.id]);
  });

  it('keeps a backup run by hand a job of its own, listed before the run', async () => {
    const res = await api<{ workflowId: number; taskIds: number[] }>('POST', '/api/backups/run', { vm: vms[0]!.uuid, destination: 'nas' });
    expect(res.status).toBe(202);
    for (const id of res.body.taskIds) expect((await taskEnded(bed.t.api, bed.admin, id)).state).toMatch(/^FINISHED/);
    const listed = await jobs('limit=50');
    expect(listed.jobs.map((j) => j.id[0])).toEqual(['w', 'p']);
    expect(listed.jobs[0]).toMatchObject({ id: `w${res.body.workflowId}`, kind: 'BACKUP', parent: null, subject: `vm:${vms[0]!.name}` });
    expect((await jobs('limit=50&kind=BACKUP')).jobs.map((j) => j.id)).toEqual([`w${res.body.workflowId}`]);
    expect((await jobs('limit=50&kind=POLICY_RUN')).jobs.map((j) => j.kind)).toEqual(['POLICY_RUN']);
  });
});
