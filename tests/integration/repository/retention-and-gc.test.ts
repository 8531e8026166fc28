import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Repository, type BackupManifest } from '../../../node-service/repository/index.js';
import { FakeClock, MIB, Prng, TEST_KDF, TempDirs, memorySource, randomImage, readAll } from '../../unit/repository/helpers.js';

const KIB = 1024;
const CHUNK = 256 * KIB;
const DAY = 86_400_000;
const dirs = new TempDirs();
const repos: Repository[] = [];
afterEach(async () => {
  await Promise.all(repos.splice(0).map((r) => r.close()));
  await dirs.cleanup();
});

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('retention chain', () => {
  it('prunes 60 daily incrementals by policy (dry run first), GC frees the space, every kept backup restores bit-exact', async () => {
    const clock = new FakeClock(Date.parse('2025-01-01T22:00:00Z'));
    const repo = await Repository.init(path.join(await dirs.make(), 'repo'), { chunkSize: CHUNK, password: 'pw', kdf: TEST_KDF }, { clock, threads: 2 });
    repos.push(repo);
    const img = randomImage(100, 2 * MIB);
    const hashes = new Map<string, string>();
    const dayOf = new Map<string, string>();
    let previous: BackupManifest | null = null;
    const p = new Prng(5);
    for (let day = 0; day < 60; day++) {
      // The guest rewrites 64 KiB somewhere each day.
      const offset = p.int(img.length / (64 * KIB)) * 64 * KIB;
      p.fill(img.subarray(offset, offset + 64 * KIB));
      const w = await repo.startBackup({ group: 'vm:web01', source: { day } });
      await w.writeDisk(
        'vda',
        img.length,
        memorySource(img),
        previous ? { changes: { previous, dirty: [{ offset, length: 64 * KIB }] } } : {},
      );
      previous = await w.commit();
      hashes.set(previous.id, sha(img));
      dayOf.set(previous.id, new Date(clock.now()).toISOString().slice(0, 10));
      clock.advance(DAY);
    }
    clock.set(Date.parse('2025-03-01T23:00:00Z'));
    const policy = { keepLast: 2, daily: 7, weekly: 4, monthly: 3 };
    const expectedDays = ['2025-01-31', '2025-02-09', '2025-02-16', '2025-02-23', '2025-02-24', '2025-02-25', '2025-02-26', '2025-02-27', '2025-02-28', '2025-03-01'];

    const dry = await repo.prune(policy, { dryRun: true });
    expect(dry.dryRun).toBe(true);
    expect(dry.kept.map((k) => dayOf.get(k.id)).sort()).toEqual(expectedDays);
    expect(dry.removed).toHaveLength(50);
    expect(dry.kept.find((k) => dayOf.get(k.id) === '2025-03-01')?.reasons).toEqual(['last 1', 'daily 2025-03-01', 'weekly 2025-W09', 'monthly 2025-03']);
    expect(dry.removed[0]?.reasons).toEqual(['not selected by any rule']);
    expect(await repo.listBackups()).toHaveLength(60);

    const before = await repo.stats();
    expect(before.unreferencedChunks).toBe(0);
    const pruned = await repo.prune(policy);
    expect(pruned.removed.map((r) => r.id).sort()).toEqual(dry.removed.map((r) => r.id).sort());
    const left = await repo.listBackups();
    expect(left.map((b) => dayOf.get(b.id))).toEqual(expectedDays);
    const afterPrune = await repo.stats();
    expect(afterPrune.unreferencedChunks).toBeGreaterThan(0);

    // GC compares chunk file mtimes (real time) with the clock: bring the clock back to now, plus the grace period.
    clock.set(Date.now() + DAY + 60_000);
    const gc = await repo.gc({ graceMs: DAY });
    expect(gc.removedChunks).toBe(afterPrune.unreferencedChunks);
    expect(gc.freedBytes).toBe(afterPrune.unreferencedBytes);
    expect(gc.missingChunks).toBe(0);
    const afterGc = await repo.stats();
    expect(afterGc.unreferencedChunks).toBe(0);
    expect(afterGc.storedBytes).toBe(afterPrune.storedBytes - gc.freedBytes);
    expect(afterGc.storedBytes).toBeLessThan(before.storedBytes);

    expect((await repo.verify()).ok).toBe(true);
    for (const b of left) {
      const restored = await readAll((await repo.openBackup(b.id)).readDisk('vda'));
      expect(sha(restored)).toBe(hashes.get(b.id));
    }
    // A second GC finds nothing more.
    expect((await repo.gc({ graceMs: 0 })).removedChunks).toBe(0);
  });

  it('stats report logical size, dedup and compression', async () => {
    const repo = await Repository.init(path.join(await dirs.make(), 'repo'), { chunkSize: CHUNK });
    repos.push(repo);
    const text = Buffer.alloc(4 * MIB);
    let o = 0;
    const p = new Prng(1);
    while (o < text.length) o += text.write(`line ${p.int(100000)} of a log file, status ok\n`, o);
    for (let i = 0; i < 2; i++) {
      const w = await repo.startBackup();
      await w.writeDisk('vda', 8 * MIB, memorySource(Buffer.concat([text, Buffer.alloc(4 * MIB)])));
      await w.commit();
    }
    const s = await repo.stats();
    expect(s).toMatchObject({ backups: 2, logicalBytes: 16 * MIB, dataBytes: 8 * MIB, uniqueBytes: 4 * MIB, uniqueChunks: 16, chunkFiles: 16 });
    expect(s.dedupRatio).toBe(2);
    expect(s.compressionRatio).toBeGreaterThan(3);
    expect(s.totalRatio).toBeGreaterThan(10);
  });
});
