/**
 * File-level restore through the product: a VM whose raw disk holds a GPT with an ext4 and
 * an XFS partition (built here with sfdisk, mkfs and offset loop devices), backed up twice
 * through the real EXPORT → STORE workflow with files changed offline in between; then, for
 * both backups at once, "Browse files" through the server's API: every filesystem listed,
 * every file's SHA-256 compared with what was written, a folder downloaded as a zip, a
 * selection restored to a node path, escapes refused, a viewer refused, the mount closed
 * with nothing left behind; and an iSCSI export read back by a user-space initiator.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../support/net.js';
import type { Backup, BackupPage } from '../../../common/api/backups.js';
import type { BrowseListing, BrowseSearchResult, IscsiStartResponse, Mount } from '../../../common/api/mounts.js';
import type { TaskDetails } from '../../../common/api/tasks.js';
import { startKvmSetup, type KvmSetup } from '../../support/kvm-setup.js';
import { MiB, type TestVm } from '../../support/libvirt-host.js';
import { LoopDevices, run } from '../../support/shell.js';
import { createUser, taskEnded, waitFor } from '../../support/test-server.js';
import { enrollTestNode } from '../../support/test-node.js';
import { defaultHandlers } from '../../../node-service/agent/node-service.js';

const exec = promisify(execFile);
const sha = (data: Buffer): string => createHash('sha256').update(data).digest('hex');
const shaFile = (file: string): string => sha(fs.readFileSync(file));
/** Hashes a large file without blocking this process (the node agent runs in it too). */
const shaStream = async (file: string): Promise<string> => {
  const h = createHash('sha256');
  for await (const chunk of fs.createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
};
const INITIATOR = 'iqn.2026-12.lan.office:reader';


/** What a backup point should show: path inside its filesystem → SHA-256. */
type Truth = Map<string, string>;

/** Files of the filesystems that do not change between the two backups (NTFS, FAT, the dirty ones, the LV). */
const fixed: Truth = new Map();

const ENV = { ...process.env, LVM_SUPPRESS_FD_WARNINGS: '1' };
// LVM confined to the test's own loop device: no devices file, no udev, no device-mapper.
const LVM_CONFIG =
  'devices { use_devicesfile=0 hints="none" obtain_device_list_from_udev=0 scan_lvs=0 } backup { backup=0 archive=0 } ' +
  'activation { udev_sync=0 udev_rules=0 monitoring=0 } global { use_lvmpolld=0 event_activation=0 }';
const VG = `vplusmw${process.pid}`;
/** Writes files durably (fsync each) under a mounted filesystem. */
function write(mp: string, files: Record<string, Buffer>): Record<string, Buffer> {
  for (const [rel, data] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(mp, rel)), { recursive: true });
    const fd = fs.openSync(path.join(mp, rel), 'w');
    fs.writeSync(fd, data);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
  }
  return files;
}

const lvm = (cmd: string, dev: string, args: string[]) => run(cmd, ['--driverloaded', 'n', '--devices', dev, '--config', LVM_CONFIG, ...args], { env: ENV });

