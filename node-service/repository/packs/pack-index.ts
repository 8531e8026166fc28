/**
 * The repository-level index in memory: blob id → (pack, offset, length), built from every
 * index file that no other supersedes, so a blob is found without opening any pack. Packs
 * no index lists (a backup that crashed before writing its index, or an index file that is
 * damaged) are found by reading their headers when asked (`addUnindexed`).
 */
import type { PackAccess } from './pack-access.js';
import { listPackFiles, readIndexFiles, readPackHeader } from './pack-files.js';
import type { PackEntry } from './pack-format.js';

export interface BlobLocation {
  packId: string;
  entry: PackEntry;
}

export class PackIndex {
  private readonly blobs = new Map<string, BlobLocation>();
  /** Every pack the index knows, with its blobs (duplicates across packs included). */
  readonly packs = new Map<string, PackEntry[]>();
  /** Index files read and in force (not superseded). */
  readonly files: string[] = [];
  /** Index files superseded by another (left by an interrupted GC; ignored, GC removes them). */
  readonly supersededFiles: string[] = [];
  readonly damagedFiles: { id: string; detail: string }[] = [];
  /** Packs whose header could not be read while scanning (addUnindexed). */
  readonly unreadablePacks: { packId: string; detail: string }[] = [];

  static async load(access: Pick<PackAccess, 'repoPath' | 'fs'>, sealKey: Buffer | null): Promise<PackIndex> {
    const index = new PackIndex();
    const read = await readIndexFiles(access, sealKey);
    for (const f of read.files) {
      if (read.superseded.has(f.id)) {
        index.supersededFiles.push(f.id);
        continue;
      }
      index.files.push(f.id);
      for (const p of f.content.packs) index.add(p.packId, p.entries);
    }
    for (const d of read.damaged) {
      if (read.superseded.has(d.id)) index.supersededFiles.push(d.id);
      else index.damagedFiles.push(d);
    }
    return index;
  }

  get size(): number {
    return this.blobs.size;
  }

  has(id: string): boolean {
    return this.blobs.has(id);
  }

  get(id: string): BlobLocation | undefined {
    return this.blobs.get(id);
  }

  /** Adds a pack's blobs; a blob already known keeps its first location. */
  add(packId: string, entries: PackEntry[]): void {
    if (this.packs.has(packId)) return;
    this.packs.set(packId, entries);
    for (const entry of entries) if (!this.blobs.has(entry.id)) this.blobs.set(entry.id, { packId, entry });
  }

  /**
   * Reads the headers of the packs on the destination that no index lists and adds them.
   * Returns the ids of the packs found that way.
   */
  async addUnindexed(access: Pick<PackAccess, 'repoPath' | 'fs'>, sealKey: Buffer | null, onDisk?: readonly string[]): Promise<string[]> {
    const packs = onDisk ?? (await listPackFiles(access)).packs;
    const found: string[] = [];
    for (const packId of packs) {
      if (this.packs.has(packId)) continue;
      try {
        this.add(packId, await readPackHeader(access, sealKey, packId));
        found.push(packId);
      } catch (err) {
        this.unreadablePacks.push({ packId, detail: err instanceof Error ? err.message : String(err) });
      }
    }
    return found;
  }
}
