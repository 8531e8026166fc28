import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Repository } from '../../../node-service/repository/index.js';
import { parseRecoveryKey } from '../../../node-service/repository/keys.js';
import { KIB, TEST_KDF, TempDirs, makeImage, memorySource } from './helpers.js';

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

/**
 * The recovery key: the repository's master key as a printable block. It opens the
 * repository when the password is lost (no format change: the key itself is what the
 * password unwraps), and refuses a mistyped key or another repository's.
 */
describe('recovery key', () => {
  it('opens an encrypted repository without the password, and its backups read back', async () => {
    const repoPath = path.join(await dirs.make(), 'repo');
    const repo = await track(Repository.init(repoPath, { password: 'forgotten password', chunkSize: CHUNK, kdf: TEST_KDF }, { threads: 1 }));
    const image = makeImage(CHUNK * 2, [{ kind: 'text', offset: 0, length: CHUNK * 2, seed: 7 }]);
    const writer = await repo.startBackup({ group: 'vm:recover-me', source: { vmName: 'recover-me' } });
    await writer.writeDisk('vda', image.length, memorySource(image));
    const manifest = await writer.commit();
    const key = repo.recoveryKey();
    expect(key).toMatch(/^-----BEGIN VPLUS RECOVERY KEY-----\nRepository: [0-9a-f]{32}\n\n([0-9a-f]{8} ){2}[0-9a-f]{8}\n/);
    expect(key.trimEnd().endsWith('-----END VPLUS RECOVERY KEY-----')).toBe(true);
    // Opened with the password, the same key comes out.
    expect((await track(Repository.open(repoPath, { password: 'forgotten password' }, { threads: 1 }))).recoveryKey()).toBe(key);

    // Printed, with its lines re-wrapped and spaces lost on the way back: still readable.
    const typedBack = key
      .split('\n')
      .map((line) => (/^[0-9a-f ]+$/.test(line) ? `  ${line.replace(/ /g, '')}` : line))
      .join('\r\n');
    const recovered = await track(Repository.openWithRecoveryKey(repoPath, typedBack, { threads: 1 }));
    const [listed] = await recovered.listBackups();
    expect(listed).toMatchObject({ id: manifest.id, group: 'vm:recover-me', source: { vmName: 'recover-me' } });
    const reader = await recovered.openBackup(manifest.id);
    expect((await reader.readRange('vda', 0, image.length)).equals(image)).toBe(true);
  });

  it('refuses a mistyped key and another repository\'s key, and an unencrypted repository has none', async () => {
    const repoPath = path.join(await dirs.make(), 'repo');
    const repo = await track(Repository.init(repoPath, { password: 'pw-one', kdf: TEST_KDF }, { threads: 1 }));
    const key = repo.recoveryKey();
    const body = key.split('\n')[3] ?? '';
    const typo = key.replace(body, body.slice(0, 5) + (body[5] === 'a' ? 'b' : 'a') + body.slice(6));
    expect(parseRecoveryKey(typo)).toBeNull();
    await expect(Repository.openWithRecoveryKey(repoPath, typo)).rejects.toMatchObject({ code: 'REPO_RECOVERY_KEY_INVALID', message: expect.stringContaining('check it for typos') });
    await expect(Repository.openWithRecoveryKey(repoPath, 'not a key')).rejects.toMatchObject({ code: 'REPO_RECOVERY_KEY_INVALID' });

    const otherPath = path.join(await dirs.make(), 'other');
    const other = await track(Repository.init(otherPath, { password: 'pw-two', kdf: TEST_KDF }, { threads: 1 }));
    await expect(Repository.openWithRecoveryKey(repoPath, other.recoveryKey())).rejects.toMatchObject({ code: 'REPO_RECOVERY_KEY_INVALID', message: expect.stringContaining(`belongs to repository ${other.id}`) });

    const plainPath = path.join(await dirs.make(), 'plain');
    const plain = await track(Repository.init(plainPath, {}, { threads: 1 }));
    expect(() => plain.recoveryKey()).toThrow(/not encrypted/);
    await expect(Repository.openWithRecoveryKey(plainPath, key)).rejects.toMatchObject({ code: 'REPO_NOT_ENCRYPTED' });
  });
});

/**
 * The password lost, the recovery key kept: the key opens the repository and a new password is
 * set. The v1 format holds one wrapping of the master key (config.json), and the new password
 * replaces it: the old one, perhaps lost because it leaked, opens nothing any more, while the
 * recovery key (the master key itself) stays valid and no data is re-encrypted.
 */
