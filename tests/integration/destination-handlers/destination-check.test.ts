import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DestinationCheckResultSchema } from '../../../common/api/destinations.js';
import { destinationCheckHandler } from '../../../node-service/agent/handlers/destination-check.handler.js';
import { Repository } from '../../../node-service/repository/index.js';
import { TEST_KDF, TempDirs } from '../../unit/repository/helpers.js';
import { CHUNK, NODE, handlerDeps, mount, run, runFailing, umount, writeBackup } from './helpers.js';

const PASSWORD = 'correct horse battery';
const dirs = new TempDirs();
const mounts: string[] = [];
const check = destinationCheckHandler(handlerDeps());

afterEach(async () => {
  for (const m of mounts.splice(0).reverse()) umount(m);
  await dirs.cleanup();
});

describe('DESTINATION_CHECK', () => {
  it('creates an encrypted repository in an empty directory and reports space and stats', async () => {
    const dir = await dirs.make();
    const { out, seen } = await run(check, dir, { create: true }, PASSWORD);
    const result = DestinationCheckResultSchema.parse(out.result);
    expect(result).toMatchObject({ created: true, encrypted: true, stats: { backups: 0, logicalBytes: 0, dedupRatio: null, compressionRatio: null } });
    expect(result.freeBytes).toBeGreaterThan(0);
    expect(result.totalBytes).toBeGreaterThanOrEqual(result.freeBytes!);
    expect(out.failed).toBeUndefined();
    expect(JSON.parse(await readFile(path.join(dir, 'config.json'), 'utf8'))).toMatchObject({ format: 'vplus-repository', encryption: { algorithm: 'aes-256-gcm' } });
    // The probe file is gone and the password appears in no log line.
    expect((await readdir(dir)).filter((n) => n.startsWith('.vplus-probe'))).toEqual([]);
    expect(JSON.stringify(seen.logs)).not.toContain(PASSWORD);
    expect(seen.logs.map((l) => l.message)).toContain(`created an encrypted repository at ${dir}`);
    const repo = await Repository.open(dir, { password: PASSWORD });
    await repo.close();
  });

  it('creates an unencrypted repository, making the directory when its parent exists', async () => {
    const parent = await dirs.make();
    const dir = path.join(parent, 'vplus');
    const { out } = await run(check, dir, { create: true });
    expect(DestinationCheckResultSchema.parse(out.result)).toMatchObject({ created: true, encrypted: false });
    expect((await stat(dir)).isDirectory()).toBe(true);
    await (await Repository.open(dir)).close();
  });

  it('reopens an existing repository with its backups, and refuses a wrong or missing password', async () => {
    const dir = await dirs.make();
    const repo = await Repository.init(dir, { password: PASSWORD, chunkSize: CHUNK, kdf: TEST_KDF });
    await writeBackup(repo, 'vm:a', [{ kind: 'text', offset: 0, length: 512 * 1024, seed: 1 }]);
    await repo.close();

    for (const create of [false, true]) {
      const { out } = await run(check, dir, { create }, PASSWORD);
      const result = DestinationCheckResultSchema.parse(out.result);
      expect(result).toMatchObject({ created: false, encrypted: true, stats: { backups: 1, logicalBytes: 1024 * 1024 } });
      expect(result.stats.storedBytes).toBeGreaterThan(0);
      expect(result.stats.compressionRatio).toBeGreaterThan(1);
      expect(result.stats.dedupRatio).toBe(1);
    }
    const before = await readFile(path.join(dir, 'config.json'), 'utf8');
    const wrong = await runFailing(check, dir, { create: true }, 'not the password');
    expect(wrong.code).toBe('REPO_WRONG_PASSWORD');
    expect(wrong.message).toBe(`The password for the encrypted repository at ${dir} is wrong. Enter the password that was set when the destination was created.`);
    const none = await runFailing(check, dir, { create: true });
    expect(none.code).toBe('REPO_PASSWORD_REQUIRED');
    expect(await readFile(path.join(dir, 'config.json'), 'utf8')).toBe(before);
  });

  it('a missing path fails naming the node, and nothing is created', async () => {
    const root = await dirs.make();
    const missing = path.join(root, 'nas', 'vplus');
    for (const create of [false, true]) {
      const err = await runFailing(check, missing, { create });
      expect(err.message).toBe(`destination ${missing} does not exist on node ${NODE}; is the share mounted?`);
      expect(err.code).toBe('DESTINATION_MISSING');
    }
    // Without create an existing-but-missing directory is not made either.
    const notYet = path.join(root, 'vplus');
    expect((await runFailing(check, notYet, { create: false })).message).toMatch(/does not exist on node store-1/);
    expect(await readdir(root)).toEqual([]);
  });

  it('a file, an empty directory without create, and a foreign non-empty directory are refused', async () => {
    const root = await dirs.make();
    const file = path.join(root, 'file');
    await writeFile(file, 'x');
    expect((await runFailing(check, file, { create: true })).message).toBe(`destination ${file} on node ${NODE} is a file, not a directory; choose a directory`);

    const empty = path.join(root, 'empty');
    await mkdir(empty);
    const noRepo = await runFailing(check, empty, { create: false });
    expect(noRepo.message).toBe(`destination ${empty} on node ${NODE} holds no vPlus repository (the directory is empty); is the share mounted?`);
    expect(await readdir(empty)).toEqual([]);

    const foreign = path.join(root, 'foreign');
    await mkdir(foreign);
    await writeFile(path.join(foreign, 'photos.zip'), 'not ours');
    const err = await runFailing(check, foreign, { create: true }, PASSWORD);
    expect(err.message).toMatch(new RegExp(`^destination ${foreign} on node ${NODE} is not empty and holds no vPlus repository; choose an empty directory`));
    expect(err.code).toBe('DESTINATION_NOT_EMPTY');
    expect(await readdir(foreign)).toEqual(['photos.zip']);
  });

  it('a read-only filesystem is refused, empty or holding a repository', async () => {
    const root = await dirs.make();
    const ro = path.join(root, 'ro');
    await mkdir(ro);
    mount(['-t', 'tmpfs', '-o', 'ro,size=1m', 'tmpfs', ro]);
    mounts.push(ro);
    const err = await runFailing(check, ro, { create: true });
    expect(err.message).toBe(`destination ${ro} on node ${NODE} is read-only; remount it read-write`);
    expect(err.code).toBe('DESTINATION_READ_ONLY');

    // A repository seen through a read-only bind mount: the check fails, nothing is written.
    const repoDir = path.join(root, 'repo');
    await (await Repository.init(repoDir, { kdf: TEST_KDF })).close();
    const view = path.join(root, 'view');
    await mkdir(view);
    mount(['--bind', repoDir, view]);
    mounts.push(view);
    mount(['-o', 'remount,bind,ro', view]);
    expect((await runFailing(check, view, { create: false })).message).toBe(`destination ${view} on node ${NODE} is read-only; remount it read-write`);
  });

  it('a full destination is refused before anything is created', async () => {
    const root = await dirs.make();
    const full = path.join(root, 'full');
    await mkdir(full);
    mount(['-t', 'tmpfs', '-o', 'size=16k', 'tmpfs', full]);
    mounts.push(full);
    const err = await runFailing(check, full, { create: true });
    expect(err.message).toMatch(new RegExp(`^destination ${full} on node ${NODE} is full; earlier backups are intact\\. Garbage-collect it \\(vplus destination gc <destination> --wait`));
    expect(await readdir(full)).toEqual([]);
  });

  it('bad parameters fail with a clear message', async () => {
    const err = await runFailing(check, 'relative/path', { create: true });
    expect(err.message).toMatch(/the task's parameters are invalid \(repository\.path: the destination path must be absolute\)/);
  });
});
