import { createHash } from 'node:crypto';
import { readFile, readdir, stat, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { Repository, alignToChunks, openFileSource } from '../../../node-service/repository/index.js';
import type { BackupManifest, ByteRange, DiskExtent } from '../../../node-service/repository/index.js';
import { ChunkCodec } from '../../../node-service/repository/chunk-codec.js';
import { expandChunks, type OverlayChunk } from '../../../node-service/repository/format.js';
import { FakeClock, KIB, MIB, TempDirs, makeImage, memorySource, randomImage, readAll } from '../../unit/repository/helpers.js';

const dirs = new TempDirs();
const repos: Repository[] = [];
afterEach(async () => {
  await Promise.all(repos.splice(0).map((r) => r.close()));
  await dirs.cleanup();
});

async function newRepo(options: Parameters<typeof Repository.init>[1] = {}, deps: Parameters<typeof Repository.init>[2] = {}): Promise<Repository> {
  const root = await dirs.make();
  const repo = await Repository.init(path.join(root, 'repo'), { chunkSize: 256 * KIB, ...options }, { threads: 2, ...deps });
  repos.push(repo);
  return repo;
}

async function chunkFiles(repo: Repository): Promise<string[]> {
  const out: string[] = [];
  for (const shard of await readdir(path.join(repo.path, 'chunks'))) {
    for (const f of await readdir(path.join(repo.path, 'chunks', shard))) out.push(f);
  }
  return out;
}

function sha(buf: Buffer): string {
  return createHash('sha256').update(buf).digest('hex');
}

describe('repository round trip', () => {
  it('restores a sparse image with zeros, repeats and an odd size bit-exact, through every read path', async () => {
    const repo = await newRepo();
    const size = 5 * MIB + 12345; // not a multiple of the chunk size
    const img = makeImage(size, [
      { kind: 'random', offset: 100, length: 700 * KIB, seed: 1 },
      { kind: 'text', offset: 2 * MIB, length: 900 * KIB, seed: 2 },
      { kind: 'copy', offset: 3 * MIB, length: 700 * KIB, from: 100 },
      { kind: 'random', offset: size - 5000, length: 5000, seed: 3 }, // data in the short last chunk
    ]);
    const w = await repo.startBackup({ group: 'vm:a', source: { vm: 'a', xml: '<domain/>' } });
    const disk = await w.writeDisk('vda', size, memorySource(img));
    const manifest = await w.commit();

    // Zero chunks are runs, not ids; the 1 MiB hole at 1..2 MiB is a run of 4.
    expect(disk.chunks.some((e) => typeof e === 'number' && e >= 3)).toBe(true);
    expect(manifest.summary.logicalBytes).toBe(size);
    expect(manifest.kind).toBe('full');
    expect(manifest.source).toEqual({ vm: 'a', xml: '<domain/>' });

    const reader = await repo.openBackup(manifest.id);
    const streamed = await readAll(reader.readDisk('vda'));
    expect(streamed.length).toBe(size);
    expect(sha(streamed)).toBe(sha(img));

    const target = path.join(await dirs.make(), 'restored.raw');
    const result = await reader.restoreToFile('vda', target);
    expect(result.size).toBe(size);
    const restored = await readFile(target);
    expect(sha(restored)).toBe(sha(img));
    // Holes stay holes: fewer blocks allocated than the apparent size.
    const st = await stat(target);
    expect(st.blocks * 512).toBeLessThan(size);

    for (const [off, len] of [
      [0, 10],
      [100, 700 * KIB],
      [256 * KIB - 3, 7],
      [MIB + 5, 300 * KIB],
      [size - 6000, 6000],
      [size - 10, 100],
    ] as const) {
      const got = await reader.readRange('vda', off, len);
      expect(got.equals(img.subarray(off, Math.min(size, off + len)))).toBe(true);
    }

    const extents: DiskExtent[] = [];
    for await (const e of reader.readExtents('vda')) extents.push(e);
    const rebuilt = Buffer.alloc(size);
    for (const e of extents) rebuilt.set(e.data, e.offset);
    expect(rebuilt.equals(img)).toBe(true);
  });

  it('accepts stream and extent sources and a file source, all giving the same chunk ids', async () => {
    const repo = await newRepo();
    const size = 3 * MIB + 777;
    const img = makeImage(size, [
      { kind: 'random', offset: 0, length: 300 * KIB, seed: 9 },
      { kind: 'text', offset: 2 * MIB + 100, length: MIB, seed: 10 },
    ]);
    const w = await repo.startBackup();
    // Odd-sized stream pieces cross chunk boundaries.
    const pieces: Buffer[] = [];
    for (let o = 0; o < size; o += 100_003) pieces.push(img.subarray(o, Math.min(size, o + 100_003)));
    const viaStream = await w.writeDisk('stream', size, Readable.from(pieces));
    const extents: DiskExtent[] = [
      { offset: 0, data: img.subarray(0, 300 * KIB) },
      { offset: 2 * MIB + 100, data: img.subarray(2 * MIB + 100, size) },
    ];
    const viaExtents = await w.writeDisk('extents', size, { kind: 'extents', extents });
    const file = path.join(await dirs.make(), 'disk.raw');
    await writeFile(file, img);
    const src = await openFileSource(file);
    const viaFile = await w.writeDisk('file', src.size, src.source);
    await src.close();
    const m = await w.commit();
    expect(viaStream.chunks).toEqual(viaExtents.chunks);
    expect(viaFile.chunks).toEqual(viaExtents.chunks);
    const r = await repo.openBackup(m.id);
    for (const d of ['stream', 'extents', 'file']) expect((await readAll(r.readDisk(d))).equals(img)).toBe(true);
  });

  it('rejects a stream that is shorter than the disk size and leaves no backup', async () => {
    const repo = await newRepo();
    const w = await repo.startBackup();
    await expect(w.writeDisk('vda', MIB, Readable.from([Buffer.alloc(1000, 1)]))).rejects.toMatchObject({ code: 'SOURCE_ERROR' });
    await expect(w.commit()).rejects.toMatchObject({ code: 'WRITER_CLOSED' });
    expect(await repo.listBackups()).toEqual([]);
  });

  it('deduplicates across backups and disks: a second identical backup stores no new chunk', async () => {
    const repo = await newRepo();
    const img = randomImage(42, 4 * MIB + 1);
    const w1 = await repo.startBackup({ group: 'vm:a' });
    await w1.writeDisk('vda', img.length, memorySource(img));
    const m1 = await w1.commit();
    const filesAfterFirst = (await chunkFiles(repo)).length;
    expect(m1.summary.newChunks).toBe(filesAfterFirst);

    const w2 = await repo.startBackup({ group: 'vm:b' });
    await w2.writeDisk('sda', img.length, memorySource(img));
    await w2.writeDisk('sdb', img.length, memorySource(img));
    const m2 = await w2.commit();
    expect(m2.summary.newChunks).toBe(0);
    expect(m2.summary.newBytes).toBe(0);
    expect(m2.summary.reusedBytes).toBe(2 * m1.summary.dataBytes);
    expect((await chunkFiles(repo)).length).toBe(filesAfterFirst);

    const stats = await repo.stats();
    expect(stats.backups).toBe(2);
    expect(stats.logicalBytes).toBe(3 * img.length);
    expect(stats.dedupRatio).toBeCloseTo(3, 5);
    expect(stats.unreferencedChunks).toBe(0);
  });

  it('incremental: clean chunks are reused without reading, and the new image restores exactly', async () => {
    const repo = await newRepo();
    const size = 8 * MIB;
    const v1 = randomImage(7, size);
    const w1 = await repo.startBackup({ group: 'vm:a' });
    await w1.writeDisk('vda', size, memorySource(v1));
    const m1 = await w1.commit();

    const v2 = Buffer.from(v1);
    const dirty = [
      { offset: 10, length: 4 * KIB },
      { offset: 3 * MIB + 100, length: 300 * KIB },
      { offset: size - 1, length: 1 },
    ];
    for (const d of dirty) for (let i = 0; i < d.length; i++) v2[d.offset + i] = (v2[d.offset + i]! + 1) & 0xff;

    const reads: number[] = [];
    const source = {
      kind: 'random-access' as const,
      read: async (into: Buffer, position: number) => {
        reads.push(position);
        v2.copy(into, 0, position, position + into.length);
        return Math.min(into.length, size - position);
      },
    };
    const w2 = await repo.startBackup({ group: 'vm:a' });
    await w2.writeDisk('vda', size, source, { changes: { previous: m1, dirty } });
    const m2 = await w2.commit();

    const expectedChunks = alignToChunks(dirty, size, 256 * KIB).reduce((n, r) => n + r.length / (256 * KIB), 0);
    expect(reads.length).toBe(expectedChunks);
    expect(m2.kind).toBe('incremental');
    expect(m2.parent).toBe(m1.id);
    // A chunk changed in less than half is patched: only its dirty bytes are read, the rest
    // comes from the previous backup. Chunk 0: 4 KiB; chunk 12 (all but 100 bytes dirty) is
    // read whole: 256 KiB; chunk 13: the 300 KiB run's last 45,156 bytes; chunk 31: 1 byte.
    expect(m2.summary.readBytes).toBe(4 * KIB + 256 * KIB + (300 * KIB - (256 * KIB - 100)) + 1);

    const r2 = await repo.openBackup(m2.id);
    expect((await readAll(r2.readDisk('vda'))).equals(v2)).toBe(true);
    const r1 = await repo.openBackup(m1.id);
    expect((await readAll(r1.readDisk('vda'))).equals(v1)).toBe(true);

    // An incremental with an all-clean dirty map reads nothing and is a complete index.
    reads.length = 0;
    const w3 = await repo.startBackup({ group: 'vm:a' });
    const d3 = await w3.writeDisk('vda', size, source, { changes: { previous: m2, dirty: [] } });
    const m3 = await w3.commit();
    expect(reads).toEqual([]);
    expect(d3.chunks).toEqual(m2.disks[0]?.chunks);
    expect((await readAll((await repo.openBackup(m3.id)).readDisk('vda'))).equals(v2)).toBe(true);
  });

  it('patched chunks: small writes over zero and data chunks read only the written bytes and restore exactly', async () => {
    const repo = await newRepo();
    const size = 2 * MIB;
    // Chunk 0 holds data, chunks 1-7 are zero (not stored at all).
    const v1 = Buffer.alloc(size);
    randomImage(21, 256 * KIB).copy(v1, 0);
    const w1 = await repo.startBackup({ group: 'vm:p' });
    await w1.writeDisk('vda', size, memorySource(v1));
    const m1 = await w1.commit();

    const v2 = Buffer.from(v1);
    // Three scattered writes in chunk 0 (over data) and one in chunk 5 (over zeroes).
    const dirty = [
      { offset: 1000, length: 8 * KIB },
      { offset: 64 * KIB, length: 4 * KIB },
      { offset: 200 * KIB, length: 16 * KIB },
      { offset: 5 * 256 * KIB + 123, length: 10 * KIB },
    ];
    for (const d of dirty) randomImage(d.offset, d.length).copy(v2, d.offset);
    const reads: { position: number; length: number }[] = [];
    const source = {
      kind: 'random-access' as const,
      read: async (into: Buffer, position: number) => {
        reads.push({ position, length: into.length });
        v2.copy(into, 0, position, position + into.length);
        return Math.min(into.length, size - position);
      },
    };
    const w2 = await repo.startBackup({ group: 'vm:p' });
    await w2.writeDisk('vda', size, source, { changes: { previous: m1, dirty }, overlays: false });
    const m2 = await w2.commit();
    // Exactly the dirty ranges were read from the source, nothing around them.
    expect(reads.sort((a, b) => a.position - b.position)).toEqual(dirty.map((d) => ({ position: d.offset, length: d.length })));
    expect(m2.summary.readBytes).toBe(38 * KIB);
    expect((await readAll((await repo.openBackup(m2.id)).readDisk('vda'))).equals(v2)).toBe(true);
    expect((await readAll((await repo.openBackup(m1.id)).readDisk('vda'))).equals(v1)).toBe(true);

    // partialChunks 'read': the same chunk read whole from the source instead of rebuilt from
    // m1 is the same bytes, so the same id: an identical chunk list, only more bytes read.
    reads.length = 0;
    const w3 = await repo.startBackup({ group: 'vm:p' });
    const d3 = await w3.writeDisk('vda', size, source, { changes: { previous: m1, dirty }, partialChunks: 'read', overlays: false });
    const m3 = await w3.commit();
    // (chunk 5 was zero: nothing to load, so it is patched over zeros in this mode too.)
    expect(reads.sort((a, b) => a.position - b.position)).toEqual([
      { position: 0, length: 256 * KIB },
      { position: 5 * 256 * KIB + 123, length: 10 * KIB },
    ]);
    expect(m3.summary.readBytes).toBe(256 * KIB + 10 * KIB);
    expect(d3.chunks).toEqual(m2.disks[0]?.chunks);
    expect((await readAll((await repo.openBackup(m3.id)).readDisk('vda'))).equals(v2)).toBe(true);
  });

  it('overlays: a partly changed chunk stores only its changed ranges over the previous chunk, and every backup restores exactly', async () => {
    const repo = await newRepo();
    const size = 2 * MIB; // 8 chunks of 256 KiB
    const v1 = makeImage(size, [{ kind: 'random', offset: 0, length: 5 * 256 * KIB, seed: 31 }]);
    const w1 = await repo.startBackup({ group: 'vm:o' });
    await w1.writeDisk('vda', size, memorySource(v1));
    const m1 = await w1.commit();
    expect(m1.version).toBe(1);
    const reads: ByteRange[] = [];
    const sourceOf = (img: Buffer) => ({
      kind: 'random-access' as const,
      read: async (into: Buffer, position: number) => {
        reads.push({ offset: position, length: into.length });
        img.copy(into, 0, position, position + into.length);
        return Math.min(into.length, size - position);
      },
    });
    const incremental = async (img: Buffer, previous: BackupManifest, dirty: ByteRange[]): Promise<BackupManifest> => {
      for (const d of dirty) randomImage(d.offset + 7, d.length).copy(img, d.offset);
      reads.length = 0;
      const w = await repo.startBackup({ group: 'vm:o' });
      await w.writeDisk('vda', size, sourceOf(img), { changes: { previous, dirty } });
      return w.commit();
    };

    // Two scattered writes in chunk 0, one in chunk 2, one in chunk 6 (a zero chunk: laid over the all-zero chunk).
    const v2 = Buffer.from(v1);
    const m2 = await incremental(v2, m1, [
      { offset: 1000, length: 8 * KIB },
      { offset: 200 * KIB, length: 16 * KIB },
      { offset: 2 * 256 * KIB + 64 * KIB, length: 4 * KIB },
      { offset: 6 * 256 * KIB + 5, length: 10 * KIB },
    ]);
    expect(m2.version).toBe(2);
    const s1 = expandChunks(m1.disks[0]!);
    const s2 = expandChunks(m2.disks[0]!);
    expect(s2[0]).toEqual({ base: s1[0], over: [[1000, 8 * KIB, expect.any(String)], [200 * KIB, 16 * KIB, expect.any(String)]] });
    expect(s2[2]).toEqual({ base: s1[2], over: [[64 * KIB, 4 * KIB, expect.any(String)]] });
    expect(s2[6]).toEqual({ base: expect.any(String), over: [[5, 10 * KIB, expect.any(String)]] });
    expect(s2[1]).toBe(s1[1]);
    // Only the changed bytes were read; only they (and the all-zero chunk, once) were stored.
    expect(reads).toEqual([
      { offset: 1000, length: 8 * KIB },
      { offset: 200 * KIB, length: 16 * KIB },
      { offset: 2 * 256 * KIB + 64 * KIB, length: 4 * KIB },
      { offset: 6 * 256 * KIB + 5, length: 10 * KIB },
    ]);
    expect(m2.summary.newBytes).toBe(38 * KIB + 256 * KIB);
    // (an unencrypted repository of version 2: a chunk's id is the BLAKE3 of its bytes)
    expect((s2[6] as OverlayChunk).base).toBe(new ChunkCodec({ chunkIdHash: 'blake3', chunkIdKey: null, chunkKey: null, compressionLevel: 0 }).id(Buffer.alloc(256 * KIB)).toString('hex'));

    // A write over part of an earlier part, and one beside it: the touched part is read again
    // whole with the new write (parts never overlap); the untouched part stays as it was.
    const v3 = Buffer.from(v2);
    const m3 = await incremental(v3, m2, [
      { offset: 204 * KIB, length: 4 * KIB },
      { offset: 100 * KIB, length: 4 * KIB },
    ]);
    const s3 = expandChunks(m3.disks[0]!);
    expect(s3[0]).toEqual({ base: s1[0], over: [(s2[0] as OverlayChunk).over[0], [100 * KIB, 4 * KIB, expect.any(String)], [200 * KIB, 16 * KIB, expect.any(String)]] });
    expect(reads).toEqual([
      { offset: 100 * KIB, length: 4 * KIB },
      { offset: 200 * KIB, length: 16 * KIB },
    ]);
    expect(s3[2]).toEqual(s2[2]);

    // More than half of chunk 2 changed: stored whole again.
    const v4 = Buffer.from(v3);
    const m4 = await incremental(v4, m3, [{ offset: 2 * 256 * KIB, length: 200 * KIB }]);
    const s4 = expandChunks(m4.disks[0]!);
    expect(typeof s4[2]).toBe('string');
    expect(s4[0]).toEqual(s3[0]);
    expect(reads).toEqual([{ offset: 2 * 256 * KIB, length: 256 * KIB }]);

    // Every backup restores exactly through every read path, and verifies.
    for (const [m, img] of [[m1, v1], [m2, v2], [m3, v3], [m4, v4]] as const) {
      const reader = await repo.openBackup(m.id);
      expect(sha(await readAll(reader.readDisk('vda'))), m.id).toBe(sha(img));
      const file = path.join(await dirs.make(), 'vda.raw');
      await reader.restoreToFile('vda', file);
      expect(sha(await readFile(file)), m.id).toBe(sha(img));
      // A range across an overlay's parts and into the next chunk.
      expect((await reader.readRange('vda', 190 * KIB, 100 * KIB)).equals(img.subarray(190 * KIB, 290 * KIB))).toBe(true);
      const fromExtents = Buffer.alloc(size);
      for await (const e of reader.readExtents('vda')) e.data.copy(fromExtents, e.offset);
      expect(fromExtents.equals(img)).toBe(true);
    }
    expect((await repo.verify()).ok).toBe(true);

    // The base of m3's overlay is m1's chunk: deleting m1 and m2 keeps it; GC removes what nothing references.
    await repo.deleteBackup(m1.id);
    await repo.deleteBackup(m2.id);
    const gc = await repo.gc({ graceMs: 0 });
    expect(gc.removedChunks).toBeGreaterThan(0);
    for (const [m, img] of [[m3, v3], [m4, v4]] as const) expect(sha(await readAll((await repo.openBackup(m.id)).readDisk('vda')))).toBe(sha(img));
    expect((await repo.verify()).ok).toBe(true);
  });

  it('incremental over a grown disk reads the new tail and the old partial last chunk', async () => {
    const repo = await newRepo();
    const v1 = randomImage(11, MIB + 1000);
    const w1 = await repo.startBackup();
    await w1.writeDisk('vda', v1.length, memorySource(v1));
    const m1 = await w1.commit();
    const v2 = Buffer.concat([v1, randomImage(12, MIB)]);
    const w2 = await repo.startBackup();
    await w2.writeDisk('vda', v2.length, memorySource(v2), { changes: { previous: m1, dirty: [] } });
    const m2 = await w2.commit();
    expect((await readAll((await repo.openBackup(m2.id)).readDisk('vda'))).equals(v2)).toBe(true);
  });

  it('refuses an incremental against a backup that was pruned meanwhile (its chunks may be gone)', async () => {
    const clock = new FakeClock();
    const repo = await newRepo({}, { clock });
    const img = randomImage(13, MIB);
    const w1 = await repo.startBackup({ group: 'g' });
    await w1.writeDisk('vda', img.length, memorySource(img));
    const m1 = await w1.commit();
    clock.advance(1000); // the next backup is the newer one
    const w2 = await repo.startBackup({ group: 'g' });
    await w2.writeDisk('vda', img.length, memorySource(img));
    await w2.commit();
    expect((await repo.prune({ keepLast: 1 })).removed.map((r) => r.id)).toEqual([m1.id]);
    const w3 = await repo.startBackup({ group: 'g' });
    await expect(w3.writeDisk('vda', img.length, memorySource(img), { changes: { previous: m1, dirty: [] } })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringMatching(/no longer exists/),
    });
  });

  it('reports progress up to the disk size', async () => {
    const repo = await newRepo();
    const img = randomImage(5, 2 * MIB);
    const seen: number[] = [];
    const w = await repo.startBackup();
    await w.writeDisk('vda', img.length, memorySource(img), {
      onProgress: (p) => {
        expect(p.bytesTotal).toBe(img.length);
        seen.push(p.bytesDone);
      },
      progressIntervalMs: 0,
    });
    await w.commit();
    expect(seen.length).toBeGreaterThan(1);
    expect(seen[seen.length - 1]).toBe(img.length);
    expect([...seen].sort((a, b) => a - b)).toEqual(seen);
  });
});
