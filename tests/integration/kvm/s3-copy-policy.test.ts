import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { GetObjectRetentionCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backup, CopyListItem, Policy, TaskDetails } from '../../../common/api/index.js';
import type { CopyResult } from '../../../common/copy-tasks.js';
import { startCephGateway, type CephGateway } from '../../support/ceph-rgw.js';
import { startKvmSetup, type KvmSetup } from '../../support/kvm-setup.js';
import { MiB, sh, type LibvirtTestHost, type TestVm } from '../../support/libvirt-host.js';
import { vplus, vplusOk } from '../../support/processes.js';
import { ADMIN, waitFor } from '../../support/test-server.js';

const DAY_MS = 86_400_000;

/**
 * Issue 19's "done when", end to end with real parts: a real server (its own MariaDB), a real
 * node, libvirtd + QEMU and a throwaway Ceph gateway with an object-lock bucket, driven through
 * the built `vplus` as an administrator would. A policy backs a running VM up to a directory
 * destination and copies each backup to an S3 destination under object lock (GOVERNANCE, 1 day);
 * two runs (full, then incremental after the disk changed): both copies `ok`, the second sends
 * only the new chunks, the copy's manifest is locked for a day, a prune on the bucket cannot
 * remove a locked copy, and the copy restores bit-exact against the primary and the disk as
 * it was backed up. Run `npm run build:ts` first.
 */
