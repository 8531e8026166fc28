import { open, readdir } from 'node:fs/promises';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { GcResultSchema, PruneResultSchema, ReimportResultSchema, VerifyResultSchema } from '../../../common/api/destinations.js';
import { gcHandler } from '../../../node-service/agent/handlers/gc.handler.js';
import { pruneHandler } from '../../../node-service/agent/handlers/prune.handler.js';
import { reimportHandler } from '../../../node-service/agent/handlers/reimport.handler.js';
import { withRepository } from '../../../node-service/agent/handlers/destination-task.js';
import { verifyHandler } from '../../../node-service/agent/handlers/verify.handler.js';
import { Repository, type BackupManifest } from '../../../node-service/repository/index.js';
import { chunkRelPath } from '../../../node-service/repository/format.js';
import { FakeClock, TEST_KDF, TempDirs, type Region } from '../../unit/repository/helpers.js';
import { CHUNK, NODE, handlerDeps, makeContext, mount, run, runFailing, umount, writeBackup } from './helpers.js';

const PASSWORD = 'correct horse battery';
const KIB = 1024;
const dirs = new TempDirs();
const mounts: string[] = [];
afterEach(async () => {
  for (const m of mounts.splice(0).reverse()) umount(m);
  await dirs.cleanup();
});

const deps = handlerDeps();
const verify = verifyHandler(deps);
const prune = pruneHandler(deps);
const gc = gcHandler(deps);
const reimport = reimportHandler(deps);

/** Regions of a 1 MiB disk, one per 256 KiB chunk; `shared` is the same bytes in every backup that has it. */
const shared: Region = { kind: 'text', offset: 768 * KIB, length: 256 * KIB, seed: 99 };
const own = (seed: number): Region => ({ kind: 'random', offset: 0, length: 512 * KIB, seed });

/** Three backups: a1 and a2 (group vm:a) share a chunk; c1 (vm:c) shares nothing with them. */
async function threeBackups(password?: string): Promise<{ dir: string; a1: BackupManifest; a2: BackupManifest; c1: BackupManifest }> {
  const dir = path.join(await dirs.make(), 'repo');
  const repo = await Repository.init(dir, { chunkSize: CHUNK, kdf: TEST_KDF, ...(password ? { password } : {}) });
  try {
    const a1 = await writeBackup(repo, 'vm:a', [own(1), shared], { name: 'alpha' });
    const a2 = await writeBackup(repo, 'vm:a', [own(2), shared], { name: 'alpha' });
    const c1 = await writeBackup(repo, 'vm:c', [own(3), { kind: 'text', offset: 512 * KIB, length: 128 * KIB, seed: 5 }], { name: 'charlie' });
    return { dir, a1, a2, c1 };
  } finally {
    await repo.close();
  }
}

const sharedChunkOf = (a1: BackupManifest, a2: BackupManifest): string => {
  const ids = (m: BackupManifest) => m.disks[0]!.chunks.filter((c): c is string => typeof c === 'string');
  const common = ids(a1).filter((id) => ids(a2).includes(id));
  expect(common).toHaveLength(1);
  return common[0]!;
};

async function flipByte(file: string, at: number): Promise<void> {
  const fh = await open(file, 'r+');
  try {
    const b = Buffer.alloc(1);
    await fh.read(b, 0, 1, at);
    b[0] = b[0]! ^ 0xff;
    await fh.write(b, 0, 1, at);
  } finally {
    await fh.close();
  }
}

describe('REIMPORT', () => {
  it('lists every backup with its disks and source metadata', async () => {
    const { dir, a1, a2, c1 } = await threeBackups(PASSWORD);
    const { out, seen } = await run(reimport, dir, {}, PASSWORD);
    const result = ReimportResultSchema.parse(out.result);
    expect(result.backups.map((b) => b.id)).toEqual([a1.id, a2.id, c1.id]);
    expect(result.backups[0]).toEqual({ id: a1.id, createdAt: a1.createdAt, group: 'vm:a', logicalBytes: 1024 * KIB, storedBytes: a1.summary.newStoredBytes, disks: [{ name: 'vda', size: 1024 * KIB }], source: { vm: 'vm:a', name: 'alpha' } });
    expect(result.backups[2]).toMatchObject({ group: 'vm:c', source: { name: 'charlie' } });
    expect(result.stats).toMatchObject({ backups: 3, logicalBytes: 3 * 1024 * KIB });
    expect(result.stats.dedupRatio).toBeGreaterThan(1); // the shared chunk is stored once
    expect(out.warnings).toEqual([]);
    expect(seen.logs.some((l) => l.message.startsWith('found 3 backups'))).toBe(true);
  });

  it('a wrong password or a missing destination fails with a sentence to act on', async () => {
    const { dir } = await threeBackups(PASSWORD);
    expect((await runFailing(reimport, dir, {}, 'wrong password')).code).toBe('REPO_WRONG_PASSWORD');
    const missing = path.join(dir, '..', 'unmounted', 'vplus');
    expect((await runFailing(reimport, missing, {}, PASSWORD)).message).toBe(`destination ${path.resolve(missing)} does not exist on node ${NODE}; is the share mounted?`);
    const empty = await dirs.make();
    expect((await runFailing(reimport, empty, {})).message).toBe(`destination ${empty} on node ${NODE} holds no vPlus repository; is the share mounted, and is this the right path?`);
  });
});

