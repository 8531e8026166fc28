/**
 * Real disks, built here as sparse files: partitioned by sfdisk, formatted by the real mkfs
 * tools through offset loop devices (no partition scanning), LVM made by the real lvm2
 * without device-mapper and without activating anything. The user-space readers must agree
 * with what sfdisk, pvs and lvs report. Nothing is mounted, and the host's LVM keeps no view
 * of the test's volume groups.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openFileBlockSource, type BlockSource } from '../../../node-service/mount/block-source.js';
import { readDiskLayout, type DiskInput, type Volume } from '../../../node-service/mount/disk-layout.js';
import { readPartitionTable } from '../../../node-service/mount/partition-table.js';
import { requireBinary } from '../../support/requirements.js';
import { LoopDevices, run as runTool } from '../../support/shell.js';

const MiB = 1024 * 1024;
const ENV = { ...process.env, LVM_SUPPRESS_FD_WARNINGS: '1' };

function run(cmd: string, args: string[], input?: string): Promise<string> {
  return runTool(cmd, args, { env: ENV, ...(input !== undefined ? { input } : {}) });
}

let dir = '';
const loops = new LoopDevices(ENV);
const loop = (file: string, offset = 0, size?: number): Promise<string> => loops.attach(file, offset, size);
const detach = (dev: string): Promise<void> => loops.detach(dev);
const opened: (BlockSource & { close(): Promise<void> })[] = [];
const vgName = `vplustest${process.pid}x${Math.floor(Math.random() * 1e6)}`;

/** Runs `fn` with a loop device over [offset, offset + size) of `file`, detached after. */
async function withLoop<T>(file: string, offset: number, size: number, fn: (dev: string) => Promise<T>): Promise<T> {
  const dev = await loop(file, offset, size);
  try {
    return await fn(dev);
  } finally {
    await detach(dev);
  }
}

async function sparse(name: string, size: number): Promise<string> {
  const file = path.join(dir, name);
  await (await fs.open(file, 'w')).close();
  await fs.truncate(file, size);
  return file;
}

interface SfdiskPart {
  node: string;
  start: number;
  size: number;
  type: string;
  name?: string;
  uuid?: string;
  bootable?: boolean;
}

async function partition(file: string, script: string): Promise<SfdiskPart[]> {
  await run('sfdisk', ['-q', '--no-reread', '--no-tell-kernel', file], script);
  const json = JSON.parse(await run('sfdisk', ['--json', file])) as { partitiontable: { partitions: SfdiskPart[] } };
  return json.partitiontable.partitions;
}

const indexOf = (file: string, p: SfdiskPart) => Number(p.node.slice(file.length));

async function open(name: string, file: string): Promise<DiskInput> {
  const source = await openFileBlockSource(file);
  opened.push(source);
  return { name, source };
}

const byName = (vols: Volume[], name: string) => {
  const v = vols.find((x) => x.name === name);
  if (!v) throw new Error(`no volume ${name} in ${vols.map((x) => x.name).join(', ')}`);
  return v;
};

// --- LVM, confined to the test's own loop devices: no devices file, no hints, no backups
// or archives in /etc/lvm, no udev, and no device-mapper (--driverloaded n).
const LVM_CONFIG =
  'devices { use_devicesfile=0 hints="none" obtain_device_list_from_udev=0 scan_lvs=0 } backup { backup=0 archive=0 } ' +
  'activation { udev_sync=0 udev_rules=0 monitoring=0 } global { use_lvmpolld=0 event_activation=0 }';
const lvm = (cmd: string, devices: string[], args: string[]) =>
  run(cmd, ['--driverloaded', 'n', ...devices.flatMap((d) => ['--devices', d]), '--config', LVM_CONFIG, ...args]);

