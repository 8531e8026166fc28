import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { writeFileAtomic } from './atomic-file.js';

const VERSION = 'v1';

export class SecretKeyError extends Error {
  readonly code = 'SECRET_KEY_INVALID';
}

/**
 * Encrypts secrets stored in the catalog (SSH credentials, repository
 * passwords, SMTP passwords) with AES-256-GCM under a key that lives in the
 * data dir (mode 0600), never in the database: a stolen catalog dump alone
 * reveals nothing.
 */
export class SecretBox {
  private constructor(private readonly key: Buffer) {}

  static async open(keyFile: string): Promise<SecretBox> {
    try {
      const key = await fs.promises.readFile(keyFile);
      if (key.length !== 32) throw new SecretKeyError(`the secret key ${keyFile} is damaged (expected 32 bytes)`);
      const st = await fs.promises.stat(keyFile);
      if ((st.mode & 0o077) !== 0) await fs.promises.chmod(keyFile, 0o600);
      return new SecretBox(key);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    const key = randomBytes(32);
    await writeFileAtomic(keyFile, key, 0o600);
    return new SecretBox(key);
  }

  /** `aad` binds a ciphertext to its purpose (e.g. the secret's name) so it can't be swapped. */
  encrypt(plaintext: string, aad = ''): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(aad));
    const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return `${VERSION}:${Buffer.concat([iv, cipher.getAuthTag(), ct]).toString('base64')}`;
  }

  decrypt(sealed: string, aad = ''): string {
    const [version, body] = sealed.split(':', 2);
    if (version !== VERSION || !body) throw new SecretKeyError('a stored secret has an unknown format');
    const raw = Buffer.from(body, 'base64');
    const decipher = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, 12));
    decipher.setAAD(Buffer.from(aad));
    decipher.setAuthTag(raw.subarray(12, 28));
    try {
      return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
    } catch {
      throw new SecretKeyError('a stored secret cannot be decrypted: the data dir secret key does not match the catalog');
    }
  }
}
