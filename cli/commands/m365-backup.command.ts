import path from 'node:path';
import type { Command } from 'commander';
import { M365BackupRunRequestSchema, type M365Backup, type M365BackupRunRequest, type Mount } from '../../common/api/index.js';
import type { ApiClient } from '../client/api-client.js';
import { M365Client, type M365BackupQuery } from '../client/m365-client.js';
import { withClient } from '../client/session.js';
import type { CliContext } from '../context.js';
import { CliError, UsageError, errorMessage } from '../errors.js';
import { formatBytes } from '../format.js';
import { nextPageNote } from '../list-options.js';
import {
  backupSubject,
  checkRestoreOptions,
  describeRestoreTarget,
  m365MountPath,
  m365RestoreRequest,
  oneDrivePaths,
  parseConflict,
  parseM365BackupId,
  showM365Path,
  type M365RestoreOptions,
} from '../m365-backup-arguments.js';
import { describeM365Backup, formatM365Backups, formatM365Listing } from '../m365-format.js';
import { describeExpiry } from '../mount-format.js';
import { downloadTarget, saveDownload } from '../mount-download.js';
import { followMount } from '../mount-follower.js';
import { Output } from '../output.js';
import { capitalize } from '../task-follower.js';
import { readFolder } from './mount-browse.js';
import { followStartedTask, intParser } from './task.command.js';

/**
 * `vplus m365 backup run|list`, `browse`, `restore` and `export`: Microsoft 365 backups of a
 * user's OneDrive or a site's document libraries. Browse and export open the backup as a
 * browse mount on its destination's node (one folder per drive; an open one is reused) and
 * read it with the mount routes; restore writes back to Microsoft 365 through a task.
 */

/** The API's default page (M365BackupListQuerySchema). */
const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 500;

interface RunOptions {
  destination: string;
  tenant?: string;
  full?: boolean;
  wait?: boolean;
}

interface ListOptions {
  tenant?: string;
  destination?: string;
  limit?: number;
  cursor?: string;
  json?: boolean;
}

interface ExportOptions {
  output: string;
  force?: boolean;
}

export function registerM365BackupCommands(m365: Command, ctx: CliContext): void {
  const backup = m365.command('backup').description("back up a user's OneDrive or a site's document libraries, and list the backups");

  backup
    .command('run')
    .description('back up one user or site now: an M365_BACKUP task on the destination\'s node (incremental where a change list is kept)')
    .argument('<user|site>', 'a user by UPN (it has an "@"), else a site by name or id')
    .requiredOption('--destination <dest>', 'where to store it (name or id)')
    .option('--tenant <tenant>', 'the tenant (name or id), when the user or site is in more than one')
    .option('--full', 'list and compare every item even where a change list is kept')
    .option('--wait', 'follow the task to its end with progress, then print what was backed up; exit 1 when it fails')
    .action((ref: string, options: RunOptions) => runBackup(ctx, ref, options));

  backup
    .command('list')
    .description('list Microsoft 365 backups, newest first')
    .argument('[user|site]', 'only the backups of this user (UPN) or site (name or id)')
    .option('--tenant <tenant>', 'only this tenant (name or id)')
    .option('--destination <dest>', 'only the backups on this destination (name or id)')
    .option('--limit <n>', `at most this many backups, 1 to ${MAX_LIMIT} (default: ${DEFAULT_LIMIT})`, intParser('--limit', 1, MAX_LIMIT))
    .option('--cursor <cursor>', 'the page after the one that printed this cursor')
    .option('--json', "print JSON only (an array of the page's backups)")
    .action((ref: string | undefined, options: ListOptions) => listBackups(ctx, ref, options));

  m365
    .command('browse')
    .description("list a folder of a backup (opened as a browse mount on its destination's node, or the one already open)")
    .argument('<backup>', 'backup id (vplus m365 backup list)', parseM365BackupId)
    .argument('[path]', "the folder: /drive/… in a user's backup, /libraries/<name>/… in a site's (default: the backup's drives)", '')
    .option('--json', 'print the entries as JSON only')
    .action((id: number, where: string, options: { json?: boolean }) => browse(ctx, id, where, options));

  m365
    .command('restore')
    .description('put files and folders of a backup back into Microsoft 365: an M365_RESTORE task')
    .argument('<backup>', 'backup id (vplus m365 backup list)', parseM365BackupId)
    .argument('[paths...]', "files and folders of one drive, e.g. /drive/Documents /drive/a.txt (default: the backup's only drive, all of it)")
    .option('--to <user|site>', 'another user (UPN) or site (name or id) of the same tenant (default: where they came from)')
    .option('--library <name>', "the target site's document library (default: the one of the same name)")
    .option('--folder <name>', 'restore into this folder at the target drive\'s root (default: a new folder "Restore-<date>")')
    .option('--original-place', 'restore to where the items were, instead of into a folder')
    .option('--conflict <mode>', 'when an item exists there: skip it, copy (keep both, the restored one renamed) or replace it (default: copy)', parseConflict)
    .option('--wait', 'follow the task to its end, then name what was skipped or failed; exit 1 when it fails')
    .action((id: number, paths: string[], options: M365RestoreOptions & { wait?: boolean }) => restore(ctx, id, paths, options));

  m365
    .command('export')
    .description('download files and folders of one drive of a backup as a .zip, with progress')
    .argument('<backup>', 'backup id (vplus m365 backup list)', parseM365BackupId)
    .argument('[paths...]', "files and folders of one drive, e.g. /drive/Documents (default: the backup's only drive, all of it)")
    .requiredOption('--output <file.zip>', 'the zip to write (a directory: m365-backup-ID.zip inside it)')
    .option('--force', 'replace the file if it exists')
    .option('--wait', 'accepted for scripts: an export always runs to its end')
    .action((id: number, paths: string[], options: ExportOptions) => exportBackup(ctx, id, paths, options));
}

