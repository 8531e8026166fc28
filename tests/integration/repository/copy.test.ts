/**
 * Copying a backup between repositories (copy.ts, FORMAT.md "Copies"): real repositories in
 * temp directories, real worker threads, a real child process killed with SIGKILL.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { NodeFileSystem, Repository, copyBackup, type BackupManifest, type CopyProgress, type RepositoryDeps } from '../../../node-service/repository/index.js';
import { chunkRelPath, forEachChunkObject, type OverlayChunk } from '../../../node-service/repository/format.js';
import { FakeClock, MIB, KIB, TEST_KDF, TempDirs, makeImage, memorySource, readAll, type Region } from '../../unit/repository/helpers.js';
import { ChildRepository, waitForExit, waitForLine } from './child-process.js';

const CHUNK = 256 * KIB;
const SIZE = 8 * MIB; // 32 chunks
const HOUR = 3_600_000;
const dirs = new TempDirs();
const repos: Repository[] = [];
afterEach(async () => {
  await Promise.all(repos.splice(0).map((r) => r.close()));
  await dirs.cleanup();
});

/** Random data in most chunks, a zero hole, text in others. */
const base: Region[] = [
  { kind: 'random', offset: 0, length: 3 * MIB, seed: 1 },
  { kind: 'text', offset: 4 * MIB, length: 3 * MIB, seed: 2 },
  { kind: 'random', offset: 7 * MIB + 512 * KIB, length: 512 * KIB, seed: 3 },
];
/** The incremental: three chunks rewritten. */
const changes: Region[] = [
  { kind: 'random', offset: 256 * KIB, length: 256 * KIB, seed: 11 },
  { kind: 'random', offset: 5 * MIB, length: 300 * KIB, seed: 12 },
];

async function init(password?: string, deps: RepositoryDeps = {}): Promise<Repository> {
  const dir = path.join(await dirs.make('vplus-copy-test-'), 'repo');
  const repo = await Repository.init(dir, { chunkSize: CHUNK, kdf: TEST_KDF, ...(password ? { password } : {}) }, { threads: 2, ...deps });
  repos.push(repo);
  return repo;
}

async function reopen(repo: Repository, password?: string, deps: RepositoryDeps = {}): Promise<Repository> {
  const r = await Repository.open(repo.path, password ? { password } : {}, { threads: 2, ...deps });
  repos.push(r);
  return r;
}

async function backup(repo: Repository, img: Buffer, previous?: { manifest: BackupManifest; dirty: { offset: number; length: number }[] }): Promise<BackupManifest> {
  const w = await repo.startBackup({ group: 'vm:one', source: { vm: 'one' } });
  await w.writeDisk('vda', img.length, memorySource(img), previous ? { changes: { previous: previous.manifest, dirty: previous.dirty } } : {});
  return w.commit();
}

async function restored(repo: Repository, id: string): Promise<Buffer> {
  return readAll((await repo.openBackup(id)).readDisk('vda'));
}

async function chunkFiles(repo: Repository): Promise<string[]> {
  const out: string[] = [];
  const root = path.join(repo.path, 'chunks');
  for (const shard of await readdir(root)) for (const f of await readdir(path.join(root, shard))) if (!f.startsWith('.tmp-')) out.push(f);
  return out.sort();
}

function objectIds(m: BackupManifest): Set<string> {
  const ids = new Set<string>();
  for (const d of m.disks) forEachChunkObject(d, (id) => ids.add(id));
  return ids;
}

function distinctChunks(m: BackupManifest): number {
  return objectIds(m).size;
}

async function twoBackups(repo: Repository): Promise<{ img1: Buffer; img2: Buffer; m1: BackupManifest; m2: BackupManifest }> {
  const img1 = makeImage(SIZE, base);
  const img2 = makeImage(SIZE, [...base, ...changes]);
  const m1 = await backup(repo, img1);
  const m2 = await backup(repo, img2, { manifest: m1, dirty: changes.map((c) => ({ offset: c.offset, length: c.length })) });
  return { img1, img2, m1, m2 };
}

