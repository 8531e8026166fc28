/**
 * Fault injection: 20 trials of SIGKILL at a random moment of a backup, a prune or a garbage
 * collection running in a child process on a small disk image. After each: verify is clean,
 * every listed backup restores bit-exact to the image it was taken of, a new backup succeeds
 * and restores bit-exact. The trial counts are printed.
 */
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Repository, type BackupManifest, type ByteRange } from '../../../node-service/repository/index.js';
import { MIB, Prng, TEST_KDF, TempDirs, makeImage, memorySource, readAll } from '../../unit/repository/helpers.js';
import { ChildRepository, waitForExit, waitForLine } from './child-process.js';

const KIB = 1024;
const CHUNK = 256 * KIB;
const SIZE = 6 * MIB;
const BLOCK = 64 * KIB;
const TRIALS = 20;
const PASSWORD = 'fault-injection';

/** One operation on the repository, slowed down so a kill lands inside it. */
const FAULT_SCRIPT = `
import { Repository, openFileSource } from './node-service/repository/index.js';
const [repoPath, password, op, arg1, arg2, arg3] = process.argv.slice(2);
const repo = await Repository.open(repoPath, { password });
const pause = (ms) => new Promise((r) => setTimeout(r, ms));
if (op === 'backup') {
  const [image, backupId, base] = [arg1, arg2, arg3];
  const src = await openFileSource(image);
  const source = { kind: 'random-access', read: async (into, position) => { await pause(10); return src.source.read(into, position); } };
  const w = await repo.startBackup({ id: backupId, group: 'vm' });
  process.stdout.write('started\\n');
  const changes = base ? { previous: await repo.loadManifest(base), dirty: JSON.parse(process.env.DIRTY) } : undefined;
  await w.writeDisk('vda', src.size, source, changes ? { changes } : {});
  await w.commit();
  await src.close();
} else if (op === 'prune') {
  process.stdout.write('started\\n');
  await repo.prune({ keepLast: Number(arg1) });
} else if (op === 'gc') {
  process.stdout.write('started\\n');
  await repo.gc();
}
process.stdout.write('done\\n');
await repo.close();
`;

type Op = 'backup' | 'prune' | 'gc';

const dirs = new TempDirs();
let child: ChildRepository | undefined;
beforeAll(async () => {
  child = await ChildRepository.build();
  await child.addScript('child-fault.mjs', FAULT_SCRIPT);
}, 120_000);
afterAll(async () => {
  await child?.cleanup();
  await dirs.cleanup();
});

const digest = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** 64 KiB blocks that differ between two images of the same size. */
function dirtyBetween(a: Buffer, b: Buffer): ByteRange[] {
  const out: ByteRange[] = [];
  for (let off = 0; off < a.length; off += BLOCK) {
    const end = Math.min(a.length, off + BLOCK);
    if (!a.subarray(off, end).equals(b.subarray(off, end))) out.push({ offset: off, length: end - off });
  }
  return out;
}

