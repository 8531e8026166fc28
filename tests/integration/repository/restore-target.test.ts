import { execFileSync } from 'node:child_process';
import { chmod, mkdir, readFile, stat, statfs, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { NodeFileSystem, Repository } from '../../../node-service/repository/index.js';
import { KIB, MIB, TEST_KDF, TempDirs, makeImage, memorySource } from '../../unit/repository/helpers.js';

const dirs = new TempDirs();
const repos: Repository[] = [];
const mounts: string[] = [];
afterEach(async () => {
  await Promise.all(repos.splice(0).map((r) => r.close()));
  for (const m of mounts.splice(0)) execFileSync('umount', ['-l', m]);
  await dirs.cleanup();
});

const EXT4 = 0xef53;
const XFS = 0x58465342;

/** 3 chunks of 256 KiB + an odd tail; zero 4 KiB blocks inside data chunks, a whole zero chunk, random and text data. */
function image(): Buffer {
  const size = 3 * 256 * KIB + 5000;
  return makeImage(size, [
    { kind: 'random', offset: 0, length: 64 * KIB, seed: 1 }, // chunk 0: 64 KiB data, 192 KiB zeros
    { kind: 'text', offset: 128 * KIB, length: 40 * KIB + 123, seed: 2 },
    // chunk 1 stays zero (not stored at all)
    { kind: 'random', offset: 512 * KIB + 4096, length: 8 * KIB, seed: 3 }, // chunk 2: two blocks after a zero block
    { kind: 'text', offset: 3 * 256 * KIB, length: 5000, seed: 4 }, // the odd tail, shorter than a block
  ]);
}

describe('restore target', () => {
  it('restores bit-exact, leaving zero blocks inside chunks as holes, with and without O_DIRECT', async () => {
    const root = await dirs.make();
    const repo = await Repository.init(path.join(root, 'repo'), { chunkSize: 256 * KIB, password: 'pw', kdf: TEST_KDF }, { threads: 2 });
    repos.push(repo);
    const img = image();
    const w = await repo.startBackup();
    await w.writeDisk('vda', img.length, memorySource(img));
    const m = await w.commit();
    const reader = await repo.openBackup(m.id);

    // The temp dir (usually ext4: direct I/O) and a tmpfs (page cache only).
    const shm = path.join(root, 'shm');
    await mkdir(shm);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16m', 'tmpfs', shm]);
    mounts.push(shm);
    for (const dir of [root, shm]) {
      const file = path.join(dir, 'restored.raw');
      const r = await reader.restoreToFile('vda', file);
      expect(r).toEqual({ size: img.length, dataBytes: 2 * 256 * KIB + 5000 });
      expect((await readFile(file)).equals(img)).toBe(true);
      // Written: 64 + 44 KiB in chunk 0, 8 KiB in chunk 2, one tail block; everything else is a hole.
      expect((await stat(file)).blocks * 512).toBeLessThanOrEqual(128 * KIB);
    }

    // Direct I/O is asked for only where it is known to work well.
    const fs = new NodeFileSystem();
    for (const dir of [root, shm]) {
      const out = await fs.openWrite(path.join(dir, 'probe.raw'), { direct: true });
      const type = (await statfs(dir)).type;
      expect(out.directFd !== undefined).toBe(type === EXT4 || type === XFS);
      await out.close();
    }
  });

  it('restores a larger image through several workers bit-exact', async () => {
    const root = await dirs.make();
    const repo = await Repository.init(path.join(root, 'repo'), { chunkSize: 256 * KIB }, { threads: 2 });
    repos.push(repo);
    const img = makeImage(16 * MIB + 512, [
      { kind: 'random', offset: 100, length: 5 * MIB, seed: 7 },
      { kind: 'text', offset: 6 * MIB + 4097, length: 5 * MIB, seed: 8 },
      { kind: 'copy', offset: 12 * MIB, length: 3 * MIB, from: 0 },
    ]);
    const w = await repo.startBackup();
    await w.writeDisk('vda', img.length, memorySource(img));
    const m = await w.commit();
    const file = path.join(root, 'big.raw');
    await (await repo.openBackup(m.id)).restoreToFile('vda', file);
    expect((await readFile(file)).equals(img)).toBe(true);
  });

  it('writes the restored image readable by its owner only, also over an existing file, unless told another mode', async () => {
    const root = await dirs.make();
    const repo = await Repository.init(path.join(root, 'repo'), { chunkSize: 256 * KIB }, { threads: 2 });
    repos.push(repo);
    const img = image();
    const w = await repo.startBackup();
    await w.writeDisk('vda', img.length, memorySource(img));
    const reader = await repo.openBackup((await w.commit()).id);
    const mode = async (f: string): Promise<number> => (await stat(f)).mode & 0o777;

    const fresh = path.join(root, 'fresh.raw');
    await reader.restoreToFile('vda', fresh);
    expect(await mode(fresh)).toBe(0o600);
    // A world-readable file of the same name is replaced by a private one.
    const existing = path.join(root, 'existing.raw');
    await writeFile(existing, 'old contents');
    await chmod(existing, 0o644);
    await reader.restoreToFile('vda', existing);
    expect(await mode(existing)).toBe(0o600);
    expect((await readFile(existing)).equals(img)).toBe(true);
    // The admin may choose a group-readable mode.
    const shared = path.join(root, 'shared.raw');
    await reader.restoreToFile('vda', shared, undefined, { mode: 0o640 });
    expect(await mode(shared)).toBe(0o640);
  });
});