describe('copying a backup between encrypted repositories with different passwords', () => {
  it('copies a full and an incremental backup; the incremental sends only its new chunks; both restore bit-exact', async () => {
    const source = await init('source password');
    const target = await init('another password');
    const { img1, img2, m1, m2 } = await twoBackups(source);
    expect(m2.summary.newChunks).toBe(3);
    // The 44 KiB written into chunk 21 is an overlay on m1's chunk (its base and one part).
    expect(m2.version).toBe(2);
    expect(m2.disks[0]!.chunks.filter((c) => typeof c === 'object')).toHaveLength(1);

    const progress: CopyProgress[] = [];
    const first = await copyBackup(source, target, m1.id, { onProgress: (p) => progress.push(p), progressIntervalMs: 0 });
    const chunks1 = distinctChunks(m1);
    expect(first).toMatchObject({ repoBackupId: m1.id, created: true, resumed: false, chunks: chunks1, copiedChunks: chunks1, skippedChunks: 0, rawCopiedChunks: 0, readChunks: chunks1, logicalBytes: SIZE });
    expect(first.bytesSent).toBeGreaterThan(0);
    expect(progress.length).toBeGreaterThan(1);
    expect(progress[progress.length - 1]).toEqual({ chunksDone: chunks1, chunksTotal: chunks1, bytesDone: m1.summary.dataBytes, bytesTotal: m1.summary.dataBytes });
    expect(progress.every((p, i) => i === 0 || p.bytesDone >= progress[i - 1]!.bytesDone)).toBe(true);

    const second = await copyBackup(source, target, m2.id);
    expect(second).toMatchObject({ created: true, chunks: distinctChunks(m2), copiedChunks: 3, skippedChunks: distinctChunks(m2) - 3, readChunks: 3 });
    expect(await chunkFiles(target)).toHaveLength(chunks1 + 3);

    // The same backups, opened with the target's own password: ids, group, time, kind, parent, zero runs, summary.
    const t = await reopen(target, 'another password');
    for (const [m, img] of [[m1, img1], [m2, img2]] as const) {
      const copy = await t.loadManifest(m.id);
      expect(copy).toMatchObject({ id: m.id, repositoryId: t.id, group: m.group, createdAt: m.createdAt, kind: m.kind, parent: m.parent, source: m.source, summary: m.summary });
      expect(copy.disks[0]!.chunks.map((c) => typeof c)).toEqual(m.disks[0]!.chunks.map((c) => typeof c));
      expect(copy.disks[0]!.chunks.filter((c) => typeof c === 'number')).toEqual(m.disks[0]!.chunks.filter((c) => typeof c === 'number'));
      // Chunk ids are the target's (keyed by its own key), not the source's; an overlay keeps its parts' places.
      expect(copy.disks[0]!.chunks.find((c) => typeof c === 'string')).not.toBe(m.disks[0]!.chunks.find((c) => typeof c === 'string'));
      const [overSource, overCopy] = [m, copy].map((b) => b.disks[0]!.chunks.find((c): c is OverlayChunk => typeof c === 'object'));
      if (overSource) {
        expect(overCopy!.over.map(([o, l]) => [o, l])).toEqual(overSource.over.map(([o, l]) => [o, l]));
        expect(overCopy!.base).not.toBe(overSource.base);
      }
      expect((await restored(t, m.id)).equals(img)).toBe(true);
    }
    expect((await t.verify()).ok).toBe(true);
    // No journal is left once the copies are committed.
    expect((await readdir(path.join(target.path, 'state'))).filter((f) => f.startsWith('copy-'))).toEqual([]);

    // A backup on the target based on the copy deduplicates against it (the copy is a backup like any other).
    const next = await backup(t, img2, { manifest: await t.loadManifest(m2.id), dirty: [] });
    expect(next.summary.newChunks).toBe(0);
  });

  it('copying a backup the target already holds does nothing', async () => {
    const source = await init('pw-a');
    const target = await init('pw-b');
    const { m1 } = await twoBackups(source);
    await copyBackup(source, target, m1.id);
    const before = await chunkFiles(target);
    const again = await copyBackup(source, target, m1.id);
    expect(again).toMatchObject({ created: false, copiedChunks: 0, readChunks: 0, bytesSent: 0, skippedChunks: distinctChunks(m1), backup: { id: m1.id, createdAt: m1.createdAt } });
    expect(await chunkFiles(target)).toEqual(before);
  });

  it('an aborted copy leaves no backup; the next run sends only the rest without reading again what was sent', async () => {
    const source = await init('pw-a');
    const target = await init('pw-b');
    const { img1, m1 } = await twoBackups(source);
    const total = distinctChunks(m1);
    const abort = new AbortController();
    const run = copyBackup(source, target, m1.id, {
      signal: abort.signal,
      maxInFlight: 2,
      progressIntervalMs: 0,
      onProgress: (p) => {
        if (p.chunksDone >= 6) abort.abort();
      },
    });
    await expect(run).rejects.toMatchObject({ name: 'AbortError' });
    expect(await target.listBackups()).toEqual([]);
    const sent = (await chunkFiles(target)).length;
    expect(sent).toBeGreaterThanOrEqual(6);
    expect(sent).toBeLessThan(total);
    // The lease is released: GC could run now.
    expect((await readdir(path.join(target.path, 'locks'))).filter((f) => f.endsWith('.json'))).toEqual([]);

    const resumed = await copyBackup(source, target, m1.id);
    expect(resumed).toMatchObject({ created: true, resumed: true, chunks: total, copiedChunks: total - sent, skippedChunks: sent, readChunks: total - sent });
    expect((await restored(target, m1.id)).equals(img1)).toBe(true);
  });

  it('a copy that fails on the target (disk full) resumes once there is room, reading only what it had not sent', async () => {
    const source = await init('pw-a');
    /** The target's disk fills up after 5 chunk files (leases and the journal still fit). */
    class FullAfter extends NodeFileSystem {
      chunks = 0;
      override async writeFileAtomic(file: string, data: Uint8Array): Promise<void> {
        if (file.includes(`${path.sep}chunks${path.sep}`) && ++this.chunks > 5) throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
        return super.writeFileAtomic(file, data);
      }
    }
    const target = await init('pw-b', { fs: new FullAfter() });
    const { img1, m1 } = await twoBackups(source);
    const total = distinctChunks(m1);
    await expect(copyBackup(source, target, m1.id, { maxInFlight: 1 })).rejects.toMatchObject({ code: 'REPO_NO_SPACE' });
    expect(await target.listBackups()).toEqual([]);
    expect(await chunkFiles(target)).toHaveLength(5);
    const roomy = await reopen(target, 'pw-b');
    expect(await copyBackup(source, roomy, m1.id)).toMatchObject({ created: true, resumed: true, copiedChunks: total - 5, readChunks: total - 5 });
    expect((await restored(roomy, m1.id)).equals(img1)).toBe(true);
  });

  it('a copy killed with SIGKILL resumes and sends only what the killed run had not', async () => {
    const child = await ChildRepository.build();
    try {
      await child.addScript(
        'child-copy.mjs',
        `
import { NodeFileSystem, Repository, copyBackup } from './node-service/repository/index.js';
const [sourcePath, targetPath, backupId, writesBeforeSlow] = process.argv.slice(2);
let writes = 0;
class SlowFs extends NodeFileSystem {
  async writeFileAtomic(file, data) {
    if (file.includes('/chunks/')) {
      writes++;
      if (writes === Number(writesBeforeSlow)) process.stdout.write('slow\\n');
      if (writes >= Number(writesBeforeSlow)) await new Promise((r) => setTimeout(r, 300));
    }
    return super.writeFileAtomic(file, data);
  }
}
const source = await Repository.open(sourcePath, { password: 'pw-a' }, { threads: 1 });
const target = await Repository.open(targetPath, { password: 'pw-b' }, { threads: 1, fs: new SlowFs() });
await copyBackup(source, target, backupId, { maxInFlight: 1, journal: { batch: 4 } });
process.stdout.write('copied\\n');
`,
      );
      const source = await init('pw-a');
      const target = await init('pw-b');
      const { img1, m1 } = await twoBackups(source);
      const total = distinctChunks(m1);
      const proc = child.spawnScript('child-copy.mjs', [source.path, target.path, m1.id, '10']);
      await waitForLine(proc, 'slow');
      proc.kill('SIGKILL');
      expect((await waitForExit(proc)).signal).toBe('SIGKILL');
      expect(await target.listBackups()).toEqual([]);
      const sent = (await chunkFiles(target)).length;
      expect(sent).toBeGreaterThanOrEqual(9);
      expect(sent).toBeLessThan(total);

      const resumed = await copyBackup(source, target, m1.id);
      expect(resumed).toMatchObject({ created: true, resumed: true, copiedChunks: total - sent, skippedChunks: sent });
      // The killed run's journal (a segment every 4 chunks) spares reading those again.
      expect(resumed.readChunks).toBeLessThanOrEqual(total - 8);
      expect((await restored(target, m1.id)).equals(img1)).toBe(true);
      expect((await target.verify()).ok).toBe(true);
    } finally {
      await child.cleanup();
    }
  }, 60_000);
});

