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
