import { createHash } from 'node:crypto';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BlobMissingError, Repository, type PointManifest } from '../../../node-service/repository/index.js';
import { FakeClock, Prng, TEST_KDF, TempDirs } from '../../unit/repository/helpers.js';

const KIB = 1024;
const MIB = 1024 * KIB;
const dirs = new TempDirs();
const repos: Repository[] = [];
afterEach(async () => {
  await Promise.all(repos.splice(0).map((r) => r.close()));
  await dirs.cleanup();
});

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

async function newRepo(encrypted: boolean, clock = new FakeClock(Date.parse('2026-03-01T10:00:00Z'))): Promise<{ repo: Repository; repoPath: string; clock: FakeClock }> {
  const repoPath = path.join(await dirs.make('vplus-packs-'), 'repo');
  const repo = await Repository.init(repoPath, encrypted ? { password: 'pw', kdf: TEST_KDF } : {}, { clock, threads: 1 });
  repos.push(repo);
  return { repo, repoPath, clock };
}

function randomBuffer(seed: number, size: number): Buffer {
  const b = Buffer.alloc(size);
  new Prng(seed).fill(b);
  return b;
}

/** Every file under dir (relative paths). */
async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => [])) if (e.isFile()) out.push(path.relative(dir, path.join(e.parentPath, e.name)));
  return out.sort();
}

/** A point of `objectKey` holding `files`; its log lists one version per file, valid in this point alone. */
async function writePoint(repo: Repository, objectKey: string, files: Buffer[], packSize?: number): Promise<{ manifest: PointManifest; contents: string[][] }> {
  const w = await repo.startPoint({ objectKey, source: { name: objectKey }, ...(packSize ? { packSize } : {}) });
  const contents: string[][] = [];
  for (const f of files) contents.push((await w.putContent(f)).blobs);
  const metadata = await w.putObjectLog({
    points: [{ seq: 1, id: w.id, data: { files: files.length } }],
    closures: [],
    versions: contents.map((blobs, i) => ({ vid: i + 1, fromSeq: 1, blobs, data: [`file-${i}`] })),
    end: { lastPoint: w.id, data: null },
  });
  const manifest = await w.commit({ metadata, blobs: contents.flat(), summary: { files: files.length } });
  return { manifest, contents };
}

/** The blob lists of a point's log, by version. */
async function logContents(repo: Repository, pointId: string): Promise<string[][]> {
  const out: string[][] = [];
  for await (const e of repo.points().readLog(pointId)) if (e.kind === 'v') out.push(e.blobs);
  return out;
}

async function readBack(repo: Repository, blobs: string[]): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const b of repo.points().readContent(blobs)) parts.push(b);
  return Buffer.concat(parts);
}

