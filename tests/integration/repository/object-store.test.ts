import { createHash } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openObjectStore, type ItemInput, type ObjectStore } from '../../../node-service/cloud/metadata/index.js';
import { Repository } from '../../../node-service/repository/index.js';
import { FakeClock, Prng, TEST_KDF, TempDirs } from '../../unit/repository/helpers.js';

const KIB = 1024;
const dirs = new TempDirs();
const repos: Repository[] = [];
const stores: ObjectStore[] = [];
afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
  await Promise.all(repos.splice(0).map((r) => r.close()));
  await dirs.cleanup();
});

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const OBJECT = 'm365:tenant-1:drive:b!alice';

function content(seed: number, size: number): Buffer {
  const b = Buffer.alloc(size);
  new Prng(seed).fill(b);
  return b;
}

async function setup(encrypted = true): Promise<{ repo: Repository; repoPath: string; workDir: string; clock: FakeClock }> {
  const clock = new FakeClock(Date.parse('2026-03-02T08:00:00Z'));
  const base = await dirs.make('vplus-objstore-');
  const repoPath = path.join(base, 'repo');
  const repo = await Repository.init(repoPath, encrypted ? { password: 'pw', kdf: TEST_KDF } : {}, { clock, threads: 1 });
  repos.push(repo);
  return { repo, repoPath, workDir: path.join(base, 'work'), clock };
}

async function open(repo: Repository, workDir: string, objectKey = OBJECT): Promise<ObjectStore> {
  const s = await openObjectStore(repo, objectKey, { workDir, packSize: 256 * KIB });
  stores.push(s);
  return s;
}

async function file(store: ObjectStore, id: string, parentId: string, name: string, data: Buffer, extra: Partial<ItemInput> = {}): Promise<void> {
  const stored = await store.putContent(data);
  store.upsertItem({ id, parentId, name, kind: 'file', content: stored, modifiedAt: '2026-03-01T12:00:00Z', ...extra });
}

const folder = (store: ObjectStore, id: string, parentId: string | null, name: string): void => {
  store.upsertItem({ id, parentId, name, kind: 'folder' });
};

/** Every path of a point, depth first, with each file's content hash. */
async function tree(store: ObjectStore, pointId: string, folderPath = '/'): Promise<string[]> {
  const out: string[] = [];
  for (const item of await store.listChildren(pointId, folderPath)) {
    if (item.kind === 'folder') out.push(`${item.path}/`, ...(await tree(store, pointId, item.path)));
    else {
      const parts: Buffer[] = [];
      for await (const b of store.readContent(pointId, item.id)) parts.push(b);
      out.push(`${item.path} ${sha(Buffer.concat(parts)).slice(0, 8)}`);
    }
  }
  return out;
}

const A1 = content(1, 30 * KIB);
const A2 = content(2, 31 * KIB);
const B = content(3, 5 * KIB);
const P = content(4, 700 * KIB);
const N = content(5, 2 * KIB);
const U = content(6, 100);
const h = (b: Buffer): string => sha(b).slice(0, 8);

/** Three points of one drive: add, edit, rename, move, delete (folders too), unicode names. */
async function threePoints(store: ObjectStore, clock: FakeClock): Promise<string[]> {
  await store.beginPoint({ mode: 'full', source: { user: 'alice@contoso.example' } });
  folder(store, 'root', null, 'root');
  folder(store, 'docs', 'root', 'Docs');
  folder(store, 'pics', 'root', 'Pics');
  await file(store, 'a', 'docs', 'a.txt', A1);
  await file(store, 'b', 'docs', 'b.txt', B);
  await file(store, 'p', 'pics', 'p.jpg', P);
  const p1 = await store.commitPoint({ deltaLink: 'delta-1' });
  clock.advance(86_400_000);

  await store.beginPoint();
  await file(store, 'a', 'docs', 'a.txt', A2); // edited
  store.upsertItem({ id: 'b', parentId: 'docs', name: 'c.txt', kind: 'file', modifiedAt: '2026-03-01T12:00:00Z' }); // renamed, content kept
  store.upsertItem({ id: 'p', parentId: 'docs', name: 'p.jpg', kind: 'file', modifiedAt: '2026-03-01T12:00:00Z' }); // moved
  await file(store, 'n', 'docs', 'new.txt', N);
  expect(store.markDeleted('pics')).toBe(1);
  const p2 = await store.commitPoint({ deltaLink: 'delta-2' });
  clock.advance(86_400_000);

  await store.beginPoint();
  expect(store.markDeleted('a')).toBe(1);
  folder(store, 'docs', 'root', 'Documents'); // a folder renamed: its children follow
  await file(store, 'u', 'root', 'Übersicht – Zürich.txt', U);
  const p3 = await store.commitPoint({ deltaLink: 'delta-3' });
  return [p1.id, p2.id, p3.id];
}

