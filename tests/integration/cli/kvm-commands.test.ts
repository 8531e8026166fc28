import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backup, Hypervisor, Vm } from '../../../common/api/index.js';
import { startKvmSetup, type KvmSetup } from '../../support/kvm-setup.js';
import { MiB, sh, virsh, type LibvirtTestHost, type TestVm } from '../../support/libvirt-host.js';
import { vplus, vplusOk } from '../../support/processes.js';
import { waitFor } from '../../support/test-server.js';

/**
 * The built `vplus` against a real server (managed MariaDB), a real node
 * agent with the real KVM handlers, and the real libvirtd + QEMU (TCG): add
 * the host, see its VMs, exclude a disk, back up (full, then incremental)
 * following EXPORT and STORE, restore to files that equal the disks, and
 * restore as a new VM that starts. Run `npm run build:ts` first.
 */
describe('vplus hypervisor / vm / backup / restore against a real server and libvirt', () => {
  let bed: KvmSetup;
  let host: LibvirtTestHost;
  let vm: TestVm;
  let env: Record<string, string>;
  /** The disks as raw images, as every backup must restore them (nothing writes to them). */
  const expected: Record<string, string> = {};
  const imported = `vplus-cli-copy-${process.pid}`;

  /** Runs vplus to its end, whatever its exit code. */
  const run = async (args: string[]): Promise<{ code: number | null; output: string }> => {
    const p = vplus(args, env);
    p.child.stdin!.end();
    const code = await p.exited;
    return { code, output: p.output() };
  };
  const catalogIdFrom = (output: string): number => {
    const found = /Backup (\d+) on destination local; restore it with: vplus restore \1 --node NODE --path DIR\n/.exec(output);
    expect(found, output).not.toBeNull();
    return Number(found![1]);
  };

  beforeAll(async () => {
    bed = await startKvmSetup({
      label: 'cli',
      prepare: async (h) => {
        const vda = await h.createDisk('vda.qcow2', 32, [
          { pattern: 0x41, offset: 0, length: 2 * MiB },
          { pattern: 0x42, offset: 20 * MiB, length: MiB },
        ]);
        const vdb = await h.createDisk('vdb.qcow2', 16, [{ pattern: 0x43, offset: 4 * MiB, length: MiB }]);
        vm = await h.defineVm([
          { target: 'vda', path: vda },
          { target: 'vdb', path: vdb },
        ]);
        for (const d of vm.disks) {
          expected[d.target] = path.join(h.dir, `expected-${d.target}.raw`);
          await sh('qemu-img', ['convert', '-f', 'qcow2', '-O', 'raw', d.path, expected[d.target]!]);
        }
        await h.start(vm);
      },
      // The NBD sockets and scratch files where QEMU (another user) reaches them, not in the node's private temp dir.
      node: { name: 'kvm-node', kvmWorkDir: 'kvm-work' },
    });
    host = bed.host;
    const config = path.join(host.subdir('cli'), 'cli.json');
    fs.writeFileSync(config, JSON.stringify({ server: bed.t.server.url, fingerprint: bed.t.server.fingerprint, token: bed.admin, user: 'admin' }), { mode: 0o600 });
    env = { VPLUS_CONFIG: config, VPLUS_SERVER: '', VPLUS_FINGERPRINT: '', VPLUS_TOKEN: '' };
    // Added with the CLI, the way the hypervisor is below.
    await vplusOk(['destination', 'add', 'local', '--node', 'kvm-node', '--path', bed.destinationPath('local')], env);
  });

  afterAll(async () => {
    await virsh('destroy', imported).catch(() => undefined);
    await virsh('undefine', imported).catch(() => undefined);
    await bed?.close();
  });

  it('hypervisor add lists the host through its node; list, vm list and sync show the VM', async () => {
    const added = await vplusOk(['hypervisor', 'add', 'kvm1', '--node', 'kvm-node'], env);
    expect(added).toContain('Listing the VMs of qemu:///system on node kvm-node…\n');
    expect(added).toMatch(/Added hypervisor "kvm1" on node kvm-node \(qemu:\/\/\/system\) with \d+ VMs?\.\n/);

    const hypervisors = JSON.parse(await vplusOk(['hypervisor', 'list', '--json'], env)) as Hypervisor[];
    expect(hypervisors).toHaveLength(1);
    expect(hypervisors[0]).toMatchObject({ name: 'kvm1', node: 'kvm-node', uri: 'qemu:///system', status: 'ok' });

    const vms = JSON.parse(await vplusOk(['vm', 'list', '--json', '--hypervisor', 'kvm1'], env)) as Vm[];
    const found = vms.find((v) => v.uuid === vm.uuid);
    expect(found).toMatchObject({ name: vm.name, state: 'running', hypervisor: 'kvm1', policy: null, lastBackupAt: null });
    expect(found!.disks.map((d) => d.target)).toEqual(['vda', 'vdb']);
    expect(await vplusOk(['vm', 'list'], env)).toMatch(new RegExp(`^\\d+\\s+${vm.name}\\s+${vm.uuid}\\s+running\\s+kvm1\\s+-\\s+never$`, 'm'));

    const synced = await vplusOk(['hypervisor', 'sync', 'kvm1', '--wait'], env);
    expect(synced).toMatch(/Task \d+ \(INVENTORY_SYNC hypervisor:kvm1\) finished/);
    expect(synced).toMatch(/Found \d+ VMs?( \(libvirt [^)]+\))?: .*running/);
    expect(synced).toMatch(new RegExp(`^ {2}${vm.name}\\s+running\\s+1\\s+64\\.0 MiB\\s+vda 32\\.0 MiB, vdb 16\\.0 MiB$`, 'm'));
  });

  it('vm exclude and include change what backups hold; a disk the VM lacks exits 1', async () => {
    expect(await vplusOk(['vm', 'exclude', vm.name, '--disks', 'vdb'], env)).toContain(`VM ${vm.name}: backups include vda and leave out vdb.\n`);
    const shown = JSON.parse(await vplusOk(['vm', 'show', vm.uuid, '--json'], env)) as Vm;
    expect(shown.disks.map((d) => [d.target, d.excluded])).toEqual([
      ['vda', false],
      ['vdb', true],
    ]);
    expect(await vplusOk(['vm', 'show', vm.name], env)).toMatch(/^ {2}vdb\s+qcow2\s+16\.0 MiB\s+.*\bexcluded\s+\//m);
    const typo = await run(['vm', 'exclude', vm.name, '--disks', 'vdz']);
    expect(typo.code).toBe(1);
    expect(typo.output).toContain(`error: VM "${vm.name}" has no disk vdz; its disks are vda, vdb\n`);
    expect(await vplusOk(['vm', 'include', vm.name, '--disks', 'vdb'], env)).toContain(`VM ${vm.name}: backups include vda, vdb (2 disks, none left out).\n`);
  });

  let full = 0;
  let incremental = 0;

  it('backup run --wait follows EXPORT then STORE: a full backup, then an incremental one', async () => {
    const first = await vplusOk(['backup', 'run', vm.name, '--wait'], env);
    expect(first).toContain('Storing it in destination local, the only one.\n');
    const ids = /Backing up VM \S+ to destination local: tasks (\d+) \(EXPORT\) and (\d+) \(STORE\), workflow \d+\.\n/.exec(first);
    expect(ids, first).not.toBeNull();
    const exportLine = `Task ${ids![1]} (EXPORT vm:${vm.name}) finished`;
    const storeLine = `Task ${ids![2]} (STORE vm:${vm.name}) finished`;
    expect(first.indexOf(exportLine)).toBeGreaterThan(0);
    expect(first.indexOf(storeLine)).toBeGreaterThan(first.indexOf(exportLine));
    expect(first).toMatch(new RegExp(`Stored a full backup of ${vm.name}: read \\S+ \\S+ of 48\\.0 MiB of disks; backup \\S+ in the repository\\.\\n`));
    full = catalogIdFrom(first);

    const second = await vplusOk(['backup', 'run', vm.uuid, '--destination', 'local', '--wait'], env);
    expect(second).not.toContain('the only one');
    expect(second).toMatch(new RegExp(`Stored an incremental backup of ${vm.name}: read \\S+ \\S+ of 48\\.0 MiB of disks;`));
    incremental = catalogIdFrom(second);
    expect(incremental).not.toBe(full);
  });

  it('backup list VM takes the name, lists by UUID and shows the name', async () => {
    const list = JSON.parse(await vplusOk(['backup', 'list', vm.name, '--json'], env)) as Backup[];
    expect(list.map((b) => [b.id, b.type, b.vm])).toEqual([
      [incremental, 'incremental', vm.uuid],
      [full, 'full', vm.uuid],
    ]);
    expect(await vplusOk(['backup', 'list', vm.name], env)).toMatch(new RegExp(`^${full}\\s+${vm.name}\\s+full\\s+`, 'm'));
    expect(await vplusOk(['vm', 'show', vm.name], env)).toMatch(/^Last backup: +\S+ \S+ \(incremental\)$/m);
  });

  it('restore to files --wait writes images equal to the disks; an existing file is refused without --overwrite', async () => {
    for (const id of [full, incremental]) {
      const dir = host.subdir(`restore-${id}`);
      const out = await vplusOk(['restore', String(id), '--node', 'kvm-node', '--path', dir, '--format', 'raw', '--wait'], env);
      expect(out).toMatch(new RegExp(`Restoring backup ${id} as raw to ${dir} on node kvm-node: task \\d+ \\(RESTORE\\)\\.\\n`));
      expect(out).toContain(`Wrote 2 disk images (48.0 MiB) to ${dir}:\n`);
      const files = [...out.matchAll(/^ {2}(vd[ab]) → (\S+) \(raw, /gm)].map((m) => [m[1]!, m[2]!] as const);
      expect(files.map(([target]) => target).sort()).toEqual(['vda', 'vdb']);
      for (const [target, file] of files) await sh('qemu-img', ['compare', '-f', 'raw', '-F', 'raw', file, expected[target]!]);
    }

    const dir = host.subdir(`restore-${full}`);
    const again = await run(['restore', String(full), '--node', 'kvm-node', '--path', dir, '--format', 'raw', '--wait']);
    expect(again.code).toBe(1);
    expect(again.output).toMatch(new RegExp(`error: task \\d+ \\(RESTORE backup:${full}\\) failed: .+\\n$`));
    expect(await vplusOk(['restore', String(full), '--node', 'kvm-node', '--path', dir, '--format', 'raw', '--overwrite', '--wait'], env)).toContain(
      `Wrote 2 disk images (48.0 MiB) to ${dir}:\n`,
    );
  });

  it('restore --import --start --wait follows RESTORE then IMPORT and defines a new VM that runs', async () => {
    const out = await vplusOk(['restore', String(incremental), '--import', '--hypervisor', 'kvm1', '--name', imported, '--storage-dir', host.subdir('images'), '--start', '--wait'], env);
    const ids = /: tasks (\d+) \(RESTORE\) and (\d+) \(IMPORT\), workflow \d+\.\n/.exec(out);
    expect(ids, out).not.toBeNull();
    expect(out.indexOf(`Task ${ids![2]} (IMPORT backup:${incremental}) finished`)).toBeGreaterThan(out.indexOf(`Task ${ids![1]} (RESTORE backup:${incremental}) finished`));
    const defined = new RegExp(`Defined the new VM ${imported} \\(UUID ([0-9a-f-]{36})\\); it is running\\.\\n`).exec(out);
    expect(defined, out).not.toBeNull();
    expect(defined![1]).not.toBe(vm.uuid);
    expect((await virsh('domstate', imported)).trim()).toBe('running');
    const listed = await waitFor('the new VM in vm list', async () => {
      const vms = JSON.parse(await vplusOk(['vm', 'list', '--json'], env)) as Vm[];
      return vms.find((v) => v.name === imported);
    }, 30_000);
    expect(listed.uuid).toBe(defined![1]);
  });

  it('hypervisor remove forgets the host and its VMs; their backups still list by UUID', async () => {
    const removed = await vplusOk(['hypervisor', 'remove', 'kvm1'], env);
    expect(removed).toMatch(/Removed hypervisor "kvm1" and its \d+ VMs? from the inventory; backups already taken stay on their destinations/);
    expect(JSON.parse(await vplusOk(['hypervisor', 'list', '--json'], env))).toEqual([]);
    expect(JSON.parse(await vplusOk(['vm', 'list', '--json'], env))).toEqual([]);
    const list = JSON.parse(await vplusOk(['backup', 'list', vm.uuid, '--json'], env)) as Backup[];
    expect(list.map((b) => b.id)).toEqual([incremental, full]);
  });
});