describe('garbage collection on the target during a copy', () => {
  /** A filesystem whose chunk-directory flush (just before the GC check and the manifest) waits for `gate`. */
  class GatedFs extends NodeFileSystem {
    gate: Promise<void> | null = null;
    reached: (() => void) | null = null;
    override async syncDir(dir: string): Promise<void> {
      if (this.gate && dir.includes(`${path.sep}chunks${path.sep}`)) {
        this.reached?.();
        await this.gate;
      }
      return super.syncDir(dir);
    }
  }

  async function setup(clock: FakeClock): Promise<{ source: Repository; target: Repository; fs: GatedFs; m1: BackupManifest; m2: BackupManifest; img2: Buffer }> {
    const source = await init('pw-a');
    const fs = new GatedFs();
    const target = await init('pw-b', { clock, fs });
    const { m1, m2, img2 } = await twoBackups(source);
    await copyBackup(source, target, m1.id);
    return { source, target, fs, m1, m2, img2 };
  }

  /** Runs the copy of m2 until it is about to commit, runs `meanwhile`, then lets it finish. */
  async function copyWith(fs: GatedFs, run: () => Promise<unknown>, meanwhile: () => Promise<void>): Promise<unknown> {
    let open!: () => void;
    fs.gate = new Promise((r) => (open = r));
    const reached = new Promise<void>((r) => (fs.reached = r));
    const copy = run().then(
      (v) => v,
      (e: unknown) => e,
    );
    await reached;
    try {
      await meanwhile();
    } finally {
      fs.gate = null;
      open();
    }
    return copy;
  }

  it('a copy whose reused chunks GC removed (the earlier copy pruned, the lease lapsed) is not committed: REPO_GC_RACE', async () => {
    const clock = new FakeClock();
    const { source, target, fs, m1, m2, img2 } = await setup(clock);
    // The copy starts well after the earlier copy's chunks were written (GC keeps what a maybe-alive writer wrote since it started).
    clock.advance(HOUR);
    const outcome = await copyWith(
      fs,
      () => copyBackup(source, target, m2.id),
      async () => {
        // The stalled copy's lease lapses; retention removes the earlier copy, and GC in another process frees its chunks.
        clock.advance(31 * 60_000);
        const other = await reopen(target, 'pw-b', { clock });
        expect(await other.deleteBackup(m1.id)).toBe(true);
        const gc = await other.gc();
        expect(gc.removedChunks).toBeGreaterThan(0);
      },
    );
    expect(outcome).toMatchObject({ code: 'REPO_GC_RACE' });
    expect((await target.listBackups()).map((b) => b.id)).toEqual([]);
    // Run again: complete, read in full (the earlier copy is gone), and it restores.
    const again = await copyBackup(source, target, m2.id);
    expect(again).toMatchObject({ created: true, chunks: distinctChunks(m2) });
    expect((await restored(target, m2.id)).equals(img2)).toBe(true);
    expect((await target.verify()).ok).toBe(true);
  });

  it('a GC that removes nothing the copy needs lets it commit a complete copy', async () => {
    const clock = new FakeClock();
    const { source, target, fs, m2, img2 } = await setup(clock);
    const outcome = await copyWith(
      fs,
      () => copyBackup(source, target, m2.id),
      async () => {
        clock.advance(31 * 60_000);
        const other = await reopen(target, 'pw-b', { clock });
        const gc = await other.gc();
        expect(gc.removedChunks).toBe(0);
        expect(gc.keptRecentChunks).toBe(3); // what the stalled copy wrote, kept for it
      },
    );
    expect(outcome).toMatchObject({ created: true, copiedChunks: 3 });
    expect((await restored(target, m2.id)).equals(img2)).toBe(true);
    expect((await target.verify()).ok).toBe(true);
  });
});

