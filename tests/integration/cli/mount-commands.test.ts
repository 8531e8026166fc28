import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowseEntry, BrowseSearchHit, Mount } from '../../../common/api/index.js';
import { startKvmSetup, type KvmSetup } from '../../support/kvm-setup.js';
import { MiB, sh, type LibvirtTestHost, type TestVm } from '../../support/libvirt-host.js';
import { vplus, vplusOk } from '../../support/processes.js';
import { requireBinary } from '../../support/requirements.js';
import { run } from '../../support/shell.js';

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

/** The tree the VM's ext4 filesystem holds: path → content (files), and a symlink. */
const BIG = randomBytes(3 * MiB + 123);
const FILES: Record<string, Buffer> = {
  // Owners are named from the backed-up system's own passwd and group.
  'etc/passwd': Buffer.from('root:x:0:0:root:/root:/bin/sh\nann:x:1000:1000::/home/ann:/bin/sh\n'),
  'etc/group': Buffer.from('root:x:0:\nstaff:x:1000:\n'),
  'etc/hosts': Buffer.from('127.0.0.1 localhost\n10.0.0.7 db.internal\n'),
  'etc/app/config.ini': Buffer.from('[server]\nport = 8080\n'),
  'etc/app/secret.key': Buffer.from('not really a secret\n'),
  'data/big.bin': BIG,
  'data/with space.txt': Buffer.from('a name with spaces\n'),
};
const LINK = { path: 'etc/localtime', target: 'hosts' };
const PARTITION_START = MiB;
const PARTITION_SIZE = 48 * MiB;

/**
 * Builds the VM's disk: a sparse raw file with a GPT and one Linux partition at 1 MiB holding an
 * ext4 filesystem made from a directory (mke2fs -d, written at the partition's offset: no loop
 * device), converted to qcow2.
 */
async function buildDisk(host: LibvirtTestHost): Promise<string> {
  const tree = host.subdir('tree');
  for (const [rel, data] of Object.entries(FILES)) {
    fs.mkdirSync(path.dirname(path.join(tree, rel)), { recursive: true });
    fs.writeFileSync(path.join(tree, rel), data);
  }
  fs.chmodSync(path.join(tree, 'etc/app/secret.key'), 0o600);
  fs.chmodSync(path.join(tree, 'etc/hosts'), 0o644);
  fs.chownSync(path.join(tree, 'etc/hosts'), 1000, 1000);
  fs.symlinkSync(LINK.target, path.join(tree, LINK.path));
  const raw = path.join(host.dir, 'vda.raw');
  fs.writeFileSync(raw, '');
  fs.truncateSync(raw, 64 * MiB);
  await run('sfdisk', ['--quiet', raw], { input: `label: gpt\nstart=${PARTITION_START / 512}, size=${PARTITION_SIZE / 512}, type=linux, name=data\n` });
  await sh('mke2fs', ['-q', '-F', '-t', 'ext4', '-L', 'appdata', '-d', tree, '-E', `offset=${PARTITION_START}`, raw, `${PARTITION_SIZE / 1024}k`]);
  const qcow2 = path.join(host.dir, 'vda.qcow2');
  await sh('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', raw, qcow2]);
  fs.rmSync(raw);
  return qcow2;
}

/**
 * The built `vplus mount …` against a real server (managed MariaDB), a real node agent with the
 * real KVM and mount handlers, and the real libvirt: a VM whose disk holds an ext4 filesystem
 * with known files is backed up, mounted, browsed, downloaded from (a file, a folder as a zip),
 * restored from, and closed. Run `npm run build:ts` first.
 */
