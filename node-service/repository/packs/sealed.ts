/**
 * The sealed envelope of the pack layer's small files (pack headers, index files, point
 * manifests; FORMAT.md "Packs"): the 12-byte header of chunk-format.ts, a zstd body, then
 * AES-256-GCM with the header and a label in the AAD (encrypted repositories) or a SHA-256
 * trailer (unencrypted ones). The label binds a file to its role and name, so a point
 * manifest renamed to another id, or an index moved into a pack, fails to open.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { compress, decompress } from 'zstd-napi';
import {
  ENVELOPE_HEADER_BYTES as HEADER,
  FLAG_ENCRYPTED,
  FLAG_ZSTD,
  GCM_NONCE_BYTES as NONCE,
  GCM_TAG_BYTES as TAG,
  KNOWN_FLAGS,
  envelopeHeader,
  hasMagic,
} from '../chunk-format.js';

const HASH = 32;
const ZSTD_LEVEL = 3;

/** The envelope cannot be opened; `detail` says why (for messages naming the file). */
export class SealedFileError extends Error {
  override readonly name = 'SealedFileError';
  constructor(
    readonly detail: string,
    /** Set when the file was written by a newer format version this reader does not know. */
    readonly newerVersion = false,
  ) {
    super(detail);
  }
}

export function seal(magic: string, version: number, label: string, plain: Uint8Array, key: Buffer | null): Buffer {
  const body = compress(plain, { compressionLevel: ZSTD_LEVEL });
  const header = envelopeHeader(magic, version, FLAG_ZSTD | (key ? FLAG_ENCRYPTED : 0), plain.length);
  if (key) {
    const nonce = randomBytes(NONCE);
    const cipher = createCipheriv('aes-256-gcm', key, nonce);
    cipher.setAAD(Buffer.concat([header, Buffer.from(label, 'utf8')]));
    const ct = Buffer.concat([cipher.update(body), cipher.final()]);
    return Buffer.concat([header, nonce, ct, cipher.getAuthTag()]);
  }
  const digest = createHash('sha256').update(header).update(body).digest();
  return Buffer.concat([header, body, digest]);
}

/** The plaintext of a sealed file; throws SealedFileError on any mismatch. */
export function unseal(raw: Buffer, magic: string, version: number, label: string, key: Buffer | null): Buffer {
  if (!hasMagic(raw, magic)) throw new SealedFileError(`not a ${magic} file`);
  const v = raw[4] ?? 0;
  if (v > version) throw new SealedFileError(`format version ${v} was written by a newer version of vPlus (this one reads ${version}); upgrade the node software`, true);
  if (v !== version) throw new SealedFileError(`unknown format version ${v}`);
  const flags = raw[5] ?? 0;
  if ((flags & ~KNOWN_FLAGS) !== 0) throw new SealedFileError('unknown flags');
  const encrypted = (flags & FLAG_ENCRYPTED) !== 0;
  if (encrypted !== (key !== null)) throw new SealedFileError(encrypted ? 'encrypted file in an unencrypted repository' : 'unencrypted file in an encrypted repository');
  const header = raw.subarray(0, HEADER);
  let body: Buffer;
  if (key) {
    if (raw.length < HEADER + NONCE + TAG) throw new SealedFileError('truncated');
    const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(HEADER, HEADER + NONCE));
    decipher.setAAD(Buffer.concat([header, Buffer.from(label, 'utf8')]));
    decipher.setAuthTag(raw.subarray(raw.length - TAG));
    try {
      body = Buffer.concat([decipher.update(raw.subarray(HEADER + NONCE, raw.length - TAG)), decipher.final()]);
    } catch {
      throw new SealedFileError('authentication failed (damaged, tampered with, or stored under another name)');
    }
  } else {
    if (raw.length < HEADER + HASH) throw new SealedFileError('truncated');
    body = raw.subarray(HEADER, raw.length - HASH);
    const digest = createHash('sha256').update(header).update(body).digest();
    if (!digest.equals(raw.subarray(raw.length - HASH))) throw new SealedFileError('checksum mismatch');
  }
  let plain: Buffer;
  try {
    plain = (flags & FLAG_ZSTD) !== 0 ? decompress(body) : body;
  } catch {
    throw new SealedFileError('decompression failed');
  }
  if (plain.length !== raw.readUInt32LE(8)) throw new SealedFileError('length mismatch');
  return plain;
}
