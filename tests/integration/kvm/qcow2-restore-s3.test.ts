/**
 * A qcow2 restore from a repository on S3 (the real Ceph gateway): there the main thread
 * fetches each chunk object and hands it to a worker thread, which decodes it, writes it at
 * its planned qcow2 offset and reports its data clusters, as for a local repository. The image
 * must pass `qemu-img check`, equal the source, and keep its zero clusters unallocated.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { open } from 'node:fs/promises';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { restoreToDirectory } from '../../../node-service/platforms/kvm/kvm-restore.service.js';
import { Repository } from '../../../node-service/repository/index.js';
import { startCephGateway, type CephGateway } from '../../support/ceph-rgw.js';
import { KIB, MIB, Prng, TEST_KDF, TempDirs } from '../../unit/repository/helpers.js';

const exec = promisify(execFile);
const C = 64 * KIB;

describe('qcow2 restore from an S3 repository', () => {
  const dirs = new TempDirs();
  let gw: CephGateway;

  beforeAll(async () => {
    gw = await startCephGateway();
  }, 120_000);

  afterAll(async () => {
    await gw?.stop();
    await dirs.cleanup();
  });

  it('restores bit-exact, zero clusters inside data chunks unallocated, checked by qemu-img', async () => {
    const bucket = `t-${randomBytes(6).toString('hex')}`;
    await gw.createBucket(bucket);
    const repo = await Repository.init({ s3: gw.location(bucket, { prefix: 'vplus/qcow2' }) }, { password: 'pw', kdf: TEST_KDF, chunkSize: 256 * KIB }, { threads: 2 });
    const root = await dirs.make('vplus-qcow2-s3-');
    try {
      const size = 6 * MIB + 512;
      const data = Buffer.alloc(512 * KIB);
      new Prng(21).fill(data);
      data.fill(0, C, 3 * C); // clusters 1 and 2 of the first chunk all zero
      const tail = Buffer.alloc(40 * KIB);
      new Prng(22).fill(tail);
      const extents = [
        { offset: 1 * MIB, data },
        { offset: size - tail.length, data: tail },
      ];
      const raw = path.join(root, 'source.raw');
      const fh = await open(raw, 'w');
      try {
        await fh.truncate(size);
        for (const e of extents) await fh.write(e.data, 0, e.data.length, e.offset);
      } finally {
        await fh.close();
      }
      const w = await repo.startBackup({ group: 'vm', source: {} });
      await w.writeDisk('vda', size, { kind: 'extents', extents });
      const backupId = (await w.commit()).id;
      const dir = path.join(root, 'restored');
      await restoreToDirectory({ repository: repo, backupId, directory: dir, format: 'qcow2' });
      const file = path.join(dir, 'vda.qcow2');
      await exec('qemu-img', ['check', '-q', '-f', 'qcow2', file]);
      await exec('qemu-img', ['compare', '-q', '-f', 'raw', '-F', 'qcow2', raw, file]);
      const map = JSON.parse((await exec('qemu-img', ['map', '--output=json', '-f', 'qcow2', file])).stdout) as { start: number; length: number; offset?: number }[];
      const allocated = new Set<number>();
      for (const m of map) if (m.offset !== undefined) for (let c = Math.floor(m.start / C); c < Math.ceil((m.start + m.length) / C); c++) allocated.add(c);
      const first = (1 * MIB) / C;
      const expected = [first, first + 3, first + 4, first + 5, first + 6, first + 7, Math.floor((size - tail.length) / C), Math.floor((size - 1) / C)];
      expect([...allocated].sort((a, b) => a - b)).toEqual([...new Set(expected)].sort((a, b) => a - b));
    } finally {
      await repo.close();
    }
  });
});