describe('fault injection: SIGKILL during backup, prune and GC', () => {
  it(`${TRIALS} trials end with a clean verify, every listed backup bit-exact, and a new backup that restores`, async () => {
    if (!child) throw new Error('the child-process build failed (see beforeAll)');
    const seed = Number(process.env.VPLUS_FAULT_SEED ?? Date.now() % 1_000_000);
    const rng = new Prng(seed);
    const root = await dirs.make();
    const repoPath = path.join(root, 'repo');
    const imageFile = path.join(root, 'vda.raw');
    const repo = await Repository.init(repoPath, { chunkSize: CHUNK, password: PASSWORD, kdf: TEST_KDF }, { threads: 2 });
    /** What each backup id must restore to. */
    const expected = new Map<string, Buffer>();
    let image = makeImage(SIZE, [
      { kind: 'random', offset: 0, length: SIZE / 2, seed: 1 },
      { kind: 'text', offset: SIZE / 2, length: SIZE / 4, seed: 2 },
    ]);
    const counts: Record<Op, { killed: number; finished: number }> = { backup: { killed: 0, finished: 0 }, prune: { killed: 0, finished: 0 }, gc: { killed: 0, finished: 0 } };
    let restores = 0;

    const latest = async (): Promise<BackupManifest | null> => repo.latestBackup('vm');
    const backupInProcess = async (): Promise<BackupManifest> => {
      const prev = await latest();
      const w = await repo.startBackup({ group: 'vm' });
      const prevImage = prev ? expected.get(prev.id) : undefined;
      await w.writeDisk('vda', image.length, memorySource(image), prev && prevImage ? { changes: { previous: prev, dirty: dirtyBetween(prevImage, image) } } : {});
      const m = await w.commit();
      expected.set(m.id, image);
      return m;
    };
    const restoresTo = async (id: string, want: Buffer): Promise<void> => {
      const got = await readAll((await repo.openBackup(id)).readDisk('vda'));
      expect(digest(got), `backup ${id}`).toBe(digest(want));
      restores++;
    };
    const mutate = (): void => {
      image = Buffer.from(image);
      const blocks = 1 + rng.int(6);
      for (let i = 0; i < blocks; i++) {
        const off = rng.int(SIZE / BLOCK) * BLOCK;
        makeImage(BLOCK, [{ kind: 'random', offset: 0, length: BLOCK, seed: rng.int(1_000_000) }]).copy(image, off);
      }
    };

    await backupInProcess();
    /** About how long a backup's read takes (10 ms each, slowed on purpose), lowered by what backups that finished first showed. */
    let msPerRead = 11;
    for (let trial = 0; trial < TRIALS; trial++) {
      const op: Op = (['backup', 'prune', 'gc'] as const)[trial % 3]!;
      let args: string[];
      let env: NodeJS.ProcessEnv = process.env;
      let reads = 1;
      if (op === 'backup') {
        mutate();
        await writeFile(imageFile, image);
        const id = `trial-${trial}`;
        // Registered before it runs: if the kill lands after its commit, it must restore to this image.
        expected.set(id, image);
        const prev = rng.int(2) === 0 ? await latest() : null;
        const prevImage = prev ? expected.get(prev.id) : undefined;
        args = [imageFile, id, prev && prevImage ? prev.id : ''];
        const dirty = prev && prevImage ? dirtyBetween(prevImage, image) : null;
        if (dirty) env = { ...process.env, DIRTY: JSON.stringify(dirty) };
        // About how long it runs (10 ms a read): the kill lands anywhere in it, or just after.
        reads = dirty ? dirty.length : SIZE / CHUNK;
      } else {
        args = op === 'prune' ? [String(1 + rng.int(3))] : [];
      }
      const proc = child.spawnScript('child-fault.mjs', [repoPath, PASSWORD, op, ...args], env);
      await waitForLine(proc, 'started');
      const startedAt = performance.now();
      await new Promise((r) => setTimeout(r, rng.int(op === 'backup' ? Math.ceil(reads * msPerRead) + 10 : 15)));
      proc.kill('SIGKILL');
      const exit = await waitForExit(proc);
      counts[op][exit.signal === 'SIGKILL' ? 'killed' : 'finished']++;
      // A backup that ended before its kill says how fast reads go on this machine now (reads overlap):
      // later kills aim inside backups of that speed rather than after them.
      if (op === 'backup' && exit.signal !== 'SIGKILL') msPerRead = Math.max(1, Math.min(msPerRead, ((performance.now() - startedAt) / reads) * 1.1));

      const v = await repo.verify();
      expect(v.problems, `trial ${trial} (${op}): verify`).toEqual([]);
      expect(v.ok).toBe(true);
      const listed = await repo.listBackups();
      for (const b of listed) {
        const want = expected.get(b.id);
        expect(want, `trial ${trial}: backup ${b.id} is listed but was never taken`).toBeDefined();
      }
      const m = await backupInProcess();
      await restoresTo(m.id, image);
      const older = listed[rng.int(listed.length)];
      if (older) await restoresTo(older.id, expected.get(older.id)!);
    }
    // Every backup still listed at the end restores, and GC leaves verify clean.
    await repo.gc();
    for (const b of await repo.listBackups()) await restoresTo(b.id, expected.get(b.id)!);
    expect((await repo.verify()).ok).toBe(true);
    await repo.close();

    const killed = counts.backup.killed + counts.prune.killed + counts.gc.killed;
    console.log(
      `fault injection (seed ${seed}): ${TRIALS} trials — backup ${counts.backup.killed} killed / ${counts.backup.finished} finished first, ` +
        `prune ${counts.prune.killed} / ${counts.prune.finished}, gc ${counts.gc.killed} / ${counts.gc.finished}; ` +
        `${TRIALS} clean verifies, ${TRIALS} backups after the fault, ${restores} bit-exact restores`,
    );
    // Most kills must land inside the operation, or the test proves little.
    expect(counts.backup.killed).toBeGreaterThanOrEqual(3);
    expect(killed).toBeGreaterThanOrEqual(TRIALS / 2);
  }, 300_000);
});
