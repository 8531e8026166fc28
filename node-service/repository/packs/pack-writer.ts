/**
 * Appends encoded blobs into packs, one open pack per blob type, closing a pack when it
 * reaches the target size: blobs, then the sealed header, then its length; the file is
 * written whole (temp, fsync, rename) under the SHA-256 of its bytes. Every `indexEvery`
 * packs, and at `finish`, the packs written so far go into a new index file (after their
 * shard directories are fsynced), so what a crashed backup stored can be found and reused.
 */
import { toRepositoryError } from '../errors.js';
import type { PackAccess } from './pack-access.js';
import { packTail, writeIndexFile, writePackFile } from './pack-files.js';
import { DEFAULT_PACK_SIZE, type BlobType, type IndexPack, type PackEntry } from './pack-format.js';

export interface PackWriterOptions {
  /** Close a pack at this many bytes of blobs (default 8 MiB). */
  packSize?: number;
  /** Write an index file after this many packs (default 32), besides at finish. */
  indexEvery?: number;
  /** Called for each pack written (its id and entries), e.g. to add it to an in-memory index. */
  onPack?: (pack: IndexPack, bytes: number) => void;
  /** false: finish() writes no index file, the caller writes a consolidated one (GC). */
  writeIndex?: boolean;
}

interface OpenPack {
  parts: Buffer[];
  entries: PackEntry[];
  bytes: number;
}

export class PackWriter {
  private readonly open = new Map<BlobType, OpenPack>();
  private readonly pendingIndex: IndexPack[] = [];
  private readonly dirtyDirs = new Set<string>();
  private readonly madeDirs = new Set<string>();
  private readonly packSize: number;
  private readonly indexEvery: number;
  /** Every pack this writer wrote, in order. */
  readonly written: IndexPack[] = [];
  packBytes = 0;
  indexFiles: string[] = [];

  constructor(
    private readonly access: Pick<PackAccess, 'repoPath' | 'fs'>,
    private readonly sealKey: Buffer | null,
    private readonly options: PackWriterOptions = {},
  ) {
    this.packSize = Math.max(1, options.packSize ?? DEFAULT_PACK_SIZE);
    this.indexEvery = Math.max(1, options.indexEvery ?? 32);
  }

  /** Appends one encoded blob (a chunk envelope) of `plainLength` bytes of plaintext. */
  async add(type: BlobType, id: string, encoded: Buffer, plainLength: number): Promise<void> {
    let pack = this.open.get(type);
    if (!pack) {
      pack = { parts: [], entries: [], bytes: 0 };
      this.open.set(type, pack);
    }
    pack.entries.push({ type, id, offset: pack.bytes, length: encoded.length, plainLength });
    pack.parts.push(encoded);
    pack.bytes += encoded.length;
    if (pack.bytes >= this.packSize) await this.closePack(type);
  }

  /** Closes the open packs and writes the index file of what is not indexed yet. */
  async finish(): Promise<void> {
    for (const type of [...this.open.keys()]) await this.closePack(type);
    await this.writeIndex();
  }

  /** Drops the open packs (nothing of them was written). */
  discard(): void {
    this.open.clear();
  }

  private async closePack(type: BlobType): Promise<void> {
    const pack = this.open.get(type);
    this.open.delete(type);
    if (!pack || pack.entries.length === 0) return;
    const bytes = Buffer.concat([...pack.parts, packTail(pack.entries, this.sealKey)]);
    const { packId, dir } = await writePackFile(this.access, bytes, this.madeDirs);
    this.dirtyDirs.add(dir);
    const written: IndexPack = { packId, entries: pack.entries };
    this.written.push(written);
    this.pendingIndex.push(written);
    this.packBytes += bytes.length;
    this.options.onPack?.(written, bytes.length);
    if (this.pendingIndex.length >= this.indexEvery) await this.writeIndex();
  }

  private async writeIndex(): Promise<void> {
    try {
      for (const dir of this.dirtyDirs) await this.access.fs.syncDir(dir);
    } catch (err) {
      throw toRepositoryError(err, this.access.repoPath, 'flushing pack directories');
    }
    this.dirtyDirs.clear();
    if (this.options.writeIndex === false || this.pendingIndex.length === 0) return;
    const packs = this.pendingIndex.splice(0);
    this.indexFiles.push(await writeIndexFile(this.access, this.sealKey, { supersedes: [], packs }));
  }
}
