/**
 * A mount session over a real backup, with real everything: a GPT disk with ext4, XFS, vfat,
 * NTFS and an ext4 whose journal needs replaying, built with the real mkfs tools through
 * offset loop devices, backed up into a repository, then served over NBD, exposed by
 * nbdfuse, attached as offset loops and mounted by the kernel or FUSE drivers. Files are
 * read by child processes (sha256sum): the NBD server runs in this process.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backupReaderSource, type BackupDataSource } from '../../../node-service/mount/block-device.js';
import { MountSession, type MountedVolume } from '../../../node-service/mount/mount-session.js';
import { serveBackup, type NbdServer } from '../../../node-service/mount/nbd-server.js';
import { Repository, openFileSource, type BackupReader } from '../../../node-service/repository/index.js';
import { Prng } from '../../unit/repository/helpers.js';
import { requireBinary } from '../../support/requirements.js';
import { LoopDevices, run as runTool } from '../../support/shell.js';

const MiB = 1024 * 1024;

function run(cmd: string, args: string[], input?: string, cwd?: string): Promise<string> {
  return runTool(cmd, args, { ...(input !== undefined ? { input } : {}), ...(cwd !== undefined ? { cwd } : {}) });
}

let dir = '';
const loops = new LoopDevices();
const loop = (file: string, offset: number, size: number): Promise<string> => loops.attach(file, offset, size);
const detach = (dev: string): Promise<void> => loops.detach(dev);
const mounted = new Set<string>();
const sessions: MountSession[] = [];
const workDirs: string[] = [];
let repo: Repository | undefined;
let reader: BackupReader;
let source: BackupDataSource;

/** What each volume holds: relative path → SHA-256 (files), and symlinks → target. */
const expected = new Map<string, { files: Map<string, string>; links: Map<string, string> }>();

async function umount(mp: string): Promise<void> {
  await run('umount', [mp]);
  mounted.delete(mp);
}

/** Writes a tree of known files into a mounted filesystem and remembers their hashes. */
async function populate(volume: string, mp: string, opts: { symlink: boolean; unicode: boolean }): Promise<void> {
  const files = new Map<string, Buffer>([
    ['hello.txt', Buffer.from(`hello from ${volume}\n`)],
    ['with space.txt', Buffer.from('a name with spaces\n')],
    ['nested/deeper/data.bin', Buffer.alloc(300 * 1024)],
  ]);
  new Prng(volume.length * 7 + 1).fill(files.get('nested/deeper/data.bin')!);
  if (opts.unicode) files.set('ünïcødé 日本.txt', Buffer.from('unicode name\n'));
  const record = { files: new Map<string, string>(), links: new Map<string, string>() };
  for (const [rel, data] of files) {
    await fs.mkdir(path.dirname(path.join(mp, rel)), { recursive: true });
    await fs.writeFile(path.join(mp, rel), data);
    record.files.set(rel, createHash('sha256').update(data).digest('hex'));
  }
  if (opts.symlink) {
    await fs.symlink('hello.txt', path.join(mp, 'link to hello'));
    record.links.set('link to hello', 'hello.txt');
  }
  expected.set(volume, record);
}

/** Formats a partition through an offset loop and fills it; `dirty` leaves the ext4 journal unreplayed. */
async function build(file: string, start: number, size: number, volume: string, fs_: 'ext4' | 'xfs' | 'vfat' | 'ntfs' | 'dirty-ext4', label: string): Promise<void> {
  const dev = await loop(file, start, size);
  const mp = path.join(dir, `build-${volume}`);
  await fs.mkdir(mp);
  try {
    if (fs_ === 'ext4' || fs_ === 'dirty-ext4') await run('mkfs.ext4', ['-q', '-L', label, dev]);
    if (fs_ === 'xfs') await run('mkfs.xfs', ['-q', '-L', label, dev]);
    if (fs_ === 'vfat') await run('mkfs.vfat', ['-n', label, dev]);
    if (fs_ === 'ntfs') await run('mkfs.ntfs', ['-Q', '-F', '-q', '-L', label, dev]);
    if (fs_ === 'vfat') {
      // No vfat in this kernel: mtools writes the files.
      await populateFat(volume, dev);
      return;
    }
    if (fs_ === 'ntfs') await run('ntfs-3g', [dev, mp]);
    else await run('mount', [dev, mp]);
    mounted.add(mp);
    if (fs_ === 'dirty-ext4') {
      const data = Buffer.from('only in the journal\n');
      const h = await fs.open(path.join(mp, 'journal.txt'), 'w');
      await h.writeFile(data);
      await h.sync();
      await h.close();
      // Stops the filesystem with its journal committed but not checkpointed: needs_recovery
      // stays set, as after a crash, and mounting needs a replay (or noload).
      await run('xfs_io', ['-x', '-c', 'shutdown -f', mp]);
      expected.set(volume, { files: new Map([['journal.txt', createHash('sha256').update(data).digest('hex')]]), links: new Map() });
    } else {
      await populate(volume, mp, { symlink: true, unicode: true });
    }
    await umount(mp);
  } finally {
    await detach(dev);
  }
}

