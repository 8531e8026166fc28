/**
 * What a zip or a tar of a selection is made of, whatever holds the files: a mounted
 * filesystem (fsEntries, below) or a Microsoft 365 backup point (cloud/point-tree.ts). The
 * writers (zip-stream.ts, tar-transfer.ts) take entries one at a time and open a file's
 * content only when it is written, so memory stays flat whatever the size.
 */
import { readlink } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { openFile, relativeTo, resolveSelection, walkTree, type Selection } from './browse.js';

export interface ArchiveEntry {
  /** Name in the archive: relative to the selection's common folder, '/'-separated, never '..'. */
  name: string;
  /** The path it was read from (for errors). */
  rel: string;
  type: 'directory' | 'file' | 'symlink';
  mtime: Date;
  /** Permission bits (st_mode & 0o7777). */
  mode: number;
  uid: number;
  gid: number;
  /** A file's size in bytes (0 for others). */
  size: number;
  linkname?: string;
  /** A file's content, opened when the entry is written; the writer destroys it afterwards. */
  open?: () => Promise<Readable>;
}

export interface EntryTotals {
  entries: number;
  bytes: number;
}

/** Adds up what a selection's entries hold (for progress on the receiving side). */
export async function entryTotals(entries: AsyncIterable<ArchiveEntry>): Promise<EntryTotals> {
  const t: EntryTotals = { entries: 0, bytes: 0 };
  for await (const e of entries) {
    t.entries++;
    t.bytes += e.size;
  }
  return t;
}

/**
 * A selection of a mounted filesystem: every path is resolved before this returns (one that
 * leaves the filesystem refuses the whole selection before a byte is written); the entries
 * come depth first, symlinks as entries of their own (never followed), devices, fifos and
 * sockets left out.
 */
export async function fsEntries(root: string, relPaths: string[], signal?: AbortSignal): Promise<AsyncIterable<ArchiveEntry>> {
  return selectionEntries(await resolveSelection(root, relPaths), signal);
}

async function* selectionEntries(sel: Selection, signal?: AbortSignal): AsyncGenerator<ArchiveEntry> {
  for (const item of sel.items) {
    for await (const step of walkTree(item, signal)) {
      const name = relativeTo(sel.base, step.rel);
      if (step.kind === 'leave' || name === '') continue;
      const st = step.stats;
      const meta = { name, rel: step.rel, mtime: st.mtime, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, size: 0 };
      if (step.kind === 'enter') yield { ...meta, type: 'directory' };
      else if (st.isSymbolicLink()) yield { ...meta, type: 'symlink', linkname: await readlink(step.abs) };
      else if (st.isFile()) {
        yield {
          ...meta,
          type: 'file',
          size: st.size,
          open: async () => (await openFile(step, step.rel)).createReadStream({ highWaterMark: 256 * 1024 }),
        };
      }
    }
  }
}