describe('VERIFY', () => {
  it('passes on a clean repository, reporting progress in bytes', async () => {
    const { dir } = await threeBackups(PASSWORD);
    const { out, seen } = await run(verify, dir, {}, PASSWORD);
    expect(out.failed).toBeUndefined();
    expect(out.warnings ?? []).toEqual([]);
    const result = VerifyResultSchema.parse(out.result);
    // a1: 2 random + shared, a2: 2 random + shared (dup), c1: 2 random + 1 text = 8 distinct chunks.
    expect(result).toMatchObject({ checkedChunks: 8, checkedBytes: 8 * CHUNK, problems: [], affectedBackups: [], stats: { backups: 3 } });
    const last = seen.progress[seen.progress.length - 1]!;
    expect(last).toMatchObject({ bytesDone: 8 * CHUNK, bytesTotal: 8 * CHUNK, message: '8 of 8 chunks checked' });
    expect(seen.progress.every((p) => p.bytesTotal === 8 * CHUNK && p.bytesDone <= 8 * CHUNK)).toBe(true);
  });

  it('a flipped byte fails the task, naming the chunk and every backup that uses it, and still returns the result', async () => {
    const { dir, a1, a2, c1 } = await threeBackups(PASSWORD);
    const chunk = sharedChunkOf(a1, a2);
    await flipByte(path.join(dir, chunkRelPath(chunk)), 40);

    const { out, seen } = await run(verify, dir, {}, PASSWORD);
    const result = VerifyResultSchema.parse(out.result);
    expect(result.problems).toEqual([{ chunk, problem: expect.stringMatching(/^corrupt: /), backups: [a1.id, a2.id], checkedNow: true }]);
    expect(result.affectedBackups).toEqual([a1.id, a2.id].sort());
    expect(result.checkedChunks).toBe(8);
    expect(out.failed).toBe(`1 damaged chunk affects backups ${[a1.id, a2.id].sort().join(', ')}; the other 1 backup is intact. The next backup of the affected VMs stores the damaged chunks again (run one now), then verify again`);
    expect(out.warnings).toEqual([`chunk ${chunk} is damaged; used by 2 backups: ${a1.id}, ${a2.id}`]);
    expect(seen.logs.filter((l) => l.level === 'error').map((l) => l.message)).toEqual(out.warnings);
    expect(out.failed).not.toContain(c1.id);

    // A deleted chunk file too: two damaged chunks now.
    const cOnly = c1.disks[0]!.chunks.find((c): c is string => typeof c === 'string')!;
    const { rm } = await import('node:fs/promises');
    await rm(path.join(dir, chunkRelPath(cOnly)));
    const again = await run(verify, dir, {}, PASSWORD);
    const r2 = VerifyResultSchema.parse(again.out.result);
    expect(r2.problems.map((p) => [p.chunk, p.problem.split(':')[0]]).sort()).toEqual([[chunk, 'corrupt'], [cOnly, 'missing']].sort());
    expect(r2.affectedBackups).toEqual([a1.id, a2.id, c1.id].sort());
    expect(again.out.failed).toMatch(/^2 damaged chunks affect backups .+; no backup is intact\. The next backup of the affected VMs stores the damaged chunks again/);
  });

  it('a subset checks only its part, and the parts together cover every chunk', async () => {
    const { dir } = await threeBackups();
    let total = 0;
    for (let part = 0; part < 3; part++) {
      const { out } = await run(verify, dir, { subset: { part, of: 3 } });
      total += VerifyResultSchema.parse(out.result).checkedChunks;
    }
    expect(total).toBe(8);
  });

  it('works on a read-only copy of the destination', async () => {
    const { dir } = await threeBackups(PASSWORD);
    const view = path.join(path.dirname(dir), 'view');
    const { mkdir } = await import('node:fs/promises');
    await mkdir(view);
    mount(['--bind', dir, view]);
    mounts.push(view);
    mount(['-o', 'remount,bind,ro', view]);
    const { out } = await run(verify, view, {}, PASSWORD);
    expect(VerifyResultSchema.parse(out.result)).toMatchObject({ checkedChunks: 8, problems: [] });
  });

  it('stops when cancelled', async () => {
    const { dir } = await threeBackups();
    const { ctx, seen } = makeContext({ destinationId: 7, repository: { path: dir } });
    ctx.progress = (bytesDone, bytesTotal, message) => {
      seen.progress.push({ bytesDone, bytesTotal, message });
      seen.abort.abort(new Error('cancelled'));
    };
    await expect(verify.run(ctx)).rejects.toThrow('cancelled');
    expect(seen.progress.length).toBeLessThan(8);
  });
});