describe('copying between unencrypted repositories', () => {
  it('copies the chunk files as they are, and an incremental only its new ones', async () => {
    const source = await init();
    const target = await init();
    const { img1, img2, m1, m2 } = await twoBackups(source);
    const first = await copyBackup(source, target, m1.id);
    const n = distinctChunks(m1);
    expect(first).toMatchObject({ created: true, chunks: n, copiedChunks: n, rawCopiedChunks: n, readChunks: n });
    // Same ids, byte-identical files.
    const id = m1.disks[0]!.chunks.find((c): c is string => typeof c === 'string')!;
    expect((await readFile(path.join(target.path, chunkRelPath(id)))).equals(await readFile(path.join(source.path, chunkRelPath(id))))).toBe(true);
    const second = await copyBackup(source, target, m2.id);
    expect(second).toMatchObject({ copiedChunks: 3, rawCopiedChunks: 3, readChunks: 3, skippedChunks: distinctChunks(m2) - 3 });
    expect((await restored(target, m1.id)).equals(img1)).toBe(true);
    expect((await restored(target, m2.id)).equals(img2)).toBe(true);
    expect((await target.loadManifest(m2.id)).disks).toEqual(m2.disks);
  });

  it('does not spread a damaged chunk: the copy fails naming it, and no backup appears', async () => {
    const source = await init();
    const target = await init();
    const { m1 } = await twoBackups(source);
    const id = m1.disks[0]!.chunks.find((c): c is string => typeof c === 'string')!;
    const file = path.join(source.path, chunkRelPath(id));
    const bytes = await readFile(file);
    bytes[bytes.length - 40] = bytes[bytes.length - 40]! ^ 0xff;
    await writeFile(file, bytes);
    await expect(copyBackup(source, target, m1.id)).rejects.toMatchObject({ code: 'CHUNK_CORRUPT', message: expect.stringContaining(id) });
    expect(await target.listBackups()).toEqual([]);
  });

  it('an unencrypted source copies into an encrypted target (re-encoded) and restores', async () => {
    const source = await init();
    const target = await init('pw-b');
    const { img2, m2 } = await twoBackups(source);
    const r = await copyBackup(source, target, m2.id);
    expect(r).toMatchObject({ created: true, rawCopiedChunks: 0, copiedChunks: distinctChunks(m2) });
    expect((await restored(target, m2.id)).equals(img2)).toBe(true);
  });
});