const gpt = { file: '', parts: [] as SfdiskPart[] };
const mbr = { file: '', parts: [] as SfdiskPart[] };
const lvmDisk = { file: '', whole: '', parts: [] as SfdiskPart[] };
/** What lvs/pvs said, in bytes. */
const reported = { extentSize: 0, peStart: new Map<string, number>(), segs: [] as { lv: string; type: string; ranges: string; startPe: number }[] };

async function buildGpt(): Promise<void> {
  gpt.file = await sparse('gpt.img', 512 * MiB);
  gpt.parts = await partition(
    gpt.file,
    [
      'label: gpt',
      'size=1MiB, type=21686148-6449-6E6F-744E-656564454649, name="bios"',
      'size=40MiB, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name="EFI System"',
      'size=32MiB, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name="root fs"',
      'size=320MiB, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name="data"',
      'size=24MiB, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7, name="Basic data partition"',
    ].join('\n'),
  );
  const mkfs: [string, string[]][] = [
    ['mkfs.vfat', ['-F', '32', '-n', 'EFIBOOT', '-i', '1234ABCD']],
    ['mkfs.ext4', ['-q', '-L', 'rootfs', '-U', '11111111-2222-3333-4444-555555555555']],
    ['mkfs.xfs', ['-q', '-L', 'xdata', '-m', 'uuid=66666666-7777-8888-9999-aaaaaaaaaaaa']],
    ['mkfs.ntfs', ['-Q', '-F', '-L', 'WinData']],
  ];
  for (const [i, [cmd, args]] of mkfs.entries()) {
    const p = gpt.parts[i + 1]!;
    await withLoop(gpt.file, p.start * 512, p.size * 512, (dev) => run(cmd, [...args, dev]));
  }
}

async function buildMbr(): Promise<void> {
  mbr.file = await sparse('mbr.img', 100 * MiB);
  const f = mbr.file;
  mbr.parts = await partition(
    f,
    ['label: dos', `${f}1 : size=16MiB, type=83, bootable`, `${f}2 : size=8MiB, type=82`, `${f}3 : size=40MiB, type=5`, `${f}5 : size=16MiB, type=83`, `${f}6 : size=16MiB, type=c`].join('\n'),
  );
  const part = (n: number) => mbr.parts.find((p) => indexOf(f, p) === n)!;
  await withLoop(f, part(1).start * 512, part(1).size * 512, async (dev) => {
    await run('mkfs.ext3', ['-q', '-L', 'boot', dev]);
    // A journal that needs replaying, as after a crash.
    await run('debugfs', ['-w', '-R', 'feature needs_recovery', dev]);
  });
  await withLoop(f, part(2).start * 512, part(2).size * 512, (dev) => run('mkswap', ['-L', 'swp', dev]));
  await withLoop(f, part(5).start * 512, part(5).size * 512, (dev) => run('mkfs.ext2', ['-q', '-L', 'logical5', dev]));
  await withLoop(f, part(6).start * 512, part(6).size * 512, (dev) => run('mkfs.vfat', ['-n', 'LOGICAL6', dev]));
}

