/**
 * The repository on a real S3 gateway (a throwaway Ceph cluster, tests/support/ceph-rgw.ts):
 * the same library calls as on a directory — backup of a disk image file, incrementals,
 * bit-exact restores of every point, verify finding a damaged object, prune + GC freeing
 * objects, re-import from the bucket alone, object lock, and the gateway going away mid-backup.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { GetObjectCommand, GetObjectRetentionCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { S3Repository } from '../../../common/s3-location.js';
import { Repository, RepositoryError, openFileSource, type DiskSource } from '../../../node-service/repository/index.js';
import { forEachChunkObject } from '../../../node-service/repository/format.js';
import { S3FileSystem, s3RequestTrace, type S3RequestTrace } from '../../../node-service/repository/s3/s3-file-system.js';
import { s3ClientFor } from '../../../node-service/repository/s3/s3-client.js';
import { startCephGateway, type CephGateway } from '../../support/ceph-rgw.js';
import { FakeClock, KIB, MIB, TEST_KDF, TempDirs, makeImage } from '../../unit/repository/helpers.js';

const dirs = new TempDirs();
const repos: Repository[] = [];
let gw: CephGateway;
let s3: S3Client;

beforeAll(async () => {
  gw = await startCephGateway();
  s3 = gw.client();
}, 120_000);
afterAll(async () => {
  s3?.destroy();
  await gw?.stop();
});
afterEach(async () => {
  await Promise.all(repos.splice(0).map((r) => r.close()));
  await dirs.cleanup();
});

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

async function bucket(opts: { objectLock?: boolean } = {}): Promise<string> {
  const name = `t-${randomBytes(6).toString('hex')}`;
  await gw.createBucket(name, opts);
  return name;
}

async function keys(b: string, prefix: string): Promise<{ key: string; size: number }[]> {
  const out: { key: string; size: number }[] = [];
  let token: string | undefined;
  do {
    const res = await s3.send(new ListObjectsV2Command({ Bucket: b, Prefix: prefix, ...(token ? { ContinuationToken: token } : {}) }));
    for (const o of res.Contents ?? []) out.push({ key: o.Key!, size: o.Size ?? 0 });
    token = res.IsTruncated ? res.NextContinuationToken : undefined;
  } while (token);
  return out;
}

/** A disk image file: random and text-like data, zero holes, an odd size. */
async function imageFile(size: number, seed: number): Promise<{ file: string; img: Buffer }> {
  const img = makeImage(size, [
    { kind: 'random', offset: 0, length: 900 * KIB, seed },
    { kind: 'text', offset: 2 * MIB, length: 1200 * KIB, seed: seed + 1 },
    { kind: 'random', offset: size - 300 * KIB, length: 300 * KIB, seed: seed + 2 },
  ]);
  const file = path.join(await dirs.make(), 'disk.raw');
  await writeFile(file, img);
  return { file, img };
}

async function backupFile(repo: Repository, file: string, group: string, changes?: Parameters<Awaited<ReturnType<Repository['startBackup']>>['writeDisk']>[3]): Promise<string> {
  const src = await openFileSource(file);
  try {
    const w = await repo.startBackup({ group, source: { vm: group } });
    await w.writeDisk('vda', src.size, src.source, changes ?? {});
    return (await w.commit()).id;
  } finally {
    await src.close();
  }
}

async function restored(repo: Repository, id: string): Promise<Buffer> {
  const out = path.join(await dirs.make(), 'restored.raw');
  const reader = await repo.openBackup(id);
  await reader.restoreToFile('vda', out);
  return readFile(out);
}

function location(b: string, extra: Partial<S3Repository> = {}): { s3: S3Repository } {
  return { s3: gw.location(b, { prefix: 'vplus/repo', ...extra }) };
}