describe('a policy copying VM backups to an object-locked S3 bucket (CLI, real gateway)', () => {
  let bed: KvmSetup;
  let host: LibvirtTestHost;
  let vm: TestVm;
  let gw: CephGateway;
  let s3: S3Client;
  let env: Record<string, string>;
  const tag = randomBytes(3).toString('hex');
  const bucket = `kvm-copy-${randomBytes(4).toString('hex')}`;
  const prefix = 'offsite';
  const vmName = `s3copy-${tag}`;
  /** Raw images of the VM's disk as each run backed it up, oldest first. */
  const expected: string[] = [];

  const run = async (args: string[]): Promise<{ code: number | null; output: string }> => {
    const p = vplus(args, env);
    p.child.stdin!.end();
    const code = await p.exited;
    return { code, output: p.output() };
  };
  const cli = (args: string[], stdin?: string): Promise<string> => vplusOk(args, env, stdin);
  const json = async <T>(args: string[]): Promise<T> => JSON.parse(await cli([...args, '--json'])) as T;
  const backups = (): Promise<Backup[]> => json<Backup[]>(['backup', 'list', vmName, '--destination', 'nas']);
  const copies = (): Promise<CopyListItem[]> => json<CopyListItem[]>(['copy', 'list']);
  const snapshot = async (label: string): Promise<string> => {
    const out = path.join(host.dir, `expected-${label}.raw`);
    await sh('qemu-img', ['convert', '-f', 'qcow2', '-O', 'raw', vm.disks[0]!.path, out]);
    return out;
  };
  let s3destId = 0;
  /** The policy's copy workflows on the bucket (COPY, then its retention: PRUNE and GC) have all ended, n of them. */
  const copyWorkflowsEnded = (n: number): Promise<TaskDetails[]> =>
    waitFor(
      `${n} policy copies and their retention on the bucket`,
      async () => {
        const gcs = (await json<TaskDetails[]>(['task', 'list', '--type', 'GC'])).filter((t) => t.params.destinationId === s3destId);
        return gcs.length >= n && gcs.every((t) => ['FINISHED', 'FINISHED_WITH_WARNINGS', 'FAILED', 'CANCELLED'].includes(t.state)) ? gcs : undefined;
      },
      240_000,
    );
  const retainUntil = async (repoBackupId: string): Promise<number> => {
    const r = await s3.send(new GetObjectRetentionCommand({ Bucket: bucket, Key: `${prefix}/backups/${repoBackupId}.manifest` }));
    expect(r.Retention?.Mode).toBe('GOVERNANCE');
    return r.Retention?.RetainUntilDate?.getTime() ?? 0;
  };

  beforeAll(async () => {
    gw = await startCephGateway();
    await gw.createBucket(bucket, { objectLock: true });
    s3 = gw.client();
    bed = await startKvmSetup({
      label: 's3-copy',
      prepare: async (h) => {
        const disk = await h.createDisk(`${vmName}.qcow2`, 32, [{ pattern: 0x5a, offset: 0, length: 2 * MiB }]);
        vm = await h.defineVm([{ target: 'vda', path: disk }], vmName);
      },
      server: { gcGraceHours: 0 },
      node: { name: 'kvm-node' },
      hypervisor: 'kvm1',
    });
    host = bed.host;
    const cliDir = host.subdir('cli');
    env = { VPLUS_CONFIG: path.join(cliDir, 'cli.json'), VPLUS_SERVER: '', VPLUS_FINGERPRINT: '', VPLUS_TOKEN: '' };
    fs.writeFileSync(path.join(cliDir, 'secret'), `${gw.secretAccessKey}\n`, { mode: 0o600 });
    await cli(['login', '--server', bed.t.server.url, '--user', ADMIN.username, '--password-stdin', '--fingerprint', bed.t.server.fingerprint], `${ADMIN.password}\n`);
  }, 240_000);
  afterAll(async () => {
    s3?.destroy();
    await bed?.close();
    await gw?.stop();
  });

  it('adds a directory destination and a locked S3 destination, and a policy copying to it', async () => {
    await cli(['destination', 'add', 'nas', '--node', 'kvm-node', '--path', bed.destinationPath('nas')]);
    const url = `${gw.endpoint}/${bucket}/${prefix}`;
    const added = await cli(['destination', 'add', 's3dest', '--node', 'kvm-node', '--s3', url, '--access-key', gw.accessKeyId, '--secret-key-file', path.join(host.dir, 'cli', 'secret'), '--path-style', '--lock', 'governance', '--lock-days', '1', '--password-stdin'], 'copy-password-1\n');
    expect(added).toContain(`Added destination "s3dest" on node kvm-node at s3://${bucket}/${prefix} at ${gw.endpoint}`);
    expect(added).not.toContain(gw.secretAccessKey);
    expect(await cli(['destination', 'show', 's3dest'])).toMatch(/Object lock:?\s+governance, 1 days?/);
    s3destId = (await json<{ id: number }>(['destination', 'show', 's3dest'])).id;

    const policy = await json<Policy>(['policy', 'create', 'offsite', '--destination', 'nas', '--schedule', 'incremental mon-fri 22:00', '--retention', 'last=5', '--include', `^${vmName}$`, '--copy-to', 's3dest', '--copy-retention', 'last=2']);
    expect(policy).toMatchObject({ copyDestination: 's3dest', copyRetention: { keepLast: 2 } });
  });

  it('backs the VM up twice (full, then incremental) and copies each backup to the bucket, the second only its new chunks', async () => {
    expected.push(await snapshot('first'));
    await host.start(vm);
    await cli(['policy', 'run', 'offsite', '--wait']);
    await copyWorkflowsEnded(1);

    await host.destroy(vm);
    await host.write(vm.disks[0]!.path, [{ pattern: 0x33, offset: 16 * MiB, length: 256 * 1024 }]);
    expected.push(await snapshot('second'));
    await host.start(vm);
    await cli(['policy', 'run', 'offsite', '--wait']);
    const gcs = await copyWorkflowsEnded(2);
    expect(gcs.map((t) => t.state)).toEqual(['FINISHED', 'FINISHED']);

    const [second, first] = await backups();
    expect([first!.type, second!.type]).toEqual(['full', 'incremental']);
    const list = await copies();
    expect(list.map((c) => [c.backupId, c.destination, c.state]).sort()).toEqual(
      [
        [first!.id, 's3dest', 'ok'],
        [second!.id, 's3dest', 'ok'],
      ].sort(),
    );
    const copyResult = async (backupId: number): Promise<CopyResult> => {
      const c = list.find((x) => x.backupId === backupId)!;
      const t = await json<TaskDetails>(['task', 'show', String(c.taskId)]);
      expect(t).toMatchObject({ type: 'COPY', state: 'FINISHED' });
      return t.result as CopyResult;
    };
    const r1 = await copyResult(first!.id);
    const r2 = await copyResult(second!.id);
    expect(r1).toMatchObject({ created: true, repoBackupId: first!.repoBackupId });
    expect(r1.copiedChunks).toBe(r1.chunks);
    expect(r2).toMatchObject({ created: true, repoBackupId: second!.repoBackupId });
    expect(r2.copiedChunks).toBeGreaterThan(0);
    expect(r2.copiedChunks).toBeLessThan(r2.chunks);
    expect(r2.copiedChunks + r2.skippedChunks).toBe(r2.chunks);
  });

  it('locks the copies in the bucket for a day, and a prune on the bucket cannot remove them', async () => {
    const [second, first] = await backups();
    for (const b of [first!, second!]) {
      const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: `${prefix}/backups/${b.repoBackupId}.manifest` }));
      expect(head.ObjectLockMode).toBe('GOVERNANCE');
      // The lock runs a day from the backup (the copy keeps its backup's time); allow for the runs' minutes.
      expect(await retainUntil(b.repoBackupId)).toBeGreaterThanOrEqual(Date.now() + DAY_MS - 30 * 60_000);
    }

    const pruned = await run(['destination', 'prune', 's3dest', '--retention', 'last=1', '--wait']);
    expect(pruned.output).toMatch(new RegExp(`${first!.repoBackupId}.*object lock until`));
    expect(pruned.output).toMatch(new RegExp(`backup ${first!.repoBackupId} of \\S+ is under object lock until \\S+: kept`));
    expect(pruned.output).toMatch(/Removed 0 backups, kept 2\./);
    const after = await copies();
    expect(after.map((c) => [c.backupId, c.state]).sort()).toEqual(
      [
        [first!.id, 'ok'],
        [second!.id, 'ok'],
      ].sort(),
    );
    await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: `${prefix}/backups/${first!.repoBackupId}.manifest` }));
  });

  it('restores from the S3 copy bit-exact against the primary and the disk as backed up', async () => {
    const [second, first] = await backups();
    for (const [i, b] of [first!, second!].entries()) {
      const fromCopy = host.subdir(`from-copy-${i}`);
      const out = await cli(['restore', String(b.id), '--node', 'kvm-node', '--path', fromCopy, '--format', 'raw', '--from', 's3dest', '--wait']);
      expect(out).toMatch(/from its copy on destination s3dest/);
      await sh('qemu-img', ['compare', '-f', 'raw', '-F', 'raw', path.join(fromCopy, 'vda.raw'), expected[i]!]);
    }
    const fromPrimary = host.subdir('from-primary');
    await cli(['restore', String(second!.id), '--node', 'kvm-node', '--path', fromPrimary, '--format', 'raw', '--wait']);
    await sh('qemu-img', ['compare', '-f', 'raw', '-F', 'raw', path.join(fromPrimary, 'vda.raw'), path.join(host.subdir('from-copy-1'), 'vda.raw')]);
  });

  it('deleting a backup cannot delete its locked copy: the copy stays, and still restores', async () => {
    const [, first] = await backups();
    const deleted = await run(['backup', 'delete', String(first!.id), '--wait']);
    expect(deleted.code, deleted.output).toBe(0);
    const onBucket = await waitFor(
      'the BACKUP_DELETE on the bucket to end',
      async () => {
        const t = (await json<TaskDetails[]>(['task', 'list', '--type', 'BACKUP_DELETE'])).find((x) => x.params.destinationId === s3destId);
        return t && !['QUEUED', 'RUNNING'].includes(t.state) ? t : undefined;
      },
      60_000,
    );
    expect(onBucket.state).toBe('FAILED');
    expect(onBucket.error).toMatch(new RegExp(`Backup ${first!.repoBackupId} .* is immutable \\(object lock\\) until`));
    await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: `${prefix}/backups/${first!.repoBackupId}.manifest` }));
    expect((await copies()).find((c) => c.backupId === first!.id)).toMatchObject({ destination: 's3dest', state: 'ok' });
    expect((await backups()).find((b) => b.id === first!.id)).toMatchObject({ status: 'removed' });
    // The primary lost it; the copy on the bucket still restores it.
    const again = host.subdir('from-copy-after-delete');
    await cli(['restore', String(first!.id), '--node', 'kvm-node', '--path', again, '--format', 'raw', '--from', 's3dest', '--wait']);
    await sh('qemu-img', ['compare', '-f', 'raw', '-F', 'raw', path.join(again, 'vda.raw'), expected[0]!]);
  });
});
