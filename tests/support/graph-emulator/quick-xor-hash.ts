/**
 * QuickXorHash, the hash OneDrive for Business and SharePoint report in file.hashes
 * (https://learn.microsoft.com/onedrive/developer/code-snippets/quickxorhash): each byte i is
 * XORed into a 160-bit block at bit (i * 11) mod 160, then the length (64-bit little-endian)
 * is XORed into the last 8 bytes. Base64 of the 20 bytes.
 *
 * Byte i lands at the same bit as byte i + 160 (160 * 11 is a multiple of 160), so the bytes
 * are first XORed together by i mod 160, word by word, and placed once at the end: fast enough
 * to hash the benchmark's gigabytes.
 */
const WIDTH_BYTES = 20;
const PERIOD = 160;
const SHIFT = 11;

export class QuickXorHash {
  private readonly acc = new Uint8Array(PERIOD);
  private readonly acc32 = new Uint32Array(this.acc.buffer);
  private length = 0n;
  /** Bytes seen so far, mod 160. */
  private pos = 0;

  update(data: Uint8Array): this {
    const acc = this.acc;
    const n = data.length;
    let i = 0;
    let pos = this.pos;
    while (i < n && pos !== 0) {
      acc[pos]! ^= data[i++]!;
      pos = pos + 1 === PERIOD ? 0 : pos + 1;
    }
    const blocks = Math.floor((n - i) / PERIOD);
    if (blocks > 0) {
      let bytes = data.subarray(i, i + blocks * PERIOD);
      if (bytes.byteOffset % 4 !== 0) bytes = bytes.slice();
      const words = new Uint32Array(bytes.buffer, bytes.byteOffset, blocks * (PERIOD / 4));
      const acc32 = this.acc32;
      for (let w = 0; w < words.length; w += 40) for (let k = 0; k < 40; k++) acc32[k]! ^= words[w + k]!;
      i += blocks * PERIOD;
    }
    while (i < n) {
      acc[pos]! ^= data[i++]!;
      pos = pos + 1 === PERIOD ? 0 : pos + 1;
    }
    this.pos = pos;
    this.length += BigInt(n);
    return this;
  }

  digest(): Buffer {
    const out = Buffer.alloc(WIDTH_BYTES);
    for (let j = 0; j < PERIOD; j++) {
      const v = this.acc[j]!;
      if (v === 0) continue;
      const bit = (j * SHIFT) % PERIOD;
      const byteIndex = bit >> 3;
      const offset = bit & 7;
      out[byteIndex]! ^= (v << offset) & 0xff;
      if (offset !== 0) out[(byteIndex + 1) % WIDTH_BYTES]! ^= v >> (8 - offset);
    }
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(this.length);
    for (let k = 0; k < 8; k++) out[WIDTH_BYTES - 8 + k]! ^= len[k]!;
    return out;
  }

  digestBase64(): string {
    return this.digest().toString('base64');
  }
}

export function quickXorHash(data: Uint8Array): string {
  return new QuickXorHash().update(data).digestBase64();
}
