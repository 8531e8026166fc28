/**
 * A selection as a streamed zip (archiver), a mounted filesystem's or any entries
 * (archive-entries.ts): one entry in flight at a time and the output's backpressure
 * honoured, so memory stays flat whatever the size. Symlinks are stored as symlinks (never followed), with each entry's mtime and mode.
 */
import { pipeline } from 'node:stream/promises';
import { Readable, type Writable } from 'node:stream';
import archiver from 'archiver';
import { fsEntries, type ArchiveEntry } from './archive-entries.js';
import { BrowseError } from './browse.js';

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
  return zipEntries(await fsEntries(root, relPaths, opts.signal), output, opts);
}

/** Writes entries (archive-entries.ts) as a zip to output; resolves when output has finished. */
export async function zipEntries(entries: AsyncIterable<ArchiveEntry>, output: Writable, opts: ZipOptions = {}): Promise<ZipResult> {
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
    for await (const e of entries) {
      if (opts.signal?.aborted) throw new BrowseError('CANCELLED', e.rel, 'the download was cancelled');
      const meta = { name: e.name, date: e.mtime, mode: e.mode };
      if (e.type === 'directory') await add(Buffer.alloc(0), { ...meta, name: `${e.name}/`, type: 'directory' });
      else if (e.type === 'symlink') await add(Buffer.alloc(0), { ...meta, type: 'symlink', linkname: e.linkname ?? '' });
      else {
        const stream = e.open ? await e.open() : Readable.from([]);
        try {
          await add(stream, { ...meta, store: level === 0 });
          result.bytes += e.size;
        } finally {
          stream.destroy();
        }
      }
      result.entries++;
      opts.onProgress?.({ ...result });
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