/** VG over two partitions of one disk and a whole second disk; linear, striped and split LVs. */
async function buildLvm(): Promise<void> {
  lvmDisk.file = await sparse('lvm.img', 80 * MiB);
  lvmDisk.whole = await sparse('pv-whole.img', 24 * MiB);
  lvmDisk.parts = await partition(lvmDisk.file, ['label: dos', 'size=48MiB, type=8e', 'size=24MiB, type=8e'].join('\n'));
  const [p1, p2] = lvmDisk.parts as [SfdiskPart, SfdiskPart];
  const d1 = await loop(lvmDisk.file, p1.start * 512, p1.size * 512);
  const d2 = await loop(lvmDisk.file, p2.start * 512, p2.size * 512);
  const d3 = await loop(lvmDisk.whole);
  const devs = [d1, d2, d3];
  try {
    await lvm('pvcreate', devs, ['-q', ...devs]);
    // Where udev runs lvm2's event activation, a PV appearing must not activate the VG.
    await lvm('vgcreate', devs, ['-q', '--setautoactivation', 'n', vgName, ...devs]);
    const create = (args: string[]) => lvm('lvcreate', devs, ['-q', '-an', '-Zn', '-Wn', ...args]);
    await create(['-L', '16M', '-n', 'root', vgName, d1]);
    await create(['-L', '8M', '-i', '2', '-I', '64k', '-n', 'striped', vgName, d1, d2]);
    await create(['-L', '8M', '-n', 'data', vgName, d3]);
    await create(['-L', '4M', '-n', 'split-lv', vgName, d2]);
    await lvm('lvextend', devs, ['-q', '-L', '+4M', `${vgName}/split-lv`, d3]);
    const pvs = JSON.parse(await lvm('pvs', devs, ['--reportformat', 'json', '--units', 'b', '--nosuffix', '-o', 'pv_name,pe_start,vg_extent_size'])) as { report: [{ pv: { pv_name: string; pe_start: string; vg_extent_size: string }[] }] };
    for (const pv of pvs.report[0].pv) {
      reported.peStart.set(pv.pv_name === d1 ? 'p1' : pv.pv_name === d2 ? 'p2' : 'whole', Number(pv.pe_start));
      reported.extentSize = Number(pv.vg_extent_size);
    }
    const lvs = JSON.parse(await lvm('lvs', devs, ['--reportformat', 'json', '--segments', '-o', 'lv_name,segtype,seg_pe_ranges,seg_start_pe', vgName])) as { report: [{ seg: { lv_name: string; segtype: string; seg_pe_ranges: string; seg_start_pe: string }[] }] };
    reported.segs = lvs.report[0].seg.map((l) => ({ lv: l.lv_name, type: l.segtype, ranges: l.seg_pe_ranges.replaceAll(d1, 'p1').replaceAll(d2, 'p2').replaceAll(d3, 'whole'), startPe: Number(l.seg_start_pe) }));
  } finally {
    // The VG stays on the images; the host forgets it with the loop devices.
    for (const d of devs) await detach(d);
  }
  // Filesystems go in at the offsets LVM itself reports (root on p1, data on the whole disk).
  const root = reported.segs.find((s) => s.lv === 'root')!;
  const rootAt = p1.start * 512 + reported.peStart.get('p1')! + Number(/:(\d+)-/.exec(root.ranges)![1]) * reported.extentSize;
  await withLoop(lvmDisk.file, rootAt, 16 * MiB, (dev) => run('mkfs.ext4', ['-q', '-L', 'lvroot', dev]));
  const data = reported.segs.find((s) => s.lv === 'data')!;
  const dataAt = reported.peStart.get('whole')! + Number(/:(\d+)-/.exec(data.ranges)![1]) * reported.extentSize;
  await withLoop(lvmDisk.whole, dataAt, 8 * MiB, (dev) => run('mkfs.ext2', ['-q', '-L', 'lvdata', dev]));
}

const wholeDisks: { name: string; file: string }[] = [];

/** Unpartitioned disks: the filesystem starts at sector 0 (boot sectors that end in 55 AA too). */
async function buildWholeDisks(): Promise<void> {
  const disks: [string, number, string, string[]][] = [
    ['exfat', 8 * MiB, 'mkfs.exfat', ['-L', 'EXLBL']],
    ['btrfs', 128 * MiB, 'mkfs.btrfs', ['-q', '-L', 'btrlbl']],
    ['ntfs', 8 * MiB, 'mkfs.ntfs', ['-Q', '-F', '-q', '-L', 'NtWhole']],
    ['vfat', 16 * MiB, 'mkfs.vfat', ['-n', 'VFWHOLE']],
  ];
  for (const [name, size, cmd, args] of disks) {
    const file = await sparse(`${name}.img`, size);
    await run(cmd, [...args, file]);
    wholeDisks.push({ name, file });
  }
}

