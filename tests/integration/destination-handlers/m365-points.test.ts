import { readFile, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { GcResultSchema, PruneResultSchema, ReimportResultSchema, VerifyResultSchema } from '../../../common/api/destinations.js';
import { gcHandler } from '../../../node-service/agent/handlers/gc.handler.js';
import { pruneHandler } from '../../../node-service/agent/handlers/prune.handler.js';
import { reimportHandler } from '../../../node-service/agent/handlers/reimport.handler.js';
import { verifyHandler } from '../../../node-service/agent/handlers/verify.handler.js';
import { openObjectStore } from '../../../node-service/cloud/metadata/index.js';
import { Repository } from '../../../node-service/repository/index.js';
import { FakeClock, Prng, TEST_KDF, TempDirs } from '../../unit/repository/helpers.js';
import { handlerDeps, run, writeBackup } from './helpers.js';

const PASSWORD = 'correct horse battery';
const dirs = new TempDirs();
afterEach(() => dirs.cleanup());
const deps = handlerDeps();

function bytes(seed: number, n: number): Buffer {
  const b = Buffer.alloc(n);
  new Prng(seed).fill(b);
  return b;
}

/** A repository with one VM backup and three M365 backup points of two drives. */
async function destination(): Promise<{ dir: string; points: { id: string; objectKey: string; createdAt: string }[]; vm: string }> {
  const base = await dirs.make('vplus-m365-handlers-');
  const dir = path.join(base, 'repo');
  const clock = new FakeClock(Date.parse('2026-04-01T06:00:00Z'));
  const repo = await Repository.init(dir, { password: PASSWORD, kdf: TEST_KDF }, { clock, threads: 1 });
  const points: { id: string; objectKey: string; createdAt: string }[] = [];
  try {
    const vm = await writeBackup(repo, 'vm:a', [{ kind: 'random', offset: 0, length: 256 * 1024, seed: 1 }]);
    for (const [objectKey, files] of [
      ['m365:t1:drive:alice', 3],
      ['m365:t1:drive:bob', 2],
      ['m365:t1:drive:alice', 4],
    ] as const) {
      clock.advance(3_600_000);
      const store = await openObjectStore(repo, objectKey, { workDir: path.join(base, 'work') });
      try {
        await store.beginPoint({ mode: 'full', source: { tenant: 't1', drive: objectKey } });
        store.upsertItem({ id: 'root', parentId: null, name: 'root', kind: 'folder' });
        for (let i = 0; i < files; i++) {
          const content = await store.putContent(bytes(i + (objectKey.endsWith('bob') ? 100 : 0), 10_000));
          store.upsertItem({ id: `f${i}`, parentId: 'root', name: `file-${i}.bin`, kind: 'file', content });
        }
        const p = await store.commitPoint({ deltaLink: 'd' });
        points.push({ id: p.id, objectKey, createdAt: p.createdAt });
      } finally {
        await store.close();
      }
    }
    return { dir, points, vm: vm.id };
  } finally {
    await repo.close();
  }
}

describe('destination tasks and Microsoft 365 backup points', () => {
  it('REIMPORT lists the backup points with their object, time and counts, from the destination alone', async () => {
    const { dir, points, vm } = await destination();
    const { out, seen } = await run(reimportHandler(deps), dir, {}, PASSWORD);
    const result = ReimportResultSchema.parse(out.result);
    expect(result.backups.map((b) => b.id)).toEqual([vm]);
    expect(result.points?.map((p) => ({ id: p.id, objectKey: p.objectKey, createdAt: p.createdAt }))).toEqual(points);
    expect(result.points?.map((p) => [p.kind, p.items, p.files, p.folders, p.bytes])).toEqual([
      ['full', 4, 3, 1, 30_000],
      ['full', 3, 2, 1, 20_000],
      ['full', 5, 4, 1, 40_000],
    ]);
    expect(result.points?.[1]?.source).toEqual({ tenant: 't1', drive: 'm365:t1:drive:bob' });
    expect(result.points?.every((p) => p.storedBytes > 0)).toBe(true);
    expect(seen.logs.some((l) => l.message.startsWith('found 3 Microsoft 365 backup points of 2 objects'))).toBe(true);
  });

  it('VERIFY fails naming the backup points a damaged pack hurts, and says nothing false about the VM backups', async () => {
    const { dir, points } = await destination();
    const repo = await Repository.open(dir, { password: PASSWORD }, { threads: 1 });
    let packFile: string;
    try {
      const m = await repo.points().load(points[1]!.id);
      const loc = (await repo.points().blobs()).locate(m.metadata.blobs[0]!)!;
      packFile = path.join(dir, 'packs', loc.packId.slice(0, 2), loc.packId);
      const raw = await readFile(packFile);
      raw[loc.entry.offset + 20]! ^= 0xff;
      await writeFile(packFile, raw);
    } finally {
      await repo.close();
    }
    const { out } = await run(verifyHandler(deps), dir, {}, PASSWORD);
    const result = VerifyResultSchema.parse(out.result);
    expect(result.affectedBackups).toEqual([]);
    expect(result.points?.affectedPoints).toEqual([points[1]!.id]);
    expect(result.points?.problems).toEqual([expect.objectContaining({ role: 'metadata', points: [points[1]!.id] })]);
    expect(out.failed).toBe(`1 Microsoft 365 backup point cannot be restored in full (${points[1]!.id})`);
    expect(out.warnings?.some((w) => w.includes('(the metadata of a point) is damaged'))).toBe(true);
  });

  it('PRUNE with objectKeys applies retention to those objects\' points only, keeping protected points; GC then frees their packs', async () => {
    const { dir, points, vm } = await destination();
    const alice = 'm365:t1:drive:alice';
    const kept = await run(pruneHandler(deps), dir, { retention: { keepLast: 1 }, dryRun: false, objectKeys: [alice], protectedPoints: [points[0]!.id] }, PASSWORD);
    expect(PruneResultSchema.parse(kept.out.result).removed).toEqual([]);

    const { out, seen } = await run(pruneHandler(deps), dir, { retention: { keepLast: 1 }, dryRun: false, objectKeys: [alice] }, PASSWORD);
    const result = PruneResultSchema.parse(out.result);
    expect(result.removed).toEqual([{ id: points[0]!.id, createdAt: points[0]!.createdAt, group: alice }]);
    expect(result.kept.map((k) => [k.id, k.group])).toEqual([[points[2]!.id, alice]]);
    expect(seen.logs.some((l) => l.message === `removed backup point ${points[0]!.id} of ${alice} from ${points[0]!.createdAt}`)).toBe(true);

    const repo = await Repository.open(dir, { password: PASSWORD }, { threads: 1 });
    try {
      expect((await repo.points().list()).map((p) => p.id)).toEqual([points[1]!.id, points[2]!.id]);
      expect((await repo.listBackups()).map((b) => b.id)).toEqual([vm]);
    } finally {
      await repo.close();
    }
    const gc = GcResultSchema.parse((await run(gcHandler(deps), dir, { graceHours: 0 }, PASSWORD)).out.result);
    expect((gc.packs?.deleted ?? 0) + (gc.packs?.repacked ?? 0)).toBeGreaterThan(0);
  });

  it('GC reports the packs it deleted or repacked after a point is deleted', async () => {
    const { dir, points } = await destination();
    const repo = await Repository.open(dir, { password: PASSWORD }, { threads: 1 });
    try {
      expect(await repo.points().delete(points[1]!.id)).toBe(true);
    } finally {
      await repo.close();
    }
    const { out } = await run(gcHandler(deps), dir, { graceHours: 0 }, PASSWORD);
    const result = GcResultSchema.parse(out.result);
    expect(result.packs?.deleted).toBeGreaterThan(0);
    expect(out.warnings).toEqual([]);
    const { out: again } = await run(verifyHandler(deps), dir, {}, PASSWORD);
    expect(again.failed).toBeUndefined();
  });
});
