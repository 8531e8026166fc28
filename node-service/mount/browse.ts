/**
 * Browsing one mounted filesystem of a backup: every path is resolved inside the mount's root
 * component by component (lstat, readlink), so '..' past the root, absolute paths, NUL bytes
 * and symlinks that lead out (absolute, or relative climbing past the root) are refused with
 * PATH_ESCAPE. Symlinks are shown as links; walks never follow them. The mount is read-only,
 * so what was checked stays true; files are still opened O_NOFOLLOW and matched by inode.
 */
import { constants, createReadStream, type Stats } from 'node:fs';
import { lstat, open, opendir, readlink, readFile, type FileHandle } from 'node:fs/promises';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import type { BrowseEntry, BrowseEntryType, BrowseErrorCode, BrowseListing, BrowseSearchHit, BrowseSearchResult, BrowseSort } from '../../common/api/mounts.js';

export class BrowseError extends Error {
  constructor(
    readonly code: BrowseErrorCode,
    /** The path as asked for, relative to the mount's root. */
    readonly path: string,
    message: string,
  ) {
    super(message);
  }
}

/** Symlinks followed while resolving one path (Linux's MAXSYMLINKS). */
const MAX_LINK_HOPS = 40;

export interface Resolved {
  /** Absolute path on the node. */
  abs: string;
  /** Canonical path from the root, '' for the root. */
  rel: string;
  /** lstat of the final component (a symlink itself when not followed). */
  stats: Stats;
}

function show(relPath: string): string {
  return JSON.stringify(relPath === '' ? '/' : relPath);
}

function escape(relPath: string, why: string): BrowseError {
  return new BrowseError('PATH_ESCAPE', relPath, `path ${show(relPath)} is refused: ${why}`);
}