/** What blkid (low-level probe) says is at a range of a file. */
async function blkid(file: string, offset: number, size: number): Promise<Record<string, string>> {
  const out = await run('blkid', ['-p', '-o', 'export', '-O', String(offset), '-S', String(size), file]).catch(() => '');
  return Object.fromEntries(out.split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}

/** Type, label and UUID of every single-range volume agree with blkid's. */
async function expectBlkidAgrees(volumes: Volume[], files: Record<string, string>): Promise<void> {
  for (const v of volumes) {
    if (v.extents.length !== 1 || v.type === 'unknown') continue;
    const e = v.extents[0]!;
    const b = await blkid(files[e.disk]!, e.offset, e.length);
    expect({ name: v.name, type: v.type, label: v.label, uuid: v.uuid?.toLowerCase() }).toEqual({ name: v.name, type: b.TYPE, label: b.LABEL, uuid: b.UUID?.toLowerCase() });
  }
}

beforeAll(async () => {
  for (const tool of ['sfdisk', 'losetup', 'lvm', 'mkfs.xfs', 'mkfs.ntfs', 'mkfs.vfat', 'mkfs.ext4', 'mkswap', 'debugfs']) {
    requireBinary([`/usr/sbin/${tool}`, `/sbin/${tool}`, `/usr/bin/${tool}`], 'sudo apt-get install -y fdisk lvm2 xfsprogs ntfs-3g dosfstools e2fsprogs');
  }
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'vplus-disk-layout-'));
  await buildGpt();
  await buildMbr();
  await buildLvm();
  await buildWholeDisks();
});

afterAll(async () => {
  for (const s of opened) await s.close();
  await loops.detachAll();
  const left = await run('losetup', ['-a']);
  if (dir) await fs.rm(dir, { recursive: true, force: true });
  expect(left).not.toContain(dir || '\0');
  // The host's own LVM view (its default devices and filters) knows nothing of the test's
  // VG. Read-only, with no backups: a plain vgs writes /etc/lvm/backup for any VG it finds,
  // such as a parallel run's, whose PVs are on loop devices for a moment.
  const vgs = await run('vgs', ['--readonly', '--driverloaded', 'n', '--config', 'devices { hints="none" } backup { backup=0 archive=0 }', '--noheadings', '-o', 'vg_name']);
  expect(vgs).not.toContain(vgName);
  for (const d of ['/etc/lvm/backup', '/etc/lvm/archive', '/run/lvm/vgs_online']) {
    const names = await fs.readdir(d).catch(() => [] as string[]);
    expect(names.filter((n) => n.startsWith(vgName))).toEqual([]);
  }
});

