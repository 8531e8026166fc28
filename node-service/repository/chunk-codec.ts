/**
 * The chunk codec: chunk ids and the chunk file layout of FORMAT.md "Chunk files" (its only
 * implementation). Encode = id (the repository's chunk-id hash, keyed when encrypted) + zstd when that
 * makes the chunk smaller + AES-256-GCM; decode = every header check, the reverse, and
 * optionally the re-hash against the id. Synchronous and CPU-bound: it runs in the codec
 * worker threads (chunk-worker.ts), never on the main thread of a backup.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { createRequire } from 'node:module';
import zstd from 'zstd-napi/binding.js';
import {
  CHUNK_FILE_VERSION,
  CHUNK_MAGIC,
  ENVELOPE_HEADER_BYTES,
  FLAG_ENCRYPTED,
  FLAG_ZSTD,
  GCM_NONCE_BYTES,
  GCM_TAG_BYTES,
  KNOWN_FLAGS,
  envelopeHeader,
  type ChunkIdHash,
  hasMagic,
} from './chunk-format.js';

/** The chunk file is not what its id and the repository say it must be. */
export class ChunkCorruptError extends Error {
  override readonly name = 'ChunkCorruptError';
}

/**
 * The native BLAKE3 of `@napi-rs/blake-hash`, built for Linux x64 with glibc (what we ship),
 * an optional dependency: where it is not installed, SHA-256 repositories still work.
 */
export const BLAKE3_MODULE = '@napi-rs/blake-hash-linux-x64-gnu';

/** The part of the module this codec uses. */
interface BlakeHash {
  blake3(input: Uint8Array): Buffer;
  Blake3Hasher: { newKeyed(key: Buffer): { update(input: Buffer): { digestBuffer(): Buffer } } };
}
let blakeModule: BlakeHash | undefined;

/**
 * The native BLAKE3 (loaded on first use, so a machine where it does not load still reads and
 * writes SHA-256 repositories); throws a message that says what is missing.
 */
function blake(): BlakeHash {
  if (blakeModule) return blakeModule;
  try {
    blakeModule = createRequire(import.meta.url)(BLAKE3_MODULE) as BlakeHash;
    return blakeModule;
  } catch (err) {
    throw new Error(`this repository names its chunks with BLAKE3, whose native module (${BLAKE3_MODULE}) does not load on this machine: ${(err as Error).message.split('\n')[0]}`);
  }
}

/** Whether BLAKE3 chunk ids can be computed here (new repositories use them only then). */
export function blake3Available(): boolean {
  try {
    blake();
    return true;
  } catch {
    return false;
  }
}

export interface ChunkCodecOptions {
  /** How chunks are named; keyed with `chunkIdKey` when there is one. */
  chunkIdHash: ChunkIdHash;
  /** Key for ids (HMAC-SHA-256 or keyed BLAKE3); null: unkeyed (unencrypted repository). */
  chunkIdKey: Uint8Array | null;
  /** AES-256-GCM key; null: an unencrypted repository. */
  chunkKey: Uint8Array | null;
  /** zstd level; 0 stores every chunk uncompressed. */
  compressionLevel: number;
}

/** Returns a buffer of `n` bytes that the caller may reuse (and that may alias the payload). */
export type PlainBufferProvider = (n: number) => Buffer;

export function asBuffer(u8: Uint8Array): Buffer {
  return Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength);
}

/** A buffer that owns its whole ArrayBuffer, so it can be transferred to another thread without a copy. */
export function owned(buf: Buffer): Buffer {
  if (buf.byteOffset === 0 && buf.byteLength === buf.buffer.byteLength) return buf;
  const copy = Buffer.allocUnsafeSlow(buf.length);
  buf.copy(copy);
  return copy;
}

/**
 * Whether an existing chunk file with header `header` (its first 12 bytes) and `fileSize`
 * bytes can hold `plainLength` bytes of plaintext in this repository: right magic, version,
 * no unknown flag, the repository's encryption, the same length, and a size that fits.
 */