describe('packs', () => {
  it('round trip: content of two objects comes back exactly, and what they share is stored once', async () => {
    const { repo, repoPath, clock } = await newRepo(true);
    const shared = randomBuffer(1, 3 * MIB + 12_345);
    const a = [shared, randomBuffer(2, 700), Buffer.alloc(0), randomBuffer(3, 9 * MIB)];
    const b = [randomBuffer(4, 5000), shared];
    const pa = await writePoint(repo, 'm365:t:drive:a', a);
    clock.advance(60_000);
    const pb = await writePoint(repo, 'm365:t:drive:b', b);
    // The shared file cost the second object nothing but its small new file.
    expect(pb.manifest.summary.newBytes).toBeLessThan(64 * KIB);
    expect(pb.contents[1]).toEqual(pa.contents[0]);
    expect(pa.contents[2]).toEqual([]);
    // Content-defined blobs: the 9 MiB file is several blobs, each between the minimum and maximum size.
    expect(pa.contents[3]!.length).toBeGreaterThan(2);
    for (const [i, f] of a.entries()) expect(sha(await readBack(repo, pa.contents[i]!))).toBe(sha(f));
    for (const [i, f] of b.entries()) expect(sha(await readBack(repo, pb.contents[i]!))).toBe(sha(f));

    const listed = await repo.points().list();
    expect(listed.map((p) => [p.id, p.objectKey])).toEqual([
      [pa.manifest.id, 'm365:t:drive:a'],
      [pb.manifest.id, 'm365:t:drive:b'],
    ]);
    expect(await logContents(repo, pb.manifest.id)).toEqual(pb.contents);
    // VM backups do not see points, and points live in their own directories.
    expect(await repo.listBackups()).toEqual([]);
    expect((await filesUnder(path.join(repoPath, 'points'))).length).toBe(2);
    // A fresh open (no cached state) reads the same.
    const again = await Repository.open(repoPath, { password: 'pw' }, { threads: 1 });
    repos.push(again);
    expect(sha(await readBack(again, pa.contents[3]!))).toBe(sha(a[3]!));
    expect((await again.verify()).ok).toBe(true);
  });

  it('10,000 small items become a few pack files, not 10,000', async () => {
    const { repo, repoPath } = await newRepo(false);
    const files: Buffer[] = [];
    let total = 0;
    const p = new Prng(9);
    for (let i = 0; i < 10_000; i++) {
      const f = randomBuffer(1000 + i, 200 + p.int(3800));
      files.push(f);
      total += f.length;
    }
    const { manifest } = await writePoint(repo, 'm365:t:drive:small', files);
    const packs = (await filesUnder(path.join(repoPath, 'packs'))).length;
    const other = (await filesUnder(path.join(repoPath, 'index'))).length + (await filesUnder(path.join(repoPath, 'points'))).length;
    // Target: at most one destination file per 4 MiB of small items (here ≈ 20 MiB: 5 files), everything included.
    expect(packs + other).toBeLessThanOrEqual(Math.ceil(total / (4 * MIB)));
    // One blob per file, plus the object log's.
    expect(manifest.summary.newBlobs).toBe(10_000 + manifest.metadata.blobs.length);
  });

  it('GC after deleting a point removes exactly what no remaining point needs; repacks a partly used pack', async () => {
    const { repo, clock } = await newRepo(true);
    const common = Array.from({ length: 40 }, (_, i) => randomBuffer(100 + i, 20 * KIB));
    const only1 = Array.from({ length: 40 }, (_, i) => randomBuffer(200 + i, 20 * KIB));
    const only3 = [randomBuffer(300, 50 * KIB)];
    // Small packs so a point spans several and a deleted point leaves some partly used.
    const p1 = await writePoint(repo, 'obj', [...common, ...only1], 256 * KIB);
    clock.advance(1000);
    const p2 = await writePoint(repo, 'obj', common, 256 * KIB);
    clock.advance(1000);
    const p3 = await writePoint(repo, 'obj', [...common, ...only3], 256 * KIB);

    const before = await repo.points().inventory();
    expect(await repo.points().delete(p1.manifest.id)).toBe(true);
    const gc = await repo.gc();
    expect(gc.packs).not.toBeNull();
    const r = gc.packs!;
    expect(r.missingBlobs).toBe(0);
    expect(r.points).toBe(2);
    expect(r.packsDeleted).toBeGreaterThan(0);
    expect(r.packsRepacked).toBeGreaterThan(0);
    expect(r.blobsRemoved).toBeGreaterThanOrEqual(40 + 1); // only1's blobs and p1's log
    expect(r.indexFilesAfter).toBe(1);
    // Exactly what the remaining points need is left: p1's own blobs were in packs that GC
    // deleted (wholly unused) or repacked (≥ 20 % unused, or small), and nothing they need went.
    const needed = new Set([...p2.contents.flat(), ...p3.contents.flat(), ...p2.manifest.metadata.blobs, ...p3.manifest.metadata.blobs]);
    const after = await repo.points().inventory();
    expect(new Set(after.flatMap((p) => p.blobs.map((b) => b.id)))).toEqual(needed);
    expect(before.flatMap((p) => p.blobs).length - after.flatMap((p) => p.blobs).length).toBe(r.blobsRemoved);
    expect(after.length).toBeLessThan(before.length);

    for (const c of p1.contents.slice(40)) await expect(readBack(repo, c)).rejects.toBeInstanceOf(BlobMissingError);
    for (const [i, c] of p3.contents.entries()) expect(sha(await readBack(repo, c))).toBe(sha([...common, ...only3][i]!));
    expect(await logContents(repo, p2.manifest.id)).toEqual(p2.contents);
    const v = await repo.verify();
    expect(v.packs?.ok).toBe(true);
    expect(v.ok).toBe(true);

    // A second GC has nothing left to do.
    const again = (await repo.gc()).packs!;
    expect(again.packsDeleted + again.packsRepacked + again.blobsRemoved).toBe(0);
  });

  it('GC policy: a pack with 20 % or more unused is repacked, one with less is kept as it is', async () => {
    const { repo, clock } = await newRepo(true);
    const big = (seed: number, mib: number): Buffer => randomBuffer(seed, mib * MIB);
    const a = [big(1, 2.5), big(2, 2.5), big(3, 2.5)];
    const b = big(4, 1);
    const c = [big(5, 2.5), big(6, 2.5), big(7, 2.5)];
    const d = big(8, 2.5);
    const pa = await writePoint(repo, 'A', [...a, b]); // one 8 MiB pack: a1-a3 and b (more or less)
    const pc = await writePoint(repo, 'C', [...c, d]);
    clock.advance(1000);
    await writePoint(repo, 'A', a); // b no longer needed: about 1 of 8.5 MiB
    const keepC = await writePoint(repo, 'C', c.slice(0, 2)); // c3 and d no longer needed: 5 of 10 MiB
    const packOf = async (blob: string): Promise<string | undefined> => (await repo.points().inventory()).find((p) => p.blobs.some((x) => x.id === blob))?.packId;
    const packA = await packOf(pa.contents[0]![0]!);
    const packC = await packOf(pc.contents[0]![0]!);
    await repo.points().delete(pa.manifest.id);
    await repo.points().delete(pc.manifest.id);
    const gc = (await repo.gc()).packs!;
    expect(gc.missingBlobs).toBe(0);
    expect(await packOf(pa.contents[0]![0]!)).toBe(packA); // kept: under 20 % unused
    expect(await packOf(pa.contents[3]![0]!)).toBe(packA); // so b's blob stays in it for now
    const movedC = await packOf(pc.contents[0]![0]!);
    expect(movedC).toBeDefined();
    expect(movedC).not.toBe(packC); // repacked
    expect(await packOf(pc.contents[3]![pc.contents[3]!.length - 1]!)).toBeUndefined(); // d is gone
    for (const [i, f] of c.slice(0, 2).entries()) expect(sha(await readBack(repo, keepC.contents[i]!))).toBe(sha(f));
    expect((await repo.verify()).ok).toBe(true);
  });

  it('retention applies per object and keeps what it must; the blobs go with GC', async () => {
    const { repo, clock } = await newRepo(false);
    const made: Record<string, string[]> = { a: [], b: [] };
    for (let day = 0; day < 3; day++) {
      for (const o of ['a', 'b']) made[o]!.push((await writePoint(repo, o, [randomBuffer(day * 10 + o.charCodeAt(0), 8 * KIB)])).manifest.id);
      clock.advance(86_400_000);
    }
    const dry = await repo.points().prune({ keepLast: 2 }, { dryRun: true, objectKeys: ['a'] });
    expect(dry.removed.map((r) => r.id)).toEqual([made.a![0]]);
    expect((await repo.points().list()).length).toBe(6);
    const real = await repo.points().prune({ keepLast: 1 }, { protectedIds: new Set([made.b![0]!]) });
    expect(real.removed.map((r) => r.id).sort()).toEqual([made.a![0], made.a![1], made.b![1]].sort());
    expect((await repo.points().list()).map((p) => p.id).sort()).toEqual([made.a![2], made.b![0], made.b![2]].sort());
    const gc = (await repo.gc()).packs!;
    expect(gc.missingBlobs).toBe(0);
    expect(gc.blobsRemoved).toBe(3 * 2); // each removed point's file and log
  });

  it('verify names the damaged blob, its pack and the points that need it; a damaged manifest is reported', async () => {
    const { repo, repoPath, clock } = await newRepo(true);
    const f1 = randomBuffer(11, 40 * KIB);
    const f2 = randomBuffer(12, 40 * KIB);
    const p1 = await writePoint(repo, 'obj', [f1, f2]);
    clock.advance(1000);
    const p2 = await writePoint(repo, 'obj', [f1]);
    clock.advance(1000);
    const p3 = await writePoint(repo, 'other', [f2]);

    const index = await repo.points().blobs();
    const f1Blob = p1.contents[0]![0]!;
    const loc = index.locate(f1Blob)!;
    const packPath = path.join(repoPath, 'packs', loc.packId.slice(0, 2), loc.packId);
    const raw = await readFile(packPath);
    raw[loc.entry.offset + Math.floor(loc.entry.length / 2)]! ^= 0x01;
    await writeFile(packPath, raw);

    const v = await repo.verify();
    expect(v.ok).toBe(false);
    const packs = v.packs!;
    expect(packs.problems).toEqual([expect.objectContaining({ blobId: f1Blob, packId: loc.packId, kind: 'corrupt', role: 'content', points: [p1.manifest.id, p2.manifest.id] })]);
    expect(packs.damagedPacks.map((d) => d.packId)).toEqual([loc.packId]);
    expect(packs.affectedPoints).toEqual([p1.manifest.id, p2.manifest.id].sort());
    expect(packs.affectedPoints).not.toContain(p3.manifest.id);

    // A flipped byte in a point manifest.
    const manifestPath = path.join(repoPath, 'points', `${p3.manifest.id}.point`);
    const m = await readFile(manifestPath);
    m[m.length - 20]! ^= 0x40;
    await writeFile(manifestPath, m);
    const v2 = (await repo.verify()).packs!;
    expect(v2.damagedPoints.map((d) => d.pointId)).toEqual([p3.manifest.id]);
    expect(v2.affectedPoints).toContain(p3.manifest.id);
    // GC refuses to delete anything while a manifest cannot be read.
    await expect(repo.gc()).rejects.toMatchObject({ code: 'MANIFEST_CORRUPT' });
    expect((await stat(packPath)).isFile()).toBe(true);
  });
});