describe('disk layout read in user space', () => {
  it('reads a GPT disk as sfdisk does and identifies vfat, ext4, XFS and NTFS', async () => {
    const disk = await open('vda', gpt.file);
    const table = await readPartitionTable(disk.source);
    expect(table.scheme).toBe('gpt');
    expect(table.problems).toEqual([]);
    expect(table.partitions.map((p) => ({ index: p.index, start: p.start, size: p.size, typeId: p.typeId, name: p.name, uuid: p.uuid }))).toEqual(
      gpt.parts.map((p) => ({ index: indexOf(gpt.file, p), start: p.start * 512, size: p.size * 512, typeId: p.type, name: p.name, uuid: p.uuid })),
    );
    expect(table.partitions.map((p) => p.kind)).toEqual(['bios-boot', 'efi-system', 'linux-filesystem', 'linux-filesystem', 'microsoft-basic-data']);

    const { volumes, warnings } = await readDiskLayout([disk]);
    expect(warnings).toEqual([]);
    const pick = (v: Volume) => ({ name: v.name, type: v.type, label: v.label, readable: v.readable, reason: v.reason, offset: v.offset, size: v.size });
    expect(volumes.map(pick)).toEqual([
      { name: 'vda1', type: 'unknown', label: undefined, readable: false, reason: 'BIOS boot partition (no filesystem)', offset: gpt.parts[0]!.start * 512, size: MiB },
      { name: 'vda2', type: 'vfat', label: 'EFIBOOT', readable: true, reason: undefined, offset: gpt.parts[1]!.start * 512, size: 40 * MiB },
      { name: 'vda3', type: 'ext4', label: 'rootfs', readable: true, reason: undefined, offset: gpt.parts[2]!.start * 512, size: 32 * MiB },
      { name: 'vda4', type: 'xfs', label: 'xdata', readable: true, reason: undefined, offset: gpt.parts[3]!.start * 512, size: 320 * MiB },
      { name: 'vda5', type: 'ntfs', label: 'WinData', readable: true, reason: undefined, offset: gpt.parts[4]!.start * 512, size: 24 * MiB },
    ]);
    expect(byName(volumes, 'vda2')).toMatchObject({ version: 'FAT32', uuid: '1234-ABCD', partition: { name: 'EFI System', kind: 'efi-system' } });
    expect(byName(volumes, 'vda3')).toMatchObject({ uuid: '11111111-2222-3333-4444-555555555555', dirty: false });
    expect(byName(volumes, 'vda4').uuid).toBe('66666666-7777-8888-9999-aaaaaaaaaaaa');
    expect(byName(volumes, 'vda5').dirty).toBe(false);
    await expectBlkidAgrees(volumes, { vda: gpt.file });
  });

  it('falls back to the backup GPT when the primary header is damaged', async () => {
    const disk = await open('vda', gpt.file);
    const damaged: BlockSource = {
      size: disk.source.size,
      read: async (into, offset) => {
        const n = await disk.source.read(into, offset);
        // LBA 1 (the primary header) reads as garbage.
        for (let i = Math.max(offset, 512); i < Math.min(offset + n, 1024); i++) into[i - offset] = 0x5a;
        return n;
      },
    };
    const table = await readPartitionTable(damaged);
    expect(table.partitions.map((p) => p.start)).toEqual(gpt.parts.map((p) => p.start * 512));
    expect(table.problems.join()).toMatch(/primary GPT is damaged .*backup GPT/);
  });

  it('reads an MBR disk with logical partitions in an extended one (5, 6) and flags the dirty journal', async () => {
    const disk = await open('vdb', mbr.file);
    const table = await readPartitionTable(disk.source);
    expect(table.scheme).toBe('mbr');
    expect(table.problems).toEqual([]);
    expect(table.partitions.map((p) => ({ index: p.index, start: p.start, size: p.size, type: p.typeId.replace(/^0x0?/, ''), bootable: p.bootable }))).toEqual(
      mbr.parts.map((p) => ({ index: indexOf(mbr.file, p), start: p.start * 512, size: p.size * 512, type: p.type, bootable: p.bootable === true })),
    );
    const { volumes } = await readDiskLayout([disk]);
    expect(volumes.map((v) => [v.name, v.type, v.label ?? null, v.readable])).toEqual([
      ['vdb1', 'ext3', 'boot', true],
      ['vdb2', 'swap', 'swp', false],
      ['vdb5', 'ext2', 'logical5', true],
      ['vdb6', 'vfat', 'LOGICAL6', true],
    ]);
    expect(byName(volumes, 'vdb1').dirty).toBe(true);
    expect(byName(volumes, 'vdb2').reason).toBe('swap space (no files)');
    expect(byName(volumes, 'vdb6').version).toBe('FAT16');
    await expectBlkidAgrees(volumes, { vdb: mbr.file });
  });

  it('reads unpartitioned disks as one whole-disk volume each', async () => {
    for (const { name, file } of wholeDisks) {
      const disk = await open('vde', file);
      expect((await readPartitionTable(disk.source)).scheme).toBe('none');
      const { volumes, warnings } = await readDiskLayout([disk]);
      expect(warnings).toEqual([]);
      expect(volumes).toHaveLength(1);
      expect(volumes[0]).toMatchObject({ name: 'vde', kind: 'whole-disk', type: name, readable: true, offset: 0, size: disk.source.size });
      await expectBlkidAgrees(volumes, { vde: file });
    }
  });

  it('maps linear LVs where lvs puts them, and lists what it cannot read with the reason', async () => {
    const vdc = await open('vdc', lvmDisk.file);
    const vdd = await open('vdd', lvmDisk.whole);
    const [p1, p2] = lvmDisk.parts as [SfdiskPart, SfdiskPart];
    const pvOffset = { p1: p1.start * 512, p2: p2.start * 512, whole: 0 };
    const expected = (lv: string) =>
      reported.segs
        .filter((s) => s.lv === lv)
        .map((s) => {
          const [, pv, first, last] = /^(\w+):(\d+)-(\d+)$/.exec(s.ranges)!;
          const key = pv as keyof typeof pvOffset;
          return { disk: key === 'whole' ? 'vdd' : 'vdc', offset: pvOffset[key] + reported.peStart.get(key)! + Number(first) * reported.extentSize, length: (Number(last) - Number(first) + 1) * reported.extentSize };
        });
    const lvName = (lv: string) => `${vgName}-${lv.replace(/-/g, '--')}`;

    // All of the VG's disks: every linear LV is mapped, however many pieces it has.
    const both = await readDiskLayout([vdc, vdd]);
    expect(both.warnings).toEqual([]);
    expect(both.volumes.map((v) => v.name)).toEqual(['vdc1', 'vdc2', 'vdd', lvName('data'), lvName('root'), lvName('split-lv'), lvName('striped')]);
    for (const pv of ['vdc1', 'vdc2', 'vdd']) expect(byName(both.volumes, pv)).toMatchObject({ type: 'LVM2_member', readable: false, reason: expect.stringContaining(`volume group ${vgName}`) as unknown });
    expect(byName(both.volumes, lvName('root'))).toMatchObject({ type: 'ext4', label: 'lvroot', readable: true, size: 16 * MiB, extents: expected('root'), lvm: { vg: vgName, lv: 'root' } });
    expect(byName(both.volumes, lvName('data'))).toMatchObject({ type: 'ext2', label: 'lvdata', readable: true, disk: 'vdd', extents: expected('data') });
    const split = byName(both.volumes, lvName('split-lv'));
    expect(split.extents).toEqual(expected('split-lv'));
    expect(split.extents.map((e) => e.disk)).toEqual(['vdc', 'vdd']);
    expect(split).toMatchObject({ size: 8 * MiB, type: 'unknown', reason: 'empty (no filesystem found)' });
    await expectBlkidAgrees(both.volumes, { vdc: lvmDisk.file, vdd: lvmDisk.whole });
    expect(reported.segs.find((s) => s.lv === 'striped')!.type).toBe('striped');
    expect(byName(both.volumes, lvName('striped'))).toMatchObject({ readable: false, reason: 'not supported (striped)', size: 8 * MiB, type: null });

    // Only the first disk: the LVs that touch the missing PV say so; root is still there.
    const one = await readDiskLayout([vdc]);
    expect(byName(one.volumes, lvName('root'))).toMatchObject({ readable: true, extents: expected('root') });
    for (const lv of ['data', 'split-lv']) {
      expect(byName(one.volumes, lvName(lv))).toMatchObject({ readable: false, reason: expect.stringMatching(new RegExp(`volume group ${vgName} spans a physical volume that is not in this backup`)) as unknown });
    }

    // Reading is all it does: nothing of the test's is mounted.
    const mounts = await fs.readFile('/proc/self/mountinfo', 'utf8');
    expect(mounts).not.toContain(dir);
    expect(mounts).not.toContain(vgName);
  });
});
