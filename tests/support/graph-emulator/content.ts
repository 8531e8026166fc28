/**
 * File content held by the emulator: bytes given by a test, or a deterministic pseudo-random
 * stream generated from a seed (AES-256-CTR keystream) so large files never sit in memory and
 * any byte range can be produced directly. Contents are immutable; an edit makes a new one.
 * Hashes are computed once, on first need, by streaming.
 */
import { createCipheriv, createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { QuickXorHash } from './quick-xor-hash.js';

const CHUNK = 256 * 1024;
/** Read-only input of the keystream cipher, shared. */
const ZEROS = Buffer.alloc(CHUNK + 16);

export interface ContentHashes {
  sha256Hex: string;
  quickXorBase64: string;
}

/** What a test hands the emulator as a file's content. */
export type ContentSpec = string | Buffer | { size: number; seed: string };

export abstract class Content {
  abstract readonly size: number;
  private hashes: Promise<ContentHashes> | undefined;
  private sha1: Promise<string> | undefined;

  /** Bytes [start, end] inclusive, in chunks. */
  abstract chunks(start: number, end: number): AsyncIterable<Buffer>;

  stream(start = 0, end = this.size - 1): Readable {
    if (this.size === 0 || end < start) return Readable.from([]);
    return Readable.from(this.chunks(start, end));
  }

  async bytes(): Promise<Buffer> {
    const parts: Buffer[] = [];
    if (this.size > 0) for await (const c of this.chunks(0, this.size - 1)) parts.push(c);
    return Buffer.concat(parts);
  }

  getHashes(): Promise<ContentHashes> {
    this.hashes ??= (async () => {
      const sha256 = createHash('sha256');
      const qx = new QuickXorHash();
      if (this.size > 0) {
        for await (const c of this.chunks(0, this.size - 1)) {
          sha256.update(c);
          qx.update(c);
        }
      }
      return { sha256Hex: sha256.digest('hex'), quickXorBase64: qx.digestBase64() };
    })();
    return this.hashes;
  }

  /** Only when the emulator is asked to report sha1Hash (OneDrive Personal does; Business does not). */
  getSha1Hex(): Promise<string> {
    this.sha1 ??= (async () => {
      const sha1 = createHash('sha1');
      if (this.size > 0) for await (const c of this.chunks(0, this.size - 1)) sha1.update(c);
      return sha1.digest('hex');
    })();
    return this.sha1;
  }

  static from(spec: ContentSpec): Content {
    if (typeof spec === 'string') return new BufferContent(Buffer.from(spec, 'utf8'));
    if (Buffer.isBuffer(spec)) return new BufferContent(spec);
    return new GeneratedContent(spec.size, spec.seed);
  }
}

export class BufferContent extends Content {
  readonly size: number;
  constructor(private readonly data: Buffer) {
    super();
    this.size = data.length;
  }

  async *chunks(start: number, end: number): AsyncIterable<Buffer> {
    for (let at = start; at <= end; at += CHUNK) yield this.data.subarray(at, Math.min(end + 1, at + CHUNK));
  }

  override async bytes(): Promise<Buffer> {
    return this.data;
  }
}

/** size bytes of AES-256-CTR keystream keyed by SHA-256(seed): deterministic, seekable, never held whole. */
export class GeneratedContent extends Content {
  private readonly key: Buffer;
  constructor(
    readonly size: number,
    readonly seed: string,
  ) {
    super();
    this.key = createHash('sha256').update(`graph-emulator:${seed}`).digest();
  }

  async *chunks(start: number, end: number): AsyncIterable<Buffer> {
    const firstBlock = Math.floor(start / 16);
    const iv = Buffer.alloc(16);
    iv.writeBigUInt64BE(BigInt(firstBlock), 8);
    const cipher = createCipheriv('aes-256-ctr', this.key, iv);
    let skip = start - firstBlock * 16;
    let remaining = end - start + 1;
    while (remaining > 0) {
      const want = Math.min(CHUNK, remaining);
      const out = cipher.update(ZEROS.subarray(0, want + skip)).subarray(skip);
      skip = 0;
      remaining -= out.length;
      yield out;
    }
  }
}

/** Reads a whole request or stream into one buffer, refusing more than limit bytes. */
export async function readAll(stream: AsyncIterable<Buffer | string>, limit = 256 * 1024 * 1024): Promise<Buffer> {
  const parts: Buffer[] = [];
  let total = 0;
  for await (const c of stream) {
    const b = typeof c === 'string' ? Buffer.from(c) : c;
    total += b.length;
    if (total > limit) throw new Error(`body over ${limit} bytes`);
    parts.push(b);
  }
  return Buffer.concat(parts);
}
