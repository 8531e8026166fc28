/**
 * Deterministic benchmark images: a sparse raw disk image of a given size with half of it
 * allocated, in extents of 64 KiB-aligned random lengths (like qcow2 clusters / NBD block
 * status), alternating text-like and random content. Same seed, same bytes, for every tool.
 */
import { createCipheriv, createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import type { ByteRange } from '../format.js';

const CLUSTER = 64 * 1024;
const MIB = 1024 * 1024;

/** A deterministic byte stream (AES-256-CTR keystream of a seed): fast and reproducible. */
export class KeyStream {
  private readonly cipher;
  private readonly zeros = Buffer.alloc(4 * MIB);
  constructor(seed: string) {
    const key = createHash('sha256').update(`key:${seed}`).digest();
    const iv = createHash('sha256').update(`iv:${seed}`).digest().subarray(0, 16);
    this.cipher = createCipheriv('aes-256-ctr', key, iv);
  }
  bytes(n: number): Buffer {
    const parts: Buffer[] = [];
    let left = n;
    while (left > 0) {
      const take = Math.min(left, this.zeros.length);
      parts.push(this.cipher.update(this.zeros.subarray(0, take)));
      left -= take;
    }
    return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
  }
}

/**
 * Text-like content: words from a fixed pseudo-vocabulary with a skewed (Zipf-like)
 * frequency, spaces, numbers and line breaks. zstd -1 compresses it about 2-3x; it never
 * repeats at chunk scale, so it does not deduplicate.
 */
export class TextGenerator {
  private readonly words: Buffer[] = [];
  constructor(private readonly rand: KeyStream) {
    const letters = rand.bytes(4096 * 12);
    for (let i = 0; i < 4096; i++) {
      const len = 2 + (letters[i * 12]! % 9);
      const w = Buffer.alloc(len);
      for (let j = 0; j < len; j++) w[j] = 97 + (letters[i * 12 + 1 + j]! % 26);
      this.words.push(w);
    }
  }
  fill(out: Buffer): void {
    const r = this.rand.bytes(Math.ceil(out.length / 2) + 16);
    let ri = 0;
    let o = 0;
    let lineWords = 0;
    while (o < out.length) {
      const a = r[ri++ % r.length]!;
      const b = r[ri++ % r.length]!;
      // Skew: the AND of two uniform indices favours small ones.
      const word = this.words[((a << 4) | (b & 15)) & ((b << 4) | (a & 15)) & 4095]!;
      for (let j = 0; j < word.length && o < out.length; j++) out[o++] = word[j]!;
      if (o >= out.length) break;
      if ((a & 31) === 7) {
        // a number now and then
        const digits = String((a * 257 + b) % 100000);
        for (let j = 0; j < digits.length && o < out.length; j++) out[o++] = digits.charCodeAt(j);
      }
      if (o < out.length) out[o++] = ++lineWords > 8 + (b & 7) ? 10 : 32;
      if (lineWords > 8 + (b & 7)) lineWords = 0;
    }
  }
}

export interface GeneratedImage {
  size: number;
  allocated: ByteRange[];
  allocatedBytes: number;
  textBytes: number;
  randomBytes: number;
}

/** Lays out the allocated extents: about `fraction` of `size`, 64 KiB aligned, 64 KiB..32 MiB long. */
export function layoutExtents(size: number, fraction: number, seed: string): ByteRange[] {
  const rand = new KeyStream(`layout:${seed}`);
  const clusters = Math.floor(size / CLUSTER);
  const out: ByteRange[] = [];
  let c = 0;
  while (c < clusters) {
    const r = rand.bytes(4);
    const run = 1 + (r.readUInt16LE(0) % 512); // up to 32 MiB of data
    // Gap sized so that on average `fraction` of the clusters are allocated.
    const meanGap = (run * (1 - fraction)) / fraction;
    const gap = Math.round(meanGap * (0.5 + (r.readUInt16LE(2) / 65535)));
    c += gap;
    const len = Math.min(run, clusters - c);
    if (len <= 0) break;
    out.push({ offset: c * CLUSTER, length: len * CLUSTER });
    c += len;
  }
  return out;
}

/**
 * Writes the image file (sparse: only the allocated extents are written). Extents alternate
 * between text-like and random content by allocated byte count, so each is about half.
 */
export async function generateImage(file: string, size: number, seed: string): Promise<GeneratedImage> {
  const extents = layoutExtents(size, 0.5, seed);
  const randomStream = new KeyStream(`random:${seed}`);
  const text = new TextGenerator(new KeyStream(`text:${seed}`));
  const fh = await open(file, 'w');
  let textBytes = 0;
  let randomBytes = 0;
  try {
    await fh.truncate(size);
    const buf = Buffer.alloc(4 * MIB);
    for (const e of extents) {
      const useText = textBytes <= randomBytes;
      for (let o = 0; o < e.length; o += buf.length) {
        const n = Math.min(buf.length, e.length - o);
        const piece = buf.subarray(0, n);
        if (useText) text.fill(piece);
        else randomStream.bytes(n).copy(piece);
        await fh.write(piece, 0, n, e.offset + o);
      }
      if (useText) textBytes += e.length;
      else randomBytes += e.length;
    }
    await fh.sync();
  } finally {
    await fh.close();
  }
  return { size, allocated: extents, allocatedBytes: textBytes + randomBytes, textBytes, randomBytes };
}

/**
 * Simulates guest writes at 64 KiB-aligned random offsets (in data and in holes, as a
 * filesystem allocating blocks would), totalling about `fraction` of the image: runs of
 * 64 KiB..1 MiB ('clustered') or single 64 KiB clusters ('scattered', the worst case for
 * large chunks). Returns the written ranges, i.e. what a dirty bitmap would report.
 */
export async function changeImage(
  file: string,
  size: number,
  fraction: number,
  seed: string,
  pattern: 'clustered' | 'scattered' = 'clustered',
): Promise<ByteRange[]> {
  const rand = new KeyStream(`change:${seed}`);
  const text = new TextGenerator(new KeyStream(`change-text:${seed}`));
  const target = Math.floor(size * fraction);
  const clusters = Math.floor(size / CLUSTER);
  const dirty: ByteRange[] = [];
  const fh = await open(file, 'r+');
  try {
    let written = 0;
    while (written < target) {
      const r = rand.bytes(8);
      const clustersLong = pattern === 'scattered' ? 1 : 1 + (r.readUInt16LE(0) % 16);
      const len = Math.min(clustersLong * CLUSTER, target - written + CLUSTER);
      const offset = (r.readUInt32LE(2) % clusters) * CLUSTER;
      const n = Math.min(len, size - offset);
      const data = Buffer.alloc(n);
      if ((r[6]! & 1) === 0) text.fill(data);
      else rand.bytes(n).copy(data);
      await fh.write(data, 0, n, offset);
      dirty.push({ offset, length: n });
      written += n;
    }
    await fh.sync();
  } finally {
    await fh.close();
  }
  return dirty;
}
