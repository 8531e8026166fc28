import { createHash } from 'node:crypto';
import { readFile, readdir, rename, stat, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Repository, WrongPasswordError } from '../../../node-service/repository/index.js';
import { passwordKeyDerivations } from '../../../node-service/repository/keys.js';
import { MIB, TEST_KDF, TempDirs, makeImage, memorySource, readAll } from '../../unit/repository/helpers.js';

const KIB = 1024;
const CHUNK = 256 * KIB;
const dirs = new TempDirs();
const repos: Repository[] = [];
afterEach(async () => {
  await Promise.all(repos.splice(0).map((r) => r.close()));
  await dirs.cleanup();
});

async function track(r: Promise<Repository>): Promise<Repository> {
  const repo = await r;
  repos.push(repo);
  return repo;
}

/** Every file under dir with its size and mtime, to prove nothing was written. */
async function snapshotTree(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    const p = path.join(e.parentPath, e.name);
    const st = await stat(p);
    out.push(`${path.relative(dir, p)} ${st.size} ${st.mtimeMs}`);
  }
  return out.sort();
}

describe('encrypted repository', () => {
  it('refuses a wrong or missing password clearly and writes nothing', async () => {
    const repoPath = path.join(await dirs.make(), 'repo');
    const created = await track(Repository.init(repoPath, { password: 'right', kdf: TEST_KDF }));
    expect(created.encrypted).toBe(true);
    const before = await snapshotTree(repoPath);
    const err = await Repository.open(repoPath, { password: 'wrong' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WrongPasswordError);
    expect(err).toMatchObject({ code: 'REPO_WRONG_PASSWORD', path: repoPath });
    expect((err as Error).message).toBe(
      `The password for the encrypted repository at ${repoPath} is wrong. Enter the password that was set when the destination was created.`,
    );
    await expect(Repository.open(repoPath)).rejects.toMatchObject({ code: 'REPO_PASSWORD_REQUIRED' });
    expect(await snapshotTree(repoPath)).toEqual(before);
    await track(Repository.open(repoPath, { password: 'right' }));

    const plainPath = path.join(await dirs.make(), 'plain');
    await track(Repository.init(plainPath));
    await expect(Repository.open(plainPath, { password: 'x' })).rejects.toMatchObject({ code: 'REPO_NOT_ENCRYPTED' });
  });

  it('derives a password key once per process: the repository opens again without scrypt; a wrong or replaced password is still refused', async () => {
    const repoPath = path.join(await dirs.make(), 'repo');
    await (await Repository.init(repoPath, { password: 'first', kdf: TEST_KDF })).close();
    const before = passwordKeyDerivations();
    for (let i = 0; i < 3; i++) await (await Repository.open(repoPath, { password: 'first' })).close();
    expect(passwordKeyDerivations() - before).toBe(0);
    await expect(Repository.open(repoPath, { password: 'wrong' })).rejects.toBeInstanceOf(WrongPasswordError);
    await expect(Repository.open(repoPath, { password: 'wrong' })).rejects.toBeInstanceOf(WrongPasswordError);
    expect(passwordKeyDerivations() - before).toBe(1);
    const repo = await Repository.open(repoPath, { password: 'first' });
    await repo.changePassword('second', { kdf: TEST_KDF });
    await repo.close();
    await expect(Repository.open(repoPath, { password: 'first' })).rejects.toBeInstanceOf(WrongPasswordError);
    await (await Repository.open(repoPath, { password: 'second' })).close();
  });

  it('keyed chunk ids reveal nothing: no id is the SHA-256 of a chunk, and no plaintext is stored', async () => {
    const repo = await track(Repository.init(path.join(await dirs.make(), 'repo'), { password: 'pw', chunkSize: CHUNK, kdf: TEST_KDF }));
    const img = makeImage(2 * MIB, [
      { kind: 'text', offset: 0, length: MIB, seed: 1 },
      { kind: 'byte', offset: MIB, length: MIB, value: 0x41 },
    ]);
    const w = await repo.startBackup({ source: { vmName: 'secret-vm-name' } });
    const disk = await w.writeDisk('vda', img.length, memorySource(img));
    const m = await w.commit();
    const plainIds = new Set<string>();
    for (let o = 0; o < img.length; o += CHUNK) plainIds.add(createHash('sha256').update(img.subarray(o, o + CHUNK)).digest('hex'));
    const ids = disk.chunks.filter((e): e is string => typeof e === 'string');
    expect(ids.length).toBe(8);
    expect(new Set(ids).size).toBe(5); // 4 text chunks + 1 'A' chunk used 4 times
    for (const id of ids) expect(plainIds.has(id)).toBe(false);

    const snippet = img.subarray(5000, 5040);
    for (const shard of await readdir(path.join(repo.path, 'chunks'))) {
      for (const f of await readdir(path.join(repo.path, 'chunks', shard))) {
        expect(plainIds.has(f)).toBe(false);
        const data = await readFile(path.join(repo.path, 'chunks', shard, f));
        expect(data.includes(snippet)).toBe(false);
        expect(data.includes(Buffer.alloc(64, 0x41))).toBe(false);
      }
    }
    const manifestFile = await readFile(path.join(repo.path, 'backups', `${m.id}.manifest`));
    expect(manifestFile.includes(Buffer.from('secret-vm-name'))).toBe(false);
    expect(manifestFile.includes(Buffer.from(ids[0] ?? ''))).toBe(false);
    const config = await readFile(path.join(repo.path, 'config.json'), 'utf8');
    expect(config).not.toContain('"pw"');
  });
});

describe('verify', () => {
  for (const password of [undefined, 'pw']) {
    it(`names a damaged chunk and exactly the backups that use it; the others still restore (${password ? 'encrypted' : 'plain'})`, async () => {
      const repo = await track(
        Repository.init(path.join(await dirs.make(), 'repo'), { chunkSize: CHUNK, kdf: TEST_KDF, ...(password ? { password } : {}) }),
      );
      const shared = makeImage(CHUNK, [{ kind: 'random', offset: 0, length: CHUNK, seed: 5 }]);
      const own = (seed: number): Buffer => makeImage(CHUNK, [{ kind: 'text', offset: 0, length: CHUNK, seed }]);
      const imgs = [Buffer.concat([shared, own(1)]), Buffer.concat([own(2), shared]), Buffer.concat([own(3), own(4)])];
      const ids: string[] = [];
      for (const img of imgs) {
        const w = await repo.startBackup();
        await w.writeDisk('vda', img.length, memorySource(img));
        ids.push((await w.commit()).id);
      }
      const sharedId = (await repo.loadManifest(ids[0] ?? '')).disks[0]?.chunks[0] as string;
      const file = path.join(repo.path, 'chunks', sharedId.slice(0, 2), sharedId);
      const data = await readFile(file);
      data[data.length - 20] = (data[data.length - 20] ?? 0) ^ 0x01;
      await writeFile(file, data);

      const report = await repo.verify({ parallelism: 3 });
      expect(report.ok).toBe(false);
      expect(report.problems).toHaveLength(1);
      expect(report.problems[0]).toMatchObject({ chunkId: sharedId, kind: 'corrupt', backups: [ids[0], ids[1]] });
      expect(report.affectedBackups).toEqual([ids[0], ids[1]].sort());
      expect(report.chunksChecked).toBe(5);

      await expect(readAll((await repo.openBackup(ids[0] ?? '')).readDisk('vda'))).rejects.toMatchObject({ code: 'CHUNK_CORRUPT' });
      expect((await readAll((await repo.openBackup(ids[2] ?? '')).readDisk('vda'))).equals(imgs[2] as Buffer)).toBe(true);
      // The undamaged chunk of an affected backup is still readable by range.
      const b1 = await repo.openBackup(ids[1] ?? '');
      expect((await b1.readRange('vda', 0, CHUNK)).equals((imgs[1] as Buffer).subarray(0, CHUNK))).toBe(true);

      // A missing chunk is reported as missing, for the one backup that uses it.
      const ownId = (await repo.loadManifest(ids[2] ?? '')).disks[0]?.chunks[1] as string;
      await rename(path.join(repo.path, 'chunks', ownId.slice(0, 2), ownId), path.join(await dirs.make(), 'moved'));
      const again = await repo.verify();
      expect(again.problems.map((p) => [p.kind, p.chunkId, p.backups])).toEqual(
        [
          ['corrupt', sharedId, [ids[0], ids[1]]],
          ['missing', ownId, [ids[2]]],
        ].sort((a, b) => String(a[1]).localeCompare(String(b[1]))),
      );
      expect(again.affectedBackups).toEqual([...ids].sort());
    });
  }

  it('reports a damaged manifest and leaves it out of listings', async () => {
    const repo = await track(Repository.init(path.join(await dirs.make(), 'repo'), { chunkSize: CHUNK, password: 'pw', kdf: TEST_KDF }));
    const img = makeImage(CHUNK, [{ kind: 'random', offset: 0, length: CHUNK, seed: 8 }]);
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      const w = await repo.startBackup();
      await w.writeDisk('vda', img.length, memorySource(img));
      ids.push((await w.commit()).id);
    }
    const file = path.join(repo.path, 'backups', `${ids[1]}.manifest`);
    const data = await readFile(file);
    data[30] = (data[30] ?? 0) ^ 0xff;
    await writeFile(file, data);
    // A fresh handle (no cache), as another node would open it.
    const fresh = await track(Repository.open(repo.path, { password: 'pw' }));
    expect((await fresh.listBackups()).map((b) => b.id)).toEqual([ids[0]]);
    const report = await fresh.verify();
    expect(report.ok).toBe(false);
    expect(report.damagedManifests).toEqual([{ backupId: ids[1], detail: expect.stringMatching(/damaged or was tampered with \(authentication failed\)/) }]);
    expect(report.affectedBackups).toEqual([ids[1]]);
    await expect(fresh.gc({ graceMs: 0 })).rejects.toMatchObject({ code: 'MANIFEST_CORRUPT', message: expect.stringMatching(/stopped before deleting anything/) });
  });

  it('verifies a rotating subset: N runs cover every chunk exactly once', async () => {
    const repo = await track(Repository.init(path.join(await dirs.make(), 'repo'), { chunkSize: CHUNK }));
    const img = makeImage(6 * MIB, [{ kind: 'random', offset: 0, length: 6 * MIB, seed: 9 }]);
    const w = await repo.startBackup();
    await w.writeDisk('vda', img.length, memorySource(img));
    await w.commit();
    let total = 0;
    let bytes = 0;
    let stored = 0;
    for (let part = 0; part < 3; part++) {
      const r = await repo.verify({ subset: { part, of: 3 }, parallelism: 8 });
      expect(r.ok).toBe(true);
      expect(r.chunksReferenced).toBe(24);
      total += r.chunksChecked;
      bytes += r.bytesChecked;
      stored += r.storedBytesRead;
      expect(r.chunksChecked).toBeLessThan(24);
    }
    expect(total).toBe(24);
    expect(bytes).toBe(6 * MIB);
    expect(stored).toBe((await repo.stats()).referencedStoredBytes);
    await expect(repo.verify({ subset: { part: 3, of: 3 } })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});
