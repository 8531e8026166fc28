/**
 * A drive of a Microsoft 365 backup browsed as a volume of a mount (mount/volume-tree.ts):
 * one backup point's view, read from the object's metadata database and its content from the
 * repository; nothing touches a local filesystem. Paths asked for are confined ('..' above
 * the drive's root, NUL: PATH_ESCAPE). Item names come from the backup and are not trusted:
 * in listings and archives a name that is empty, '.', '..', or holds '/', '\' or NUL is
 * shown with those replaced, so no archive entry can climb out of where it is extracted.
 */
import { Readable } from 'node:stream';
import type { BrowseEntry, BrowseListing, BrowseSearchResult } from '../../common/api/mounts.js';
import type { ArchiveEntry } from '../mount/archive-entries.js';
import { BrowseError, nameMatcher, type OpenedRange } from '../mount/browse.js';
import type { TreeListOptions, VolumeTree } from '../mount/volume-tree.js';
import type { ItemView, ObjectStore } from './metadata/index.js';

/** Most items a search looks at (the metadata answers by name, then the folder is checked). */
const SEARCH_SCAN = 100_000;

/** A backed-up name as one safe path component. */
export function safeName(name: string): string {
  const clean = name.replace(/[/\\\0]/g, '_');
  return clean === '' || clean === '.' || clean === '..' ? `_${clean}` : clean;
}

const show = (rel: string): string => JSON.stringify(rel === '' ? '/' : rel);
const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** A path's components, '.' and empty ones dropped and '..' applied; refused when it climbs above the root. */
function components(rel: string): string[] {
  if (rel.includes('\0')) throw new BrowseError('PATH_ESCAPE', rel, `path ${show(rel)} is refused: it contains a NUL byte`);
  const out: string[] = [];
  for (const part of rel.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length === 0) throw new BrowseError('PATH_ESCAPE', rel, `path ${show(rel)} is refused: '..' leads above the drive's root`);
      out.pop();
    } else out.push(part);
  }
  return out;
}

export class PointTree implements VolumeTree {
  /**
   * @param name the volume's name (the root's name in answers)
   * @param pointTime when the point was made: the time of items Graph gave none
   */
  constructor(
    private readonly store: ObjectStore,
    readonly pointId: string,
    private readonly name: string,
    private readonly pointTime: Date,
  ) {}

  async list(rel: string, opts: TreeListOptions): Promise<BrowseListing> {
    const { item, path } = await this.resolve(rel);
    if (item.kind !== 'folder') throw new BrowseError('NOT_A_DIRECTORY', rel, `${show(rel)} is not a folder`);
    const children = await this.store.listChildren(this.pointId, { id: item.id });
    const sign = opts.order === 'asc' ? 1 : -1;
    const key = (c: ItemView): number => (opts.sort === 'size' ? this.sizeOf(c) : opts.sort === 'mtime' ? this.timeOf(c).getTime() : 0);
    const named = children.map((c) => ({ c, n: safeName(c.name), k: key(c) }));
    named.sort((a, b) => sign * (a.k - b.k || byName(a.n, b.n)));
    const page = named.slice(opts.offset, opts.offset + opts.limit);
    return { path: path.join('/'), entries: page.map(({ c, n }) => this.entry(c, n)), total: children.length, truncated: false };
  }

  async stat(rel: string): Promise<BrowseEntry & { path: string }> {
    const { item, path } = await this.resolve(rel);
    return { path: path.join('/'), ...this.entry(item, path.length === 0 ? this.name : safeName(item.name)) };
  }

  async search(rel: string, pattern: string, opts: { limit: number; signal?: AbortSignal }): Promise<BrowseSearchResult> {
    const { item, path } = await this.resolve(rel);
    if (item.kind !== 'folder') throw new BrowseError('NOT_A_DIRECTORY', rel, `${show(rel)} is not a folder`);
    // The metadata matches * and ? (ASCII case-insensitive); browse's own matcher then has the last word.
    const found = await this.store.find(this.pointId, likeGlob(pattern), { limit: SEARCH_SCAN });
    const match = nameMatcher(pattern);
    const under = path.length === 0 ? '/' : `/${path.join('/')}/`;
    const hits = found.filter((f) => f.parentId !== null && match(f.name) && (under === '/' || f.path.startsWith(under)));
    return {
      hits: hits.slice(0, opts.limit).map((h) => ({ path: h.path.slice(1), ...this.entry(h, safeName(h.name)) })),
      visited: found.length,
      truncated: hits.length > opts.limit || found.length >= SEARCH_SCAN,
    };
  }

