/**
 * Restores a selection of a mounted filesystem to a directory on the node, keeping mtimes,
 * modes, owners (when running as root) and symlinks (recreated as links, never followed).
 * Nothing is replaced unless asked: conflicts are found by a first pass, before any write.
 * Each file is written under a temporary name and renamed into place when complete.
 */
import { randomBytes } from 'node:crypto';
import { chown, lchown, lstat, lutimes, mkdir, open, readlink, rename, rm, symlink, utimes, chmod } from 'node:fs/promises';
import * as path from 'node:path';
import { BrowseError, lstatOrNull, openFile, relativeTo, resolveSelection, walkTree, type WalkStep } from './browse.js';

export interface CopyProgress {
  bytesDone: number;
  bytesTotal: number;
  entriesDone: number;
  entriesTotal: number;
}

export interface CopyOptions {
  overwrite?: boolean;
  /** Keep uid/gid (default: when running as root). */
  keepOwner?: boolean;
  signal?: AbortSignal;
  /** Called at most every progressBytes of data and after each entry. */
  onProgress?: (p: CopyProgress) => void;
  progressBytes?: number;
}

export interface CopyResult extends CopyProgress {
  /** Entries a plain directory cannot hold here (devices, fifos, sockets), by path. */
  skipped: string[];
}

const skippable = (s: WalkStep): boolean => !s.stats.isDirectory() && !s.stats.isFile() && !s.stats.isSymbolicLink();

const tmpName = (dest: string): string => path.join(path.dirname(dest), `.${path.basename(dest).slice(0, 100)}.vplus-${randomBytes(6).toString('hex')}`);

export async function copyOut(root: string, relPaths: string[], destDir: string, opts: CopyOptions = {}): Promise<CopyResult> {
  const sel = await resolveSelection(root, relPaths);
  const keepOwner = opts.keepOwner ?? process.getuid?.() === 0;
  const dest = path.resolve(destDir);
  const destStat = await lstatOrNull(dest);
  if (!destStat?.isDirectory()) throw new BrowseError('NOT_A_DIRECTORY', destDir, `restore destination ${destDir} is not a directory`);
  const target = (rel: string): string => path.join(dest, relativeTo(sel.base, rel));
  const cancelled = (rel: string): BrowseError => new BrowseError('CANCELLED', rel, 'the restore was cancelled');

  // Pass 1: totals, and what is in the way. An existing directory where one is restored is merged into.
  const p: CopyProgress = { bytesDone: 0, bytesTotal: 0, entriesDone: 0, entriesTotal: 0 };
  for (const item of sel.items) {
    for await (const s of walkTree(item, opts.signal)) {
      if (s.kind === 'leave' || skippable(s)) continue;
      p.entriesTotal++;
      if (s.stats.isFile()) p.bytesTotal += s.stats.size;
      const there = await lstatOrNull(target(s.rel));
      if (!there || (s.kind === 'enter' && there.isDirectory())) continue;
      if (!opts.overwrite || there.isDirectory() || s.kind === 'enter') {
        const why = opts.overwrite ? 'a directory cannot be replaced by a file or a file by a directory' : 'overwrite was not asked for';
        throw new BrowseError('EXISTS', s.rel, `${target(s.rel)} already exists (${why})`);
      }
    }
  }

  const report = (): void => opts.onProgress?.({ ...p });
  const every = opts.progressBytes ?? 8 * 1024 * 1024;
  const skipped: string[] = [];
  const keep = async (file: string, s: WalkStep, link: boolean): Promise<void> => {
    if (keepOwner) await (link ? lchown : chown)(file, s.stats.uid, s.stats.gid);
    if (!link) await chmod(file, s.stats.mode & 0o7777); // after chown, which clears setuid
    await (link ? lutimes : utimes)(file, s.stats.atime, s.stats.mtime);
  };

  for (const item of sel.items) {
    // Items from different folders (etc/hosts, data/x): the folders between the common base and
    // each item are made as they are in the filesystem (created 0700, then given their mode).
    await makeParents(root, sel.base, item.rel, target, keepOwner);
    for await (const s of walkTree(item, opts.signal)) {
      if (opts.signal?.aborted) throw cancelled(s.rel);
      const to = target(s.rel);
      if (skippable(s)) {
        skipped.push(s.rel);
        continue;
      }
      if (s.kind === 'enter') {
        if (!(await lstatOrNull(to))) await mkdir(to, { mode: 0o700 });
      } else if (s.kind === 'leave') {
        await keep(to, s, false); // after its contents, which changed its mtime
        continue; // counted at enter
      } else {
        const tmp = tmpName(to);
        try {
          if (s.stats.isSymbolicLink()) {
            await symlink(await readlink(s.abs), tmp);
            await keep(tmp, s, true);
          } else {
            await copyFile(s, tmp, p, every, report, opts.signal);
            await keep(tmp, s, false);
          }
          await rename(tmp, to);
        } catch (e) {
          await rm(tmp, { force: true });
          throw e;
        }
      }
      p.entriesDone++;
      report();
    }
  }
  return { ...p, skipped };
}

async function makeParents(root: string, base: string, rel: string, target: (rel: string) => string, keepOwner: boolean): Promise<void> {
  const below = relativeTo(base, rel).split('/').slice(0, -1);
  let at = base;
  for (const name of below) {
    at = at === '' ? name : `${at}/${name}`;
    const to = target(at);
    if (await lstatOrNull(to)) continue;
    const st = await lstat(path.join(root, at));
    if (!st.isDirectory()) throw new BrowseError('NOT_A_DIRECTORY', at, `${at} is not a directory`);
    await mkdir(to, { mode: 0o700 });
    if (keepOwner) await chown(to, st.uid, st.gid);
    await chmod(to, st.mode & 0o7777);
    await utimes(to, st.atime, st.mtime);
  }
}

async function copyFile(s: WalkStep, tmp: string, p: CopyProgress, every: number, report: () => void, signal?: AbortSignal): Promise<void> {
  const src = await openFile(s, s.rel);
  const out = await open(tmp, 'wx', 0o600);
  try {
    let sinceReport = 0;
    // Awaiting each write is the backpressure: one chunk in memory at a time.
    for await (const chunk of src.createReadStream({ highWaterMark: 256 * 1024, ...(signal ? { signal } : {}) })) {
      const buf = chunk as Buffer;
      let at = 0;
      while (at < buf.length) at += (await out.write(buf, at, buf.length - at)).bytesWritten;
      p.bytesDone += buf.length;
      sinceReport += buf.length;
      if (sinceReport >= every) {
        sinceReport = 0;
        report();
      }
    }
    await out.sync();
  } finally {
    await out.close();
    await src.close();
  }
}