describe('repository on S3 (Ceph RGW)', () => {
  it('backs up a disk image fully and incrementally, restores every point bit-exact, and re-imports from the bucket alone', async () => {
    const b = await bucket();
    const repo = await Repository.init(location(b), { password: 'pw', kdf: TEST_KDF, chunkSize: 256 * KIB }, { threads: 2 });
    repos.push(repo);
    expect(repo.path).toBe(`s3://${b}/vplus/repo at ${gw.endpoint}`);
    const size = 5 * MIB + 4321;
    const { file, img } = await imageFile(size, 11);
    const first = await backupFile(repo, file, 'vm:a');

    // Change 3 ranges; the incremental reads and stores only those chunks.
    const next = Buffer.from(img);
    const dirty = [
      { offset: 100 * KIB, length: 64 * KIB },
      { offset: 3 * MIB, length: 10 * KIB },
      { offset: size - 1000, length: 1000 },
    ];
    for (const d of dirty) randomBytes(d.length).copy(next, d.offset);
    await writeFile(file, next);
    const manifest = await repo.loadManifest(first);
    const second = await backupFile(repo, file, 'vm:a', { changes: { previous: manifest, dirty } });
    const m2 = await repo.loadManifest(second);
    expect(m2.kind).toBe('incremental');
    expect(m2.summary.newChunks).toBe(3);

    expect(sha(await restored(repo, first))).toBe(sha(img));
    expect(sha(await restored(repo, second))).toBe(sha(next));
    // The streaming path (main-thread fetch, decoded in a worker) agrees.
    const reader = await repo.openBackup(second);
    expect(sha(await reader.readRange('vda', 0, size))).toBe(sha(next));

    // The objects are where FORMAT.md says.
    const stored = await keys(b, 'vplus/repo/');
    expect(stored.some((o) => o.key === 'vplus/repo/config.json')).toBe(true);
    expect(stored.filter((o) => o.key.startsWith('vplus/repo/backups/')).map((o) => o.key).sort()).toEqual([`vplus/repo/backups/${first}.manifest`, `vplus/repo/backups/${second}.manifest`].sort());
    expect(stored.some((o) => /^vplus\/repo\/chunks\/([0-9a-f]{2})\/\1[0-9a-f]{62}$/.test(o.key))).toBe(true);
    expect(stored.filter((o) => o.key.startsWith('vplus/repo/locks/'))).toEqual([]);

    // Re-import: a fresh open of the bucket lists the same backups and restores them.
    const again = await Repository.open(location(b), { password: 'pw' }, { threads: 1 });
    repos.push(again);
    expect((await again.listBackups()).map((x) => x.id)).toEqual([first, second]);
    expect(sha(await restored(again, first))).toBe(sha(img));
    await expect(Repository.open(location(b), { password: 'wrong' })).rejects.toMatchObject({ code: 'REPO_WRONG_PASSWORD' });
    await expect(Repository.init(location(b), {})).rejects.toMatchObject({ code: 'REPO_ALREADY_EXISTS' });
  }, 120_000);

  it('verify names the backups of a damaged chunk object; prune + GC delete the unreferenced objects', async () => {
    const b = await bucket();
    const repo = await Repository.init(location(b, { prefix: '' }), { chunkSize: 256 * KIB }, { threads: 2 });
    repos.push(repo);
    const { file: f1, img: img1 } = await imageFile(3 * MIB, 21);
    const { file: f2, img: img2 } = await imageFile(3 * MIB, 31);
    const a = await backupFile(repo, f1, 'vm:a');
    const c = await backupFile(repo, f2, 'vm:a');
    expect((await repo.verify()).ok).toBe(true);

    // Flip bytes in one chunk of the first backup only.
    const m1 = await repo.loadManifest(a);
    const m2 = await repo.loadManifest(c);
    const only1 = (m1.disks[0]!.chunks.filter((e): e is string => typeof e === 'string')).find((id) => !m2.disks[0]!.chunks.includes(id))!;
    const key = `chunks/${only1.slice(0, 2)}/${only1}`;
    const obj = await s3.send(new GetObjectCommand({ Bucket: b, Key: key }));
    const bytes = Buffer.from(await obj.Body!.transformToByteArray());
    bytes[bytes.length - 40]! ^= 0xff;
    await s3.send(new PutObjectCommand({ Bucket: b, Key: key, Body: bytes }));
    const report = await repo.verify();
    expect(report.ok).toBe(false);
    expect(report.problems).toEqual([expect.objectContaining({ chunkId: only1, kind: 'corrupt', backups: [a] })]);
    expect(report.affectedBackups).toEqual([a]);

    const chunksBefore = (await keys(b, 'chunks/')).length;
    const pruned = await repo.prune({ keepLast: 1 });
    expect(pruned.removed.map((r) => r.id)).toEqual([a]);
    const gc = await repo.gc();
    const onlyInFirst = new Set((m1.disks[0]!.chunks.filter((e): e is string => typeof e === 'string')).filter((id) => !m2.disks[0]!.chunks.includes(id)));
    expect(gc.removedChunks).toBe(onlyInFirst.size);
    expect(gc.removedChunks).toBeGreaterThan(0);
    expect(gc.freedBytes).toBeGreaterThan(0);
    expect(gc.missingChunks).toBe(0);
    expect(gc.locked).toBe(0);
    expect((await keys(b, 'chunks/')).length).toBe(chunksBefore - gc.removedChunks);
    const stats = await repo.stats();
    expect(stats.unreferencedChunks).toBe(0);
    expect(stats.backups).toBe(1);
    expect(sha(await restored(repo, c))).toBe(sha(img2));
    expect((await repo.verify()).ok).toBe(true);
    expect(sha(img1)).not.toBe(sha(img2));
  }, 120_000);

  it('object lock: locked backups refuse deletion, GC reports locked objects, reused chunks stay locked as long as the backup', async () => {
    const b = await bucket({ objectLock: true });
    const clock = new FakeClock(Date.now());
    const loc = location(b, { lock: { mode: 'governance', days: 1 } });
    const repo = await Repository.init(loc, { chunkSize: 256 * KIB }, { threads: 2, clock });
    repos.push(repo);
    const { file, img } = await imageFile(3 * MIB, 41);
    const first = await backupFile(repo, file, 'vm:a');

    const retention = async (key: string): Promise<number> => {
      const r = await s3.send(new GetObjectRetentionCommand({ Bucket: b, Key: `vplus/repo/${key}` }));
      return r.Retention!.RetainUntilDate!.getTime();
    };
    // Every object a backup needs: whole chunks, and an overlay's base and parts (the 4 KiB incrementals are overlays).
    const chunksOf = async (id: string): Promise<string[]> => {
      const ids = new Set<string>();
      forEachChunkObject((await repo.loadManifest(id)).disks[0]!, (c) => ids.add(c));
      return [...ids];
    };
    const retentionRequests = async (): Promise<number> => (await gw.requests()).filter((r) => r.method === 'PUT' && r.target.includes('retention')).length;
    const firstUntil = await retention(`backups/${first}.manifest`);
    // Locked for 1.5 days from the backup (extension amortised over half a period).
    expect(firstUntil).toBeGreaterThanOrEqual(clock.now() + 86_400_000);
    for (const id of await chunksOf(first)) expect(await retention(`chunks/${id.slice(0, 2)}/${id}`)).toBeGreaterThanOrEqual(firstUntil);

    // An hour later: the chain's date still covers a day + margin, so nothing is extended.
    clock.advance(3_600_000);
    const before = await retentionRequests();
    const second = await backupFile(repo, file, 'vm:a', { changes: { previous: await repo.loadManifest(first), dirty: [{ offset: 0, length: 4096 }] } });
    expect(await retentionRequests()).toBe(before);
    expect(await retention(`backups/${second}.manifest`)).toBe(firstUntil);

    // 14 hours later the date would not cover a day + margin: every reused chunk is extended once, in bulk.
    clock.advance(13 * 3_600_000);
    const third = await backupFile(repo, file, 'vm:a', { changes: { previous: await repo.loadManifest(second), dirty: [{ offset: 0, length: 4096 }] } });
    const thirdUntil = await retention(`backups/${third}.manifest`);
    expect(thirdUntil).toBeGreaterThanOrEqual(clock.now() + 86_400_000);
    const chunks3 = await chunksOf(third);
    // (the dirty range holds the same data, so the third backup writes no chunk: it reuses all of them)
    expect((await repo.loadManifest(third)).summary.newChunks).toBe(0);
    expect((await retentionRequests()) - before).toBe(chunks3.length);
    for (const id of chunks3) expect(await retention(`chunks/${id.slice(0, 2)}/${id}`)).toBeGreaterThanOrEqual(thirdUntil);

    // Deleting a locked backup is refused, naming it and its lock end; prune keeps it and says why.
    const err = await repo.deleteBackup(first).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RepositoryError);
    expect(err).toMatchObject({ code: 'REPO_OBJECT_LOCKED' });
    expect((err as Error).message).toContain(first);
    expect((err as Error).message).toContain(new Date(firstUntil).toISOString());
    const pruned = await repo.prune({ keepLast: 1 });
    expect(pruned.removed).toEqual([]);
    expect(pruned.locked?.map((l) => l.id).sort()).toEqual([first, second].sort());
    expect((await repo.listBackups()).length).toBe(3);

    // An aborted backup's chunks are unreferenced but locked: GC does not fail, it reports them.
    const other = await imageFile(2 * MIB, 51);
    const src = await openFileSource(other.file);
    const w = await repo.startBackup({ group: 'vm:b' });
    await w.writeDisk('vda', src.size, src.source);
    await src.close();
    await w.abort();
    const gc = await repo.gc();
    expect(gc.locked).toBeGreaterThan(0);
    expect(gc.removedChunks).toBe(0);
    expect(Date.parse(gc.lockedUntil!)).toBeGreaterThan(Date.now());
    expect(sha(await restored(repo, first))).toBe(sha(img));
  }, 120_000);

  it('object lock: unused packs GC cannot delete yet are reported as locked, not as deleted or freed', async () => {
    const b = await bucket({ objectLock: true });
    const repo = await Repository.init(location(b, { lock: { mode: 'governance', days: 1 } }), {}, { threads: 1 });
    repos.push(repo);
    // An aborted point leaves its packs (written as they filled) unreferenced, and locked.
    const w = await repo.startPoint({ objectKey: 'm365:t:drive:a', packSize: 64 * KIB });
    for (let i = 0; i < 4; i++) await w.putContent(randomBytes(100 * KIB));
    await w.abort();
    const packs = (await keys(b, 'vplus/repo/packs/')).length;
    expect(packs).toBeGreaterThan(0);
    const gc = (await repo.gc()).packs!;
    expect(gc.lockedPacks).toBe(packs);
    expect(gc.packsDeleted).toBe(0);
    expect(gc.freedBytes).toBeLessThanOrEqual(0);
    expect(Date.parse(gc.lockedUntil!)).toBeGreaterThan(Date.now());
    expect((await keys(b, 'vplus/repo/packs/')).length).toBe(packs);
  }, 120_000);

  it('the gateway stopped mid-backup fails the backup cleanly (no manifest); after it is back the next backup succeeds and earlier ones restore', async () => {
    const b = await bucket();
    const repo = await Repository.init(location(b), { chunkSize: 256 * KIB }, { threads: 2 });
    repos.push(repo);
    const { file, img } = await imageFile(4 * MIB, 61);
    const first = await backupFile(repo, file, 'vm:a');

    const big = await imageFile(6 * MIB, 71);
    const src = await openFileSource(big.file);
    let read = 0;
    let stopping: Promise<void> | undefined;
    const source: DiskSource = {
      kind: 'random-access',
      read: async (into, position) => {
        read += into.length;
        if (read > 2 * MIB) await (stopping ??= gw.stopGateway());
        return src.source.kind === 'random-access' ? src.source.read(into, position) : 0;
      },
    };
    const w = await repo.startBackup({ group: 'vm:a' });
    const failure = await w.writeDisk('vda', src.size, source).then(
      () => null,
      (e: unknown) => e,
    );
    await src.close();
    expect(failure).toBeInstanceOf(RepositoryError);
    expect((failure as RepositoryError).code).toBe('REPO_IO_ERROR');
    expect((failure as Error).message).toMatch(/S3 request failed on s3:\/\//);
    await expect(w.commit()).rejects.toMatchObject({ code: 'WRITER_CLOSED' });

    await gw.startGateway();
    expect((await keys(b, 'vplus/repo/backups/')).length).toBe(1);
    const second = await backupFile(repo, big.file, 'vm:a');
    expect((await repo.listBackups()).map((x) => x.id)).toEqual([first, second]);
    expect(sha(await restored(repo, first))).toBe(sha(img));
    expect(sha(await restored(repo, second))).toBe(sha(big.img));
  }, 180_000);
});

