/**
 * A selection of a mounted filesystem as a streamed zip (archiver): one entry in flight at a
 * time and the output's backpressure honoured, so memory stays flat whatever the size.
 * Symlinks are stored as symlinks (never followed), with each entry's mtime and mode.
 */
import { pipeline } from 'node:stream/promises';
import type { Writable } from 'node:stream';
import archiver from 'archiver';
import { BrowseError, openFile, relativeTo, resolveSelection, walkTree } from './browse.js';
import { readlink } from 'node:fs/promises';

export interface ZipOptions {
  /** zlib level 0-9; 0 stores (default 1: fast, still shrinks text). */
  level?: number;
  signal?: AbortSignal;
  onProgress?: (p: { entries: number; bytes: number }) => void;
}

/** The fields archiver's zip module reads that its typings leave out. */
interface RawEntryData extends archiver.ZipEntryData {
  type?: 'file' | 'directory' | 'symlink';
  linkname?: string;
}

export interface ZipResult {
  entries: number;
  /** Bytes of file content read (before compression). */
  bytes: number;
}

/**
 * Writes the zip of relPaths to output and resolves when output has finished. Every path is
 * resolved first: one that leaves the filesystem refuses the whole zip before a byte is written.
 */
export async function zip(root: string, relPaths: string[], output: Writable, opts: ZipOptions = {}): Promise<ZipResult> {
  const sel = await resolveSelection(root, relPaths);
  const level = opts.level ?? 1;
  const archive = archiver('zip', { zlib: { level }, store: level === 0 });
  const done = pipeline(archive, output);
  // If the output fails (client gone), no 'entry' comes any more: every wait also ends then.
  const failed = done.then(
    () => new Promise<never>(() => undefined),
    (e: unknown) => Promise.reject(e instanceof Error ? e : new Error(String(e))),
  );
  failed.catch(() => undefined);
  // One entry at a time: the next is appended when archiver reports the previous one written.
  const add = (source: Parameters<archiver.Archiver['append']>[0], data: RawEntryData): Promise<void> =>
    Promise.race([failed, appended(source, data)]);
  const appended = (source: Parameters<archiver.Archiver['append']>[0], data: RawEntryData): Promise<void> =>
    new Promise((resolve, reject) => {
      const onEntry = (): void => {
        archive.off('error', onError);
        resolve();
      };
      const onError = (e: unknown): void => {
        archive.off('entry', onEntry);
        reject(e instanceof Error ? e : new Error(String(e)));
      };
      archive.once('entry', onEntry);
      archive.once('error', onError);
      archive.append(source, data);
    });
  const result: ZipResult = { entries: 0, bytes: 0 };
  try {
    for (const item of sel.items) {
      for await (const step of walkTree(item, opts.signal)) {
        if (opts.signal?.aborted) throw new BrowseError('CANCELLED', step.rel, 'the download was cancelled');
        const name = relativeTo(sel.base, step.rel);
        if (step.kind === 'leave' || name === '') continue;
        const st = step.stats;
        const meta = { name, date: st.mtime, mode: st.mode & 0o7777 };
        if (step.kind === 'enter') {
          await add(Buffer.alloc(0), { ...meta, name: `${name}/`, type: 'directory' });
        } else if (st.isSymbolicLink()) {
          await add(Buffer.alloc(0), { ...meta, type: 'symlink', linkname: await readlink(step.abs) });
        } else if (st.isFile()) {
          const fh = await openFile(step, step.rel);
          const stream = fh.createReadStream({ highWaterMark: 256 * 1024 });
          try {
            await add(stream, { ...meta, store: level === 0 });
            result.bytes += stream.bytesRead;
          } finally {
            stream.destroy();
          }
        } else {
          continue; // devices, fifos, sockets: nothing a zip can hold
        }
        result.entries++;
        opts.onProgress?.({ ...result });
      }
    }
    await archive.finalize();
  } catch (e) {
    archive.abort();
    output.destroy(e instanceof Error ? e : new Error(String(e)));
    await done.catch(() => undefined);
    throw e;
  }
  await done;
  return result;
}
