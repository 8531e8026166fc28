import { readdir, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { NodeFileSystem, Repository } from '../../../node-service/repository/index.js';
import { DEFAULT_LEASE_OPTIONS, LeaseManager } from '../../../node-service/repository/locks.js';
import { silentLogger } from '../../../node-service/repository/logger.js';
import { FakeClock, MIB, TEST_KDF, TempDirs, makeImage, memorySource, randomImage, readAll } from '../../unit/repository/helpers.js';
import { ChildRepository, waitForExit, waitForLine } from './child-process.js';

const KIB = 1024;
const HOUR = 3_600_000;
const dirs = new TempDirs();
const repos: Repository[] = [];
let child: ChildRepository | undefined;

beforeAll(async () => {
  child = await ChildRepository.build();
}, 120_000);
afterAll(() => child?.cleanup());

function children(): ChildRepository {
  if (!child) throw new Error('the child-process build failed (see beforeAll)');
  return child;
}
afterEach(async () => {
  await Promise.all(repos.splice(0).map((r) => r.close()));
  await dirs.cleanup();
});

async function countChunkFiles(repoPath: string): Promise<number> {
  let n = 0;
  for (const shard of await readdir(path.join(repoPath, 'chunks'))) {
    n += (await readdir(path.join(repoPath, 'chunks', shard))).filter((f) => /^[0-9a-f]{64}$/.test(f)).length;
  }
  return n;
}

async function setup(clock: FakeClock, password?: string): Promise<Repository> {
  const root = await dirs.make();
  const repo = await Repository.init(
    path.join(root, 'repo'),
    { chunkSize: 256 * KIB, kdf: TEST_KDF, ...(password ? { password } : {}) },
    { clock, threads: 2 },
  );
  repos.push(repo);
  return repo;
}

describe('a backup killed with SIGKILL mid-write', () => {
  it('is invisible; earlier backups verify; GC does not wait on the dead writer and reclaims its orphans at once; the next backup succeeds', async () => {
    const clock = new FakeClock();
    const password = 'correct horse';
    const repo = await setup(clock, password);
    const imgA = randomImage(1, 2 * MIB + 333);
    const wA = await repo.startBackup({ group: 'vm:a' });
    await wA.writeDisk('vda', imgA.length, memorySource(imgA));
    const mA = await wA.commit();
    const chunksBefore = await countChunkFiles(repo.path);

    const imgB = makeImage(24 * MIB, [{ kind: 'random', offset: 0, length: 24 * MIB, seed: 77 }]);
    const imageFile = path.join(await dirs.make(), 'b.raw');
    await writeFile(imageFile, imgB);
    const proc = children().backup(repo.path, imageFile, 'killed-backup', 30, password);
    await waitForLine(proc, 'slow');
    // The child has read 30 chunks; wait until some of them are on disk, then kill it.
    for (let i = 0; i < 100 && (await countChunkFiles(repo.path)) <= chunksBefore; i++) await new Promise((r) => setTimeout(r, 50));
    proc.kill('SIGKILL');
    expect((await waitForExit(proc)).signal).toBe('SIGKILL');
    const orphans = (await countChunkFiles(repo.path)) - chunksBefore;
    expect(orphans).toBeGreaterThan(0);

    expect((await repo.listBackups()).map((b) => b.id)).toEqual([mA.id]);
    await expect(repo.loadManifest('killed-backup')).rejects.toMatchObject({ code: 'BACKUP_NOT_FOUND' });
    const v = await repo.verify();
    expect(v).toMatchObject({ ok: true, problems: [], backupsChecked: 1 });
    expect((await repo.stats()).unreferencedChunks).toBe(orphans);

    // The killed writer's lease is still fresh by its mtime, but it names a process that is
    // gone from this machine: stale at once. No writer runs, so no grace is needed either.
    const leases = await new LeaseManager(repo.path, new NodeFileSystem(), clock, DEFAULT_LEASE_OPTIONS, silentLogger).list();
    expect(leases.map((l) => [l.info.detail, l.staleReason])).toEqual([['killed-backup', 'holder-gone']]);
    // An admin's explicit grace still keeps young chunks.
    const kept = await repo.gc({ graceMs: HOUR, dryRun: true });
    expect(kept).toMatchObject({ removedChunks: 0, keptRecentChunks: orphans, missingChunks: 0 });
    const dry = await repo.gc({ dryRun: true });
    expect(dry).toMatchObject({ dryRun: true, removedChunks: orphans });
    expect(await countChunkFiles(repo.path)).toBe(chunksBefore + orphans);
    const late = await repo.gc();
    expect(late).toMatchObject({ removedChunks: orphans, removedStaleLeases: 1, missingChunks: 0 });
    expect(late.freedBytes).toBeGreaterThan(orphans * 256 * KIB);
    expect(await countChunkFiles(repo.path)).toBe(chunksBefore);
    expect((await repo.verify()).ok).toBe(true);
    expect((await readAll((await repo.openBackup(mA.id)).readDisk('vda'))).equals(imgA)).toBe(true);

    const wB = await repo.startBackup({ group: 'vm:b' });
    await wB.writeDisk('vda', imgB.length, memorySource(imgB));
    const mB = await wB.commit();
    expect((await readAll((await repo.openBackup(mB.id)).readDisk('vda'))).equals(imgB)).toBe(true);
  });

  it('an abandoned or aborted writer leaves no backup, and abort releases its lease at once', async () => {
    const clock = new FakeClock();
    const repo = await setup(clock);
    const img = randomImage(3, MIB);
    const abandoned = await repo.startBackup({ id: 'abandoned' });
    await abandoned.writeDisk('vda', img.length, memorySource(img));
    expect(await repo.listBackups()).toEqual([]);
    // Its lease blocks GC until it goes stale.
    await expect(repo.gc({ graceMs: 0 })).rejects.toMatchObject({ code: 'REPO_LOCKED' });
    await abandoned.abort();
    const aborted = await repo.startBackup({ id: 'aborted' });
    await aborted.writeDisk('vda', img.length, memorySource(img));
    await aborted.abort();
    await expect(aborted.commit()).rejects.toMatchObject({ code: 'WRITER_CLOSED' });
    expect(await repo.listBackups()).toEqual([]);
    clock.advance(1000);
    const gc = await repo.gc({ graceMs: 0 });
    expect(gc.removedChunks).toBeGreaterThan(0);
    expect(await countChunkFiles(repo.path)).toBe(0);
  });
});

describe('concurrent writers', () => {
  it('two processes backing up overlapping images at once both succeed, storing shared chunks once', async () => {
    const clock = new FakeClock();
    const repo = await setup(clock);
    const common = randomImage(10, 6 * MIB);
    const img1 = Buffer.concat([common, makeImage(2 * MIB, [{ kind: 'random', offset: 0, length: 2 * MIB, seed: 11 }])]);
    const img2 = Buffer.concat([common, makeImage(2 * MIB, [{ kind: 'text', offset: 0, length: 2 * MIB, seed: 12 }])]);
    const dir = await dirs.make();
    await writeFile(path.join(dir, '1.raw'), img1);
    await writeFile(path.join(dir, '2.raw'), img2);
    const p1 = children().backup(repo.path, path.join(dir, '1.raw'), 'concurrent-1', 0);
    const p2 = children().backup(repo.path, path.join(dir, '2.raw'), 'concurrent-2', 0);
    await Promise.all([waitForLine(p1, 'committed'), waitForLine(p2, 'committed')]);
    await Promise.all([waitForExit(p1), waitForExit(p2)]);

    expect((await repo.listBackups()).map((b) => b.id).sort()).toEqual(['concurrent-1', 'concurrent-2']);
    const m1 = await repo.loadManifest('concurrent-1');
    const m2 = await repo.loadManifest('concurrent-2');
    const ids = new Set<string>();
    for (const m of [m1, m2]) for (const e of m.disks[0]?.chunks ?? []) if (typeof e === 'string') ids.add(e);
    expect(await countChunkFiles(repo.path)).toBe(ids.size);
    expect((await readAll((await repo.openBackup('concurrent-1')).readDisk('vda'))).equals(img1)).toBe(true);
    expect((await readAll((await repo.openBackup('concurrent-2')).readDisk('vda'))).equals(img2)).toBe(true);
    expect((await repo.verify()).ok).toBe(true);
  });

  it('two repository handles in one process write at once; GC waits for both', async () => {
    const clock = new FakeClock();
    const repo = await setup(clock);
    const other = await Repository.open(repo.path, {}, { clock, threads: 1 });
    repos.push(other);
    const img = randomImage(20, 3 * MIB + 5);
    const [w1, w2] = await Promise.all([repo.startBackup({ group: 'a' }), other.startBackup({ group: 'b' })]);
    await expect(repo.gc({ graceMs: 0 })).rejects.toMatchObject({ code: 'REPO_LOCKED' });
    await Promise.all([w1.writeDisk('vda', img.length, memorySource(img)), w2.writeDisk('vda', img.length, memorySource(img))]);
    const [m1, m2] = await Promise.all([w1.commit(), w2.commit()]);
    expect(m1.disks[0]?.chunks).toEqual(m2.disks[0]?.chunks);
    const gc = await repo.gc({ graceMs: 0 });
    expect(gc).toMatchObject({ removedChunks: 0, missingChunks: 0 });
    for (const r of [repo, other]) expect((await readAll((await r.openBackup(m2.id)).readDisk('vda'))).equals(img)).toBe(true);
  });

  it('a backup cannot start while GC holds the repository', async () => {
    const clock = new FakeClock();
    const repo = await setup(clock);
    // What a GC in another process holds.
    const leases = new LeaseManager(repo.path, new NodeFileSystem(), clock, DEFAULT_LEASE_OPTIONS, silentLogger);
    const gcLease = await leases.acquire('exclusive', 'gc');
    await expect(repo.startBackup()).rejects.toMatchObject({ code: 'REPO_LOCKED', message: expect.stringMatching(/garbage collection is running/) });
    await gcLease.release();
    const w = await repo.startBackup();
    await w.abort();
  });

  it('a stalled incremental whose lease lapsed does not commit references to chunks GC removed', async () => {
    const clock = new FakeClock();
    const repo = await setup(clock);
    const img = randomImage(30, 2 * MIB);
    const w1 = await repo.startBackup({ group: 'vm' });
    await w1.writeDisk('vda', img.length, memorySource(img));
    const m1 = await w1.commit();
    // An incremental that reuses every chunk of m1 without reading (started well after m1's
    // chunks were written: GC keeps only what a maybe-alive writer wrote since it started)...
    clock.advance(HOUR);
    const w2 = await repo.startBackup({ group: 'vm' });
    await w2.writeDisk('vda', img.length, memorySource(img), { changes: { previous: m1, dirty: [] } });
    // ...then stalls. Meanwhile a newer backup lands and retention removes m1...
    const newer = randomImage(31, 2 * MIB);
    clock.advance(60_000);
    const w3 = await repo.startBackup({ group: 'vm' });
    await w3.writeDisk('vda', newer.length, memorySource(newer));
    await w3.commit();
    const pruned = await repo.prune({ keepLast: 1 });
    expect(pruned.removed.map((r) => r.id)).toEqual([m1.id]);
    // ...the stalled writer's lease lapses, and GC (another process) frees m1's chunks.
    clock.advance(31 * 60_000);
    const other = await Repository.open(repo.path, {}, { clock, threads: 1 });
    repos.push(other);
    const gc = await other.gc();
    expect(gc.removedChunks).toBeGreaterThan(0);
    // What w3 wrote after the stalled writer started is kept (it could have been w2's).
    expect(gc.keptRecentChunks).toBe(0);
    await expect(w2.commit()).rejects.toMatchObject({ code: 'REPO_GC_RACE' });
    expect(await repo.listBackups()).toHaveLength(1);
    expect((await repo.verify()).ok).toBe(true);
  });
});
