import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackupPage } from '../../../common/api/backups.js';
import type { CreatedDestination } from '../../../common/api/destinations.js';
import type { TaskDetails } from '../../../common/api/tasks.js';
import { startCephGateway, type CephGateway } from '../../support/ceph-rgw.js';
import { startKvmSetup, type KvmSetup } from '../../support/kvm-setup.js';
import { MiB, sh, type LibvirtTestHost, type TestVm } from '../../support/libvirt-host.js';
import { taskEnded } from '../../support/test-server.js';

/**
 * A VM backed up to an S3 destination through the server (issue 19): real MariaDB, a real
 * node, libvirtd + QEMU and the Ceph gateway. Full then incremental into the bucket, every
 * point restored bit-exact from it, and the catalog rebuilt from the bucket alone (re-import).
 */
describe('KVM backups to an S3 destination', () => {
  let bed: KvmSetup;
  let host: LibvirtTestHost;
  let vm: TestVm;
  let gw: CephGateway;
  const bucket = `kvm-s3-${randomBytes(4).toString('hex')}`;
  const expected: Record<number, Record<string, string>> = {};

  const api = <T>(method: string, p: string, body?: unknown) => bed.api<T>(method, p, body);
  const task = (id: number): Promise<TaskDetails> => taskEnded(bed.t.api, bed.admin, id);
  const runWorkflow = async (p: string, body: unknown): Promise<TaskDetails[]> => {
    const res = await api<{ taskIds: number[]; message?: string }>('POST', p, body);
    expect(res.status, res.body.message).toBe(202);
    const out: TaskDetails[] = [];
    for (const id of res.body.taskIds) out.push(await task(id));
    return out;
  };
  const snapshot = async (label: string): Promise<Record<string, string>> => {
    const out: Record<string, string> = {};
    for (const d of vm.disks) {
      out[d.target] = path.join(host.dir, `expected-${label}-${d.target}.raw`);
      await sh('qemu-img', ['convert', '-f', 'qcow2', '-O', 'raw', d.path, out[d.target]!]);
    }
    return out;
  };
  const s3 = () => ({ endpoint: gw.endpoint, bucket, prefix: 'vplus', forcePathStyle: true, accessKeyId: gw.accessKeyId, secretAccessKey: gw.secretAccessKey });

  beforeAll(async () => {
    gw = await startCephGateway();
    await gw.createBucket(bucket);
    bed = await startKvmSetup({
      label: 's3',
      prepare: async (h) => {
        const vda = await h.createDisk('vda.qcow2', 32, [{ pattern: 0x11, offset: 0, length: 2 * MiB }]);
        vm = await h.defineVm([{ target: 'vda', path: vda }]);
      },
      node: { name: 'kvm-node' },
      hypervisor: 'kvm1',
    });
    host = bed.host;
    const added = await api<CreatedDestination>('POST', '/api/destinations', { name: 'bucket', node: 'kvm-node', s3: s3(), password: 'bucket-password-1' });
    expect(added.status, JSON.stringify(added.body)).toBe(201);
  }, 180_000);
  afterAll(async () => {
    await bed?.close();
    await gw?.stop();
  });

  it('backs up fully, then incrementally, into the bucket', async () => {
    expected[0] = await snapshot('first');
    await host.start(vm);
    const [exp1, store1] = await runWorkflow('/api/backups/run', { vm: vm.name, destination: 'bucket' });
    expect(exp1!.state, exp1!.error ?? '').toMatch(/^FINISHED/);
    expect(store1!.state, store1!.error ?? '').toBe('FINISHED');
    expect(store1!.result).toMatchObject({ type: 'full' });

    await host.destroy(vm);
    await host.write(vm.disks[0]!.path, [{ pattern: 0x33, offset: 8 * MiB, length: 64 * 1024 }]);
    expected[1] = await snapshot('second');
    await host.start(vm);
    const [, store2] = await runWorkflow('/api/backups/run', { vm: vm.name, destination: 'bucket' });
    expect(store2!.state, store2!.error ?? '').toBe('FINISHED');
    expect(store2!.result).toMatchObject({ type: 'incremental' });
    // The task kept no secret: not the password, not the secret key.
    expect(JSON.stringify(store2)).not.toContain(gw.secretAccessKey);
    expect(JSON.stringify(store2)).not.toContain('bucket-password-1');
  });

  const restoreAll = async (label: string): Promise<void> => {
    const backups = (await api<BackupPage>('GET', `/api/backups?vm=${vm.uuid}`)).body.backups.filter((b) => b.status === 'available').reverse();
    expect(backups).toHaveLength(2);
    for (const [i, b] of backups.entries()) {
      const dir = host.subdir(`${label}-${i}`);
      const [restore] = await runWorkflow('/api/restores', { mode: 'files', backup: b.id, node: 'kvm-node', path: dir, format: 'raw' });
      expect(restore!.state, restore!.error ?? '').toBe('FINISHED');
      const files = (restore!.result as { files: { target: string; path: string }[] }).files;
      expect(files.map((f) => f.target)).toEqual(['vda']);
      for (const f of files) await sh('qemu-img', ['compare', '-f', 'raw', '-F', 'raw', f.path, expected[i]![f.target]!]);
    }
  };

  it('restores every point from the bucket bit-exact', async () => {
    await restoreAll('restore');
  });

  it('rebuilds the catalog from the bucket alone, and restores from it again', async () => {
    expect((await api('DELETE', '/api/destinations/bucket?force=true')).status).toBe(204);
    const again = await api<CreatedDestination>('POST', '/api/destinations', { name: 'bucket-again', node: 'kvm-node', s3: s3(), password: 'bucket-password-1' });
    expect(again.status, JSON.stringify(again.body)).toBe(201);
    expect(again.body.backups).toBe(2);
    const imported = await task((await api<TaskDetails>('POST', '/api/destinations/bucket-again/import', {})).body.id);
    expect(imported.state, imported.error ?? '').toBe('FINISHED');
    await restoreAll('reimported');
  });
});
