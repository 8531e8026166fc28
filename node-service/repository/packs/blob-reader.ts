/**
 * Reading blobs back: index lookup, a positional read of the blob's bytes in its pack, then
 * the chunk codec's checks (AES-GCM with the id in the AAD, or a re-hash when unencrypted).
 */
import { createHash } from 'node:crypto';
import type { ChunkCodec } from '../chunk-codec.js';
import { mapOrdered } from '../concurrency.js';
import { isErrno, toRepositoryError } from '../errors.js';
import type { PackAccess } from './pack-access.js';
import { BlobCorruptError, BlobMissingError } from './pack-errors.js';
import { packFile } from './pack-files.js';
import type { BlobLocation, PackIndex } from './pack-index.js';
import type { StoredObject } from './pack-format.js';

export class BlobReader {
  private scanned = false;

  constructor(
    private readonly access: Pick<PackAccess, 'repoPath' | 'fs'>,
    private readonly index: PackIndex,
    private readonly codec: ChunkCodec,
    private readonly sealKey: Buffer | null,
  ) {}

  /** The pack file holding blob `id` (for messages), or the repository. */
  describe(id: string | undefined): string {
    const loc = id === undefined ? undefined : this.index.get(id);
    return loc ? packFile(this.access, loc.packId) : this.access.repoPath;
  }

  /** Where blob `id` is stored (pack, offset, length), if the index knows it. */
  locate(id: string): BlobLocation | undefined {
    return this.index.get(id);
  }

  /** The plaintext of blob `id` (hex). */
  async read(id: string, verify = false): Promise<Buffer> {
    let loc = this.index.get(id);
    if (!loc && !this.scanned) {
      // An index file may be missing or damaged: the packs' own headers still list their blobs.
      this.scanned = true;
      await this.index.addUnindexed(this.access, this.sealKey);
      loc = this.index.get(id);
    }
    if (!loc) throw new BlobMissingError(this.access.repoPath, id, 'no index or pack lists it');
    const file = packFile(this.access, loc.packId);
    const payload = Buffer.allocUnsafe(loc.entry.length);
    let got: number;
    try {
      const fh = await this.access.fs.openRead(file);
      try {
        got = await fh.read(payload, loc.entry.offset);
      } finally {
        await fh.close();
      }
    } catch (err) {
      if (isErrno(err, 'ENOENT')) throw new BlobMissingError(this.access.repoPath, id, `its pack ${loc.packId} is missing`);
      throw toRepositoryError(err, this.access.repoPath, `reading blob ${id}`);
    }
    if (got !== payload.length) throw new BlobCorruptError(file, id, 'the pack is shorter than its index says');
    return this.decode(id, payload, file, loc.entry.plainLength, verify);
  }

  /** Decodes a blob's stored bytes; throws BlobCorruptError naming `file`. */
  decode(id: string, payload: Buffer, file: string, plainLength: number, verify = false): Buffer {
    let plain: Buffer;
    try {
      plain = this.codec.decode(id, payload, verify || !this.codec.encrypted);
    } catch (err) {
      throw new BlobCorruptError(file, id, err instanceof Error ? err.message : String(err));
    }
    if (plain.length !== plainLength) throw new BlobCorruptError(file, id, `length ${plain.length}, the index says ${plainLength}`);
    return plain;
  }

  /** The blobs' plaintexts in order, `readAhead` reads in flight. */
  readMany(ids: readonly string[], readAhead = 4): AsyncGenerator<Buffer> {
    return mapOrdered(ids, readAhead, (id) => this.read(id));
  }

  /** A stored object whole, checked against its size and SHA-256. */
  async readObject(obj: StoredObject, what: string): Promise<Buffer> {
    const parts: Buffer[] = [];
    for await (const b of this.readMany(obj.blobs)) parts.push(b);
    const data = Buffer.concat(parts);
    const sha = createHash('sha256').update(data).digest('hex');
    if (data.length !== obj.size || sha !== obj.sha256) {
      throw new BlobCorruptError(this.access.repoPath, obj.blobs[0] ?? '-', `${what} does not match its manifest (${data.length} bytes, ${obj.size} expected)`);
    }
    return data;
  }
}
