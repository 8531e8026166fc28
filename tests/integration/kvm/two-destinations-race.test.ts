import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PolicyRun, PolicyRunPage } from '../../../common/api/policies.js';
import type { TaskDetails } from '../../../common/api/tasks.js';
import { NodeAgent } from '../../../node-service/agent/node-agent.js';
import { defaultHandlers } from '../../../node-service/agent/node-service.js';
import { startKvmSetup, type KvmSetup } from '../../support/kvm-setup.js';
import { MiB, virsh, type TestVm } from '../../support/libvirt-host.js';
import type { TestNode } from '../../support/test-node.js';
import { taskEnded, waitFor } from '../../support/test-server.js';

/**
 * A VM backed up to two destinations keeps two checkpoint chains. A backup to one that was
 * queued before a backup to the other ran must, when it finally runs, keep the checkpoint
 * that other backup just made: the chains are read when the tasks are sent to the node, not
 * when the workflow was created. Otherwise the other destination's next backup would fall
 * back to a full one.
 */
describe('two destinations: a queued backup keeps the chain base another backup made meanwhile', () => {
  let bed: KvmSetup & { node: TestNode };
  let agent: NodeAgent | undefined;
  let vm: TestVm;
  const api = <T>(method: string, p: string, body?: unknown) => bed.api<T>(method, p, body);
  const task = (id: number): Promise<TaskDetails> => taskEnded(bed.t.api, bed.admin, id);
  const backup = async (destination: string): Promise<{ ids: number[] }> => {
    const res = await api<{ taskIds: number[]; message?: string }>('POST', '/api/backups/run', { vm: vm.uuid, destination });
    expect(res.status, res.body.message).toBe(202);
    return { ids: res.body.taskIds };
  };
  const finished = async (ids: number[]): Promise<TaskDetails> => {
    let last: TaskDetails | undefined;
    for (const id of ids) last = await task(id);
    return last!;
  };

  beforeAll(async () => {
    bed = await startKvmSetup({
      label: 'two-dest',
      prepare: async (host) => {
        const disk = await host.createDisk('vda.qcow2', 16, [{ pattern: 0x21, offset: 0, length: 2 * MiB }]);
        vm = await host.defineVm([{ target: 'vda', path: disk }]);
        await host.start(vm);
      },
      node: { name: 'kvm-node', maxConcurrentTasks: 1 },
      destinations: ['x', 'y'],
      hypervisor: 'kvm1',
    });
  });
  afterAll(async () => {
    await agent?.stop();
    await bed?.close();
  });

  it('runs the queued backup after the other and both chains go on incrementally', async () => {
    expect((await finished((await backup('x')).ids)).result).toMatchObject({ type: 'full' });
    expect((await finished((await backup('y')).ids)).result).toMatchObject({ type: 'full' });

    // With the node away, queue a backup to x, then a higher-priority policy run to y: when
    // the node is back, y's backup runs first, then x's.
    await bed.node.stop();
    await waitFor('the node offline', async () => ((await api<{ status: string }[]>('GET', '/api/nodes')).body[0]?.status === 'offline' ? true : undefined));
    const toX = await backup('x');
    expect((await api('POST', '/api/policies', { name: 'to-y', destination: 'y', priority: 90, assignment: { include: [`^${vm.name}$`] } })).status).toBe(201);
    const run = await api<PolicyRun>('POST', '/api/policies/to-y/run', {});
    expect(run.status).toBe(202);
    agent = new NodeAgent({ config: bed.node.config, version: 'test', handlers: defaultHandlers({ name: bed.nodeName }), logger: pino({ level: 'silent' }), minBackoffMs: 200, maxBackoffMs: 1000 });
    agent.start();

    const ended = await waitFor('the policy run', async () => (await api<PolicyRunPage>('GET', '/api/policies/to-y/runs')).body.runs.find((r) => r.id === run.body.id && r.state !== 'running'), 120_000);
    expect(ended.state, ended.message ?? '').toBe('finished');
    const storeX = await finished(toX.ids);
    expect(storeX.state).toBe('FINISHED');
    expect(storeX.result).toMatchObject({ type: 'incremental' });
    const [exportX] = await Promise.all([task(toX.ids[0]!)]);
    expect(Date.parse(exportX.startedAt!)).toBeGreaterThan(Date.parse(ended.startedAt!));

    // y's chain base survived x's checkpoint cleanup: y's next backup is incremental, without warnings.
    const nextY = await backup('y');
    const storeY = await finished(nextY.ids);
    const exportY = await task(nextY.ids[0]!);
    expect(exportY.warnings).toEqual([]);
    expect(storeY.result).toMatchObject({ type: 'incremental' });
    const checkpoints = (await virsh('checkpoint-list', vm.name, '--name')).split('\n').filter((l) => l.trim());
    expect(checkpoints).toHaveLength(2);
  });
});