describe('repositories of version 1 (SHA-256 chunk ids) beside version 2 (BLAKE3)', () => {
  async function initV1(password?: string): Promise<Repository> {
    const dir = path.join(await dirs.make('vplus-copy-test-'), 'repo');
    const repo = await Repository.init(dir, { chunkSize: CHUNK, kdf: TEST_KDF, chunkIdHash: 'sha256', ...(password ? { password } : {}) }, { threads: 2 });
    repos.push(repo);
    return repo;
  }

  it('a version 1 repository keeps its SHA-256 ids: backups, incrementals, verify and a password change leave it version 1', async () => {
    const v1 = await initV1('pw-a');
    expect(v1.config).toMatchObject({ version: 1, encryption: { chunkId: 'hmac-sha256' } });
    expect(v1.config.chunkId).toBeUndefined();
    const { img2, m1, m2 } = await twoBackups(v1);
    // The incremental deduplicated against the full: only the changed chunks are new.
    const inFull = objectIds(m1);
    expect([...objectIds(m2)].filter((id) => !inFull.has(id))).toHaveLength(3);
    await v1.changePassword('pw-b');
    const again = await reopen(v1, 'pw-b');
    expect(JSON.parse(await readFile(path.join(v1.path, 'config.json'), 'utf8'))).toMatchObject({ version: 1, encryption: { chunkId: 'hmac-sha256' } });
    expect((await again.verify()).ok).toBe(true);
    expect((await restored(again, m2.id)).equals(img2)).toBe(true);
  });

  it('copies between the versions re-encode every chunk under the target\'s ids, both ways, and restore bit-exact', async () => {
    const v1 = await initV1();
    const v2 = await init();
    expect(v2.config).toMatchObject({ version: 2, chunkId: { algorithm: 'blake3' } });
    const { img1, img2, m1, m2 } = await twoBackups(v1);
    const n = distinctChunks(m1);
    expect(await copyBackup(v1, v2, m1.id)).toMatchObject({ created: true, chunks: n, copiedChunks: n, rawCopiedChunks: 0 });
    expect(await copyBackup(v1, v2, m2.id)).toMatchObject({ created: true, copiedChunks: 3, rawCopiedChunks: 0 });
    const there = await v2.loadManifest(m1.id);
    const sourceIds = objectIds(m1);
    expect([...objectIds(there)].filter((id) => sourceIds.has(id))).toEqual([]);
    expect((await restored(v2, m1.id)).equals(img1)).toBe(true);
    expect((await restored(v2, m2.id)).equals(img2)).toBe(true);
    expect((await v2.verify()).ok).toBe(true);
    // And back, into another version 1 repository: the SHA-256 ids again.
    const back = await initV1();
    await copyBackup(v2, back, m1.id);
    expect((await back.loadManifest(m1.id)).disks).toEqual(m1.disks);
    expect((await restored(back, m1.id)).equals(img1)).toBe(true);
  });
});