// ---- run ---------------------------------------------------------------------------

/** The request from the arguments, checked as the server checks it (exit 2 naming the flag). */
export function backupRunRequest(ref: string, options: Omit<RunOptions, 'wait'>): M365BackupRunRequest {
  const request: M365BackupRunRequest = {
    ...backupSubject(ref),
    destination: options.destination,
    full: options.full ?? false,
    ...(options.tenant !== undefined ? { tenant: options.tenant } : {}),
  };
  const checked = M365BackupRunRequestSchema.safeParse(request);
  if (!checked.success) {
    const issue = checked.error.issues[0];
    const field = String(issue?.path[0] ?? '');
    const flag = field === 'destination' ? '--destination' : field === 'tenant' ? '--tenant' : 'USER|SITE';
    throw new UsageError(`${flag}: ${issue?.message ?? 'not accepted'}`);
  }
  return request;
}

async function runBackup(ctx: CliContext, ref: string, options: RunOptions): Promise<void> {
  const request = backupRunRequest(ref, options);
  const out = new Output(ctx);
  const what = request.user ?? `site ${request.site}`;
  await withClient(ctx, async (client) => {
    const m = new M365Client(client);
    const taskId = await m.runBackup(request);
    out.line(`Backing up ${what} to destination ${request.destination}${request.full ? ' (full)' : ''}: task ${taskId} (M365_BACKUP).`);
    const ended = await followStartedTask(ctx, client, taskId, options);
    if (ended) await printCatalogEntry(ctx, m, request, taskId);
  });
}

/** After a backup: its id in the catalog, which browse, restore and export take. Only a hint. */
async function printCatalogEntry(ctx: CliContext, m: M365Client, request: M365BackupRunRequest, taskId: number): Promise<void> {
  try {
    const query: M365BackupQuery = {
      ...(request.user !== undefined ? { user: request.user } : { site: request.site! }),
      ...(request.tenant !== undefined ? { tenant: request.tenant } : {}),
      destination: request.destination,
      limit: 20,
    };
    const entry = (await m.listBackups(query)).backups.find((b) => b.taskId === taskId);
    if (entry) new Output(ctx).line(`Backup ${entry.id} on destination ${entry.destination}; browse it with: vplus m365 browse ${entry.id}`);
  } catch (err) {
    if (ctx.env.VPLUS_DEBUG) ctx.stderr.write(`debug: could not find the backup of task ${taskId} in the catalog (${errorMessage(err)})\n`);
  }
}

// ---- list --------------------------------------------------------------------------

async function listBackups(ctx: CliContext, ref: string | undefined, options: ListOptions): Promise<void> {
  const query: M365BackupQuery = {
    ...(ref !== undefined ? backupSubject(ref) : {}),
    ...(options.tenant !== undefined ? { tenant: options.tenant } : {}),
    ...(options.destination !== undefined ? { destination: options.destination } : {}),
    ...(options.limit !== undefined ? { limit: options.limit } : {}),
    ...(options.cursor !== undefined ? { cursor: options.cursor } : {}),
  };
  const out = new Output(ctx);
  await withClient(ctx, async (client) => {
    const { backups, nextCursor } = await new M365Client(client).listBackups(query);
    if (options.json) out.json(backups);
    else out.line(formatM365Backups(backups, { ...(ref !== undefined ? { subject: ref.trim() } : {}), ...(options.tenant !== undefined ? { tenant: options.tenant } : {}) }));
    const more = nextPageNote('backups', backups.length, nextCursor);
    if (more) out.note(more);
  });
}

