import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backup, BackupPage } from '../../../common/api/backups.js';
import type { TaskDetails } from '../../../common/api/tasks.js';
import { scratchDomainXml } from '../../../node-service/platforms/kvm/scratch-domain.js';
import { startKvmSetup, type KvmSetup } from '../../support/kvm-setup.js';
import { MiB, virsh, type LibvirtTestHost } from '../../support/libvirt-host.js';
import { taskEnded } from '../../support/test-server.js';

/**
 * Restores check their target before they write, and a failed import leaves nothing behind
 * (issue 12, "Restore safety") — real server, node, libvirtd and QEMU. The VM's one NIC is on
 * a network that does not exist: it defines fine but cannot start, which makes an import with
 * `start` fail after the disks were written.
 */
describe('restore safety', () => {
  let bed: KvmSetup;
  let host: LibvirtTestHost;
  let backup: Backup;
  const vmName = `vplus-safety-${randomBytes(3).toString('hex')}`;
  const defined: string[] = [];

  const api = <T>(method: string, p: string, body?: unknown) => bed.api<T>(method, p, body);
  const task = (id: number, timeoutMs?: number): Promise<TaskDetails> => taskEnded(bed.t.api, bed.admin, id, timeoutMs);
  const define = async (name: string, extraDevices = ''): Promise<void> => {
    const disk = path.join(host.dir, 'vda.qcow2');
    const xml = scratchDomainXml(name, [{ target: 'vda', path: disk }]).replace('</devices>', `${extraDevices}</devices>`);
    const file = path.join(host.dir, `${name}.xml`);
    fs.writeFileSync(file, xml);
    await virsh('define', file);
    defined.push(name);
  };
  const restore = (body: Record<string, unknown>) => api<{ taskIds: number[]; message?: string; field?: string }>('POST', '/api/restores', { backup: backup.id, ...body });
  const listing = (dir: string): string[] => (fs.existsSync(dir) ? fs.readdirSync(dir) : []);

  beforeAll(async () => {
    bed = await startKvmSetup({
      label: 'restore-safety',
      prepare: async (h) => {
        host = h;
        await h.createDisk('vda.qcow2', 16, [{ pattern: 0x5a, offset: 0, length: 2 * MiB }]);
        await define(vmName, "<interface type='network'><source network='vplus-no-such-network'/><model type='virtio'/></interface>");
      },
      node: { name: 'kvm-node' },
      destinations: ['local'],
      hypervisor: 'kvm1',
    });
    const res = await api<{ taskIds: number[]; message?: string }>('POST', '/api/backups/run', { vm: vmName, destination: 'local' });
    expect(res.status, res.body.message).toBe(202);
    for (const id of res.body.taskIds) expect((await task(id)).state).toMatch(/^FINISHED/);
    const uuid = (await virsh('domuuid', vmName)).trim();
    backup = (await api<BackupPage>('GET', `/api/backups?vm=${uuid}`)).body.backups[0]!;
    expect(backup).toBeDefined();
  });
  afterAll(async () => {
    for (const name of defined) {
      await virsh('destroy', name).catch(() => undefined);
      await virsh('undefine', name).catch(() => undefined);
    }
    await bed?.close();
  });

  it('refuses a name the inventory knows at once (409 on the field name), writing nothing', async () => {
    const storageDir = host.subdir('images-known');
    const res = await restore({ mode: 'import', hypervisor: 'kvm1', name: vmName, storageDir });
    expect(res.status).toBe(409);
    expect(res.body.field).toBe('name');
    expect(res.body.message).toContain(vmName);
    expect(listing(storageDir)).toEqual([]);
  });

  it('the node refuses a name taken since the last inventory sync before writing a byte', async () => {
    const taken = `vplus-taken-${randomBytes(3).toString('hex')}`;
    await define(taken); // behind the inventory's back: the server does not know it yet
    const storageDir = host.subdir('images-taken');
    const res = await restore({ mode: 'import', hypervisor: 'kvm1', name: taken, storageDir });
    expect(res.status, res.body.message).toBe(202);
    const [restoreTask, importTask] = [await task(res.body.taskIds[0]!), await task(res.body.taskIds[1]!)];
    expect(restoreTask.state).toBe('FAILED');
    expect(restoreTask.error).toMatch(new RegExp(`a virtual machine named ${taken} already exists.*nothing was restored`));
    expect(importTask.state).not.toMatch(/^FINISHED/);
    expect(listing(storageDir)).toEqual([]);
  });

  it('a restore under a file names the restore target, not the destination', async () => {
    const file = path.join(host.dir, 'a-file');
    fs.writeFileSync(file, 'not a directory');
    const target = path.join(file, 'x');
    const res = await restore({ mode: 'files', node: 'kvm-node', path: target, format: 'raw' });
    expect(res.status, res.body.message).toBe(202);
    const t = await task(res.body.taskIds[0]!);
    expect(t.state).toBe('FAILED');
    expect(t.error).toContain(`restore target ${target} is inside a file: ${file} is not a directory`);
    expect(t.error).not.toContain(bed.destinationPath('local'));
  });

  it('a restore into /proc or /sys fails at once with a message naming the target', async () => {
    for (const target of [`/proc/vplus-restore-${randomBytes(3).toString('hex')}/disks`, `/sys/vplus-restore-${randomBytes(3).toString('hex')}`, '/proc/self']) {
      const started = Date.now();
      const res = await restore({ mode: 'files', node: 'kvm-node', path: target, format: 'raw' });
      expect(res.status, res.body.message).toBe(202);
      const id = res.body.taskIds[0]!;
      const t = await task(id, 20_000).catch(async (err: unknown) => {
        await api('POST', `/api/tasks/${id}/cancel`, { force: true });
        throw err;
      });
      expect(t.state, target).toBe('FAILED');
      expect(t.error, target).toMatch(new RegExp(`^restore target ${target.replace(/[/.]/g, '\\$&')} (cannot be made|is on a kernel filesystem)`));
      expect(Date.now() - started, target).toBeLessThan(15_000);
    }
  });

  it('a failed import removes the restored files and the new definition; keepOnFailure keeps the files', async () => {
    const storageDir = host.subdir('images-failed');
    const name = `vplus-nostart-${randomBytes(3).toString('hex')}`;
    defined.push(name); // undefined at the end if a failing run left it defined
    const res = await restore({ mode: 'import', hypervisor: 'kvm1', name, storageDir, start: true });
    expect(res.status, res.body.message).toBe(202);
    const [restoreTask, importTask] = [await task(res.body.taskIds[0]!), await task(res.body.taskIds[1]!)];
    expect(restoreTask.state, restoreTask.error ?? '').toBe('FINISHED');
    expect(importTask.state).toBe('FAILED');
    expect(importTask.error).toMatch(/vplus-no-such-network/);
    expect(importTask.log.some((l) => /removed what the restore wrote/.test(l.message))).toBe(true);
    expect(listing(storageDir)).toEqual([]);
    await expect(virsh('domuuid', name)).rejects.toThrow();

    const kept = `vplus-kept-${randomBytes(3).toString('hex')}`;
    defined.push(kept); // kept as asked: defined, not started
    const again = await restore({ mode: 'import', hypervisor: 'kvm1', name: kept, storageDir, start: true, keepOnFailure: true });
    expect(again.status, again.body.message).toBe(202);
    const failed = await task(again.body.taskIds[1]!);
    expect(failed.state).toBe('FAILED');
    expect(failed.error).toMatch(/vplus-no-such-network/);
    expect(listing(path.join(storageDir, kept)).sort()).toEqual(['vda.qcow2', `${vmName}.xml`]);
    expect((await virsh('domstate', kept)).trim()).toBe('shut off');
  });
});
