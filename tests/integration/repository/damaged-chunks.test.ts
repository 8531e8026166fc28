/**
 * A damaged chunk is never reused by a new backup: verify records it, the next backup of
 * the same data stores it again from the source (healing older backups), a later verify
 * confirms the heal. Reproduces issue 9's first finding against the real library.
 */
import { existsSync } from 'node:fs';
import { open, readFile, truncate } from 'node:fs/promises';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Repository, type BackupManifest } from '../../../node-service/repository/index.js';
import { chunkRelPath, expandChunks, type OverlayChunk } from '../../../node-service/repository/format.js';
import { FakeClock, KIB, MIB, TEST_KDF, TempDirs, makeImage, memorySource, readAll } from '../../unit/repository/helpers.js';

const CHUNK = 256 * KIB;

/** Random bytes throughout: every chunk holds data, no two alike. */
function randomImage(seed: number, size: number): Buffer {
  return makeImage(size, [{ kind: 'random', offset: 0, length: size, seed }]);
}
const dirs = new TempDirs();
const repos: Repository[] = [];
afterEach(async () => {
  await Promise.all(repos.splice(0).map((r) => r.close()));
  await dirs.cleanup();
});

async function setup(): Promise<Repository> {
  const repo = await Repository.init(path.join(await dirs.make(), 'repo'), { chunkSize: CHUNK, password: 'pw-damaged', kdf: TEST_KDF }, { clock: new FakeClock(), threads: 2 });
  repos.push(repo);
  return repo;
}

async function backup(repo: Repository, img: Buffer, previous?: BackupManifest, dirty?: { offset: number; length: number }[], overlays = true) {
  const w = await repo.startBackup({ group: 'vm' });
  await w.writeDisk('vda', img.length, memorySource(img), previous ? { changes: { previous, dirty: dirty ?? [] }, overlays } : {});
  const manifest = await w.commit();
  return { manifest, healed: w.healedChunks, found: w.damagedChunksFound };
}

async function restored(repo: Repository, id: string): Promise<Buffer> {
  return readAll((await repo.openBackup(id)).readDisk('vda'));
}

async function flipByte(repo: Repository, chunkId: string, at = 40): Promise<void> {
  const fh = await open(path.join(repo.path, chunkRelPath(chunkId)), 'r+');
  try {
    const b = Buffer.alloc(1);
    await fh.read(b, 0, 1, at);
    b[0] = b[0]! ^ 0x5a;
    await fh.write(b, 0, 1, at);
  } finally {
    await fh.close();
  }
}

function chunkAt(m: BackupManifest, index: number): string {
  const id = expandChunks(m.disks[0]!)[index];
  if (typeof id !== 'string') throw new Error(`chunk ${index} is a zero chunk`);
  return id;
}

/** Image A with chunk `index` rewritten. */
function changeChunk(img: Buffer, index: number, seed: number): Buffer {
  const out = Buffer.from(img);
  randomImage(seed, CHUNK).copy(out, index * CHUNK);
  return out;
}

