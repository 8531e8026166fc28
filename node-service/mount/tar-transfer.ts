/**
 * A selection of a mounted filesystem (or any entries, archive-entries.ts) as a tar stream
 * (tar-stream), and its extraction into a directory on another node: how a file restore to
 * another node travels through the server. The tar keeps names (pax headers for long and unicode ones), modes, owners, times
 * and symlinks (as links, never followed). The extractor trusts nothing in the stream:
 * names are confined to the target directory, no component of a path may be a symlink,
 * every file is written under a temporary name and renamed into place, and nothing is
 * replaced unless asked.
 */
import { randomBytes } from 'node:crypto';
import { chmod, chown, lchown, lutimes, mkdir, open, rename, rm, symlink, utimes } from 'node:fs/promises';
import * as path from 'node:path';
import { Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { extract as tarExtract, pack as tarPack, type Header } from 'tar-stream';
import { entryTotals, fsEntries, type ArchiveEntry, type EntryTotals } from './archive-entries.js';
import { BrowseError, lstatOrNull } from './browse.js';

export type TarTotals = EntryTotals;

/** Counts what `tarSelection` will send (for progress on the receiving side). */
export async function selectionTotals(root: string, relPaths: string[], signal?: AbortSignal): Promise<TarTotals> {
  return entryTotals(await fsEntries(root, relPaths, signal));
}

/** Writes the tar of relPaths (names relative to their common folder) to output. */
export async function tarSelection(root: string, relPaths: string[], output: Writable, opts: { signal?: AbortSignal } = {}): Promise<void> {
  return tarEntries(await fsEntries(root, relPaths, opts.signal), output, opts);
}

type Headers = Partial<Header> & Pick<Header, 'name'>;

/** Writes entries (archive-entries.ts) as a tar to output; extractTar reads it back. */
export async function tarEntries(entries: AsyncIterable<ArchiveEntry>, output: Writable, opts: { signal?: AbortSignal } = {}): Promise<void> {
  const pack = tarPack();
  const done = pipeline(pack as unknown as Readable, output);
  // The output may fail (the reader went away) while an entry is being added: that entry's
  // wait ends too, and the rejection is never left unhandled.
  const failed = done.then(
    () => new Promise<never>(() => undefined),
    (e: unknown) => Promise.reject(e instanceof Error ? e : new Error(String(e))),
  );
  failed.catch(() => undefined);
  const entry = (header: Headers, body?: Readable): Promise<void> => Promise.race([failed, added(header, body)]);
  const added = (header: Headers, body?: Readable): Promise<void> =>
    new Promise((resolve, reject) => {
      const cb = (err?: Error | null): void => (err ? reject(err) : resolve());
      if (!body) {
        pack.entry(header, Buffer.alloc(0), cb).on('error', reject);
        return;
      }
      const sink = pack.entry(header, cb);
      sink.on('error', reject);
      body.on('error', reject).pipe(sink as unknown as Writable);
    });
  try {
    for await (const e of entries) {
      if (opts.signal?.aborted) throw new BrowseError('CANCELLED', e.rel, 'the restore was cancelled');
      const meta = { name: e.name, mode: e.mode, uid: e.uid, gid: e.gid, mtime: e.mtime };
      if (e.type === 'directory') await entry({ ...meta, type: 'directory' });
      else if (e.type === 'symlink') await entry({ ...meta, type: 'symlink', linkname: e.linkname ?? '' });
      else if (!e.open || e.size === 0) await entry({ ...meta, type: 'file', size: 0 });
      else {
        const stream = await e.open();
        try {
          await entry({ ...meta, type: 'file', size: e.size }, stream);
        } finally {
          stream.destroy();
        }
      }
    }
    pack.finalize();
  } catch (e) {
    pack.destroy(e instanceof Error ? e : new Error(String(e)));
    await done.catch(() => undefined);
    throw e;
  }
  await done;
}

export interface ExtractOptions {
  overwrite: boolean;
  keepOwner?: boolean;
  signal?: AbortSignal;
  onProgress?: (p: { bytesDone: number; entriesDone: number }) => void;
}

/** A tar entry's name as a path under dest, or a refusal: absolute, '..', NUL or empty. */
export function confinedName(dest: string, name: string): string {
  const clean = name.replace(/\/+$/, '');
  const parts = clean.split('/');
  if (clean === '' || clean.includes('\0') || path.isAbsolute(clean) || parts.some((p) => p === '..' || p === '')) {
    throw new BrowseError('PATH_ESCAPE', name, `the restore stream holds an entry named "${name.slice(0, 200)}", which would land outside ${dest}; nothing more was written`);
  }
  return path.join(dest, ...parts.filter((p) => p !== '.'));
}

/** Every folder between dest and p must be a real directory (made 0700 when missing): never a link. */
async function realParents(dest: string, p: string): Promise<void> {
  const rel = path.relative(dest, path.dirname(p));
  let at = dest;
  for (const part of rel === '' ? [] : rel.split(path.sep)) {
    at = path.join(at, part);
    const st = await lstatOrNull(at);
    if (!st) await mkdir(at, { mode: 0o700 });
    else if (!st.isDirectory()) throw new BrowseError('PATH_ESCAPE', path.relative(dest, at), `${at} is not a directory (a link or a file); nothing is written through it`);
  }
}

/** Extracts a tar stream made by tarSelection into dest. */
export async function extractTar(input: Readable, dest: string, opts: ExtractOptions): Promise<{ entriesDone: number; bytesDone: number; skipped: string[] }> {
  const keepOwner = opts.keepOwner ?? process.getuid?.() === 0;
  const extract = tarExtract();
  const progress = { entriesDone: 0, bytesDone: 0 };
  const dirs: { path: string; header: Header }[] = [];
  const skipped: string[] = [];
  const keep = async (p: string, h: Header, link: boolean): Promise<void> => {
    if (keepOwner && h.uid !== undefined && h.gid !== undefined) await (link ? lchown : chown)(p, h.uid, h.gid);
    if (!link && h.mode !== undefined) await chmod(p, h.mode & 0o7777);
    const t = h.mtime ?? new Date();
    await (link ? lutimes : utimes)(p, t, t);
  };
  const handle = async (header: Header, body: Readable): Promise<void> => {
    if (opts.signal?.aborted) throw new BrowseError('CANCELLED', header.name, 'the restore was cancelled');
    const to = confinedName(dest, header.name);
    await realParents(dest, to);
    const there = await lstatOrNull(to);
    if (header.type === 'directory') {
      if (there && !there.isDirectory()) throw new BrowseError('EXISTS', header.name, `${to} already exists and is not a directory`);
      if (!there) await mkdir(to, { mode: 0o700 });
      dirs.push({ path: to, header });
      body.resume();
    } else if (header.type === 'file' || header.type === 'symlink') {
      if (there && (!opts.overwrite || there.isDirectory())) {
        const why = opts.overwrite ? 'a directory cannot be replaced by a file' : 'overwrite was not asked for';
        throw new BrowseError('EXISTS', header.name, `${to} already exists (${why})`);
      }
      const tmp = path.join(path.dirname(to), `.${path.basename(to).slice(0, 100)}.vplus-${randomBytes(6).toString('hex')}`);
      try {
        if (header.type === 'symlink') {
          await symlink(header.linkname ?? '', tmp);
          body.resume();
          await keep(tmp, header, true);
        } else {
          const out = await open(tmp, 'wx', 0o600);
          try {
            await pipeline(
              body,
              new Writable({
                write(chunk: Buffer, _e, done) {
                  out.write(chunk).then(() => {
                    progress.bytesDone += chunk.length;
                    done();
                  }, done);
                },
              }),
            );
            await out.sync();
          } finally {
            await out.close();
          }
          await keep(tmp, header, false);
        }
        await rename(tmp, to);
      } catch (e) {
        await rm(tmp, { force: true });
        throw e;
      }
    } else {
      skipped.push(header.name);
      body.resume();
      return;
    }
    progress.entriesDone++;
    opts.onProgress?.({ ...progress });
  };
  const finished = new Promise<void>((resolve, reject) => {
    extract.on('entry', (header, body, next) => {
      // A failed extraction destroys the entry's stream too: its error is the one already reported.
      body.on('error', () => undefined);
      handle(header, body as unknown as Readable).then(() => next(), (err: unknown) => {
        extract.destroy(err instanceof Error ? err : new Error(String(err)));
      });
    });
    extract.on('finish', () => resolve());
    extract.on('error', reject);
    extract.on('close', () => resolve());
  });
  input.pipe(extract as unknown as Writable);
  input.on('error', (err) => extract.destroy(err));
  try {
    await finished;
  } catch (err) {
    // The sender stops too (for a pull through the server: the stream is cancelled).
    input.destroy();
    throw err;
  }
  // Folders get their times and modes after their contents, deepest first.
  for (const d of dirs.reverse()) await keep(d.path, d.header, false);
  return { ...progress, skipped };
}