// ---- browse, export ----------------------------------------------------------------

/**
 * The backup's browse mount, ready. What following the mount prints (its MOUNT task's state
 * and log) goes to stderr: stdout is the listing, or the JSON.
 */
async function openBackup(ctx: CliContext, client: ApiClient, backup: M365Backup): Promise<Mount> {
  const out = new Output(ctx);
  let mount = await new M365Client(client).browse(backup.id);
  if (mount.state === 'MOUNTING') {
    out.note(`Opening ${describeM365Backup(backup)} on node ${mount.node} (mount ${mount.id})…`);
    mount = await followMount({ ...ctx, stdout: ctx.stderr }, client, mount, 'ready');
  }
  if (mount.state === 'FAILED') throw new CliError(`${describeM365Backup(backup)} could not be opened: ${mount.error ?? 'the server gave no reason'}`);
  if (mount.state !== 'MOUNTED') throw new CliError(`mount ${mount.id} of ${describeM365Backup(backup)} was closed before it was ready${mount.error ? `: ${mount.error}` : ''}; try again`);
  out.note(`${capitalize(describeM365Backup(backup))} is open as mount ${mount.id} on node ${mount.node}; it ${describeExpiry(mount)}.`);
  return mount;
}

async function browse(ctx: CliContext, id: number, where: string, options: { json?: boolean }): Promise<void> {
  const out = new Output(ctx);
  await withClient(ctx, async (client) => {
    const backup = await new M365Client(client).getBackup(id);
    const kind = backup.subject.kind;
    const apiPath = m365MountPath(kind, where);
    const mount = await openBackup(ctx, client, backup);
    const folder = await readFolder(client, mount.id, apiPath, Number.POSITIVE_INFINITY);
    if (options.json) out.json(folder.entries);
    else out.line(formatM365Listing(showM365Path(kind, apiPath), folder.entries));
    if (folder.truncated) out.note(`${showM365Path(kind, apiPath)} holds more entries than the node reads; the listing has the first ${folder.total} it read.`);
  });
}

async function exportBackup(ctx: CliContext, id: number, inputs: string[], options: ExportOptions): Promise<void> {
  if (options.output.trim() === '') throw new UsageError('--output needs the name of the zip to write');
  // An existing file is refused (without --force) before anything is asked of the server.
  const target = downloadTarget(process.cwd(), options.output, `m365-backup-${id}.zip`, options.force ?? false);
  const out = new Output(ctx);
  await withClient(ctx, async (client) => {
    const backup = await new M365Client(client).getBackup(id);
    const kind = backup.subject.kind;
    if (backup.parts.length === 0) throw new CliError(`${describeM365Backup(backup)} holds no drives: there is nothing to export`);
    const paths = oneDrivePaths(backup, inputs, 'export');
    const mount = await openBackup(ctx, client, backup);
    const download = await client.downloadMountZip(mount.id, paths);
    const bytes = await saveDownload(ctx, download, target, { label: path.basename(target.file), size: null });
    const what = paths.length <= 3 ? paths.map((p) => showM365Path(kind, p)).join(', ') : `${paths.length} paths`;
    out.line(`Saved ${what} of ${describeM365Backup(backup)} to ${target.file} (${formatBytes(bytes)}).`);
  });
}

// ---- restore -----------------------------------------------------------------------

async function restore(ctx: CliContext, id: number, inputs: string[], options: M365RestoreOptions & { wait?: boolean }): Promise<void> {
  checkRestoreOptions(options);
  const out = new Output(ctx);
  await withClient(ctx, async (client) => {
    const m = new M365Client(client);
    const backup = await m.getBackup(id);
    const request = m365RestoreRequest(backup, inputs, options);
    const taskId = await m.restore(id, request);
    const kind = backup.subject.kind;
    const what = request.paths.length <= 3 ? request.paths.map((p) => showM365Path(kind, p)).join(', ') : `${request.paths.length} paths`;
    out.line(`Restoring ${what} from ${describeM365Backup(backup)} to ${describeRestoreTarget(backup, request)}: task ${taskId} (M365_RESTORE).`);
    await followStartedTask(ctx, client, taskId, options);
  });
}
