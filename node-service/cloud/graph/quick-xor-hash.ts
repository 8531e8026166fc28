/**
 * QuickXorHash, the hash OneDrive for Business and SharePoint give for every file
 * (https://learn.microsoft.com/onedrive/developer/code-snippets/quickxorhash): each byte n is
 * XORed into a 160-bit circular register at bit (11·n) mod 160, then the length (64-bit
 * little-endian) is XORed into the last 8 bytes. The placement depends on n mod 160 only, so
 * bytes are folded into 160 lanes as they stream and placed once at the end.
 */
export class QuickXorHash {
  private readonly lanes = new Uint8Array(160);
  private length = 0;

  update(data: Uint8Array): this {
    const lanes = this.lanes;
    let lane = this.length % 160;
    for (let i = 0; i < data.length; i++) {
      lanes[lane]! ^= data[i]!;
      if (++lane === 160) lane = 0;
    }
    this.length += data.length;
    return this;
  }

  digest(): Buffer {
    const reg = Buffer.alloc(20);
    for (let k = 0; k < 160; k++) {
      const v = this.lanes[k]!;
      if (v === 0) continue;
      const shift = (k * 11) % 160;
      for (let bit = 0; bit < 8; bit++) {
        if (((v >> bit) & 1) === 0) continue;
        const pos = (shift + bit) % 160;
        reg[pos >> 3]! ^= 1 << (pos & 7);
      }
    }
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(this.length));
    for (let i = 0; i < 8; i++) reg[12 + i]! ^= len[i]!;
    return reg;
  }

  digestBase64(): string {
    return this.digest().toString('base64');
  }
}