describe('PRUNE and GC', () => {
  it('a dry run shows what would go and removes nothing; the real run removes it; GC then frees the space', async () => {
    const { dir, a1, a2, c1 } = await threeBackups();
    const retention = { keepLast: 1 };

    const dry = await run(prune, dir, { retention, dryRun: true });
    const dryResult = PruneResultSchema.parse(dry.out.result);
    expect(dryResult.dryRun).toBe(true);
    expect(dryResult.removed).toEqual([{ id: a1.id, createdAt: a1.createdAt, group: 'vm:a' }]);
    expect(dryResult.kept.map((k) => k.id).sort()).toEqual([a2.id, c1.id].sort());
    expect(dryResult.kept.every((k) => k.reasons.length > 0)).toBe(true);
    expect(dry.seen.logs.map((l) => l.message)).toContain(`would remove backup ${a1.id} of vm:a from ${a1.createdAt}`);
    expect(dryResult.stats.backups).toBe(3);
    expect(await readdir(path.join(dir, 'backups'))).toHaveLength(3);

    // dryRun defaults to true: nothing goes unless asked.
    const defaulted = PruneResultSchema.parse((await run(prune, dir, { retention })).out.result);
    expect(defaulted.dryRun).toBe(true);

    const real = await run(prune, dir, { retention, dryRun: false });
    const realResult = PruneResultSchema.parse(real.out.result);
    expect(realResult).toMatchObject({ dryRun: false, removed: [{ id: a1.id }], stats: { backups: 2 } });
    expect(real.seen.logs.map((l) => l.message)).toContain(`removed backup ${a1.id} of vm:a from ${a1.createdAt}`);
    const storedAfterPrune = realResult.stats.storedBytes;

    // Within the grace period nothing is collected.
    const young = await run(gc, dir, { graceHours: 24 });
    expect(GcResultSchema.parse(young.out.result)).toMatchObject({ removedChunks: 0, freedBytes: 0 });

    // A day later the two chunks only a1 had are swept.
    const later = gcHandler(handlerDeps({ repository: { threads: 2, clock: new FakeClock(Date.now() + 25 * 3_600_000) } }));
    const { out, seen } = await run(later, dir, { graceHours: 24 });
    const result = GcResultSchema.parse(out.result);
    expect(result.removedChunks).toBe(2);
    expect(result.freedBytes).toBeGreaterThan(2 * CHUNK); // random data does not compress
    expect(result.stats.storedBytes).toBe(storedAfterPrune - result.freedBytes);
    expect(result.stats.backups).toBe(2);
    expect(seen.progress.length).toBeGreaterThan(0);
    expect(seen.logs.some((l) => l.message.startsWith('removed 2 chunks'))).toBe(true);

    // What is left still verifies.
    const v = await run(verify, dir, {});
    expect(v.out.failed).toBeUndefined();
    expect(VerifyResultSchema.parse(v.out.result)).toMatchObject({ checkedChunks: 6, problems: [] });
  });

  it('refuses an empty retention policy', async () => {
    const { dir } = await threeBackups();
    expect((await runFailing(prune, dir, { retention: {}, dryRun: false })).message).toMatch(/^the task's parameters are invalid \(retention: give at least one retention rule/);
    expect((await runFailing(prune, dir, { retention: { keepLast: 0 }, dryRun: false })).message).toMatch(/retention.keepLast: keepLast must be at least 1/);
  });
});

describe('errors while working on an open repository', () => {
  it('a bare ENOENT from something else the task uses (an NBD socket) is not blamed on the destination path', async () => {
    const { dir } = await threeBackups();
    const { ctx } = makeContext({});
    const target = { destinationId: 7, path: dir, password: undefined, node: NODE };
    const err: Error & { code?: string } = await withRepository(ctx, handlerDeps(), target, async () => {
      throw Object.assign(new Error('connect ENOENT /var/tmp/vplus-kvm-x/0.sock'), { code: 'ENOENT' });
    }).then(
      () => new Error('expected a failure'),
      (e: unknown) => e as Error & { code?: string },
    );
    expect(err.message).not.toMatch(/does not exist on node/);
    expect(err.message).toBe(`working on the repository at ${dir} on node ${NODE} failed: connect ENOENT /var/tmp/vplus-kvm-x/0.sock`);
    expect(err.code).toBe('ENOENT');
  });
});
