import { execFileSync } from 'node:child_process';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  NodeFileSystem,
  NoSpaceError,
  Repository,
  checkDestination,
  type RandomAccessSource,
} from '../../../node-service/repository/index.js';
import { FakeClock, MIB, TEST_KDF, TempDirs, makeImage, memorySource, randomImage, readAll } from '../../unit/repository/helpers.js';

const KIB = 1024;
const dirs = new TempDirs();
const repos: Repository[] = [];
const mounts: string[] = [];
afterEach(async () => {
  await Promise.all(repos.splice(0).map((r) => r.close()));
  for (const m of mounts.splice(0)) execFileSync('umount', ['-l', m]);
  await dirs.cleanup();
});

/** A filesystem whose disk "fills up" after `budget` bytes of atomic writes. */
class FillingFileSystem extends NodeFileSystem {
  budget = Infinity;
  /** The fault is injected in writeFileAtomic: chunk files must go through it, not be written by the codec workers. */
  override threadWrites(): Promise<undefined> {
    return Promise.resolve(undefined);
  }
  override async writeFileAtomic(file: string, data: Uint8Array): Promise<void> {
    if (data.length > this.budget) throw Object.assign(new Error(`ENOSPC: no space left on device, write`), { code: 'ENOSPC', errno: -28 });
    this.budget -= data.length;
    return super.writeFileAtomic(file, data);
  }
}

/** A source that records whether anything was read. */
function spySource(img: Buffer): RandomAccessSource & { reads: number } {
  const inner = memorySource(img);
  const s = { kind: 'random-access' as const, reads: 0, read: (into: Buffer, pos: number) => (s.reads++, inner.read(into, pos)) };
  return s;
}