export function headerFits(header: Uint8Array, fileSize: number, plainLength: number, encrypted: boolean): boolean {
  if (!hasMagic(header, CHUNK_MAGIC) || header[4] !== CHUNK_FILE_VERSION) return false;
  const flags = header[5] ?? 0;
  if ((flags & ~KNOWN_FLAGS) !== 0 || ((flags & FLAG_ENCRYPTED) !== 0) !== encrypted) return false;
  if (asBuffer(header).readUInt32LE(8) !== plainLength) return false;
  const overhead = ENVELOPE_HEADER_BYTES + (encrypted ? GCM_NONCE_BYTES + GCM_TAG_BYTES : 0);
  return (flags & FLAG_ZSTD) !== 0 ? fileSize > overhead && fileSize < overhead + plainLength : fileSize === overhead + plainLength;
}

/**
 * Before deduplicating against an existing chunk file: its header and size must fit the
 * plaintext (catches truncated, zeroed or foreign files for the cost of a 12-byte read).
 * A file that does not fit is written again under the same id (rename over it).
 */
export function existingLooksValid(file: string, plainLength: number, encrypted: boolean): boolean {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return false; // absent or unreadable: store the chunk
  }
  try {
    const header = Buffer.alloc(ENVELOPE_HEADER_BYTES);
    if (readSync(fd, header, 0, ENVELOPE_HEADER_BYTES, 0) !== ENVELOPE_HEADER_BYTES) return false;
    return headerFits(header, fstatSync(fd).size, plainLength, encrypted);
  } catch {
    return false; // a read error: store the chunk again rather than trust it
  } finally {
    closeSync(fd);
  }
}

export class ChunkCodec {
  readonly encrypted: boolean;
  private readonly idHash: ChunkIdHash;
  private readonly idKey: Buffer | null;
  private readonly encKey: Buffer | null;
  private readonly level: number;
  private readonly cctx = new zstd.CCtx();
  private readonly dctx = new zstd.DCtx();
  /** Compression output, reused: only the encrypted (or copied) result leaves encode(). */
  private scratch = Buffer.alloc(0);

  constructor(options: ChunkCodecOptions) {
    this.idHash = options.chunkIdHash;
    this.idKey = options.chunkIdKey ? Buffer.from(options.chunkIdKey) : null;
    if (this.idHash === 'blake3') blake(); // fail at open, not on the first chunk
    this.encKey = options.chunkKey ? Buffer.from(options.chunkKey) : null;
    this.encrypted = this.encKey !== null;
    this.level = options.compressionLevel;
  }

  /** The raw 32-byte chunk id of `plain`. */
  id(plain: Uint8Array): Buffer {
    if (this.idHash === 'blake3') {
      const b = blake();
      return this.idKey ? b.Blake3Hasher.newKeyed(this.idKey).update(asBuffer(plain)).digestBuffer() : b.blake3(plain);
    }
    const h = this.idKey ? createHmac('sha256', this.idKey) : createHash('sha256');
    return h.update(plain).digest();
  }

  /**
   * The chunk file of `plain` (whose raw id is `id`). It is written into `spare` (a chunk file
   * buffer the caller is done with) when that is large enough, else into a new buffer; either
   * way the result owns its ArrayBuffer's start, so it transfers without a copy.
   */
  encode(plain: Buffer, id: Buffer, spare?: Buffer): Buffer {
    let body = plain;
    let flags = 0;
    if (this.level > 0) {
      const bound = zstd.compressBound(plain.length);
      if (this.scratch.length < bound) this.scratch = Buffer.allocUnsafeSlow(bound);
      const n = this.cctx.compress(this.scratch, plain, this.level);
      // Incompressible data is stored raw: restore then skips decompression.
      if (n < plain.length) {
        body = this.scratch.subarray(0, n);
        flags |= FLAG_ZSTD;
      }
    }
    // A new buffer has room for any chunk of this length (the body is never longer than the
    // plaintext), so it can serve as the spare of every later chunk.
    const capacity = ENVELOPE_HEADER_BYTES + (this.encKey ? GCM_NONCE_BYTES + GCM_TAG_BYTES : 0) + plain.length;
    const room = spare && spare.buffer.byteLength >= capacity ? spare.buffer : new ArrayBuffer(capacity);
    const take = (n: number): Buffer => Buffer.from(room, 0, n);
    if (!this.encKey) {
      const out = take(ENVELOPE_HEADER_BYTES + body.length);
      envelopeHeader(CHUNK_MAGIC, CHUNK_FILE_VERSION, flags, plain.length).copy(out, 0);
      body.copy(out, ENVELOPE_HEADER_BYTES);
      return out;
    }
    flags |= FLAG_ENCRYPTED;
    const header = envelopeHeader(CHUNK_MAGIC, CHUNK_FILE_VERSION, flags, plain.length);
    const nonce = randomBytes(GCM_NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.encKey, nonce);
    cipher.setAAD(Buffer.concat([header, id]));
    const out = take(ENVELOPE_HEADER_BYTES + GCM_NONCE_BYTES + body.length + GCM_TAG_BYTES);
    header.copy(out, 0);
    nonce.copy(out, ENVELOPE_HEADER_BYTES);
    let off = ENVELOPE_HEADER_BYTES + GCM_NONCE_BYTES;
    off += cipher.update(body).copy(out, off);
    off += cipher.final().copy(out, off);
    cipher.getAuthTag().copy(out, off);
    return out;
  }