  async openRead(rel: string, range: { start?: number; end?: number }): Promise<OpenedRange> {
    const { item, path } = await this.resolve(rel);
    if (item.kind !== 'file') throw new BrowseError('NOT_A_FILE', rel, `${show(rel)} is not a file`);
    const size = item.size;
    const start = range.start ?? 0;
    // As HTTP says: an end past the file is the file's last byte.
    const end = Math.min(range.end ?? size - 1, size - 1);
    const empty = size === 0 && range.start === undefined && range.end === undefined;
    if (!empty && (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || start > end || end >= size)) {
      throw new BrowseError('INVALID_RANGE', rel, `bytes ${start}-${end} are not inside ${show(rel)} (${size} bytes)`);
    }
    const entry = this.entry(item, path.length === 0 ? this.name : safeName(item.name));
    const stream = empty ? Readable.from([]) : Readable.from(this.slice(item, start, end), { objectMode: false });
    return { stream, size, start, end: empty ? -1 : end, entry };
  }

  async selection(rels: string[], signal?: AbortSignal): Promise<AsyncIterable<ArchiveEntry>> {
    const all: { item: ItemView; path: string[] }[] = [];
    for (const rel of rels) all.push(await this.resolve(rel));
    // Each item once: those inside another selected item (and repeats) are dropped.
    const inside = (a: string[], b: string[]): boolean => b.length <= a.length && b.every((s, i) => a[i] === s);
    const items: typeof all = [];
    for (const r of [...all].sort((a, b) => a.path.length - b.path.length)) if (!items.some((o) => inside(r.path, o.path))) items.push(r);
    let base: string[] | null = null;
    for (const r of items) {
      const parent = r.path.slice(0, -1);
      if (base === null) base = parent;
      else {
        let n = 0;
        while (n < base.length && n < parent.length && base[n] === parent[n]) n++;
        base = base.slice(0, n);
      }
    }
    const from = (base ?? []).length;
    return this.entries(items.map((r) => ({ item: r.item, name: r.path.slice(from).join('/') })), signal);
  }

  private async *entries(items: { item: ItemView; name: string }[], signal?: AbortSignal): AsyncGenerator<ArchiveEntry> {
    for (const { item, name } of items) yield* this.walk(item, name, signal);
  }

  /** Depth first: a folder, then what is in it. The selection's common folder itself ('') is no entry. */
  private async *walk(item: ItemView, name: string, signal?: AbortSignal): AsyncGenerator<ArchiveEntry> {
    if (signal?.aborted) throw new BrowseError('CANCELLED', item.path.slice(1), 'cancelled');
    const meta = { rel: item.path.slice(1), mtime: this.timeOf(item), uid: 0, gid: 0 };
    if (item.kind === 'file') {
      yield { ...meta, name, type: 'file', mode: 0o644, size: item.size, open: () => Promise.resolve(Readable.from(this.store.readContent(this.pointId, item.id), { objectMode: false })) };
      return;
    }
    if (name !== '') yield { ...meta, name, type: 'directory', mode: 0o755, size: 0 };
    for (const child of await this.store.listChildren(this.pointId, { id: item.id })) {
      const childName = safeName(child.name);
      yield* this.walk(child, name === '' ? childName : `${name}/${childName}`, signal);
    }
  }

  /** The content's bytes [start, end]: what comes before is read and skipped (the metadata keeps no blob offsets). */
  private async *slice(item: ItemView, start: number, end: number): AsyncGenerator<Buffer> {
    let at = 0;
    for await (const b of this.store.readContent(this.pointId, item.id)) {
      const from = Math.max(0, start - at);
      const to = Math.min(b.length, end + 1 - at);
      at += b.length;
      if (to > from) yield b.subarray(from, to);
      if (at > end) return;
    }
  }

  private async resolve(rel: string): Promise<{ item: ItemView; path: string[] }> {
    const path = components(rel);
    const item = await this.store.getItem(this.pointId, `/${path.join('/')}`);
    if (!item) throw new BrowseError('NOT_FOUND', rel, `${show(path.join('/'))} is not in this backup of ${this.name}`);
    return { item, path };
  }

  private entry(item: ItemView, name: string): BrowseEntry {
    const folder = item.kind === 'folder';
    return { name, type: folder ? 'dir' : 'file', size: this.sizeOf(item), mtime: this.timeOf(item).toISOString(), mode: folder ? 0o755 : 0o644, uid: 0, gid: 0 };
  }

  private sizeOf(item: ItemView): number {
    return item.kind === 'file' ? item.size : 0;
  }

  private timeOf(item: ItemView): Date {
    const t = new Date(item.modifiedAt ?? item.createdAt ?? Number.NaN);
    return Number.isNaN(t.getTime()) ? this.pointTime : t;
  }
}

/** browse.ts's pattern (a substring, or a glob with * ? [..]) as the metadata's glob (* and ?). */
function likeGlob(pattern: string): string {
  if (!/[*?[]/.test(pattern)) return `*${pattern}*`;
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const close = pattern[i] === '[' ? pattern.indexOf(']', i + 2) : -1;
    if (close > 0) {
      out += '?'; // one character of a set: checked by nameMatcher afterwards
      i = close;
    } else out += pattern[i];
  }
  return out;
}
