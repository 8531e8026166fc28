/**
 * The qcow2 writer (qcow2-writer.ts) through a real restore: real repository, real worker
 * threads, and qemu-img as the judge. Each image is backed up from sparse extents, restored to
 * qcow2, then `qemu-img check` must find no errors and no leaks, `qemu-img compare` must find
 * it equal to the raw source, and `qemu-img map` must show data exactly on the 64 KiB clusters
 * that hold a non-zero byte (everything else a hole). One more case checks a layout with more
 * than one refcount block and refcount table entry without writing gigabytes of data.
 */
import { execFile } from 'node:child_process';
import { open, readdir, stat, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { restoreToDirectory } from '../../../node-service/platforms/kvm/kvm-restore.service.js';
import { Qcow2Layout, QCOW2_CLUSTER_SIZE } from '../../../node-service/platforms/kvm/qcow2-writer.js';
import { Repository } from '../../../node-service/repository/index.js';
import { KIB, MIB, Prng, TEST_KDF, TempDirs } from '../../unit/repository/helpers.js';

const exec = promisify(execFile);
const C = QCOW2_CLUSTER_SIZE;
const GIB = 1024 * MIB;

interface Extent {
  offset: number;
  data: Buffer;
}

interface MapEntry {
  start: number;
  length: number;
  data: boolean;
  zero: boolean;
  offset?: number;
}

function random(seed: number, length: number): Buffer {
  const b = Buffer.alloc(length);
  new Prng(seed).fill(b);
  return b;
}

/** Sorted indices of the 64 KiB clusters of the disk that hold a non-zero byte. */
function dataClusters(extents: readonly Extent[]): number[] {
  const set = new Set<number>();
  for (const e of extents) {
    for (let i = 0; i < e.data.length; i++) if (e.data[i] !== 0) set.add(Math.floor((e.offset + i) / C));
  }
  return [...set].sort((a, b) => a - b);
}

/** Sorted indices of the clusters qemu-img's map reports as allocated in the qcow2 (an `offset` in the file; holes inside one still count). */
function mappedClusters(map: readonly MapEntry[]): number[] {
  const out = new Set<number>();
  for (const m of map) {
    if (m.offset === undefined) {
      expect(m).toMatchObject({ data: false, zero: true });
      continue;
    }
    for (let c = Math.floor(m.start / C); c < Math.ceil((m.start + m.length) / C); c++) out.add(c);
  }
  return [...out].sort((a, b) => a - b);
}

async function qemuMap(file: string): Promise<MapEntry[]> {
  return JSON.parse((await exec('qemu-img', ['map', '--output=json', '-f', 'qcow2', file], { maxBuffer: 256 * MIB })).stdout) as MapEntry[];
}

async function qemuCheck(file: string): Promise<void> {
  // Exit status 0: no corruption, no leaks (2 and 3 would mean corruptions or leaks).
  const { stdout } = await exec('qemu-img', ['check', '--output=json', '-f', 'qcow2', file]);
  const report = JSON.parse(stdout) as Record<string, unknown>;
  expect(report['check-errors']).toBe(0);
  expect(report['corruptions'] ?? 0).toBe(0);
  expect(report['leaks'] ?? 0).toBe(0);
}

describe('qcow2 writer: restored images checked by qemu-img', () => {
  const dirs = new TempDirs();
  let root: string;
  let repo: Repository;

  beforeAll(async () => {
    root = await dirs.make('vplus-qcow2-writer-');
    repo = await Repository.init(path.join(root, 'repo'), { chunkSize: 256 * KIB, password: 'pw-qcow2-writer', kdf: TEST_KDF }, { threads: 2 });
  });

  afterAll(async () => {
    await repo?.close();
    await dirs.cleanup();
  });

  /** Backs up `extents` (zero elsewhere) as a disk of `size` bytes, restores it to qcow2 and judges it with qemu-img. */
  async function roundTrip(name: string, size: number, extents: Extent[]): Promise<{ file: string; map: MapEntry[] }> {
    const raw = path.join(root, `${name}.raw`);
    const fh = await open(raw, 'w');
    try {
      await fh.truncate(size);
      for (const e of extents) await fh.write(e.data, 0, e.data.length, e.offset);
    } finally {
      await fh.close();
    }
    const w = await repo.startBackup({ group: name, source: {} });
    await w.writeDisk('disk', size, { kind: 'extents', extents });
    const backupId = (await w.commit()).id;
    const dir = path.join(root, name);
    const r = await restoreToDirectory({ repository: repo, backupId, directory: dir, format: 'qcow2' });
    const file = path.join(dir, 'disk.qcow2');
    expect(r.disks).toMatchObject([{ disk: 'disk', path: file, format: 'qcow2', size }]);
    expect(await readdir(dir)).toEqual(['disk.qcow2']);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    await qemuCheck(file);
    const info = JSON.parse((await exec('qemu-img', ['info', '--output=json', file])).stdout) as { format: string; 'virtual-size': number };
    // qemu counts in 512-byte sectors: an odd size is rounded up (zeros), as qemu-img create does.
    expect(info).toMatchObject({ format: 'qcow2', 'virtual-size': Math.ceil(size / 512) * 512 });
    await exec('qemu-img', ['compare', '-q', '-f', 'raw', '-F', 'qcow2', raw, file]);
    const map = await qemuMap(file);
    expect(mappedClusters(map)).toEqual(dataClusters(extents));
    // Holes take no room: the file holds the data clusters plus a little metadata.
    const blocks = (await stat(file)).blocks * 512;
    expect(blocks).toBeLessThanOrEqual(dataClusters(extents).length * C + 16 * C);
    return { file, map };
  }

  it('an empty disk: no data clusters, all zero', async () => {
    const { map } = await roundTrip('empty', 16 * MIB, []);
    expect(map.every((m) => !m.data && m.zero && m.offset === undefined)).toBe(true);
  });

  it('one cluster at the very end of the disk', async () => {
    await roundTrip('last-cluster', 8 * MIB, [{ offset: 8 * MIB - C, data: random(1, C) }]);
  });

  it('a size that is not a multiple of the cluster size, data in the short last cluster', async () => {
    const size = 5 * MIB + 1000;
    await roundTrip('odd-size', size, [
      { offset: 0, data: random(2, 3000) },
      { offset: size - 900, data: random(3, 900) },
    ]);
  });

  it('zero clusters inside data chunks stay unallocated, partly zero clusters are kept', async () => {
    const chunk = random(4, 256 * KIB);
    chunk.fill(0, C, 2 * C); // cluster 1 of the chunk all zero
    chunk.fill(0, 3 * C, 4 * C); // cluster 3 all zero
    chunk.fill(0, 2 * C, 2 * C + 60 * KIB); // cluster 2 zero but for its last 4 KiB
    const sparse = Buffer.alloc(256 * KIB);
    sparse[3 * C + 17] = 1; // one byte in the last cluster of its chunk
    const { map } = await roundTrip('zero-clusters', 4 * MIB, [
      { offset: 256 * KIB, data: chunk },
      { offset: 2 * MIB, data: sparse },
    ]);
    const hole = map.find((m) => m.start <= 256 * KIB + C && m.start + m.length >= 256 * KIB + 2 * C);
    expect(hole).toMatchObject({ data: false, zero: true });
    expect(hole?.offset).toBeUndefined();
  });

  it('more than one L2 table (> 8192 clusters): data in some 512 MiB regions, none in another', async () => {
    const size = 1.5 * GIB + 3 * C;
    await roundTrip('many-l2', size, [
      { offset: 0, data: random(5, 300 * KIB) },
      { offset: 512 * MIB - C, data: random(6, C) }, // the last cluster of the first L2 table
      { offset: 1 * GIB + 5 * C, data: random(7, 2 * C) }, // nothing in 512 MiB..1 GiB: no L2 table there
      { offset: size - 2 * C - 100, data: random(8, 2 * C + 100) }, // the fourth L2 table, short last cluster
    ]);
  });
});

describe('qcow2 layout: refcount blocks and table beyond one cluster', () => {
  const dirs = new TempDirs();
  afterAll(async () => {
    await dirs.cleanup();
  });

  it('a layout of more than 32768 clusters (two refcount blocks) passes qemu-img check', async () => {
    // 2.5 GiB of data chunks in a 3 GiB disk: 40960 data clusters. Only the metadata is written
    // (the data clusters stay holes, reading as zeros): qemu-img check walks every table.
    const size = 3 * GIB;
    const chunk = 8 * MIB;
    const extents = [];
    for (let off = 0; off < 2.5 * GIB; off += chunk) extents.push({ offset: off, length: chunk });
    const layout = new Qcow2Layout(size, extents);
    expect(layout.fileSize).toBeGreaterThan(32768 * C);
    const allData = new Uint8Array(chunk / C).fill(1);
    const someData = new Uint8Array(chunk / C).map((_, i) => (i % 3 === 0 ? 1 : 0));
    for (const [i, e] of extents.entries()) layout.written(e.offset, i % 2 === 0 ? allData : someData);
    const root = await dirs.make('vplus-qcow2-layout-');
    const file = path.join(root, 'big.qcow2');
    const fh = await open(file, 'w');
    try {
      await fh.truncate(layout.fileSize);
      await layout.finish(async (data, position) => {
        await fh.write(data, 0, data.length, position);
      });
    } finally {
      await fh.close();
    }
    await qemuCheck(file);
    const map = await qemuMap(file);
    const expected: number[] = [];
    for (const [i, e] of extents.entries()) {
      for (let k = 0; k < chunk / C; k++) if (i % 2 === 0 || k % 3 === 0) expected.push(e.offset / C + k);
    }
    expect(mappedClusters(map)).toEqual(expected);
    // Every mapped cluster lies inside the file, after the metadata, each at a distinct host offset.
    const hosts = new Set<number>();
    for (const m of map) {
      if (m.offset === undefined) continue;
      for (let k = 0; k < m.length / C; k++) hosts.add((m.offset ?? 0) + k * C);
    }
    expect(hosts.size).toBe(expected.length);
    expect(Math.max(...hosts)).toBeLessThan(layout.fileSize);
  });

  it('a zero-size disk is a valid empty qcow2', async () => {
    const layout = new Qcow2Layout(0, []);
    const root = await dirs.make('vplus-qcow2-layout-');
    const file = path.join(root, 'zero.qcow2');
    await writeFile(file, '');
    const fh = await open(file, 'r+');
    try {
      await fh.truncate(layout.fileSize);
      await layout.finish(async (data, position) => {
        await fh.write(data, 0, data.length, position);
      });
    } finally {
      await fh.close();
    }
    await qemuCheck(file);
    const info = JSON.parse((await exec('qemu-img', ['info', '--output=json', file])).stdout) as { 'virtual-size': number };
    expect(info['virtual-size']).toBe(0);
  });

  it('refuses extents that are not cluster-aligned or overlap, naming the extent', () => {
    expect(() => new Qcow2Layout(4 * MIB, [{ offset: 4096, length: C }])).toThrow(/4096\+65536/);
    expect(() => new Qcow2Layout(4 * MIB, [{ offset: 0, length: 2 * C }, { offset: C, length: C }])).toThrow(/65536\+65536/);
    expect(() => new Qcow2Layout(4 * MIB, [{ offset: 4 * MIB - C, length: 2 * C }])).toThrow(/inside the disk/);
  });
});