/** lstat, or null when nothing is there. */
export async function lstatOrNull(p: string): Promise<Stats | null> {
  try {
    return await lstat(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

/**
 * Resolves relPath inside root. Symlinks on the way are followed as long as they stay inside;
 * the last component is followed only with followLast (a listed or zipped link stays a link).
 */
export async function resolveInside(root: string, relPath: string, opts: { followLast?: boolean } = {}): Promise<Resolved> {
  const followLast = opts.followLast ?? true;
  if (relPath.includes('\0')) throw escape(relPath, 'it contains a NUL byte');
  if (relPath.startsWith('/')) throw escape(relPath, 'absolute paths are not accepted; paths are relative to the filesystem root');
  const base = path.resolve(root);
  const done: string[] = [];
  const todo = relPath.split('/').reverse();
  let hops = 0;
  let stats = await lstat(base);
  while (todo.length > 0) {
    const part = todo.pop()!;
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (done.length === 0) throw escape(relPath, "'..' leads above the filesystem root");
      done.pop();
      stats = await lstat(path.join(base, ...done));
      continue;
    }
    if (!stats.isDirectory()) {
      throw new BrowseError('NOT_A_DIRECTORY', relPath, `${show(done.join('/'))} is not a directory (in ${show(relPath)})`);
    }
    const here = path.join(base, ...done, part);
    const st = await lstatOrNull(here);
    if (!st) throw new BrowseError('NOT_FOUND', relPath, `${show([...done, part].join('/'))} does not exist (in ${show(relPath)})`);
    const last = !todo.some((t) => t !== '' && t !== '.');
    if (st.isSymbolicLink() && (!last || followLast)) {
      if (++hops > MAX_LINK_HOPS) throw new BrowseError('SYMLINK_LOOP', relPath, `too many symlinks resolving ${show(relPath)}`);
      const target = await readlink(here);
      const link = [...done, part].join('/');
      if (target.startsWith('/')) throw escape(relPath, `symlink ${show(link)} points to the absolute path ${JSON.stringify(target)}, outside the filesystem`);
      // Relative target: resolved from the link's directory, i.e. from `done`.
      todo.push(...target.split('/').reverse());
      // A '..' in it that climbs past the root is refused above, with the path asked for.
      continue;
    }
    done.push(part);
    stats = st;
  }
  return { abs: path.join(base, ...done), rel: done.join('/'), stats };
}

/** uid/gid to names, from the backed-up system's own account files. */
export interface IdNames {
  users: Map<number, string>;
  groups: Map<number, string>;
}

function parseIds(text: string): Map<number, string> {
  const m = new Map<number, string>();
  for (const line of text.split('\n')) {
    const [name, , id] = line.split(':');
    const n = Number(id);
    if (name && id !== undefined && id !== '' && Number.isInteger(n) && !m.has(n)) m.set(n, name);
  }
  return m;
}

/** Reads etc/passwd and etc/group inside the mount (when this filesystem is a system's root). */
export async function readIdNames(root: string): Promise<IdNames> {
  const read = async (rel: string): Promise<Map<number, string>> => {
    try {
      const r = await resolveInside(root, rel);
      if (!r.stats.isFile() || r.stats.size > 16 * 1024 * 1024) return new Map();
      return parseIds(await readFile(r.abs, 'utf8'));
    } catch (e) {
      if (e instanceof BrowseError) return new Map();
      throw e;
    }
  };
  return { users: await read('etc/passwd'), groups: await read('etc/group') };
}

export function entryType(st: Stats): BrowseEntryType {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  return 'other';
}

async function toEntry(abs: string, name: string, st: Stats, names?: IdNames): Promise<BrowseEntry> {
  const e: BrowseEntry = {
    name,
    type: entryType(st),
    size: st.size,
    mtime: st.mtime.toISOString(),
    mode: st.mode & 0o7777,
    uid: st.uid,
    gid: st.gid,
  };
  const owner = names?.users.get(st.uid);
  const group = names?.groups.get(st.gid);
  if (owner !== undefined) e.owner = owner;
  if (group !== undefined) e.group = group;
  if (st.isSymbolicLink()) e.target = await readlink(abs);
  return e;
}

/** The entry for a path itself (a symlink at the end is described, not followed). */
export async function stat(root: string, relPath: string, names?: IdNames): Promise<BrowseEntry & { path: string }> {
  const r = await resolveInside(root, relPath, { followLast: false });
  return { path: r.rel, ...(await toEntry(r.abs, path.basename(r.abs), r.stats, names)) };
}

export interface ListOptions {
  offset?: number;
  limit?: number;
  sort?: BrowseSort;
  order?: 'asc' | 'desc';
  /** Most entries read from one directory; beyond, the listing is truncated (default 200,000). */
  maxScan?: number;
  names?: IdNames;
}

const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

async function mapLimit<T, R>(items: T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** One page of a directory; names only are held for the whole directory, stats for the page. */
export async function list(root: string, relPath: string, opts: ListOptions = {}): Promise<BrowseListing> {
  const { offset = 0, limit = 500, sort = 'name', order = 'asc', maxScan = 200_000 } = opts;
  const dir = await resolveInside(root, relPath);
  if (!dir.stats.isDirectory()) throw new BrowseError('NOT_A_DIRECTORY', relPath, `${show(relPath)} is not a directory`);
  const names: string[] = [];
  let truncated = false;
  for await (const d of await opendir(dir.abs, { bufferSize: 256 })) {
    if (names.length >= maxScan) {
      truncated = true;
      break;
    }
    names.push(d.name);
  }
  const sign = order === 'asc' ? 1 : -1;
  let page: string[];
  if (sort === 'name') {
    names.sort((a, b) => sign * byName(a, b));
    page = names.slice(offset, offset + limit);
  } else {
    // Sorting by size or time needs every entry's lstat; keep only the key.
    const keys = await mapLimit(names, 16, async (n) => {
      const st = await lstatOrNull(path.join(dir.abs, n));
      return { n, k: st ? (sort === 'size' ? st.size : st.mtimeMs) : 0 };
    });
    keys.sort((a, b) => sign * (a.k - b.k || byName(a.n, b.n)));
    page = keys.slice(offset, offset + limit).map((k) => k.n);
  }
  const entries = await mapLimit(page, 16, async (n) => {
    const abs = path.join(dir.abs, n);
    const st = await lstatOrNull(abs);
    return st ? toEntry(abs, n, st, opts.names) : null;
  });
  return { path: dir.rel, entries: entries.filter((e): e is BrowseEntry => e !== null), total: names.length, truncated };
}

/** A case-insensitive name matcher: a glob (* ? [..]) on the whole name, else a substring. */
export function nameMatcher(pattern: string): (name: string) => boolean {
  const p = pattern.toLowerCase();
  if (!/[*?[]/.test(p)) return (n) => n.toLowerCase().includes(p);
  let re = '';
  for (let i = 0; i < p.length; i++) {
    const c = p[i]!;
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      const close = p.indexOf(']', i + 2);
      if (close < 0) re += '\\[';
      else {
        let set = p.slice(i + 1, close).replace(/[\\\]^]/g, (x) => `\\${x}`);
        if (set.startsWith('!')) set = `^${set.slice(1)}`;
        re += `[${set}]`;
        i = close;
      }
    } else re += c.replace(/[.+^${}()|\\\]]/g, (x) => `\\${x}`);
  }
  const rx = new RegExp(`^${re}$`, 's');
  return (n) => rx.test(n.toLowerCase());
}

export interface SearchOptions {
  limit?: number;
  /** Most entries looked at (default 1,000,000). */
  maxVisited?: number;
  signal?: AbortSignal;
  names?: IdNames;
}

/** Breadth first (shallow hits first), never following symlinks. */
export async function search(root: string, relPath: string, pattern: string, opts: SearchOptions = {}): Promise<BrowseSearchResult> {
  const { limit = 500, maxVisited = 1_000_000 } = opts;
  const start = await resolveInside(root, relPath);
  if (!start.stats.isDirectory()) throw new BrowseError('NOT_A_DIRECTORY', relPath, `${show(relPath)} is not a directory`);
  const match = nameMatcher(pattern);
  const hits: BrowseSearchHit[] = [];
  const base = path.resolve(root);
  const queue: string[] = [start.rel];
  let visited = 0;
  let truncated = false;
  walk: while (queue.length > 0) {
    const rel = queue.shift()!;
    let dir;
    try {
      dir = await opendir(path.join(base, rel), { bufferSize: 256 });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EACCES' || code === 'ENOENT' || code === 'ENOTDIR') continue; // unreadable: skip it
      throw e;
    }
    for await (const d of dir) {
      if (opts.signal?.aborted || visited >= maxVisited || hits.length >= limit) {
        truncated = true;
        break walk; // leaving the for-await closes the directory
      }
      visited++;
      const child = rel === '' ? d.name : `${rel}/${d.name}`;
      const abs = path.join(base, child);
      let isDir = d.isDirectory();
      const known = isDir || d.isFile() || d.isSymbolicLink() || d.isFIFO() || d.isSocket() || d.isBlockDevice() || d.isCharacterDevice();
      let st: Stats | null = null;
      if (!known) {
        st = await lstatOrNull(abs);
        isDir = st?.isDirectory() ?? false;
      }
      if (isDir) queue.push(child);
      if (match(d.name)) {
        st ??= await lstatOrNull(abs);
        if (st) hits.push({ path: child, ...(await toEntry(abs, d.name, st, opts.names)) });
      }
    }
  }
  return { hits, visited, truncated };
}

/**
 * Opens a regular file O_NOFOLLOW and checks it is the inode that was resolved (the mount is
 * read-only, this is belt and braces). The caller closes the handle.
 */
export async function openFile(r: Resolved, relPath: string): Promise<FileHandle> {
  if (!r.stats.isFile()) throw new BrowseError('NOT_A_FILE', relPath, `${show(relPath)} is not a regular file`);
  const fh = await open(r.abs, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    const st = await fh.stat();
    if (!st.isFile() || st.ino !== r.stats.ino || st.dev !== r.stats.dev) {
      throw new BrowseError('NOT_A_FILE', relPath, `${show(relPath)} changed while it was opened`);
    }
    return fh;
  } catch (e) {
    await fh.close();
    throw e;
  }
}

export interface OpenedRange {
  stream: Readable;
  /** Whole file size. */
  size: number;
  /** Inclusive byte range served (end = start - 1 for an empty file). */
  start: number;
  end: number;
  entry: BrowseEntry;
}

/** A stream of bytes [start, end] (inclusive, as in HTTP Range) of a regular file. */
export async function openRead(root: string, relPath: string, range: { start?: number; end?: number } = {}): Promise<OpenedRange> {
  const r = await resolveInside(root, relPath);
  const fh = await openFile(r, relPath);
  const size = r.stats.size;
  const start = range.start ?? 0;
  // As HTTP says: an end past the file is the file's last byte.
  const end = Math.min(range.end ?? size - 1, size - 1);
  const empty = size === 0 && range.start === undefined && range.end === undefined;
  if (!empty && (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || start > end || end >= size)) {
    await fh.close();
    throw new BrowseError('INVALID_RANGE', relPath, `bytes ${start}-${end} are not inside ${show(relPath)} (${size} bytes)`);
  }
  const entry = await toEntry(r.abs, path.basename(r.abs), r.stats);
  const stream = empty ? createReadStream('', { fd: fh }) : createReadStream('', { fd: fh, start, end, highWaterMark: 256 * 1024 });
  return { stream, size, start, end: empty ? -1 : end, entry };
}

/** A selection to zip or restore: resolved items (a selected link stays a link) and the folder names are taken from. */
export interface Selection {
  items: Resolved[];
  /** Common parent of the items: entry names are relative to it. */
  base: string;
}

const segs = (rel: string): string[] => (rel === '' ? [] : rel.split('/'));

/** Resolves every path first, so an escaping one refuses the whole request before anything is written. */
export async function resolveSelection(root: string, relPaths: string[]): Promise<Selection> {
  const all: Resolved[] = [];
  for (const p of relPaths) all.push(await resolveInside(root, p, { followLast: false }));
  // Drop items inside other items (and repeats): each entry once.
  const inside = (a: string, b: string): boolean => b === '' || a === b || a.startsWith(`${b}/`);
  const items: Resolved[] = [];
  for (const r of [...all].sort((a, b) => a.rel.length - b.rel.length)) if (!items.some((o) => inside(r.rel, o.rel))) items.push(r);
  let base: string[] | null = null;
  for (const r of items) {
    const parent = segs(r.rel).slice(0, -1);
    if (base === null) base = parent;
    else {
      let n = 0;
      while (n < base.length && n < parent.length && base[n] === parent[n]) n++;
      base = base.slice(0, n);
    }
  }
  return { items, base: (base ?? []).join('/') };
}

export interface WalkStep {
  /** enter/leave a directory (leave comes after its contents), or any other entry. */
  kind: 'enter' | 'leave' | 'leaf';
  rel: string;
  abs: string;
  stats: Stats;
}

/** Depth first under a resolved item, never following symlinks; one open directory per level. */
export async function* walkTree(item: Resolved, signal?: AbortSignal): AsyncGenerator<WalkStep> {
  if (!item.stats.isDirectory()) {
    yield { kind: 'leaf', ...item };
    return;
  }
  yield { kind: 'enter', ...item };
  for await (const d of await opendir(item.abs, { bufferSize: 64 })) {
    if (signal?.aborted) throw new BrowseError('CANCELLED', item.rel, 'cancelled');
    const abs = path.join(item.abs, d.name);
    const st = await lstatOrNull(abs);
    if (st) yield* walkTree({ abs, rel: item.rel === '' ? d.name : `${item.rel}/${d.name}`, stats: st }, signal);
  }
  yield { kind: 'leave', ...item };
}

/** Name of rel below base ('' when rel is base). */
export function relativeTo(base: string, rel: string): string {
  if (base === '') return rel;
  return rel === base ? '' : rel.slice(base.length + 1);
}