describe('a target listed once (as an object store is)', () => {
  it('decides what to send from the listing: the same counts, and chunks sent by an aborted run are skipped', async () => {
    const source = await init('pw-a');
    const target = await init('pw-b');
    // What Repository.copyAccess() gives for an object store: the chunk ids, listed once per copy.
    let listings = 0;
    const access = target.copyAccess.bind(target);
    target.copyAccess = () => ({
      ...access(),
      listChunks: async () => {
        listings++;
        return new Set(await chunkFiles(target));
      },
    });
    const { img2, m1, m2 } = await twoBackups(source);
    const abort = new AbortController();
    await expect(copyBackup(source, target, m1.id, { signal: abort.signal, maxInFlight: 1, progressIntervalMs: 0, onProgress: (p) => p.chunksDone >= 4 && abort.abort() })).rejects.toMatchObject({ name: 'AbortError' });
    const sent = (await chunkFiles(target)).length;
    const total = distinctChunks(m1);
    expect(await copyBackup(source, target, m1.id)).toMatchObject({ resumed: true, copiedChunks: total - sent, readChunks: total - sent });
    expect(await copyBackup(source, target, m2.id)).toMatchObject({ copiedChunks: 3, readChunks: 3 });
    expect(listings).toBe(3);
    expect((await restored(target, m2.id)).equals(img2)).toBe(true);
  });
});

describe('refusals', () => {
  it('refuses a copy onto the same repository and names a missing backup', async () => {
    const source = await init('pw-a');
    const target = await init('pw-b');
    await expect(copyBackup(source, source, 'x1')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(copyBackup(source, target, '20250101T000000Z-0000000000')).rejects.toMatchObject({ code: 'BACKUP_NOT_FOUND' });
  });
});