describe('a new password set with the recovery key', () => {
  it('replaces the old password; the old backups read back with the new one, then and after another backup', async () => {
    const repoPath = path.join(await dirs.make(), 'repo');
    const repo = await track(Repository.init(repoPath, { password: 'lost password 1', chunkSize: CHUNK, kdf: TEST_KDF }, { threads: 1 }));
    const image = makeImage(CHUNK * 3, [{ kind: 'text', offset: 0, length: CHUNK * 2, seed: 11 }]);
    const writer = await repo.startBackup({ group: 'vm:a' });
    await writer.writeDisk('vda', image.length, memorySource(image));
    const first = await writer.commit();
    const key = repo.recoveryKey();
    const configFile = path.join(repoPath, 'config.json');
    const before = JSON.parse(await readFile(configFile, 'utf8')) as { id: string; createdAt: string; encryption: { kdf: { salt: string; N: number }; wrappedKey: string } };

    const recovered = await track(Repository.openWithRecoveryKey(repoPath, key, { threads: 1 }));
    await recovered.changePassword('new password 2');

    const after = JSON.parse(await readFile(configFile, 'utf8')) as typeof before;
    // Same repository, same cost; a fresh salt and a new wrapping in place of the old one.
    expect(after).toMatchObject({ id: before.id, createdAt: before.createdAt, encryption: { kdf: { N: before.encryption.kdf.N } } });
    expect(after.encryption.kdf.salt).not.toBe(before.encryption.kdf.salt);
    expect(after.encryption.wrappedKey).not.toBe(before.encryption.wrappedKey);
    expect(JSON.stringify(after)).not.toContain(before.encryption.wrappedKey);
    expect((await readdir(repoPath)).filter((f) => f.startsWith('.tmp-'))).toEqual([]);
    expect((await stat(configFile)).mode & 0o777).toBe(0o600);

    await expect(Repository.open(repoPath, { password: 'lost password 1' })).rejects.toMatchObject({ code: 'REPO_WRONG_PASSWORD' });
    const reopened = await track(Repository.open(repoPath, { password: 'new password 2' }, { threads: 1 }));
    expect(reopened.recoveryKey()).toBe(key);
    expect((await (await reopened.openBackup(first.id)).readRange('vda', 0, image.length)).equals(image)).toBe(true);
    // New backups deduplicate against the old ones (same master key, same chunk ids).
    const again = await reopened.startBackup({ group: 'vm:a' });
    await again.writeDisk('vda', image.length, memorySource(image));
    const second = await again.commit();
    expect(second.summary.newChunks).toBe(0);
    expect((await reopened.verify()).problems).toEqual([]);
    // The recovery key still opens it: it can be used again the next time the password is lost.
    expect((await track(Repository.openWithRecoveryKey(repoPath, key, { threads: 1 }))).id).toBe(before.id);
  });

  it('keeps what a newer version wrote in config.json, and also works from the password', async () => {
    const repoPath = path.join(await dirs.make(), 'repo');
    await (await Repository.init(repoPath, { password: 'first password', kdf: TEST_KDF }, { threads: 1 })).close();
    const configFile = path.join(repoPath, 'config.json');
    const withExtra = { ...JSON.parse(await readFile(configFile, 'utf8')), futureField: { a: 1 } } as Record<string, unknown>;
    (withExtra.encryption as Record<string, unknown>).futureKeyField = 'x';
    await writeFile(configFile, JSON.stringify(withExtra));

    const repo = await track(Repository.open(repoPath, { password: 'first password' }, { threads: 1 }));
    await repo.changePassword('second password');
    const after = JSON.parse(await readFile(configFile, 'utf8')) as Record<string, unknown>;
    expect(after.futureField).toEqual({ a: 1 });
    expect((after.encryption as Record<string, unknown>).futureKeyField).toBe('x');
    await expect(Repository.open(repoPath, { password: 'first password' })).rejects.toMatchObject({ code: 'REPO_WRONG_PASSWORD' });
    await (await Repository.open(repoPath, { password: 'second password' })).close();
  });

  it('refuses an unencrypted repository, an empty password, and a config replaced by another repository meanwhile, writing nothing', async () => {
    const plain = await track(Repository.init(path.join(await dirs.make(), 'plain'), {}, { threads: 1 }));
    await expect(plain.changePassword('whatever 1')).rejects.toMatchObject({ code: 'REPO_NOT_ENCRYPTED' });

    const repoPath = path.join(await dirs.make(), 'repo');
    const repo = await track(Repository.init(repoPath, { password: 'pw-one-1', kdf: TEST_KDF }, { threads: 1 }));
    await expect(repo.changePassword('')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });

    const otherPath = path.join(await dirs.make(), 'other');
    await (await Repository.init(otherPath, { password: 'pw-two-2', kdf: TEST_KDF }, { threads: 1 })).close();
    const otherConfig = await readFile(path.join(otherPath, 'config.json'));
    await writeFile(path.join(repoPath, 'config.json'), otherConfig);
    await expect(repo.changePassword('pw-three-3')).rejects.toMatchObject({ code: 'REPO_CONFIG_CORRUPT', message: expect.stringContaining('nothing was written') });
    expect((await readFile(path.join(repoPath, 'config.json'))).equals(otherConfig)).toBe(true);
  });
});