describe('damaged chunks', () => {
  it('verify names a flipped byte; the next backup of the same data re-stores the chunk; both backups then restore bit-exact', async () => {
    const repo = await setup();
    const imgA = randomImage(1, 2 * MIB);
    const b1 = await backup(repo, imgA);
    const imgB = changeChunk(imgA, 3, 2);
    const b2 = await backup(repo, imgB, b1.manifest, [{ offset: 3 * CHUNK, length: CHUNK }]);
    const only2 = chunkAt(b2.manifest, 3);
    expect(expandChunks(b1.manifest.disks[0]!)).not.toContain(only2);

    await flipByte(repo, only2);
    const v1 = await repo.verify();
    expect(v1.ok).toBe(false);
    expect(v1.problems).toMatchObject([{ chunkId: only2, kind: 'corrupt', backups: [b2.manifest.id], checkedNow: true }]);
    expect(v1.affectedBackups).toEqual([b2.manifest.id]);
    expect(v1.backups).toEqual([b1.manifest.id, b2.manifest.id].sort());
    expect(existsSync(path.join(repo.path, 'state', 'damaged-chunks.json'))).toBe(true);

    // Nothing changed in the VM: an incremental with no dirty range. Before the fix it reused
    // the damaged chunk unread and "succeeded"; now it reads that chunk from the source.
    const b3 = await backup(repo, imgB, b2.manifest, []);
    expect(b3.healed).toEqual([only2]);
    expect(chunkAt(b3.manifest, 3)).toBe(only2);
    expect(b3.manifest.summary.readBytes).toBe(CHUNK);

    const v2 = await repo.verify();
    expect(v2).toMatchObject({ ok: true, problems: [], healedChunks: 1, affectedBackups: [] });
    expect(existsSync(path.join(repo.path, 'state', 'damaged-chunks.json'))).toBe(false);
    expect((await restored(repo, b2.manifest.id)).equals(imgB)).toBe(true);
    expect((await restored(repo, b3.manifest.id)).equals(imgB)).toBe(true);
    expect((await restored(repo, b1.manifest.id)).equals(imgA)).toBe(true);
  });

  it('a subset verify keeps damage found earlier in other parts on the list and in its report', async () => {
    const repo = await setup();
    const img = randomImage(5, 2 * MIB);
    const b1 = await backup(repo, img);
    const bad = chunkAt(b1.manifest, 2);
    await flipByte(repo, bad);
    expect((await repo.verify()).problems.map((p) => p.chunkId)).toEqual([bad]);
    // A part of 4 that does not contain the bad chunk.
    const part = (Number.parseInt(bad.slice(0, 8), 16) % 4 + 1) % 4;
    const v = await repo.verify({ subset: { part, of: 4 } });
    expect(v.ok).toBe(false);
    expect(v.problems).toMatchObject([{ chunkId: bad, checkedNow: false, backups: [b1.manifest.id] }]);
    expect(v.affectedBackups).toEqual([b1.manifest.id]);
    const list = JSON.parse(await readFile(path.join(repo.path, 'state', 'damaged-chunks.json'), 'utf8')) as { chunks: Record<string, unknown> };
    expect(Object.keys(list.chunks)).toEqual([bad]);
  });

  it('a chunk file whose header does not fit (truncated) is written again by the next backup, without a verify first', async () => {
    const repo = await setup();
    const img = randomImage(7, 2 * MIB);
    const b1 = await backup(repo, img);
    const victim = chunkAt(b1.manifest, 5);
    await truncate(path.join(repo.path, chunkRelPath(victim)), 6);
    await expect(restored(repo, b1.manifest.id)).rejects.toMatchObject({ code: 'CHUNK_CORRUPT' });
    const b2 = await backup(repo, img);
    expect(b2.manifest.summary.newChunks).toBe(1);
    expect((await repo.verify()).ok).toBe(true);
    expect((await restored(repo, b1.manifest.id)).equals(img)).toBe(true);
  });

  it('an incremental whose base chunk turns out damaged while patching reads that chunk whole and says so', async () => {
    const repo = await setup();
    const img = randomImage(9, 2 * MIB);
    const b1 = await backup(repo, img);
    const base = chunkAt(b1.manifest, 1);
    await flipByte(repo, base);
    // 4 KiB changed inside chunk 1: without overlays, patched over the previous chunk's content.
    const changed = Buffer.from(img);
    randomImage(10, 4 * KIB).copy(changed, CHUNK + 8 * KIB);
    const b2 = await backup(repo, changed, b1.manifest, [{ offset: CHUNK + 8 * KIB, length: 4 * KIB }], false);
    expect(b2.found).toEqual([base]);
    expect(b2.manifest.summary.readBytes).toBe(CHUNK);
    expect((await restored(repo, b2.manifest.id)).equals(changed)).toBe(true);
  });

  it('never lays an overlay over a chunk on the damaged list, nor keeps a damaged part: the chunk is read whole', async () => {
    const repo = await setup();
    const img = randomImage(11, 2 * MIB);
    const b1 = await backup(repo, img);
    /** 4 KiB of new data at `at` in chunks 1 and 3, backed up as an incremental of `previous`. */
    const change = async (img: Buffer, previous: BackupManifest, seed: number, at: number) => {
      const next = Buffer.from(img);
      const dirty = [CHUNK + at, 3 * CHUNK + at].map((offset) => ({ offset, length: 4 * KIB }));
      dirty.forEach((d, i) => randomImage(seed + i, d.length).copy(next, d.offset));
      return { img: next, b: await backup(repo, next, previous, dirty) };
    };
    const { img: v2, b: b2 } = await change(img, b1.manifest, 12, 8 * KIB);
    // Two overlays, each over its base with one 4 KiB part.
    expect(b2.manifest.version).toBe(2);
    expect(b2.manifest.summary.readBytes).toBe(8 * KIB);
    const over = (i: number) => expandChunks(b2.manifest.disks[0]!)[i] as OverlayChunk;
    const [base1, part3] = [over(1).base, over(3).over[0]![2]];
    await flipByte(repo, base1);
    await flipByte(repo, part3);
    expect((await repo.verify()).problems.map((p) => p.chunkId).sort()).toEqual([base1, part3].sort());
    // Another 4 KiB in chunks 1 and 3: neither may build on what is damaged.
    const { img: v3, b: b3 } = await change(v2, b2.manifest, 14, 100 * KIB);
    const slots = expandChunks(b3.manifest.disks[0]!);
    // Chunk 1's base is damaged: read whole, a plain chunk again (which heals b1).
    expect(typeof slots[1]).toBe('string');
    // Chunk 3's base is sound, its old part is not: that part's range is read again.
    expect(slots[3]).toMatchObject({ base: over(3).base, over: [[8 * KIB, 4 * KIB, expect.any(String)], [100 * KIB, 4 * KIB, expect.any(String)]] });
    expect(b3.manifest.summary.readBytes).toBe(CHUNK + 8 * KIB);
    expect((await restored(repo, b3.manifest.id)).equals(v3)).toBe(true);
  });
  it('a damaged part of a chunk nothing changed in is read again (only its range) and stored under its id, which heals the older backup', async () => {
    const repo = await setup();
    const img = randomImage(21, 2 * MIB);
    const b1 = await backup(repo, img);
    const v2 = Buffer.from(img);
    const dirty = [{ offset: 2 * CHUNK + 16 * KIB, length: 4 * KIB }];
    randomImage(22, 4 * KIB).copy(v2, dirty[0]!.offset);
    const b2 = await backup(repo, v2, b1.manifest, dirty);
    const slot = expandChunks(b2.manifest.disks[0]!)[2] as OverlayChunk;
    const part = slot.over[0]![2];
    await flipByte(repo, part);
    expect((await repo.verify()).problems.map((p) => p.chunkId)).toEqual([part]);
    await expect(restored(repo, b2.manifest.id)).rejects.toThrow();
    // Nothing changed since b2: the third backup reads the damaged part's 4 KiB alone, the same bytes, the same id.
    const b3 = await backup(repo, v2, b2.manifest, []);
    expect(b3.manifest.summary.readBytes).toBe(4 * KIB);
    expect(b3.healed).toEqual([part]);
    expect(expandChunks(b3.manifest.disks[0]!)[2]).toEqual(slot);
    expect((await repo.verify()).ok).toBe(true);
    for (const b of [b2, b3]) expect((await restored(repo, b.manifest.id)).equals(v2)).toBe(true);
  });
  it('a write into a chunk that was zero lays its bytes over the all-zero chunk; that chunk damaged is stored again from zeros by the next backup', async () => {
    const repo = await setup();
    const img = randomImage(31, 2 * MIB).fill(0, 5 * CHUNK, 6 * CHUNK);
    const b1 = await backup(repo, img);
    expect(expandChunks(b1.manifest.disks[0]!)[5]).toBeNull();
    const v2 = Buffer.from(img);
    const dirty = [{ offset: 5 * CHUNK + 8 * KIB, length: 4 * KIB }];
    randomImage(32, 4 * KIB).copy(v2, dirty[0]!.offset);
    const b2 = await backup(repo, v2, b1.manifest, dirty);
    expect(b2.manifest.summary.readBytes).toBe(4 * KIB);
    const slot = expandChunks(b2.manifest.disks[0]!)[5] as OverlayChunk;
    expect(slot.over).toEqual([[8 * KIB, 4 * KIB, expect.any(String)]]);
    await flipByte(repo, slot.base, 14);
    expect((await repo.verify()).problems.map((p) => p.chunkId)).toEqual([slot.base]);
    // Nothing changed since b2: nothing is read, the all-zero chunk is written again.
    const b3 = await backup(repo, v2, b2.manifest, []);
    expect(b3.manifest.summary.readBytes).toBe(0);
    expect(b3.healed).toEqual([slot.base]);
    expect(expandChunks(b3.manifest.disks[0]!)[5]).toEqual(slot);
    expect((await repo.verify()).ok).toBe(true);
    for (const b of [b2, b3]) expect((await restored(repo, b.manifest.id)).equals(v2)).toBe(true);
  });
});
