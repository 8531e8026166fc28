import path from 'node:path';
import type { Command } from 'commander';
import type { BrowseEntry, BrowseSearchHit, BrowseSearchResult, MountRestoreRequest } from '../../common/api/index.js';
import type { ApiClient } from '../client/api-client.js';
import { withClient } from '../client/session.js';
import type { CliContext } from '../context.js';
import { CliError, UsageError } from '../errors.js';
import { formatBytes } from '../format.js';
import { defaultOutputName, mountPath, nodeDirectory, parseMountId, showPath } from '../mount-arguments.js';
import { downloadTarget, saveDownload } from '../mount-download.js';
import { formatHits, formatListing } from '../mount-format.js';
import { Output } from '../output.js';
import { followStartedTask, intParser } from './task.command.js';

/**
 * Inside a mount: `ls`, `find`, `get` and `restore`. Paths are from the
 * mount's root, starting with a filesystem's folder (/vda1/etc/hosts); the
 * leading "/" is optional.
 */

/** The most entries one listing page holds (BrowseListQuerySchema). */
const PAGE = 5000;
const MAX_SEARCH_HITS = 5000;
const DEFAULT_SEARCH_HITS = 500;

interface RestoreOptions {
  path?: string;
  node?: string;
  overwrite?: boolean;
  wait?: boolean;
}

export function registerBrowseCommands(mount: Command, ctx: CliContext): void {
  mount
    .command('ls')
    .description("list a folder of a mount (the mount's root holds one folder per filesystem: vda1, vg0-root…)")
    .argument('<mount>', 'mount id (vplus mount list)', parseMountId)
    .argument('[path]', 'the folder, from the mount\'s root, e.g. /vda1/etc (default: the root)', '')
    .option('--limit <n>', 'at most this many entries (default: all)', intParser('--limit', 1, 10_000_000))
    .option('--json', 'print the entries as JSON only')
    .action((id: number, where: string, options: { limit?: number; json?: boolean }) => listFolder(ctx, id, where, options));

  mount
    .command('find')
    .description('find files and folders by name in a mount, shallow ones first')
    .argument('<mount>', 'mount id', parseMountId)
    .argument('<pattern>', 'part of the name, or a glob (* ? [abc]) matching the whole name; case-insensitive')
    .option('--path <path>', 'search under this folder only, e.g. /vda1/home (default: the whole mount)', '')
    .option('--limit <n>', `at most this many hits, 1 to ${MAX_SEARCH_HITS} (default: 500)`, intParser('--limit', 1, MAX_SEARCH_HITS))
    .option('--json', 'print the hits as JSON only')
    .action((id: number, pattern: string, options: { path: string; limit?: number; json?: boolean }) => findInMount(ctx, id, pattern, options));

  mount
    .command('get')
    .description('download a file as it is, or a folder as a .zip, with progress')
    .argument('<mount>', 'mount id', parseMountId)
    .argument('<path>', "the file or folder, from the mount's root, e.g. /vda1/etc/hosts")
    .option('--output <file>', 'where to write it (default: its name, or the folder\'s name + .zip, in the current directory; a directory: that name inside it)')
    .option('--force', 'replace the file if it exists')
    .action((id: number, where: string, options: { output?: string; force?: boolean }) => getFromMount(ctx, id, where, options));

  mount
    .command('restore')
    .description('copy files and folders out of a mount into a directory on a node (times, modes, owners and symlinks kept): a FILE_RESTORE task')
    .argument('<mount>', 'mount id', parseMountId)
    .argument('<paths...>', "the files and folders, from the mount's root, e.g. /vda1/etc /vda1/home/ann")
    .option('--path <dir>', 'the absolute directory on the node to restore into (required)')
    .option('--node <node>', "the node that writes them (default: the mount's node, which copies them directly; another node gets them streamed through the server)")
    .option('--overwrite', 'replace what exists there already (without it, the restore fails rather than replace anything)')
    .option('--wait', 'follow the task to its end with progress; exit 1 when it fails')
    .action((id: number, paths: string[], options: RestoreOptions) => restoreFromMount(ctx, id, paths, options));
}

/** Every page of the folder, up to limit entries; whether the node stopped reading it (a huge folder). */
export async function readFolder(client: ApiClient, id: number, apiPath: string, limit: number): Promise<{ path: string; entries: BrowseEntry[]; truncated: boolean; total: number }> {
  const entries: BrowseEntry[] = [];
  for (;;) {
    const page = await client.listMountFiles(id, { path: apiPath, offset: entries.length, limit: Math.min(PAGE, limit - entries.length) });
    entries.push(...page.entries);
    if (page.entries.length === 0 || entries.length >= page.total || entries.length >= limit) {
      return { path: page.path, entries, truncated: page.truncated, total: page.total };
    }
  }
}

async function listFolder(ctx: CliContext, id: number, where: string, options: { limit?: number; json?: boolean }): Promise<void> {
  const apiPath = mountPath(where);
  const out = new Output(ctx);
  await withClient(ctx, async (client) => {
    const folder = await readFolder(client, id, apiPath, options.limit ?? Number.POSITIVE_INFINITY);
    if (options.json) out.json(folder.entries);
    else out.line(formatListing(folder.path, folder.entries));
    if (folder.entries.length < folder.total) {
      out.note(`Showing ${folder.entries.length} of ${folder.total} entries; see more with a larger --limit.`);
    }
    if (folder.truncated) out.note(`${showPath(folder.path)} holds more entries than the node reads; the listing has the first ${folder.total} it read.`);
    if (apiPath === '' && !options.json) await noteUnreadable(client, id, out);
  });
}