describe('S3FileSystem', () => {
  function store(b: string, prefix = 'p', listPageSize?: number): S3FileSystem {
    const loc = gw.location(b, { prefix });
    return new S3FileSystem({ client: s3ClientFor(loc), location: loc, root: `s3://${b}/${prefix}`, ...(listPageSize ? { listPageSize } : {}) });
  }

  it('uploads objects over 8 MiB in parts and checks them by size, not by the ETag', async () => {
    const b = await bucket();
    const fs = store(b);
    const data = randomBytes(20 * MIB + 17);
    await fs.writeFileAtomic(`s3://${b}/p/packs/ab/big`, data);
    expect(fs.counts.POST).toBe(2); // create + complete
    expect(sha(await fs.readFile(`s3://${b}/p/packs/ab/big`))).toBe(sha(data));
    const part = Buffer.alloc(1000);
    const f = await fs.openRead(`s3://${b}/p/packs/ab/big`);
    expect(await f.read(part, 9 * MIB)).toBe(1000);
    expect(part.equals(data.subarray(9 * MIB, 9 * MIB + 1000))).toBe(true);
    fs.client.destroy();
  }, 60_000);

  it('creates a manifest only if absent, by conditional write or by the claim protocol', async () => {
    const b = await bucket();
    const fs = store(b);
    const file = `s3://${b}/p/backups/x.manifest`;
    await fs.createExclusive(file, Buffer.from('one'));
    await expect(fs.createExclusive(file, Buffer.from('two'))).rejects.toMatchObject({ code: 'EEXIST' });
    expect((await fs.readFile(file)).toString()).toBe('one');
    // Without conditional writes (a store that ignores If-None-Match): the claim protocol.
    const claims = store(b);
    Object.defineProperty(claims, 'conditionalWrites', { value: async () => false });
    await expect(claims.createExclusive(file, Buffer.from('three'))).rejects.toMatchObject({ code: 'EEXIST' });
    const other = `s3://${b}/p/backups/y.manifest`;
    const results = await Promise.allSettled([claims.createExclusive(other, Buffer.from('a')), claims.createExclusive(other, Buffer.from('b'))]);
    expect(results.filter((r) => r.status === 'fulfilled').length).toBeLessThanOrEqual(1);
    expect((await keys(b, 'p/locks/')).length).toBe(0);
    console.log(`conditional writes on this gateway: ${await fs.conditionalWrites()}`);
    fs.client.destroy();
    claims.client.destroy();
  }, 60_000);

  it('lists with pagination (over 1000 objects)', async () => {
    const b = await bucket();
    const fs = store(b);
    const ids = Array.from({ length: 1003 }, () => randomBytes(32).toString('hex'));
    const body = Buffer.alloc(20);
    const queue = [...ids];
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        for (let id = queue.pop(); id; id = queue.pop()) await s3.send(new PutObjectCommand({ Bucket: b, Key: `p/chunks/${id.slice(0, 2)}/${id}`, Body: body }));
      }),
    );
    expect([...(await fs.listChunkIds())].sort()).toEqual([...ids].sort());
    expect((await fs.readdir(`s3://${b}/p/chunks`)).length).toBe(new Set(ids.map((i) => i.slice(0, 2))).size);
    fs.client.destroy();
  }, 120_000);

  it('lists chunks/ of many pages as parallel ranges by leading hex digits, missing and repeating none', async () => {
    const b = await bucket();
    const ids = Array.from({ length: 200 }, () => randomBytes(32).toString('hex'));
    // Crowded spots: one shard of more pages than one (split down to its own pagination), one leading digit of many shards.
    for (let i = 0; i < 40; i++) ids.push(`a7${randomBytes(31).toString('hex')}`);
    for (let i = 0; i < 40; i++) ids.push(`3${randomBytes(32).toString('hex').slice(1)}`);
    ids.push(`00${'0'.repeat(62)}`, `ff${'f'.repeat(62)}`);
    const body = Buffer.alloc(20);
    const extra = ['p/chunks/a7/not-a-chunk', `p/chunks/a7/${'1'.repeat(64)}`, `p/chunksx/${'2'.repeat(64)}`, 'p/chunks/zz/x'];
    const queue = [...ids.map((id) => `p/chunks/${id.slice(0, 2)}/${id}`), ...extra];
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        for (let key = queue.pop(); key; key = queue.pop()) await s3.send(new PutObjectCommand({ Bucket: b, Key: key, Body: body }));
      }),
    );
    // A chunk in the wrong shard is still a listed id (as before); keys that are not chunk ids are not.
    const expected = [...new Set([...ids, '1'.repeat(64)])].sort();
    const paged = store(b, 'p', 7);
    const lists: S3RequestTrace[] = [];
    s3RequestTrace.sink = (t) => {
      if (t.kind === 'LIST') lists.push(t);
    };
    let listed: Set<string>;
    try {
      listed = await paged.listChunkIds();
    } finally {
      delete s3RequestTrace.sink;
    }
    expect([...listed].sort()).toEqual(expected);
    // The ranges were listed at once, not page after page: some listings overlapped in time.
    const overlapping = Math.max(...lists.map((a) => lists.filter((o) => o.startMs < a.endMs && o.endMs > a.startMs).length));
    expect(overlapping).toBeGreaterThan(1);
    expect(paged.counts.LIST).toBe(lists.length);
    // One page's worth: a single request.
    const one = store(b, 'p', 1000);
    expect([...(await one.listChunkIds())].sort()).toEqual(expected);
    expect(one.counts.LIST).toBe(1);
    paged.client.destroy();
    one.client.destroy();
  }, 120_000);
});
