/**
 * A node SIGKILLed with a mount open: the mount ends FAILED once the node is lost, and the
 * node's next start undoes everything the dead process left (mounts, loop devices, nbdfuse,
 * the NBD server process) before it takes work. The node is a real `vplus node-service run`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackupPage } from '../../../common/api/backups.js';
import type { BrowseListing, Mount } from '../../../common/api/mounts.js';
import { startKvmSetup, type KvmSetup } from '../../support/kvm-setup.js';
import { MiB, type TestVm } from '../../support/libvirt-host.js';
import { enrollExternalNode, type ExternalNode } from '../../support/external-node.js';
import { LoopDevices, run } from '../../support/shell.js';
import { taskEnded, waitFor } from '../../support/test-server.js';

const NODE = 'mount-victim';

/** Everything of ours the kernel and /proc still show under `dir`. */
async function leftovers(dir: string): Promise<string[]> {
  const left: string[] = [];
  for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) if (line.includes(dir)) left.push(`mount ${line.split(' ')[4]}`);
  for (const l of (await run('losetup', ['-l', '-n', '-O', 'NAME,BACK-FILE'])).split('\n')) if (l.includes(dir)) left.push(`loop ${l.trim()}`);
  for (const pid of fs.readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    let cmd = '';
    try {
      cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    // The node service itself names its config, not the mounts directory.
    if (cmd.includes(path.join(dir, 'mounts-'))) left.push(`process ${pid} ${cmd.replace(/\0/g, ' ')}`);
  }
  return left;
}

describe('a node killed with a mount open', () => {
  let bed: KvmSetup;
  let vm: TestVm;
  let node: ExternalNode;
  const api = <T>(method: string, p: string, body?: unknown) => bed.api<T>(method, p, body);

  beforeAll(async () => {
    const loops = new LoopDevices();
    bed = await startKvmSetup({
      label: 'mountkill',
      prepare: async (h) => {
        const disk = path.join(h.dir, 'vda.raw');
        fs.closeSync(fs.openSync(disk, 'w'));
        fs.truncateSync(disk, 64 * MiB);
        await run('sfdisk', ['-q', disk], { input: 'label: dos\n,,L\n' });
        const start = 2048 * 512;
        const dev = await loops.attach(disk, start, 64 * MiB - start);
        const content = h.subdir('content');
        fs.writeFileSync(path.join(content, 'kept.txt'), 'still here\n');
        await run('mkfs.ext4', ['-q', '-d', content, dev]);
        await loops.detach(dev);
        vm = await h.defineVm([{ target: 'vda', path: disk, format: 'raw' }]);
      },
      server: { nodeHeartbeatSeconds: 0.5, nodeLossTimeoutSeconds: 3 },
      node: { name: NODE, external: true },
    });
    node = await enrollExternalNode(bed, NODE);
    await node.run();
    await bed.addDestination('local');
    await bed.addHypervisor('kvm1');
  }, 300_000);

  afterAll(async () => {
    await node?.stopAll();
    await bed?.close();
  });

  it('fails the mount, and the restarted node cleans up what the dead one left', async () => {
    await bed.host.start(vm);
    const run1 = await api<{ taskIds: number[] }>('POST', '/api/backups/run', { vm: vm.name, destination: 'local' });
    for (const id of run1.body.taskIds) expect((await taskEnded(bed.t.api, bed.admin, id)).state).toMatch(/^FINISHED/);
    await bed.host.destroy(vm);
    const backup = (await api<BackupPage>('GET', `/api/backups?vm=${encodeURIComponent(vm.uuid)}`)).body.backups[0]!;

    const started = await api<Mount>('POST', '/api/mounts', { backup: backup.id });
    expect(started.status).toBe(202);
    await waitFor('the mount', async () => ((await api<Mount>('GET', `/api/mounts/${started.body.id}`)).body.state === 'MOUNTED' ? true : undefined), 120_000);
    const listing = await api<BrowseListing>('GET', `/api/mounts/${started.body.id}/files?path=vda1`);
    expect(listing.body.entries.map((e) => e.name)).toContain('kept.txt');
    expect((await leftovers(node.staging)).length).toBeGreaterThan(0);

    node.procs[0]!.child.kill('SIGKILL');
    await node.procs[0]!.exited;
    const failed = await waitFor('the mount to fail', async () => {
      const m = (await api<Mount>('GET', `/api/mounts/${started.body.id}`)).body;
      return m.state === 'FAILED' ? m : undefined;
    });
    expect(failed.error).toMatch(/disconnected|lost|did not reconnect/);

    await node.run();
    await waitFor('the restarted node to clean up', async () => ((await leftovers(node.staging)).length === 0 ? true : undefined), 60_000).catch(async (err: unknown) => {
      throw new Error(`${(err as Error).message}: ${(await leftovers(node.staging)).join('; ')}; node output: ${node.procs[1]?.output()}`);
    });
    const dirs = fs.readdirSync(node.staging).filter((n) => n.startsWith('mounts-'));
    for (const d of dirs) expect(fs.readdirSync(path.join(node.staging, d))).toEqual([]);
  });
});