describe('vplus mount against a real server, node and libvirt', () => {
  let bed: KvmSetup;
  let host: LibvirtTestHost;
  let vm: TestVm;
  let env: Record<string, string>;
  let backupId = 0;
  let mount: Mount;

  const cli = async (args: string[]): Promise<{ code: number | null; output: string }> => {
    const p = vplus(args, env);
    p.child.stdin!.end();
    const code = await p.exited;
    return { code, output: p.output() };
  };
  /** stdout only, for --json. */
  const json = async <T>(args: string[]): Promise<T> => {
    const p = vplus(args, env);
    let stdout = '';
    p.child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    p.child.stdin!.end();
    const code = await p.exited;
    if (code !== 0) throw new Error(`vplus ${args.join(' ')} exited ${code}: ${p.output()}`);
    return JSON.parse(stdout) as T;
  };

  beforeAll(async () => {
    for (const tool of ['sfdisk', 'mke2fs', 'unzip', 'nbdfuse']) requireBinary([`/usr/sbin/${tool}`, `/usr/bin/${tool}`, `/sbin/${tool}`], 'bash build/setup.sh --test');
    bed = await startKvmSetup({
      label: 'cli-mount',
      prepare: async (h) => {
        vm = await h.defineVm([{ target: 'vda', path: await buildDisk(h) }]);
      },
      node: { name: 'mount-node', kvmWorkDir: 'kvm-work' },
      destinations: ['local'],
      hypervisor: 'kvm1',
    });
    host = bed.host;
    const config = path.join(host.subdir('cli'), 'cli.json');
    fs.writeFileSync(config, JSON.stringify({ server: bed.t.server.url, fingerprint: bed.t.server.fingerprint, token: bed.admin, user: 'admin' }), { mode: 0o600 });
    env = { VPLUS_CONFIG: config, VPLUS_SERVER: '', VPLUS_FINGERPRINT: '', VPLUS_TOKEN: '' };
    const out = await vplusOk(['backup', 'run', vm.name, '--wait'], env);
    const found = /Backup (\d+) on destination local; restore it with/.exec(out);
    expect(found, out).not.toBeNull();
    backupId = Number(found![1]);
  });

  afterAll(async () => {
    if (mount?.state === 'MOUNTED') await cli(['mount', 'stop', String(mount.id), '--wait']);
    await bed?.close();
  });

  it('mount start --wait --json mounts the backup and reports its ext4 filesystem', async () => {
    mount = await json<Mount>(['mount', 'start', String(backupId), '--wait', '--json']);
    expect(mount).toMatchObject({ kind: 'browse', backupId, node: 'mount-node', state: 'MOUNTED', overlay: true });
    // The catalog records backups by the VM's UUID.
    expect([vm.name, vm.uuid]).toContain(mount.vm);
    expect(mount.filesystems).toEqual([expect.objectContaining({ name: 'vda1', disk: 'vda', kind: 'partition', type: 'ext4', label: 'appdata', readable: true })]);
    const listed = await json<Mount[]>(['mount', 'list', '--json']);
    expect(listed.map((m) => m.id)).toEqual([mount.id]);
    expect(await vplusOk(['mount', 'show', String(mount.id)], env)).toMatch(/^vda1\s+vda\s+partition\s+ext4\s+appdata\s+\S+ \S+\s+yes$/m);
  });

  it('mount ls lists the root (one folder per filesystem) and folders with modes, sizes and symlink targets', async () => {
    const root = await json<BrowseEntry[]>(['mount', 'ls', String(mount.id), '--json']);
    expect(root.map((e) => [e.name, e.type])).toEqual([['vda1', 'dir']]);

    const etc = await json<BrowseEntry[]>(['mount', 'ls', String(mount.id), '/vda1/etc', '--json']);
    expect(etc.map((e) => [e.name, e.type])).toEqual([
      ['app', 'dir'],
      ['group', 'file'],
      ['hosts', 'file'],
      ['localtime', 'symlink'],
      ['passwd', 'file'],
    ]);
    expect(etc.find((e) => e.name === 'hosts')).toMatchObject({ size: FILES['etc/hosts']!.length, mode: 0o644, uid: 1000, gid: 1000, owner: 'ann', group: 'staff' });
    expect(etc.find((e) => e.name === 'localtime')?.target).toBe(LINK.target);

    const table = await vplusOk(['mount', 'ls', String(mount.id), 'vda1/etc/app/'], env);
    expect(table).toMatch(/^TYPE\s+MODE\s+OWNER\s+SIZE\s+MODIFIED\s+NAME$/m);
    expect(table).toMatch(/^file\s+rw-------\s+root:root\s+20 B\s+\S+ \S+\s+secret\.key$/m);
    expect(await vplusOk(['mount', 'ls', String(mount.id), '/vda1/etc'], env)).toMatch(/^symlink\s+rwxrwxrwx\s+.*\slocaltime -> hosts$/m);

    const missing = await cli(['mount', 'ls', String(mount.id), '/vda1/nope']);
    expect(missing.code).toBe(1);
    expect(missing.output).toMatch(/^error: .*nope.*\n$/m);
  });

  it('mount find finds by glob under --path', async () => {
    const hits = await json<BrowseSearchHit[]>(['mount', 'find', String(mount.id), '*.ini', '--path', '/vda1', '--json']);
    expect(hits.map((h) => h.path)).toEqual(['vda1/etc/app/config.ini']);
    expect(await vplusOk(['mount', 'find', String(mount.id), 'SPACE'], env)).toContain('/vda1/data/with space.txt');
  });

  it('mount get writes a file as it is; an existing file is kept without --force', async () => {
    const dir = host.subdir('downloads');
    const out = await vplusOk(['mount', 'get', String(mount.id), '/vda1/data/big.bin', '--output', dir], env);
    expect(out).toContain(`Saved /vda1/data/big.bin to ${path.join(dir, 'big.bin')} (3.00 MiB).\n`);
    expect(sha256(fs.readFileSync(path.join(dir, 'big.bin')))).toBe(sha256(BIG));

    const again = await cli(['mount', 'get', String(mount.id), '/vda1/data/big.bin', '--output', dir]);
    expect(again.code).toBe(1);
    expect(again.output).toContain('exists already; give --force to replace it');
    expect(await vplusOk(['mount', 'get', String(mount.id), '/vda1/data/big.bin', '--output', dir, '--force'], env)).toContain('Saved');
    expect(fs.readdirSync(dir)).toEqual(['big.bin']);
  });

  it('mount get writes a folder as a zip that holds its files', async () => {
    const dir = host.subdir('zips');
    expect(await vplusOk(['mount', 'get', String(mount.id), '/vda1/etc', '--output', dir], env)).toContain(`Saved /vda1/etc as a zip to ${path.join(dir, 'etc.zip')}`);
    const listing = await sh('unzip', ['-l', path.join(dir, 'etc.zip')]);
    for (const name of ['etc/hosts', 'etc/app/config.ini', 'etc/app/secret.key']) expect(listing).toContain(name);
    expect(await sh('unzip', ['-p', path.join(dir, 'etc.zip'), 'etc/hosts'])).toBe(FILES['etc/hosts']!.toString());
    expect(fs.readdirSync(dir)).toEqual(['etc.zip']);
  });

  it('mount restore --wait copies a folder to a directory on the node, keeping modes, owners and symlinks; refuses to replace', async () => {
    const dir = host.subdir('restored');
    const out = await vplusOk(['mount', 'restore', String(mount.id), '/vda1/etc', '--path', dir, '--wait'], env);
    expect(out).toMatch(new RegExp(`Restoring /vda1/etc from mount ${mount.id} to ${dir} on node mount-node: task \\d+\\.\\n`));
    expect(out).toMatch(/Task \d+ \(FILE_RESTORE [^)]*\) finished/);
    expect(out).toMatch(/Restored \d+ entries \(\S+ \S+\) to /);
    for (const rel of ['etc/hosts', 'etc/app/config.ini', 'etc/passwd']) expect(sha256(fs.readFileSync(path.join(dir, rel))), rel).toBe(sha256(FILES[rel]!));
    expect(fs.statSync(path.join(dir, 'etc/app/secret.key')).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.join(dir, 'etc/hosts'))).toMatchObject({ uid: 1000, gid: 1000 });
    expect(fs.readlinkSync(path.join(dir, LINK.path))).toBe(LINK.target);

    const refused = await cli(['mount', 'restore', String(mount.id), '/vda1/etc', '--path', dir, '--wait']);
    expect(refused.code).toBe(1);
    expect(refused.output).toMatch(/error: task \d+ \(FILE_RESTORE [^)]*\) failed: .*already exists.*\n$/);
  });

  it('mount restore --wait of paths from several folders keeps them in place below the folder they share', async () => {
    const dir = host.subdir('restored-2');
    const out = await vplusOk(['mount', 'restore', String(mount.id), '/vda1/etc/hosts', '/vda1/data/big.bin', '--path', dir, '--wait'], env);
    expect(out).toMatch(/Restoring 2 paths from mount \d+ to /);
    expect(sha256(fs.readFileSync(path.join(dir, 'etc/hosts')))).toBe(sha256(FILES['etc/hosts']!));
    expect(sha256(fs.readFileSync(path.join(dir, 'data/big.bin')))).toBe(sha256(BIG));
  });

  it('mount stop --wait closes it; mount list is empty then', async () => {
    const out = await vplusOk(['mount', 'stop', String(mount.id), '--wait'], env);
    expect(out).toMatch(/is closed\.\n$/);
    mount = { ...mount, state: 'CLOSED' };
    expect(await json<Mount[]>(['mount', 'list', '--json'])).toEqual([]);
    const all = await json<Mount[]>(['mount', 'list', '--all', '--json']);
    expect(all.find((m) => m.id === mount.id)?.state).toBe('CLOSED');
    const gone = await cli(['mount', 'ls', String(mount.id), '/vda1']);
    expect(gone.code).toBe(1);
  });
});
