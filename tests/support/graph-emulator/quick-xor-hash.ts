/**
 * QuickXorHash, the hash OneDrive for Business and SharePoint report in file.hashes
 * (https://learn.microsoft.com/onedrive/developer/code-snippets/quickxorhash): each byte i is
 * XORed into a 160-bit block at bit (i * 11) mod 160, then the length (64-bit little-endian)
 * is XORed into the last 8 bytes. Base64 of the 20 bytes.
 */
const WIDTH_BYTES = 20;
const WIDTH_BITS = 160;
const SHIFT = 11;

export class QuickXorHash {
  private readonly block = new Uint8Array(WIDTH_BYTES);
  private length = 0n;
  private bit = 0;

  update(data: Uint8Array): this {
    const block = this.block;
    let bit = this.bit;
    for (let i = 0; i < data.length; i++) {
      const v = data[i]!;
      const byteIndex = bit >> 3;
      const offset = bit & 7;
      block[byteIndex]! ^= (v << offset) & 0xff;
      if (offset !== 0) block[(byteIndex + 1) % WIDTH_BYTES]! ^= v >> (8 - offset);
      bit += SHIFT;
      if (bit >= WIDTH_BITS) bit -= WIDTH_BITS;
    }
    this.bit = bit;
    this.length += BigInt(data.length);
    return this;
  }

  digest(): Buffer {
    const out = Buffer.from(this.block);
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(this.length);
    for (let i = 0; i < 8; i++) out[WIDTH_BYTES - 8 + i]! ^= len[i]!;
    return out;
  }

  digestBase64(): string {
    return this.digest().toString('base64');
  }
}

export function quickXorHash(data: Uint8Array): string {
  return new QuickXorHash().update(data).digestBase64();
}