describe('Browse files and iSCSI export of VM backups', () => {
  let lvmDisk = '';

  /** A filesystem built through an offset loop, `fill`ed, each file's hash kept under `name`. */
  async function buildFs(file: string, at: { start: number; size: number }, name: string, mkfs: (dev: string) => Promise<unknown>, fill: (dev: string) => Promise<Record<string, Buffer>>): Promise<void> {
    const dev = await loops.attach(file, at.start, at.size);
    try {
      await mkfs(dev);
      for (const [rel, data] of Object.entries(await fill(dev))) fixed.set(`${name}/${rel}`, sha(data));
    } finally {
      await loops.detach(dev);
    }
  }

  /** Mounts dev (kernel or a FUSE driver), runs fn, unmounts; `crash` stops the filesystem uncleanly first. */
  async function onMounted(dir: string, dev: string, mount: string[], fn: (mp: string) => void, crash = false): Promise<void> {
    const mp = fs.mkdtempSync(path.join(dir, 'mp-'));
    await run(mount[0]!, [...mount.slice(1), dev, mp]);
    try {
      fn(mp);
      if (crash) {
        await run('sync', []);
        // The journal is committed, the filesystem not checkpointed: it needs a replay, as after a crash.
        await run('xfs_io', ['-x', '-c', 'shutdown -f', mp]);
      }
    } finally {
      await run('umount', [mp]);
      fs.rmdirSync(mp);
    }
  }

  async function buildOthers(dir: string): Promise<void> {
    await buildFs(disk, parts[2]!, 'vda3', (dev) => run('mkfs.ntfs', ['-Q', '-F', '-q', '-L', 'winvol', dev]), async (dev) => {
      const files = { 'Users/Anna/Документ.txt': Buffer.from('ntfs unicode\n'), 'report.bin': Buffer.alloc(200 * 1024, 7) };
      await onMounted(dir, dev, ['ntfs-3g'], (mp) => write(mp, files));
      return files;
    });
    await buildFs(disk, parts[3]!, 'vda4', (dev) => run('mkfs.vfat', ['-n', 'EFI', dev]), async (dev) => {
      // No vfat in this kernel: mtools writes the files.
      const src = fs.mkdtempSync(path.join(dir, 'fat-'));
      const files = { 'BOOT.TXT': Buffer.from('fat file\n') };
      write(src, files);
      await run('mcopy', ['-i', dev, path.join(src, 'BOOT.TXT'), '::']);
      return files;
    });
    await buildFs(disk, parts[4]!, 'vda5', (dev) => run('mkfs.ext4', ['-q', '-L', 'crashed', dev]), async (dev) => {
      const files = { 'journal-only.txt': Buffer.from('only in the ext4 journal\n') };
      await onMounted(dir, dev, ['mount'], (mp) => write(mp, files), true);
      return files;
    });
    await buildFs(disk, parts[5]!, 'vda6', (dev) => run('mkfs.xfs', ['-q', '-L', 'xcrash', dev]), async (dev) => {
      const files = { 'log-only.txt': Buffer.from('only in the XFS log\n') };
      await onMounted(dir, dev, ['mount'], (mp) => write(mp, files), true);
      return files;
    });
  }

  /** An MBR disk whose one partition is an LVM PV of a VG holding an ext4 LV (never activated). */
  async function buildLvmDisk(dir: string, l: LoopDevices): Promise<string> {
    const file = path.join(dir, 'vdb.raw');
    fs.closeSync(fs.openSync(file, 'w'));
    fs.truncateSync(file, 64 * MiB);
    await run('sfdisk', ['-q', file], { input: 'label: dos\n,,8e\n' });
    const start = 2048 * 512;
    const pv = await l.attach(file, start, 64 * MiB - start);
    let lvAt = 0;
    try {
      await lvm('pvcreate', pv, ['-q', pv]);
      await lvm('vgcreate', pv, ['-q', '--setautoactivation', 'n', VG, pv]);
      await lvm('lvcreate', pv, ['-q', '-an', '-Zn', '-Wn', '-L', '24M', '-n', 'root', VG]);
      const pvs = JSON.parse(await lvm('pvs', pv, ['--reportformat', 'json', '--units', 'b', '--nosuffix', '-o', 'pe_start'])) as { report: [{ pv: { pe_start: string }[] }] };
      const segs = JSON.parse(await lvm('lvs', pv, ['--reportformat', 'json', '--segments', '-o', 'seg_pe_ranges,vg_extent_size', '--units', 'b', '--nosuffix', VG])) as {
        report: [{ seg: { seg_pe_ranges: string; vg_extent_size: string }[] }];
      };
      const seg = segs.report[0].seg[0]!;
      lvAt = start + Number(pvs.report[0].pv[0]!.pe_start) + Number(/:(\d+)-/.exec(seg.seg_pe_ranges)![1]) * Number(seg.vg_extent_size);
    } finally {
      await l.detach(pv);
    }
    await buildFs(file, { start: lvAt, size: 24 * MiB }, `${VG}-root`, (dev) => run('mkfs.ext4', ['-q', '-L', 'lvroot', dev]), async (dev) => {
      const files = { 'etc/fstab': Buffer.from('/dev/vg/root / ext4 defaults 0 1\n') };
      await onMounted(dir, dev, ['mount'], (mp) => write(mp, files));
      return files;
    });
    return file;
  }

  let bed: KvmSetup;
  let vm: TestVm;
  let disk = '';
  const loops = new LoopDevices();
  const parts: { start: number; size: number }[] = [];
  const truth: Truth[] = [];
  const backups: Backup[] = [];
  let mounts: Mount[] = [];
  const api = <T>(method: string, p: string, body?: unknown) => bed.api<T>(method, p, body);

  /** Mounts partition `n` of the VM's disk (the VM is off) and runs fn on it. */
  async function withPartition<T>(n: number, fn: (dir: string) => Promise<T>): Promise<T> {
    const p = parts[n]!;
    const dev = await loops.attach(disk, p.start, p.size);
    const mp = fs.mkdtempSync(path.join(bed.host.dir, 'mp-'));
    await run('mount', [dev, mp]);
    try {
      return await fn(mp);
    } finally {
      await run('umount', [mp]);
      await loops.detach(dev);
      fs.rmdirSync(mp);
    }
  }

  async function record(): Promise<Truth> {
    const t: Truth = new Map();
    for (const [n, fsName] of [
      [0, 'vda1'],
      [1, 'vda2'],
    ] as const) {
      await withPartition(n, async (mp) => {
        const walk = async (dir: string, rel: string): Promise<void> => {
          for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
            const r = rel ? `${rel}/${e.name}` : e.name;
            if (e.isDirectory() && e.name !== 'lost+found') await walk(path.join(dir, e.name), r);
            else if (e.isFile()) t.set(`${fsName}/${r}`, await shaStream(path.join(dir, e.name)));
          }
        };
        await walk(mp, '');
      });
    }
    return t;
  }

  async function backUp(): Promise<Backup> {
    await bed.host.start(vm);
    const res = await api<{ taskIds: number[]; message?: string }>('POST', '/api/backups/run', { vm: vm.name, destination: 'local' });
    expect(res.status, res.body.message).toBe(202);
    for (const id of res.body.taskIds) expect((await taskEnded(bed.t.api, bed.admin, id)).state).toMatch(/^FINISHED/);
    await bed.host.destroy(vm);
    const list = await api<BackupPage>('GET', `/api/backups?vm=${encodeURIComponent(vm.uuid)}`);
    return list.body.backups.sort((a, b) => b.id - a.id)[0]!;
  }

  const mounted = (id: number): Promise<Mount> =>
    waitFor(
      `mount ${id} to open`,
      async () => {
        const m = (await api<Mount>('GET', `/api/mounts/${id}`)).body;
        if (m.state === 'FAILED') throw new Error(`mount failed: ${m.error}`);
        return m.state === 'MOUNTED' ? m : undefined;
      },
      120_000,
    );

  const download = async (mount: number, query: string, file: string, headers: Record<string, string> = {}) =>
    bed.t.api.download(`/api/mounts/${mount}/${query}`, path.join(bed.host.dir, file), { token: bed.admin, headers });

  beforeAll(async () => {
    bed = await startKvmSetup({
      label: 'mount',
      node: { name: 'mount-node', iscsiPortal: `127.0.0.1:${await freePort()}` },
      destinations: ['local'],
      prepare: async (h) => {
        disk = path.join(h.dir, 'vda.raw');
        fs.closeSync(fs.openSync(disk, 'w'));
        fs.truncateSync(disk, 400 * MiB);
        fs.truncateSync(disk, 800 * MiB);
        await run('sfdisk', ['-q', disk], { input: 'label: gpt\n,64M,L\n,320M,L\n,16M,L\n,16M,L\n,16M,L\n,304M,L\n' });
        const dump = JSON.parse(await run('sfdisk', ['-J', disk])) as { partitiontable: { sectorsize?: number; partitions: { start: number; size: number }[] } };
        const sector = dump.partitiontable.sectorsize ?? 512;
        for (const p of dump.partitiontable.partitions) parts.push({ start: p.start * sector, size: p.size * sector });
        const dev1 = await loops.attach(disk, parts[0]!.start, parts[0]!.size);
        await run('mkfs.ext4', ['-q', '-L', 'root', dev1]);
        await loops.detach(dev1);
        const dev2 = await loops.attach(disk, parts[1]!.start, parts[1]!.size);
        await run('mkfs.xfs', ['-q', '-L', 'data', dev2]);
        await loops.detach(dev2);
        await buildOthers(h.dir);
        lvmDisk = await buildLvmDisk(h.dir, loops);
        vm = await h.defineVm([
          { target: 'vda', path: disk, format: 'raw' },
          { target: 'vdb', path: lvmDisk, format: 'raw' },
        ]);
      },
    });
    // The files, written through the real filesystems.
    await withPartition(0, async (mp) => {
      fs.writeFileSync(path.join(mp, 'hello.txt'), 'hello from vda1\n');
      fs.writeFileSync(path.join(mp, 'to be deleted.txt'), 'this file is deleted after the first backup\n');
      fs.writeFileSync(path.join(mp, 'ünïcødé 日本.txt'), 'unicode name\n');
      fs.mkdirSync(path.join(mp, 'deep/a/b/c/d/e'), { recursive: true });
      fs.writeFileSync(path.join(mp, 'deep/a/b/c/d/e/leaf.txt'), 'deep leaf\n');
      fs.mkdirSync(path.join(mp, 'docs'));
      for (let i = 0; i < 20; i++) fs.writeFileSync(path.join(mp, 'docs', `report ${i}.txt`), `report ${i}\n`.repeat(100 + i));
      fs.chmodSync(path.join(mp, 'docs', 'report 3.txt'), 0o640);
      fs.utimesSync(path.join(mp, 'docs', 'report 3.txt'), new Date('2026-01-02T03:04:05Z'), new Date('2026-01-02T03:04:05Z'));
      // 300 MB sparse, with data at its start and end.
      const fd = fs.openSync(path.join(mp, 'sparse.img'), 'w');
      fs.writeSync(fd, Buffer.alloc(MiB, 0x5a), 0, MiB, 0);
      fs.writeSync(fd, Buffer.alloc(MiB, 0xa5), 0, MiB, 299 * MiB);
      fs.closeSync(fd);
      fs.symlinkSync('hello.txt', path.join(mp, 'link to hello'));
      fs.symlinkSync('/etc/passwd', path.join(mp, 'outside'));
      fs.symlinkSync('../../../../etc', path.join(mp, 'docs', 'up and out'));
    });
    await withPartition(1, async (mp) => {
      fs.writeFileSync(path.join(mp, 'on-xfs.txt'), 'hello from xfs\n');
    });
    truth.push(await record());
    await bed.addHypervisor('kvm1');
    backups.push(await backUp());
    // Changed offline: one file deleted, one changed, one added.
    await withPartition(0, async (mp) => {
      fs.rmSync(path.join(mp, 'to be deleted.txt'));
      fs.writeFileSync(path.join(mp, 'hello.txt'), 'hello again, changed after the first backup\n');
      fs.writeFileSync(path.join(mp, 'docs', 'new.txt'), 'added later\n');
    });
    truth.push(await record());
    backups.push(await backUp());
  }, 600_000);

  afterAll(async () => {
    for (const m of mounts) await api('DELETE', `/api/mounts/${m.id}`).catch(() => undefined);
    await loops.detachAll();
    await bed?.close();
  });

  it('opens both backups at once and lists every filesystem', async () => {
    // Both backup points, and the second one twice (two XFS with one UUID mount together: nouuid).
    const started = await Promise.all([...backups, backups[1]!].map((b) => api<Mount & { message?: string }>('POST', '/api/mounts', { backup: b.id })));
    for (const s of started) expect(s.status, s.body.message).toBe(202);
    mounts = await Promise.all(started.map((s) => mounted(s.body.id)));
    for (const m of mounts) {
      expect(m.vm).toBe(vm.name);
      const readable = m.filesystems.filter((f) => f.readable).map((f) => [f.name, f.type, f.label]);
      expect(readable).toEqual([
        ['vda1', 'ext4', 'root'],
        ['vda2', 'xfs', 'data'],
        ['vda3', 'ntfs', 'winvol'],
        ['vda4', 'vfat', 'EFI'],
        ['vda5', 'ext4', 'crashed'],
        ['vda6', 'xfs', 'xcrash'],
        [`${VG}-root`, 'ext4', 'lvroot'],
      ]);
      // The PV is listed, with why it is not browsed itself.
      expect(m.filesystems.find((f) => f.name === 'vdb1')).toMatchObject({ readable: false, reason: expect.any(String) as unknown });
      expect(new Date(m.expiresAt!).getTime()).toBeGreaterThan(Date.now() + 60 * 60 * 1000);
      const root = await api<BrowseListing>('GET', `/api/mounts/${m.id}/files?path=`);
      expect(root.body.entries.filter((e) => e.type === 'dir').map((e) => e.name)).toEqual(readable.map((r) => r[0]));
    }
    const top = await api<BrowseListing>('GET', `/api/mounts/${mounts[0]!.id}/files?path=vda1&sort=name`);
    const byName = new Map(top.body.entries.map((e) => [e.name, e]));
    expect(byName.get('link to hello')).toMatchObject({ type: 'symlink', target: 'hello.txt' });
    expect(byName.get('outside')).toMatchObject({ type: 'symlink', target: '/etc/passwd' });
    expect(byName.get('sparse.img')).toMatchObject({ type: 'file', size: 300 * MiB });
    expect(byName.has('to be deleted.txt')).toBe(true);
    const later = await api<BrowseListing>('GET', `/api/mounts/${mounts[1]!.id}/files?path=vda1`);
    expect(later.body.entries.some((e) => e.name === 'to be deleted.txt')).toBe(false);
  });

  it('keeps a mounted backup from being deleted', async () => {
    const refused = await api<{ error: string; message: string }>('DELETE', `/api/backups/${backups[0]!.id}`);
    expect(refused.status).toBe(409);
    expect(refused.body.message).toMatch(new RegExp(`open in mount ${mounts[0]!.id}`));
  });

  it('keeps a mounted backup through a retention prune', async () => {
    // keepLast=1 would remove the first backup point; it is open in a mount, so it is kept.
    const res = await api<TaskDetails & { message?: string }>('POST', '/api/destinations/local/prune', { retention: { keepLast: 1 }, dryRun: true });
    expect(res.status, res.body.message).toBe(202);
    const done = await taskEnded(bed.t.api, bed.admin, res.body.id);
    expect(done.state, done.error ?? '').toMatch(/^FINISHED/);
    const result = done.result as { kept: { id: string; reasons: string[] }[]; removed: { id: string }[] };
    expect(result.removed).toEqual([]);
    expect(result.kept.find((k) => k.id === backups[0]!.repoBackupId)?.reasons).toContainEqual(expect.stringMatching(/^protected/));
  });

  it("reads every file of both backup points with the content written into it", async () => {
    for (const [i, m] of mounts.entries()) {
      // The dirty ext4 and XFS show the files only their journals hold: replayed into the overlay.
      for (const [p, hash] of [...truth[Math.min(i, 1)]!, ...fixed]) {
        const r = await download(m.id, `content?path=${encodeURIComponent(p)}&download=1`, 'file.out');
        expect(r.status, p).toBe(200);
        expect(await shaStream(path.join(bed.host.dir, 'file.out')), p).toBe(hash);
      }
    }
    // A range, as a preview or a resumed download reads it.
    const r = await download(mounts[0]!.id, `content?path=${encodeURIComponent('vda1/sparse.img')}`, 'range.out', { range: `bytes=${299 * MiB}-${299 * MiB + 9}` });
    expect(r.status).toBe(206);
    expect(r.headers['content-range']).toBe(`bytes ${299 * MiB}-${299 * MiB + 9}/${300 * MiB}`);
    expect(fs.readFileSync(path.join(bed.host.dir, 'range.out'))).toEqual(Buffer.alloc(10, 0xa5));
  });

  it('finds files by name', async () => {
    const found = await api<BrowseSearchResult>('GET', `/api/mounts/${mounts[1]!.id}/search?path=vda1&pattern=new`);
    expect(found.body.hits.map((h) => h.path)).toEqual(['vda1/docs/new.txt']);
    // From the mount's root: every filesystem.
    const everywhere = await api<BrowseSearchResult>('GET', `/api/mounts/${mounts[1]!.id}/search?path=&pattern=*.txt`);
    expect(everywhere.body.hits.map((h) => h.path)).toContain('vda2/on-xfs.txt');
    expect(everywhere.body.hits.map((h) => h.path)).toContain('vda1/hello.txt');
  });

  it('downloads a folder as a zip holding exactly its files', async () => {
    const m = mounts[1]!;
    const r = await download(m.id, 'zip?path=vda1/docs', 'docs.zip');
    expect(r.status).toBe(200);
    const out = fs.mkdtempSync(path.join(bed.host.dir, 'unzip-'));
    await exec('unzip', ['-q', path.join(bed.host.dir, 'docs.zip'), '-d', out]);
    const files = fs.readdirSync(path.join(out, 'docs')).filter((n) => n !== 'up and out');
    const expected = [...truth[1]!.keys()].filter((k) => k.startsWith('vda1/docs/')).map((k) => k.slice('vda1/docs/'.length));
    expect(files.sort()).toEqual(expected.sort());
    for (const f of files) expect(shaFile(path.join(out, 'docs', f))).toBe(truth[1]!.get(`vda1/docs/${f}`));
    // The link is stored as a link, never followed out of the filesystem.
    expect(fs.readlinkSync(path.join(out, 'docs', 'up and out'))).toBe('../../../../etc');
  });

  it('restores a selection to a node path, keeping times, modes and links, and refuses to overwrite', async () => {
    const m = mounts[0]!;
    const target = bed.host.subdir('restored');
    const body = { paths: ['vda1/docs', 'vda1/link to hello', 'vda1/hello.txt', 'vda1/deep/a/b/c/d/e/leaf.txt'], path: target };
    const res = await api<TaskDetails & { message?: string }>('POST', `/api/mounts/${m.id}/restore`, body);
    expect(res.status, res.body.message).toBe(202);
    const done = await taskEnded(bed.t.api, bed.admin, res.body.id);
    expect(done.state, done.error ?? '').toBe('FINISHED');
    expect(shaFile(path.join(target, 'hello.txt'))).toBe(truth[0]!.get('vda1/hello.txt'));
    expect(shaFile(path.join(target, 'docs/report 7.txt'))).toBe(truth[0]!.get('vda1/docs/report 7.txt'));
    const st = fs.statSync(path.join(target, 'docs/report 3.txt'));
    expect(st.mode & 0o777).toBe(0o640);
    expect(st.mtime.toISOString()).toBe('2026-01-02T03:04:05.000Z');
    expect(fs.readlinkSync(path.join(target, 'link to hello'))).toBe('hello.txt');
    // From another folder than the rest: its folders are made on the way.
    expect(shaFile(path.join(target, 'deep/a/b/c/d/e/leaf.txt'))).toBe(truth[0]!.get('vda1/deep/a/b/c/d/e/leaf.txt'));
    const again = await api<TaskDetails>('POST', `/api/mounts/${m.id}/restore`, body);
    const refused = await taskEnded(bed.t.api, bed.admin, again.body.id);
    expect(refused.state).toBe('FAILED');
    expect(refused.error).toMatch(/overwrite/);
  });

  it('restores to another node, streamed through the server as a tar', async () => {
    const other = await enrollTestNode(bed.t.api, bed.admin, {
      name: 'other-node',
      handlers: (mount) => defaultHandlers({ name: 'other-node' }, {}, mount),
      serverUrl: bed.t.server.url,
      fingerprint: bed.t.server.fingerprint,
    });
    try {
      const target = bed.host.subdir('restored-elsewhere');
      const body = { paths: ['vda1/docs', 'vda1/deep/a/b/c/d/e/leaf.txt', 'vda1/hello.txt'], node: 'other-node', path: target };
      const res = await api<TaskDetails & { message?: string }>('POST', `/api/mounts/${mounts[1]!.id}/restore`, body);
      expect(res.status, res.body.message).toBe(202);
      const done = await taskEnded(bed.t.api, bed.admin, res.body.id);
      expect(done.state, done.error ?? '').toBe('FINISHED');
      expect(done.nodeId).not.toBe(mounts[1]!.nodeId);
      for (const [p, hash] of truth[1]!) {
        if (p.startsWith('vda1/docs/')) expect(shaFile(path.join(target, p.slice('vda1/'.length))), p).toBe(hash);
      }
      expect(shaFile(path.join(target, 'deep/a/b/c/d/e/leaf.txt'))).toBe(truth[1]!.get('vda1/deep/a/b/c/d/e/leaf.txt'));
      expect(shaFile(path.join(target, 'hello.txt'))).toBe(truth[1]!.get('vda1/hello.txt'));
      expect(fs.statSync(path.join(target, 'docs/report 3.txt')).mtime.toISOString()).toBe('2026-01-02T03:04:05.000Z');
      expect(fs.readlinkSync(path.join(target, 'docs/up and out'))).toBe('../../../../etc');
      // A second time without overwrite: refused, naming the file.
      const again = await api<TaskDetails>('POST', `/api/mounts/${mounts[1]!.id}/restore`, body);
      const refused = await taskEnded(bed.t.api, bed.admin, again.body.id);
      expect(refused.state).toBe('FAILED');
      expect(refused.error).toMatch(/already exists.*overwrite/);
    } finally {
      await other.stop();
    }
  });

  it('refuses escapes, unknown filesystems and viewers', async () => {
    const id = mounts[0]!.id;
    const escape = await api<{ error: string; message: string }>('GET', `/api/mounts/${id}/files?path=${encodeURIComponent('vda1/../../etc')}`);
    expect(escape.status).toBe(403);
    expect(escape.body.error).toBe('PATH_ESCAPE');
    const link = await api<{ error: string }>('GET', `/api/mounts/${id}/content?path=${encodeURIComponent('vda1/outside')}`);
    expect(link.status).toBe(403);
    expect(link.body.error).toBe('PATH_ESCAPE');
    const through = await api<{ code: string }>('GET', `/api/mounts/${id}/files?path=${encodeURIComponent('vda1/docs/up and out')}`);
    expect(through.status).toBe(403);
    const unknown = await api<{ code: string }>('GET', `/api/mounts/${id}/files?path=vdz9`);
    expect(unknown.status).toBe(404);
    const viewer = await createUser(bed.t.api, bed.admin, 'mount-viewer', 'viewer');
    const asViewer = await bed.t.api.request('GET', `/api/mounts/${id}/files?path=vda1`, undefined, { token: viewer });
    expect(asViewer.status).toBe(403);
    const startAsViewer = await bed.t.api.request('POST', '/api/mounts', { backup: backups[0]!.id }, { token: viewer });
    expect(startAsViewer.status).toBe(403);
  });

  it('audits downloads and restores', async () => {
    const audit = await api<{ entries: { action: string; actor: string; details: Record<string, unknown> }[] }>('GET', '/api/audit?limit=500');
    const actions = audit.body.entries.map((e) => e.action);
    expect(actions).toContain('mount.start');
    expect(actions).toContain('mount.download');
    expect(actions).toContain('mount.restore');
    const zip = audit.body.entries.find((e) => e.action === 'mount.download' && e.details.zip === true);
    expect(zip?.details.paths).toEqual(['vda1/docs']);
  });

  it('closes the mounts and leaves nothing on the node', async () => {
    const staging = bed.node!.config.stagingDir;
    for (const m of mounts) {
      const res = await api<Mount>('DELETE', `/api/mounts/${m.id}`);
      expect(res.status).toBe(202);
    }
    for (const m of mounts) {
      const closed = await waitFor(`mount ${m.id} to close`, async () => {
        const r = (await api<Mount>('GET', `/api/mounts/${m.id}`)).body;
        return r.state === 'CLOSED' ? r : undefined;
      });
      expect(closed.closedAt).not.toBeNull();
      const t = await taskEnded(bed.t.api, bed.admin, m.taskId!);
      expect(t.state).toBe('FINISHED');
      expect(t.result).toMatchObject({ closedBy: 'user' });
    }
    const fsMounts = fs.readFileSync('/proc/self/mountinfo', 'utf8');
    expect(fsMounts).not.toContain(staging);
    const loopsLeft = (await run('losetup', ['-l', '-n', '-O', 'BACK-FILE'])).split('\n').filter((l) => l.includes(staging));
    expect(loopsLeft).toEqual([]);
    const procs: string[] = [];
    for (const pid of fs.readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
      const cmd = (() => {
        try {
          return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
        } catch {
          return '';
        }
      })();
      if (cmd.includes(staging) && Number(pid) !== process.pid) procs.push(cmd.replace(/\0/g, ' '));
    }
    expect(procs).toEqual([]);
    const dirs = fs.readdirSync(staging).filter((n) => n.startsWith('mounts-'));
    for (const d of dirs) expect(fs.readdirSync(path.join(staging, d)).filter((n) => /^\d+$/.test(n))).toEqual([]);
    expect((await api<Mount[]>('GET', '/api/mounts?active=true')).body).toEqual([]);
  });

  it('exports a disk over iSCSI to the named initiator only, with CHAP', async () => {
    const refusedOpen = await api<{ message: string }>('POST', '/api/mounts/iscsi', { backup: backups[1]!.id, disk: 'vda' });
    expect(refusedOpen.status).toBe(400);
    const res = await api<IscsiStartResponse & { message?: string }>('POST', '/api/mounts/iscsi', { backup: backups[1]!.id, disk: 'vda', initiatorNames: [INITIATOR] });
    expect(res.status, res.body.message).toBe(200);
    const { portal, target, chapUser, chapPassword, mount } = res.body;
    expect(chapPassword.length).toBeGreaterThanOrEqual(12);
    expect(mount.iscsi).toMatchObject({ target, chapUser, portal, initiatorNames: [INITIATOR] });
    expect(JSON.stringify(mount)).not.toContain(chapPassword);
    const read = async (initiator: string, password: string, out: string) => {
      const opts = ['driver=iscsi', 'transport=tcp', `portal=${portal}`, `target=${target}`, 'lun=1', `initiator-name=${initiator}`, `user=${chapUser}`, `password=${password}`];
      await exec('qemu-img', ['convert', '-O', 'raw', '--image-opts', opts.join(','), out], { timeout: 120_000 });
    };
    const out = path.join(bed.host.dir, 'iscsi.raw');
    await read(INITIATOR, chapPassword, out);
    expect(await shaStream(out)).toBe(await shaStream(disk));
    await expect(read('iqn.2026-12.lan.office:stranger', chapPassword, path.join(bed.host.dir, 'no.raw'))).rejects.toThrow();
    await expect(read(INITIATOR, 'wrong-password-1', path.join(bed.host.dir, 'no.raw'))).rejects.toThrow();
    expect((await api('DELETE', `/api/mounts/${mount.id}`)).status).toBe(202);
    await waitFor('the export to close', async () => ((await api<Mount>('GET', `/api/mounts/${mount.id}`)).body.state === 'CLOSED' ? true : undefined));
    await expect(read(INITIATOR, chapPassword, path.join(bed.host.dir, 'gone.raw'))).rejects.toThrow();
  });
});