async function populateFat(volume: string, dev: string): Promise<void> {
  const src = path.join(dir, `src-${volume}`);
  await fs.mkdir(src);
  await populate(volume, src, { symlink: false, unicode: false });
  await run('mcopy', ['-s', '-i', dev, ...(await fs.readdir(src)).map((n) => path.join(src, n)), '::'], undefined, undefined);
}

/** SHA-256 of files under a mount, read by a child process. */
async function hashes(root: string, rels: string[]): Promise<Map<string, string>> {
  const out = await run('sha256sum', ['--', ...rels], undefined, root);
  return new Map(out.split('\n').filter(Boolean).map((l) => [l.slice(66), l.slice(0, 64)]));
}

async function expectContents(v: MountedVolume | undefined, name: string): Promise<void> {
  expect(v?.readable, `${name}: ${v?.reason}`).toBe(true);
  const want = expected.get(name)!;
  expect(await hashes(v!.path!, [...want.files.keys()])).toEqual(want.files);
  for (const [link, target] of want.links) expect((await run('readlink', [path.join(v!.path!, link)])).trim()).toBe(target);
}

/** Whatever of a session is still on the host. */
async function leftovers(workDir: string): Promise<string[]> {
  const left: string[] = [];
  const loopsNow = await run('losetup', ['-a']);
  if (loopsNow.includes(workDir)) left.push(`loops: ${loopsNow}`);
  const mounts = await fs.readFile('/proc/mounts', 'utf8');
  for (const l of mounts.split('\n')) if (l.includes(workDir.replaceAll(' ', '\\040'))) left.push(`mount: ${l}`);
  for (const pid of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const cmd = await fs.readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmd.includes(workDir)) left.push(`process ${pid}: ${cmd.replaceAll('\0', ' ')}`);
  }
  if (await fs.stat(workDir).then(() => true, () => false)) left.push(`${workDir} exists`);
  return left;
}

async function repoSnapshot(root: string): Promise<string[]> {
  const entries = await fs.readdir(root, { recursive: true, withFileTypes: true });
  const out: string[] = [];
  for (const e of entries) {
    if (!e.isFile()) continue;
    const p = path.join(e.parentPath, e.name);
    const st = await fs.stat(p);
    out.push(`${path.relative(root, p)} ${st.size} ${st.mtimeMs}`);
  }
  return out.sort();
}

let repoDir = '';
let before: string[] = [];

beforeAll(async () => {
  for (const tool of ['sfdisk', 'losetup', 'mkfs.xfs', 'mkfs.ntfs', 'mkfs.vfat', 'mkfs.ext4', 'mkfs.exfat', 'xfs_io', 'mcopy', 'nbdfuse', 'ntfs-3g', 'fusefat', 'sha256sum']) {
    requireBinary([`/usr/sbin/${tool}`, `/sbin/${tool}`, `/usr/bin/${tool}`, `/bin/${tool}`], 'sudo apt-get install -y fdisk xfsprogs ntfs-3g dosfstools e2fsprogs exfatprogs mtools libnbd-bin fusefat');
  }
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'vplus-mount-session-'));
  const image = path.join(dir, 'disk.img');
  await (await fs.open(image, 'w')).close();
  await fs.truncate(image, 420 * MiB);
  await run('sfdisk', ['-q', '--no-reread', '--no-tell-kernel', image], ['label: gpt', 'size=32MiB, name="root"', 'size=300MiB, name="data"', 'size=32MiB, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7, name="EFI"', 'size=16MiB, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7, name="win"', 'size=16MiB, name="crashed"'].join('\n'));
  const parts = (JSON.parse(await run('sfdisk', ['--json', image])) as { partitiontable: { partitions: { start: number; size: number }[] } }).partitiontable.partitions;
  const at = (i: number) => [parts[i]!.start * 512, parts[i]!.size * 512] as const;
  await build(image, ...at(0), 'vda1', 'ext4', 'rootfs');
  await build(image, ...at(1), 'vda2', 'xfs', 'xdata');
  await build(image, ...at(2), 'vda3', 'vfat', 'EFIBOOT');
  await build(image, ...at(3), 'vda4', 'ntfs', 'WinData');
  await build(image, ...at(4), 'vda5', 'dirty-ext4', 'crashed');

  repoDir = path.join(dir, 'repo');
  repo = await Repository.init(repoDir, { chunkSize: MiB }, { threads: 2 });
  const w = await repo.startBackup({ group: 'vm:mount' });
  const src = await openFileSource(image);
  await w.writeDisk('vda', src.size, src.source);
  await src.close();
  // A second disk, unpartitioned exFAT: this node has no exFAT driver.
  const exfat = path.join(dir, 'exfat.img');
  await (await fs.open(exfat, 'w')).close();
  await fs.truncate(exfat, 8 * MiB);
  await run('mkfs.exfat', ['-L', 'EXLBL', exfat]);
  const ex = await openFileSource(exfat);
  await w.writeDisk('vdb', ex.size, ex.source);
  await ex.close();
  const manifest = await w.commit();
  await fs.rm(image);
  reader = await repo.openBackup(manifest.id);
  source = backupReaderSource(reader);
  before = await repoSnapshot(repoDir);
}, 120_000);

