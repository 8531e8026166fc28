/**
 * One browsable volume of a mount, whatever holds its files: a filesystem mounted in a local
 * directory (DirectoryTree, below, on browse.ts), or a Microsoft 365 backup point read from
 * its metadata (cloud/point-tree.ts). Paths are relative to the volume's root, '' the root;
 * each implementation confines them (no '..' above the root) and answers BrowseErrors.
 */
import type { BrowseEntry, BrowseListing, BrowseSearchResult, BrowseSort } from '../../common/api/mounts.js';
import type { ArchiveEntry } from './archive-entries.js';
import { fsEntries } from './archive-entries.js';
import { list, openRead, readIdNames, search, stat, type IdNames, type OpenedRange } from './browse.js';

export interface TreeListOptions {
  offset: number;
  limit: number;
  sort: BrowseSort;
  order: 'asc' | 'desc';
}

export interface VolumeTree {
  /** One page of a folder. */
  list(rel: string, opts: TreeListOptions): Promise<BrowseListing>;
  /** The entry at a path, with its canonical path. */
  stat(rel: string): Promise<BrowseEntry & { path: string }>;
  /** Names matching a pattern (a substring, or a glob) under a folder; hits' paths from the root. */
  search(rel: string, pattern: string, opts: { limit: number; signal?: AbortSignal }): Promise<BrowseSearchResult>;
  /** Bytes [start, end] (inclusive, as HTTP Range) of a file. */
  openRead(rel: string, range: { start?: number; end?: number }): Promise<OpenedRange>;
  /**
   * A selection for a zip or a tar: every path resolved before this returns (one that is
   * refused refuses the whole selection), the entries read lazily, names relative to the
   * selection's common folder.
   */
  selection(rels: string[], signal?: AbortSignal): Promise<AsyncIterable<ArchiveEntry>>;
}

/** A filesystem mounted read-only in a local directory; owners named from its own /etc. */
export class DirectoryTree implements VolumeTree {
  private names: Promise<IdNames> | undefined;

  constructor(readonly root: string) {}

  async list(rel: string, opts: TreeListOptions): Promise<BrowseListing> {
    return list(this.root, rel, { ...opts, names: await this.idNames() });
  }

  async stat(rel: string): Promise<BrowseEntry & { path: string }> {
    return stat(this.root, rel, await this.idNames());
  }

  async search(rel: string, pattern: string, opts: { limit: number; signal?: AbortSignal }): Promise<BrowseSearchResult> {
    return search(this.root, rel, pattern, { ...opts, names: await this.idNames() });
  }

  openRead(rel: string, range: { start?: number; end?: number }): Promise<OpenedRange> {
    return openRead(this.root, rel, range);
  }

  selection(rels: string[], signal?: AbortSignal): Promise<AsyncIterable<ArchiveEntry>> {
    return fsEntries(this.root, rels, signal);
  }

  /** Read once per mount, when first needed. */
  private idNames(): Promise<IdNames> {
    this.names ??= readIdNames(this.root);
    return this.names;
  }
}
