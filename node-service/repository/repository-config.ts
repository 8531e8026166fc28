/**
 * The repository's config.json (FORMAT.md): creating the directory it goes in, reading and
 * checking it, and the one rewrite it ever gets — the master key wrapped for a new password.
 */
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import {
  InvalidArgumentError,
  NotARepositoryError,
  RepositoryError,
  RepositoryExistsError,
  RepositoryPathMissingError,
  UnsupportedVersionError,
  isErrno,
  toRepositoryError,
} from './errors.js';
import type { RepositoryFileSystem } from './file-system.js';
import { BLAKE3_MODULE, blake3Available } from './chunk-codec.js';
import { CONFIG_VERSIONS, FORMAT_NAME, LAYOUT, chunkIdHashOf, repositoryConfigSchema, type RepositoryConfig } from './format.js';
import { passwordKey, unwrapMasterKey, wrapMasterKey } from './keys.js';

export async function prepareEmptyDirectory(abs: string, fs: RepositoryFileSystem): Promise<void> {
  const parent = path.dirname(abs);
  try {
    const st = await fs.stat(parent);
    if (!st.isDirectory) throw new RepositoryPathMissingError(parent);
  } catch (err) {
    if (isErrno(err, 'ENOENT', 'ENOTDIR')) throw new RepositoryPathMissingError(parent, err);
    throw toRepositoryError(err, abs, 'creating the repository');
  }
  try {
    const st = await fs.stat(abs);
    if (!st.isDirectory) throw new RepositoryExistsError(abs, 'a file with that name is in the way');
    const entries = await fs.readdir(abs);
    if (entries.includes(LAYOUT.config)) throw new RepositoryExistsError(abs, 'a repository already exists there');
    if (entries.length > 0) throw new RepositoryExistsError(abs, 'the directory is not empty');
  } catch (err) {
    if (err instanceof RepositoryError) throw err;
    if (!isErrno(err, 'ENOENT')) throw toRepositoryError(err, abs, 'creating the repository');
    try {
      await fs.mkdir(abs);
    } catch (mkErr) {
      throw toRepositoryError(mkErr, abs, 'creating the repository directory');
    }
  }
}
/** The repository's config file, checked: a vPlus repository of a version this library reads. */
export async function readConfig(abs: string, fs: RepositoryFileSystem): Promise<RepositoryConfig> {
  const { config } = await readConfigFile(abs, fs);
  if (chunkIdHashOf(config) === 'blake3' && !blake3Available()) {
    throw new RepositoryError(
      'REPO_UNSUPPORTED_VERSION',
      `Repository at ${abs} names its chunks with BLAKE3, whose native module (${BLAKE3_MODULE}) does not load on this node; install the vPlus node package for Linux x64 there.`,
      { path: abs },
    );
  }
  return config;
}

/** readConfig, with the JSON as written (with any field this version does not know, to keep it on a rewrite). */
export async function readConfigFile(abs: string, fs: RepositoryFileSystem): Promise<{ config: RepositoryConfig; json: Record<string, unknown> }> {
  try {
    const st = await fs.stat(abs);
    if (!st.isDirectory) throw new NotARepositoryError(abs, 'it is not a directory');
  } catch (err) {
    if (isErrno(err, 'ENOENT', 'ENOTDIR')) throw new RepositoryPathMissingError(abs, err);
    throw toRepositoryError(err, abs, 'opening the repository');
  }
  let raw: Buffer;
  try {
    raw = await fs.readFile(path.join(abs, LAYOUT.config));
  } catch (err) {
    if (isErrno(err, 'ENOENT')) throw new NotARepositoryError(abs, `no ${LAYOUT.config}`);
    throw toRepositoryError(err, abs, 'reading the repository configuration');
  }
  let json: unknown;
  try {
    json = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new RepositoryError('REPO_CONFIG_CORRUPT', `The repository configuration ${path.join(abs, LAYOUT.config)} is not valid JSON; restore it from a copy.`, {
      path: abs,
    });
  }
  const head = json as { format?: unknown; version?: unknown };
  if (typeof json !== 'object' || json === null || head.format !== FORMAT_NAME) {
    throw new NotARepositoryError(abs, `${LAYOUT.config} is not a vPlus repository configuration`);
  }
  if (!(CONFIG_VERSIONS as readonly unknown[]).includes(head.version)) throw new UnsupportedVersionError(abs, head.version);
  const parsed = repositoryConfigSchema.safeParse(json);
  if (!parsed.success) {
    throw new RepositoryError(
      'REPO_CONFIG_CORRUPT',
      `The repository configuration ${path.join(abs, LAYOUT.config)} is damaged (${parsed.error.issues[0]?.message ?? 'invalid'}); restore it from a copy.`,
      { path: abs },
    );
  }
  return { config: parsed.data, json: json as Record<string, unknown> };
}

/**
 * Wraps `masterKey` for `newPassword` in place of the old wrapping (FORMAT.md, "Changing the
 * password"): re-read the config (it must still be repository `id`, encrypted), new salt, same
 * cost unless `kdf` says otherwise, every other field kept as read (including ones this version
 * does not know), written temp → fsync → rename, then read back and unwrapped with the new
 * password. Returns the config now on disk.
 */
export async function rewrapMasterKey(
  abs: string,
  fs: RepositoryFileSystem,
  change: { id: string; masterKey: Buffer; newPassword: string; kdf?: { N?: number; r?: number; p?: number } },
): Promise<RepositoryConfig> {
  const file = path.join(abs, LAYOUT.config);
  const { config: onDisk, json } = await readConfigFile(abs, fs);
  if (onDisk.id !== change.id || onDisk.encryption === null) {
    throw new RepositoryError('REPO_CONFIG_CORRUPT', `The repository configuration ${file} changed while the repository was open (it is now repository ${onDisk.id}); nothing was written.`, { path: abs });
  }
  const kdf = {
    algorithm: 'scrypt' as const,
    N: change.kdf?.N ?? onDisk.encryption.kdf.N,
    r: change.kdf?.r ?? onDisk.encryption.kdf.r,
    p: change.kdf?.p ?? onDisk.encryption.kdf.p,
    salt: randomBytes(16).toString('base64'),
  };
  const wrappedKey = wrapMasterKey(change.masterKey, await passwordKey(change.newPassword, kdf), change.id);
  const next = { ...json, encryption: { ...(json.encryption as Record<string, unknown>), kdf, wrappedKey } };
  const parsed = repositoryConfigSchema.safeParse(next);
  if (!parsed.success) throw new InvalidArgumentError(`invalid key settings: ${parsed.error.issues[0]?.message ?? ''}`);
  try {
    await fs.writeFileAtomic(file, Buffer.from(JSON.stringify(next, null, 2) + '\n'));
    await fs.syncDir(abs);
  } catch (err) {
    throw toRepositoryError(err, abs, 'writing the repository configuration');
  }
  // Read back what the destination now holds: a share that lies about writes, or another party
  // changing the password at the same moment, must not be reported as done.
  const { config: written } = await readConfigFile(abs, fs);
  const back = written.encryption ? unwrapMasterKey(written.encryption.wrappedKey, await passwordKey(change.newPassword, written.encryption.kdf), written.id) : null;
  if (!back?.equals(change.masterKey)) {
    throw new RepositoryError('REPO_IO_ERROR', `The new password was written to ${file} but does not read back from it (changed again at the same moment?); the password may not have changed. Try again.`, { path: abs });
  }
  return written;
}
