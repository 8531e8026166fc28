/**
 * Key handling for encrypted repositories: a random 32-byte master key, wrapped
 * (AES-256-GCM) by a key derived from the password with scrypt. Purpose keys are derived
 * from the master key with HKDF so the id key never encrypts and the encryption key never ids.
 */
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes, scrypt } from 'node:crypto';
import { readRecoveryKeyBlock, RECOVERY_KEY_BEGIN, RECOVERY_KEY_END } from '../../common/recovery-key.js';
import type { KdfParams } from './format.js';

export interface RepositoryKeys {
  /** HMAC-SHA-256 key for chunk ids (so ids reveal nothing about the plaintext). */
  chunkIdKey: Buffer;
  /** AES-256-GCM key for chunk files. */
  chunkKey: Buffer;
  /** AES-256-GCM key for manifests. */
  manifestKey: Buffer;
}

const WRAP_AAD_PREFIX = 'vplus-repository-key/v1:';

export function deriveKeys(masterKey: Buffer, repositoryId: string): RepositoryKeys {
  const salt = Buffer.from(repositoryId, 'utf8');
  const sub = (info: string): Buffer => Buffer.from(hkdfSync('sha256', masterKey, salt, `vplus/v1/${info}`, 32));
  return { chunkIdKey: sub('chunk-id'), chunkKey: sub('chunk-encryption'), manifestKey: sub('manifest-encryption') };
}

/**
 * Password keys this process derived, by password and KDF parameters (salt included): a node
 * opens a destination's repository for every task on it (a backup's EXPORT and STORE, then
 * COPY, PRUNE, GC), and scrypt costs about 0.2 CPU-s and 64 MiB each time. A key unused for
 * KEK_CACHE_TTL_MS is dropped. The entry's name is a SHA-256 of the inputs; anyone who can
 * read this process's memory can read the unlocked keys too, so it gives nothing away.
 */
const KEK_CACHE_MAX = 16;
const KEK_CACHE_TTL_MS = 10 * 60_000;
const kekCache = new Map<string, { key: Buffer; usedAt: number }>();
let derivations = 0;

/** How many password keys this process derived with scrypt (the cache's misses): diagnostics and tests. */
export function passwordKeyDerivations(): number {
  return derivations;
}

export async function passwordKey(password: string, kdf: Omit<KdfParams, 'algorithm'>): Promise<Buffer> {
  const name = createHash('sha256').update(JSON.stringify([kdf.salt, kdf.N, kdf.r, kdf.p, password])).digest('hex');
  const now = Date.now();
  for (const [k, v] of kekCache) if (now - v.usedAt > KEK_CACHE_TTL_MS) kekCache.delete(k);
  const hit = kekCache.get(name);
  if (hit) {
    // Last used last: the oldest entry is the one dropped when the cache is full.
    kekCache.delete(name);
    kekCache.set(name, { key: hit.key, usedAt: now });
    return Buffer.from(hit.key);
  }
  const key = await derivePasswordKey(password, kdf);
  derivations++;
  kekCache.set(name, { key: Buffer.from(key), usedAt: now });
  if (kekCache.size > KEK_CACHE_MAX) kekCache.delete(kekCache.keys().next().value!);
  return key;
}

async function derivePasswordKey(password: string, kdf: Omit<KdfParams, 'algorithm'>): Promise<Buffer> {
  const salt = Buffer.from(kdf.salt, 'base64');
  return new Promise((resolve, reject) => {
    scrypt(
      Buffer.from(password, 'utf8'),
      salt,
      32,
      { N: kdf.N, r: kdf.r, p: kdf.p, maxmem: 128 * kdf.N * kdf.r * kdf.p + 32 * 1024 * 1024 },
      (err, key) => (err ? reject(err) : resolve(key)),
    );
  });
}

export function wrapMasterKey(masterKey: Buffer, kek: Buffer, repositoryId: string): string {
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', kek, nonce);
  cipher.setAAD(Buffer.from(WRAP_AAD_PREFIX + repositoryId, 'utf8'));
  const ct = Buffer.concat([cipher.update(masterKey), cipher.final()]);
  return Buffer.concat([nonce, ct, cipher.getAuthTag()]).toString('base64');
}

/** Returns the master key, or null if the password key does not open it (wrong password). */
export function unwrapMasterKey(wrapped: string, kek: Buffer, repositoryId: string): Buffer | null {
  const raw = Buffer.from(wrapped, 'base64');
  if (raw.length !== 12 + 32 + 16) return null;
  const decipher = createDecipheriv('aes-256-gcm', kek, raw.subarray(0, 12));
  decipher.setAAD(Buffer.from(WRAP_AAD_PREFIX + repositoryId, 'utf8'));
  decipher.setAuthTag(raw.subarray(44));
  try {
    return Buffer.concat([decipher.update(raw.subarray(12, 44)), decipher.final()]);
  } catch {
    // GCM authentication failed: the only expected cause is a wrong password.
    return null;
  }
}

/** 4 bytes of SHA-256 over the key and the repository id: a mistyped or foreign key is refused, not used. */
function recoveryChecksum(masterKey: Buffer, repositoryId: string): Buffer {
  return createHash('sha256').update(masterKey).update(repositoryId, 'utf8').digest().subarray(0, 4);
}

/**
 * The repository's master key as a printable block: whoever holds it can open the repository
 * without the password, so it is shown once and kept offline. Hex in groups of 8, easy to
 * type back from paper; the checksum catches a typo. The block's shape is shared with the API,
 * the CLI and the UI (common/recovery-key.ts).
 */
export function formatRecoveryKey(masterKey: Buffer, repositoryId: string): string {
  const hex = Buffer.concat([masterKey, recoveryChecksum(masterKey, repositoryId)]).toString('hex');
  const groups = hex.match(/.{1,8}/g) ?? [];
  const lines: string[] = [];
  for (let i = 0; i < groups.length; i += 3) lines.push(groups.slice(i, i + 3).join(' '));
  return [RECOVERY_KEY_BEGIN, `Repository: ${repositoryId}`, '', ...lines, RECOVERY_KEY_END, ''].join('\n');
}

/** The master key and repository id in a recovery key block; null when it is not one (or mistyped). */
export function parseRecoveryKey(text: string): { masterKey: Buffer; repositoryId: string } | null {
  const block = readRecoveryKeyBlock(text);
  if (!block) return null;
  const raw = Buffer.from(block.hex, 'hex');
  const masterKey = raw.subarray(0, 32);
  if (!recoveryChecksum(masterKey, block.repositoryId).equals(raw.subarray(32))) return null;
  return { masterKey: Buffer.from(masterKey), repositoryId: block.repositoryId };
}