  /**
   * The plaintext of chunk file `payload` stored as `id` (hex); with `verify`, re-hashed
   * against the id. With `into`, the plaintext goes into memory the caller reuses and may
   * alias `payload`; without, it is a buffer of its own that can be transferred.
   */
  decode(id: string, payload: Buffer, verify: boolean, into?: PlainBufferProvider): Buffer {
    if (!hasMagic(payload, CHUNK_MAGIC)) throw new ChunkCorruptError('not a chunk file');
    if (payload[4] !== CHUNK_FILE_VERSION) throw new ChunkCorruptError(`unknown chunk format version ${payload[4]}`);
    const flags = payload[5] ?? 0;
    if ((flags & ~KNOWN_FLAGS) !== 0) throw new ChunkCorruptError('unknown flags');
    const plainLength = payload.readUInt32LE(8);
    const encrypted = (flags & FLAG_ENCRYPTED) !== 0;
    if (encrypted !== this.encrypted) {
      throw new ChunkCorruptError(
        encrypted ? 'encrypted chunk in an unencrypted repository' : 'unencrypted chunk in an encrypted repository',
      );
    }
    const idBytes = Buffer.from(id, 'hex');
    const body = this.encKey ? this.decrypt(payload, idBytes, this.encKey) : payload.subarray(ENVELOPE_HEADER_BYTES);
    let plain: Buffer;
    if ((flags & FLAG_ZSTD) !== 0) {
      plain = into ? into(plainLength) : Buffer.allocUnsafeSlow(plainLength);
      let n: number;
      try {
        n = this.dctx.decompress(plain, body);
      } catch (err) {
        throw new ChunkCorruptError(`decompression failed: ${err instanceof Error ? err.message : String(err)}`);
      }
      if (n !== plainLength) throw new ChunkCorruptError(`decompressed length ${n}, header says ${plainLength}`);
    } else {
      if (body.length !== plainLength) throw new ChunkCorruptError(`length ${body.length}, header says ${plainLength}`);
      plain = into ? body : owned(body);
    }
    if (verify && !this.id(plain).equals(idBytes)) throw new ChunkCorruptError('content does not match its id');
    return plain;
  }

  private decrypt(payload: Buffer, idBytes: Buffer, key: Buffer): Buffer {
    if (payload.length < ENVELOPE_HEADER_BYTES + GCM_NONCE_BYTES + GCM_TAG_BYTES) throw new ChunkCorruptError('truncated');
    const nonce = payload.subarray(ENVELOPE_HEADER_BYTES, ENVELOPE_HEADER_BYTES + GCM_NONCE_BYTES);
    const decipher = createDecipheriv('aes-256-gcm', key, nonce);
    decipher.setAAD(Buffer.concat([payload.subarray(0, ENVELOPE_HEADER_BYTES), idBytes]));
    decipher.setAuthTag(payload.subarray(payload.length - GCM_TAG_BYTES));
    const body = decipher.update(payload.subarray(ENVELOPE_HEADER_BYTES + GCM_NONCE_BYTES, payload.length - GCM_TAG_BYTES));
    try {
      decipher.final();
    } catch {
      throw new ChunkCorruptError('authentication failed (damaged, tampered with, or stored under the wrong id)');
    }
    return body;
  }
}