afterAll(async () => {
  for (const s of sessions) await s.close().catch(() => undefined);
  for (const w of workDirs) await MountSession.cleanup(w).catch(() => undefined);
  for (const mp of [...mounted]) await run('umount', ['-l', mp]).catch(() => undefined);
  await loops.detachAll().catch(() => undefined); // afterAll goes on to the rest of the cleanup
  await repo?.close();
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

async function open(overlay: boolean, serve?: (s: BackupDataSource, o: Parameters<typeof serveBackup>[1]) => Promise<NbdServer>): Promise<MountSession> {
  const workDir = path.join(dir, `session ${workDirs.length} ${overlay ? 'overlay' : 'ro'}`);
  workDirs.push(workDir);
  const session = await MountSession.open(source, { workDir, overlay, ...(serve ? { serve } : {}) });
  sessions.push(session);
  return session;
}

const byName = (s: MountSession, name: string) => s.volumes.find((v) => v.name === name);

describe('mount session', () => {
  it('mounts every filesystem of a backup through the overlay, replays a dirty journal there, and leaves nothing', async () => {
    const s = await open(true);
    expect(s.volumes.map((v) => [v.name, v.type, v.label, v.readable, v.reason])).toEqual([
      ['vda1', 'ext4', 'rootfs', true, undefined],
      ['vda2', 'xfs', 'xdata', true, undefined],
      ['vda3', 'vfat', 'EFIBOOT', true, undefined],
      ['vda4', 'ntfs', 'WinData', true, undefined],
      ['vda5', 'ext4', 'crashed', true, undefined],
      ['vdb', 'exfat', 'EXLBL', false, 'no exFAT driver on this node'],
    ]);
    expect(byName(s, 'vda5')?.dirty).toBe(true);
    for (const name of ['vda1', 'vda2', 'vda3', 'vda4', 'vda5']) await expectContents(byName(s, name), name);
    const mounts = await fs.readFile('/proc/mounts', 'utf8');
    for (const name of ['vda1', 'vda2']) {
      const line = mounts.split('\n').find((l) => l.split(' ')[1] === byName(s, name)!.path!.replaceAll(' ', '\\040'));
      expect(line?.split(' ')[3]?.split(',')).toEqual(expect.arrayContaining(['ro', 'nosuid', 'nodev', 'noexec']));
    }
    await s.close();
    expect(await leftovers(s.workDir)).toEqual([]);
  });

  it('mounts without the overlay: read-only loops, journals not replayed', async () => {
    const s = await open(false);
    expect(s.volumes.map((v) => [v.name, v.readable])).toEqual([...['vda1', 'vda2', 'vda3', 'vda4', 'vda5'].map((n) => [n, true]), ['vdb', false]]);
    for (const name of ['vda1', 'vda2', 'vda3', 'vda4']) await expectContents(byName(s, name), name);
    // Mounted with noload: the journal is skipped, the volume still lists.
    expect(byName(s, 'vda5')).toMatchObject({ type: 'ext4', dirty: true });
    expect(await run('ls', ['-A', byName(s, 'vda5')!.path!])).toContain('lost+found');
    // A second session of the same backup at once: XFS mounts again (nouuid).
    const other = await open(true);
    expect(byName(other, 'vda2')).toMatchObject({ type: 'xfs', readable: true });
    await expectContents(byName(other, 'vda2'), 'vda2');
    await other.close();
    expect(await leftovers(other.workDir)).toEqual([]);
    const loopsNow = JSON.parse(await run('losetup', ['--list', '--json', '-O', 'NAME,BACK-FILE,RO'])) as { loopdevices: { 'back-file': string; ro: boolean | string }[] };
    const ours = loopsNow.loopdevices.filter((l) => l['back-file'].startsWith(s.workDir));
    expect(ours).toHaveLength(5);
    for (const l of ours) expect([true, '1']).toContain(l.ro);
    await s.close();
    expect(await leftovers(s.workDir)).toEqual([]);
  });

  it('cleans up after a crash (server gone, nothing closed) from the state file alone', async () => {
    let server: NbdServer | undefined;
    const s = await open(true, async (src, o) => (server = await serveBackup(src, o)));
    expect(byName(s, 'vda1')?.readable).toBe(true);
    // The node process dies: its NBD server with it; mounts, loops and nbdfuse stay behind.
    await server!.close();
    expect(await leftovers(s.workDir)).not.toEqual([]);
    await MountSession.cleanup(s.workDir);
    expect(await leftovers(s.workDir)).toEqual([]);
  });

  it('leaves the backup untouched', async () => {
    expect(await repoSnapshot(repoDir)).toEqual(before);
    const report = await repo!.verify();
    expect(report.ok).toBe(true);
  });
});
