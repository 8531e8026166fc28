import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ApiStream } from './client/api-client.js';
import type { CliContext } from './context.js';
import { CliError, errorMessage } from './errors.js';
import { formatBytes } from './format.js';
import { ProgressRenderer } from './progress.js';

/**
 * `vplus mount get`: a download written to a local file as it arrives (never
 * held in memory), with a progress bar on stderr. It is written to a hidden
 * temporary file beside the target, flushed to disk, and only then given the
 * target's name: an interrupted download leaves no half file behind, and an
 * existing file is replaced only with --force.
 */

export interface DownloadTarget {
  /** Absolute path of the file to write. */
  file: string;
  force: boolean;
}

/**
 * The file to write: --output as given (a directory takes the default name
 * inside it), else the default name in the current directory. An existing
 * file is refused without --force, before anything is asked of the server.
 */
export function downloadTarget(cwd: string, output: string | undefined, defaultName: string, force: boolean): DownloadTarget {
  let file = path.resolve(cwd, output ?? defaultName);
  const existing = statOrNull(file);
  if (existing?.isDirectory()) file = path.join(file, defaultName);
  const target = statOrNull(file);
  if (target?.isDirectory()) throw new CliError(`${file} is a directory; give another file name with --output`);
  if (target && !force) throw new CliError(`${file} exists already; give --force to replace it, or another name with --output`);
  if (!statOrNull(path.dirname(file))?.isDirectory()) throw new CliError(`there is no directory ${path.dirname(file)} to write ${path.basename(file)} into`);
  return { file, force };
}

function statOrNull(p: string): fs.Stats | null {
  try {
    return fs.statSync(p);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new CliError(`cannot look at ${p}: ${errorMessage(err)}`);
  }
}

export interface SaveOptions {
  /** In front of the progress bar: "hosts". */
  label: string;
  /** The size expected, when known (a file's); else the answer's Content-Length, if any. */
  size: number | null;
  /** Progress on a terminal; defaults to stderr.isTTY. */
  tty?: boolean;
  now?: () => number;
}

/** Writes the stream to the target; returns the bytes written. Ctrl-C stops it and writes nothing. */
export async function saveDownload(
  ctx: Pick<CliContext, 'stderr' | 'onShutdownSignal'>,
  download: ApiStream,
  target: DownloadTarget,
  options: SaveOptions,
): Promise<number> {
  const size = download.size ?? options.size;
  const progress = new ProgressRenderer({ stream: ctx.stderr, label: options.label, ...(options.tty !== undefined ? { tty: options.tty } : {}), ...(options.now ? { now: options.now } : {}) });
  const temp = path.join(path.dirname(target.file), `.${path.basename(target.file)}.${randomBytes(4).toString('hex')}.part`);
  const abort = new AbortController();
  const unsubscribe = ctx.onShutdownSignal(() => abort.abort());
  let bytes = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      bytes += chunk.length;
      progress.update(bytes, size);
      callback(null, chunk);
    },
  });
  progress.update(0, size);
  const out = fs.createWriteStream(temp, { flags: 'wx', flush: true });
  try {
    await pipeline(download.body, counter, out, { signal: abort.signal });
    if (size !== null && bytes !== size) throw new Error(`${bytes} bytes arrived of the ${size} expected`);
  } catch (err) {
    download.body.destroy();
    progress.finish();
    // The file may still be opening when the source breaks: remove it once it is closed, or it would come back.
    if (!out.closed) await new Promise<void>((resolve) => out.destroy().once('close', () => resolve()));
    removeQuietly(temp);
    if (abort.signal.aborted) throw new CliError(`stopped the download after ${formatBytes(bytes)}; ${target.file} was not written`);
    throw new CliError(`the download broke off after ${formatBytes(bytes)} (${errorMessage(err)}); ${target.file} was not written, try again`);
  } finally {
    unsubscribe();
  }
  progress.finish();
  try {
    moveIntoPlace(temp, target);
  } catch (err) {
    removeQuietly(temp);
    throw err;
  }
  return bytes;
}

/**
 * The finished temporary file takes the target's name: replacing it with
 * --force, else by a hard link, which fails if the name was taken meanwhile
 * (a filesystem without hard links falls back to a check and a rename).
 */
function moveIntoPlace(temp: string, target: DownloadTarget): void {
  if (target.force) {
    fs.renameSync(temp, target.file);
    return;
  }
  try {
    fs.linkSync(temp, target.file);
    fs.unlinkSync(temp);
    return;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new CliError(`${target.file} appeared while downloading; give --force to replace it, or another name with --output`);
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw new CliError(`cannot write ${target.file}: ${errorMessage(err)}`);
  }
  if (fs.existsSync(target.file)) throw new CliError(`${target.file} appeared while downloading; give --force to replace it, or another name with --output`);
  fs.renameSync(temp, target.file);
}

function removeQuietly(file: string): void {
  try {
    fs.rmSync(file, { force: true });
  } catch {
    // Best effort: the temporary file is hidden and named as such.
  }
}