const EXPECTED = [
  ['/Docs/', `/Docs/a.txt ${h(A1)}`, `/Docs/b.txt ${h(B)}`, '/Pics/', `/Pics/p.jpg ${h(P)}`],
  ['/Docs/', `/Docs/a.txt ${h(A2)}`, `/Docs/c.txt ${h(B)}`, `/Docs/new.txt ${h(N)}`, `/Docs/p.jpg ${h(P)}`],
  ['/Documents/', `/Documents/c.txt ${h(B)}`, `/Documents/new.txt ${h(N)}`, `/Documents/p.jpg ${h(P)}`, `/Übersicht – Zürich.txt ${h(U)}`],
];

describe('object metadata store', () => {
  it('every point is a complete view of its own state: add, edit, rename, move, delete over three points', async () => {
    const { repo, workDir, clock } = await setup();
    const store = await open(repo, workDir);
    expect(store.baseline).toBe('none');
    const ids = await threePoints(store, clock);
    for (const [i, id] of ids.entries()) expect(await tree(store, id)).toEqual(EXPECTED[i]);
    expect((await store.find(ids[1]!, '*.TXT')).map((x) => x.path)).toEqual(['/Docs/a.txt', '/Docs/c.txt', '/Docs/new.txt']);
    expect((await store.find(ids[2]!, 'Ü*')).map((x) => x.path)).toEqual(['/Übersicht – Zürich.txt']);
    expect(await store.getItem(ids[0]!, { id: 'pics' })).toMatchObject({ path: '/Pics', kind: 'folder' });
    expect(await store.getItem(ids[2]!, { id: 'pics' })).toBeNull();
    const points = await store.points();
    expect(points.map((p) => [p.kind, p.summary.files, p.summary.folders, p.summary.added, p.summary.changed, p.summary.removed])).toEqual([
      ['full', 3, 3, 6, 0, 0],
      ['incremental', 4, 2, 1, 3, 1],
      ['incremental', 4, 2, 1, 1, 1],
    ]);
    expect(store.deltaLink()).toBe('delta-3');
  });

  it('a full enumeration (expired delta) tombstones what it did not see; an aborted point leaves nothing', async () => {
    const { repo, workDir } = await setup(false);
    const store = await open(repo, workDir);
    await store.beginPoint({ mode: 'full' });
    folder(store, 'root', null, 'root');
    await file(store, 'x', 'root', 'x.txt', A1);
    await file(store, 'y', 'root', 'y.txt', B);
    const p1 = await store.commitPoint({ deltaLink: 'd1' });

    await store.beginPoint();
    await file(store, 'z', 'root', 'z.txt', N);
    await store.abortPoint();
    expect((await store.points()).length).toBe(1);

    await store.beginPoint({ mode: 'full' });
    folder(store, 'root', null, 'root');
    store.upsertItem({ id: 'x', parentId: 'root', name: 'x.txt', kind: 'file', modifiedAt: '2026-03-01T12:00:00Z' });
    const p2 = await store.commitPoint({ deltaLink: 'd2' });
    expect((await store.listChildren(p1.id, '/')).map((i) => i.name)).toEqual(['x.txt', 'y.txt']);
    expect((await store.listChildren(p2.id, '/')).map((i) => i.name)).toEqual(['x.txt']);
    expect(p2.summary).toMatchObject({ removed: 1, files: 1 });
  });

  it('re-import: a new node lists the same points and views from the destination alone', async () => {
    const { repo, repoPath, workDir, clock } = await setup();
    const ids = await threePoints(await open(repo, workDir), clock);
    clock.advance(60_000);
    const other = await open(repo, path.join(workDir, 'other-object'), 'm365:tenant-1:drive:b!bob');
    await other.beginPoint({ mode: 'full' });
    folder(other, 'r', null, 'root');
    await file(other, 'q', 'r', 'q.txt', A1); // the same content as alice's a.txt: stored once
    const bobPoint = await other.commitPoint();
    expect(bobPoint.summary.newBytes! - bobPoint.summary.newMetadataBytes!).toBe(0);

    const fresh = await Repository.open(repoPath, { password: 'pw' }, { threads: 1 });
    repos.push(fresh);
    const listed = await fresh.points().list();
    expect(listed.map((p) => [p.id, p.objectKey, p.summary.files])).toEqual([
      [ids[0], OBJECT, 3],
      [ids[1], OBJECT, 4],
      [ids[2], OBJECT, 4],
      [bobPoint.id, 'm365:tenant-1:drive:b!bob', 1],
    ]);
    expect(listed[0]?.source).toEqual({ user: 'alice@contoso.example' });
    const rebuilt = await open(fresh, path.join(await dirs.make('vplus-newnode-'), 'work'));
    expect(rebuilt.baseline).toBe('restored');
    for (const [i, id] of ids.entries()) expect(await tree(rebuilt, id)).toEqual(EXPECTED[i]);
    expect(rebuilt.deltaLink()).toBe('delta-3');
  });

  it('an encrypted repository never shows an item name in clear on disk', async () => {
    const { repo, repoPath, workDir, clock } = await setup(true);
    const store = await open(repo, workDir);
    await threePoints(store, clock);
    await store.close();
    const names = ['Docs', 'Documents', 'a.txt', 'c.txt', 'p.jpg', 'new.txt', 'Übersicht', 'Zürich', 'alice@contoso', 'b!alice', 'delta-3'];
    const hits: string[] = [];
    for (const e of await readdir(repoPath, { recursive: true, withFileTypes: true })) {
      if (!e.isFile()) continue;
      const raw = await readFile(path.join(e.parentPath, e.name));
      for (const n of names) for (const enc of ['utf8', 'utf16le'] as const) if (raw.includes(Buffer.from(n, enc))) hits.push(`${e.name}: ${n}`);
    }
    expect(hits).toEqual([]);
    // Nor does the node keep a decrypted copy once the store is closed.
    expect(await readdir(path.join(workDir, repo.id))).toEqual([]);
  });

  it('GC after deleting a point keeps everything the remaining points need', async () => {
    const { repo, workDir, clock } = await setup();
    const store = await open(repo, workDir);
    const ids = await threePoints(store, clock);
    const blobsOfA1 = (await store.getItem(ids[0]!, { id: 'a' }))!.blobs!;
    expect(await repo.points().delete(ids[0]!)).toBe(true);
    const gc = (await repo.gc()).packs!;
    expect(gc.missingBlobs).toBe(0);
    expect(gc.blobsRemoved).toBeGreaterThan(0);
    expect(await repo.points().blobs().then((r) => r.locate(blobsOfA1[0]!))).toBeUndefined();
    for (const i of [1, 2]) expect(await tree(store, ids[i]!)).toEqual(EXPECTED[i]);
    // The next point drops what only the deleted point needed from the database too.
    await store.beginPoint();
    await file(store, 'm', 'root', 'more.txt', N);
    const p4 = await store.commitPoint();
    expect(await tree(store, p4.id)).toEqual([...EXPECTED[2]!.slice(0, 4), `/more.txt ${h(N)}`, EXPECTED[2]![4]]);
    expect((await repo.verify()).ok).toBe(true);
  });

  it('verify names the points and files a damaged content blob hurts, and a damaged metadata database', async () => {
    const { repo, repoPath, workDir, clock } = await setup();
    const store = await open(repo, workDir);
    const ids = await threePoints(store, clock);
    const reader = await repo.points().blobs();
    const flip = async (blobId: string): Promise<string> => {
      const loc = reader.locate(blobId)!;
      const file = path.join(repoPath, 'packs', loc.packId.slice(0, 2), loc.packId);
      const raw = await readFile(file);
      raw[loc.entry.offset + loc.entry.length - 3]! ^= 0x10;
      await writeFile(file, raw);
      return loc.packId;
    };
    const cBlob = (await store.getItem(ids[1]!, { id: 'b' }))!.blobs![0]!;
    const dataPack = await flip(cBlob);
    const m2 = await repo.points().load(ids[1]!);
    const metaPack = await flip(m2.metadata.blobs[0]!);

    const report = (await repo.verify()).packs!;
    expect(report.ok).toBe(false);
    const content = report.problems.find((p) => p.blobId === cBlob)!;
    expect(content).toMatchObject({ role: 'content', packId: dataPack, points: ids });
    expect(report.problems.find((p) => p.role === 'metadata')).toMatchObject({ blobId: m2.metadata.blobs[0], packId: metaPack, points: [ids[1]] });
    expect(report.damagedPacks.map((d) => d.packId).sort()).toEqual([dataPack, metaPack].sort());
    // The damaged content blob, in item terms: the file that needs it, at every point.
    for (const [i, id] of ids.entries()) {
      expect((await store.filesUsingBlobs(id, new Set([content.blobId]))).map((f) => f.path)).toEqual([['/Docs/b.txt', '/Docs/c.txt', '/Documents/c.txt'][i]]);
    }
    await expect((async () => {
      for await (const _ of repo.points().readLog(ids[1]!));
    })()).rejects.toMatchObject({ code: 'CHUNK_CORRUPT' });
  });
});