describe('destination problems', () => {
  it('a missing path, a directory that is no repository, an occupied one: typed errors that say what to do', async () => {
    const root = await dirs.make();
    const missing = path.join(root, 'not-mounted', 'vplus');
    await expect(Repository.open(missing)).rejects.toMatchObject({
      code: 'REPO_PATH_MISSING',
      message: `Backup destination ${missing} does not exist. Check the path, and that the disk or network share is mounted on this node.`,
    });
    // init never creates a missing parent: on an unmounted share that would fill the root disk.
    await expect(Repository.init(missing)).rejects.toMatchObject({ code: 'REPO_PATH_MISSING', path: path.dirname(missing) });
    expect(await readdir(root)).toEqual([]);

    const plain = path.join(root, 'plain');
    await mkdir(plain);
    await writeFile(path.join(plain, 'notes.txt'), 'hello');
    await expect(Repository.open(plain)).rejects.toMatchObject({ code: 'REPO_NOT_A_REPOSITORY', message: expect.stringMatching(/is not a vPlus backup repository \(no config.json\)/) });
    await expect(Repository.init(plain)).rejects.toMatchObject({ code: 'REPO_ALREADY_EXISTS', message: expect.stringMatching(/not empty/) });

    const repoPath = path.join(root, 'repo');
    repos.push(await Repository.init(repoPath));
    await expect(Repository.init(repoPath)).rejects.toMatchObject({ code: 'REPO_ALREADY_EXISTS', message: expect.stringMatching(/a repository already exists/) });

    const config = JSON.parse(await readFile(path.join(repoPath, 'config.json'), 'utf8')) as Record<string, unknown>;
    // New repositories name chunks with BLAKE3 (version 2); a newer version is refused, and so is a config whose version and hash disagree.
    expect(config).toMatchObject({ version: 2, chunkId: { algorithm: 'blake3' } });
    await writeFile(path.join(repoPath, 'config.json'), JSON.stringify({ ...config, version: 3 }));
    await expect(Repository.open(repoPath)).rejects.toMatchObject({ code: 'REPO_UNSUPPORTED_VERSION', message: expect.stringMatching(/format version 3, which this version of vPlus cannot read/) });
    await writeFile(path.join(repoPath, 'config.json'), JSON.stringify({ ...config, version: 1 }));
    await expect(Repository.open(repoPath)).rejects.toMatchObject({ code: 'REPO_CONFIG_CORRUPT', message: expect.stringMatching(/BLAKE3 chunk ids need version 2/) });
    await writeFile(path.join(repoPath, 'config.json'), '{"format":"vplus-repository","version":1,"id":"short"}');
    await expect(Repository.open(repoPath)).rejects.toMatchObject({ code: 'REPO_CONFIG_CORRUPT' });

    const check = await checkDestination(root);
    expect(check).toMatchObject({ exists: true, isDirectory: true, writable: true, problem: null, repository: null });
    expect(check.freeBytes).toBeGreaterThan(0);
    expect((await checkDestination(missing)).problem).toMatch(/does not exist/);
  });

  it('unknown backups and disks, and duplicate backup ids, are typed errors', async () => {
    const repo = await Repository.init(path.join(await dirs.make(), 'repo'));
    repos.push(repo);
    await expect(repo.openBackup('nope')).rejects.toMatchObject({ code: 'BACKUP_NOT_FOUND' });
    const w = await repo.startBackup({ id: 'fixed-id' });
    await w.writeDisk('vda', 1000, memorySource(Buffer.alloc(1000, 1)));
    await expect(w.writeDisk('vda', 10, memorySource(Buffer.alloc(10)))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await w.commit();
    await expect(repo.startBackup({ id: 'fixed-id' })).rejects.toMatchObject({ code: 'BACKUP_EXISTS' });
    await expect(repo.startBackup({ id: '../escape' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect((async () => (await repo.openBackup('fixed-id')).disk('vdb'))()).rejects.toMatchObject({ code: 'DISK_NOT_FOUND' });
  });

  it('a destination that fills up (injected ENOSPC) fails the backup cleanly; earlier backups stay intact', async () => {
    const fs = new FillingFileSystem();
    const clock = new FakeClock();
    const repoPath = path.join(await dirs.make(), 'repo');
    const repo = await Repository.init(repoPath, { chunkSize: 256 * KIB, password: 'pw', kdf: TEST_KDF }, { fs, clock });
    repos.push(repo);
    const small = randomImage(1, MIB);
    const w1 = await repo.startBackup();
    await w1.writeDisk('vda', small.length, memorySource(small));
    const m1 = await w1.commit();

    fs.budget = 600 * KIB;
    const big = makeImage(4 * MIB, [{ kind: 'random', offset: 0, length: 4 * MIB, seed: 2 }]);
    const w2 = await repo.startBackup();
    const err = await w2.writeDisk('vda', big.length, memorySource(big)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NoSpaceError);
    expect((err as Error).message).toMatch(new RegExp(`^No space left on the backup destination ${repoPath} while writing chunk [0-9a-f]{12}… of backup ${w2.id}\\.`));
    await expect(w2.commit()).rejects.toMatchObject({ code: 'WRITER_CLOSED' });
    expect((await repo.listBackups()).map((b) => b.id)).toEqual([m1.id]);
    expect((await repo.verify()).ok).toBe(true);
    expect((await readAll((await repo.openBackup(m1.id)).readDisk('vda'))).equals(small)).toBe(true);
    // The failed writer released its lease: GC can reclaim its chunks right away (after the grace period).
    clock.advance(60_000);
    expect((await repo.gc({ graceMs: 30_000 })).removedChunks).toBeGreaterThan(0);

    fs.budget = Infinity;
    const w3 = await repo.startBackup();
    await w3.writeDisk('vda', big.length, memorySource(big));
    const m3 = await w3.commit();
    expect((await readAll((await repo.openBackup(m3.id)).readDisk('vda'))).equals(big)).toBe(true);
  });

  it('on a real full filesystem (small tmpfs) and a read-only one, backups fail with the reason before reading the source', async () => {
    const mnt = await dirs.make('vplus-tmpfs-');
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=6m', 'tmpfs', mnt], { stdio: 'pipe' });
    } catch (err) {
      throw new Error(
        `this test mounts a 6 MiB tmpfs and needs root (CAP_SYS_ADMIN): run the integration tests as root, as CI does. mount said: ${String((err as { stderr?: unknown }).stderr ?? err)}`,
      );
    }
    mounts.push(mnt);
    const clock = new FakeClock();
    const repoPath = path.join(mnt, 'repo');
    const repo = await Repository.init(repoPath, { chunkSize: 256 * KIB }, { clock });
    repos.push(repo);
    const small = randomImage(3, MIB);
    const w1 = await repo.startBackup();
    await w1.writeDisk('vda', small.length, memorySource(small));
    const m1 = await w1.commit();

    const big = makeImage(12 * MIB, [{ kind: 'random', offset: 0, length: 12 * MIB, seed: 4 }]);
    const w2 = await repo.startBackup();
    await expect(w2.writeDisk('vda', big.length, memorySource(big))).rejects.toMatchObject({
      code: 'REPO_NO_SPACE',
      message: expect.stringContaining(`No space left on the backup destination ${repoPath}`),
    });
    // The message says what to run …
    await expect(w2.commit()).rejects.toMatchObject({ code: 'WRITER_CLOSED' });
    const w2b = await repo.startBackup();
    const failure = await w2b.writeDisk('vda', big.length, memorySource(big)).then(
      () => null,
      (err: unknown) => err as Error,
    );
    expect(failure?.message).toMatch(/Garbage-collect the destination .*\(vplus destination gc <destination> --wait/);
    expect((await repo.listBackups()).map((b) => b.id)).toEqual([m1.id]);
    expect((await repo.verify()).ok).toBe(true);
    // No temp file of the failed write is left behind.
    for (const shard of await readdir(path.join(repoPath, 'chunks'))) {
      expect((await readdir(path.join(repoPath, 'chunks', shard))).filter((f) => f.startsWith('.tmp-'))).toEqual([]);
    }
    // … and that command frees what the failed backups wrote at once, with no grace to wait out:
    // a 4 MiB backup that could not fit before fits now.
    const gc = await repo.gc();
    expect(gc.freedBytes).toBeGreaterThan(4 * MIB);
    const medium = makeImage(4 * MIB, [{ kind: 'random', offset: 0, length: 4 * MIB, seed: 5 }]);
    const w4 = await repo.startBackup();
    await w4.writeDisk('vda', medium.length, memorySource(medium));
    const m4 = await w4.commit();
    expect((await readAll((await repo.openBackup(m4.id)).readDisk('vda'))).equals(medium)).toBe(true);

    // A restore target that fills up names the target, not the repository.
    const small2 = await dirs.make('vplus-tmpfs-');
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', small2]);
    mounts.push(small2);
    const target = path.join(small2, 'restored.raw');
    await expect((await repo.openBackup(m1.id)).restoreToFile('vda', target)).rejects.toMatchObject({
      code: 'RESTORE_TARGET_FAILED',
      message: expect.stringMatching(new RegExp(`^Cannot write the restore target ${target} while .*: no space left there\\.$`)),
    });
    expect((await readAll((await repo.openBackup(m1.id)).readDisk('vda'))).equals(small)).toBe(true);

    execFileSync('mount', ['-o', 'remount,ro', mnt]);
    const src = spySource(small);
    const attempt = async (): Promise<void> => {
      const w = await repo.startBackup();
      await w.writeDisk('vda', small.length, src);
    };
    await expect(attempt()).rejects.toMatchObject({ code: 'REPO_READ_ONLY', message: expect.stringContaining(`${repoPath} is read-only`) });
    expect(src.reads).toBe(0);
    // Reading and verifying still work on a read-only destination.
    const ro = await Repository.open(repoPath);
    repos.push(ro);
    expect((await readAll((await ro.openBackup(m1.id)).readDisk('vda'))).equals(small)).toBe(true);
    expect((await ro.verify()).ok).toBe(true);
    await expect(ro.gc()).rejects.toMatchObject({ code: 'REPO_READ_ONLY' });
  });
});
