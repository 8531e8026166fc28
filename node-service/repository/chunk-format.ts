/**
 * The binary envelope of chunk files and manifest files (FORMAT.md "Chunk files" and
 * "Manifest files"), defined once for the codec worker threads, the manifest store and the
 * tests. It imports nothing, so a worker thread loads it without zod.
 *
 *   offset 0: magic (4) | 4: version (1) | 5: flags (1) | 6: reserved, 0 (2) | 8: plaintext length (uint32 LE)
 */

export const CHUNK_MAGIC = 'VPCK';
export const MANIFEST_MAGIC = 'VPMF';
/** Version byte of a chunk file (a manifest carries the repository's FORMAT_VERSION). */
export const CHUNK_FILE_VERSION = 1;

/**
 * How a repository names its chunks (FORMAT.md "Chunk ids"): SHA-256 (HMAC-SHA-256 under the
 * chunk-id key when encrypted; every version 1 repository), or BLAKE3 (keyed with that key
 * when encrypted; repository version 2).
 */
export type ChunkIdHash = 'sha256' | 'blake3';

export const ENVELOPE_HEADER_BYTES = 12;
/** AES-256-GCM: a random 96-bit nonce after the header, the tag at the end. */
export const GCM_NONCE_BYTES = 12;
export const GCM_TAG_BYTES = 16;

export const FLAG_ZSTD = 1;
export const FLAG_ENCRYPTED = 2;
/** Any other flag bit makes a file unreadable (written by a newer format). */
export const KNOWN_FLAGS = FLAG_ZSTD | FLAG_ENCRYPTED;

/** A header with `magic`, `version`, `flags` and `plainLength`; reserved bytes are 0. */
export function envelopeHeader(magic: string, version: number, flags: number, plainLength: number): Buffer {
  const h = Buffer.alloc(ENVELOPE_HEADER_BYTES);
  h.write(magic, 0, 4, 'latin1');
  h[4] = version;
  h[5] = flags;
  h.writeUInt32LE(plainLength, 8);
  return h;
}

/** Whether `buf` is at least a header long and starts with `magic`. */
export function hasMagic(buf: Uint8Array, magic: string): boolean {
  if (buf.length < ENVELOPE_HEADER_BYTES) return false;
  for (let i = 0; i < 4; i++) if (buf[i] !== magic.charCodeAt(i)) return false;
  return true;
}