/** At the mount's root: which filesystems cannot be browsed, and why. */
async function noteUnreadable(client: ApiClient, id: number, out: Output): Promise<void> {
  const mount = await client.getMount(id);
  for (const f of mount.filesystems.filter((fs) => !fs.readable)) out.note(`${f.name} cannot be browsed: ${f.reason ?? 'it cannot be read'}`);
}

async function findInMount(ctx: CliContext, id: number, pattern: string, options: { path: string; limit?: number; json?: boolean }): Promise<void> {
  if (pattern.trim() === '') throw new UsageError('give a name, or a glob such as "*.conf", to find');
  const apiPath = mountPath(options.path);
  const out = new Output(ctx);
  await withClient(ctx, async (client) => {
    const result = await search(client, id, apiPath, pattern, options.limit ?? DEFAULT_SEARCH_HITS);
    if (options.json) out.json(result.hits);
    else if (result.hits.length === 0) out.line(`Nothing named like "${pattern}" under ${showPath(apiPath)} (${result.visited} entries looked at).`);
    else out.line(formatHits(result.hits));
    if (result.truncated) out.note(searchCutShort(result.hits, result.visited, options.limit));
  });
}

/**
 * Searches under a folder; from the mount's root, each browsable filesystem
 * in turn (a search runs inside one filesystem on the node) until the
 * limit of hits.
 */
async function search(client: ApiClient, id: number, apiPath: string, pattern: string, limit: number): Promise<BrowseSearchResult> {
  if (apiPath !== '') return client.searchMount(id, { path: apiPath, pattern, limit });
  const filesystems = (await readFolder(client, id, '', Number.POSITIVE_INFINITY)).entries.filter((e) => e.type === 'dir');
  const all: BrowseSearchResult = { hits: [], visited: 0, truncated: false };
  for (const fs of filesystems) {
    if (all.hits.length >= limit) {
      all.truncated = true;
      break;
    }
    const r = await client.searchMount(id, { path: fs.name, pattern, limit: limit - all.hits.length });
    all.hits.push(...r.hits);
    all.visited += r.visited;
    all.truncated ||= r.truncated;
  }
  return all;
}

function searchCutShort(hits: readonly BrowseSearchHit[], visited: number, limit: number | undefined): string {
  return `The search stopped early after ${hits.length} hits and ${visited} entries looked at; narrow it with --path or a longer pattern${limit === undefined ? ', or raise --limit' : ''}.`;
}

async function getFromMount(ctx: CliContext, id: number, where: string, options: { output?: string; force?: boolean }): Promise<void> {
  const apiPath = mountPath(where);
  if (apiPath === '') throw new UsageError("the mount's root cannot be downloaded as a whole; name a filesystem's folder (e.g. /vda1) or a path inside it");
  const out = new Output(ctx);
  await withClient(ctx, async (client) => {
    const entry = await client.statMountPath(id, apiPath);
    if (entry.type === 'other') throw new CliError(`${showPath(apiPath)} is a special file (a device, fifo or socket); only files and folders can be downloaded`);
    const folder = entry.type === 'dir';
    const target = downloadTarget(process.cwd(), options.output, defaultOutputName(id, apiPath, folder), options.force ?? false);
    const download = folder ? await client.downloadMountZip(id, [apiPath]) : await client.downloadMountFile(id, apiPath);
    // A symlink's stat gives the length of its target text; the file it leads to has its own size (the answer says it).
    const size = entry.type === 'file' ? entry.size : null;
    const bytes = await saveDownload(ctx, download, target, { label: path.basename(target.file), size });
    out.line(`Saved ${showPath(apiPath)}${folder ? ' as a zip' : ''} to ${target.file} (${formatBytes(bytes)}).`);
  });
}

/** The API's restore request from the arguments, or a usage error (exit 2). */
export function mountRestoreRequest(paths: readonly string[], options: RestoreOptions): MountRestoreRequest {
  if (options.path === undefined) throw new UsageError('give the directory on the node to restore into with --path DIR');
  if (options.node !== undefined && options.node.trim() === '') throw new UsageError('--node needs a node name or id, as vplus node list shows it');
  const selected = paths.map(mountPath);
  if (selected.some((p) => p === '')) throw new UsageError("the mount's root cannot be restored as a whole; name its filesystems' folders (e.g. /vda1) or paths inside them");
  return {
    paths: [...new Set(selected)],
    path: nodeDirectory('--path', options.path),
    ...(options.node !== undefined ? { node: options.node } : {}),
    overwrite: options.overwrite ?? false,
  };
}

async function restoreFromMount(ctx: CliContext, id: number, paths: string[], options: RestoreOptions): Promise<void> {
  const request = mountRestoreRequest(paths, options);
  const out = new Output(ctx);
  await withClient(ctx, async (client) => {
    const mount = await client.getMount(id);
    const task = await client.restoreFromMount(id, request);
    const what = request.paths.length === 1 ? showPath(request.paths[0]!) : `${request.paths.length} paths`;
    out.line(`Restoring ${what} from mount ${id} to ${request.path} on node ${task.node ?? mount.node}: task ${task.id}.`);
    await followStartedTask(ctx, client, task.id, options);
  });
}
