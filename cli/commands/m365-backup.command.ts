import path from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { M365BackupRunRequestSchema, type M365Backup, type M365BackupRunRequest, type Mount } from '../../common/api/index.js';
import type { ApiClient } from '../client/api-client.js';
import { M365Client, type M365BackupQuery } from '../client/m365-client.js';
import { withClient } from '../client/session.js';
import type { CliContext } from '../context.js';
import { CliError, UsageError, errorMessage } from '../errors.js';
import { formatBytes } from '../format.js';
import { nextPageNote } from '../list-options.js';
import {
  backupPaths,
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
import { describeM365Backup, formatContacts, formatEvents, formatM365Backups, formatM365Listing, formatMessages } from '../m365-format.js';
import { EXPORT_FORMATS, type MailSearchQuery } from '../../common/api/m365-mail.js';
import { describeExpiry } from '../mount-format.js';
import { downloadTarget, saveDownload } from '../mount-download.js';
import { followMount } from '../mount-follower.js';
import { Output } from '../output.js';
import { capitalize } from '../task-follower.js';
import { readFolder } from './mount-browse.js';
import { followStartedTask, intParser } from './task.command.js';

/**
 * `vplus m365 backup run|list`, `browse`, `restore` and `export`: Microsoft 365 backups of a
 * user's OneDrive, mail, calendars and contacts, or a site's document libraries. Browse and
 * export open the backup as a browse mount on its destination's node (one folder per part; an
 * open one is reused) and read it with the mount routes (mail, events and contacts with the
 * mail browser's, common/api/m365-mail.ts); restore writes back to Microsoft 365 through a
 * task.
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
  format?: (typeof EXPORT_FORMATS)[number];
  force?: boolean;
}

interface BrowseOptions {
  json?: boolean;
  search?: string;
  from?: string;
  subject?: string;
  attachment?: string;
  after?: string;
  before?: string;
  limit?: number;
}

/** Most messages, events or contacts a browse prints (the API's page). */
const BROWSE_LIMIT = 1000;

/** The file each export format is, when --output names a directory. */
const EXPORT_EXTENSIONS: Record<(typeof EXPORT_FORMATS)[number], string> = { mbox: 'mbox', ics: 'ics', vcf: 'vcf', zip: 'zip' };
/** Which part each one-file format takes. */
const FORMAT_PARTS: Record<'mbox' | 'ics' | 'vcf', { part: string; words: string }> = {
  mbox: { part: 'mail', words: 'mail (/mail/…)' },
  ics: { part: 'calendar', words: 'calendars (/calendar/…)' },
  vcf: { part: 'contacts', words: 'contacts (/contacts/…)' },
};

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
    .description("list a folder of a backup (opened as a browse mount on its destination's node, or the one already open); a mail folder lists its messages, a calendar its events, a contact folder its contacts")
    .argument('<backup>', 'backup id (vplus m365 backup list)', parseM365BackupId)
    .argument('[path]', "the folder: /drive/…, /mail/Inbox/…, /calendar/…, /contacts/… in a user's backup, /libraries/<name>/… in a site's (default: the backup's parts)", '')
    .option('--search <text>', 'mail: messages whose sender, recipients, subject or attachment names contain TEXT, in PATH and the folders below it (PATH default: the whole mailbox)')
    .option('--from <text>', 'mail: only messages whose sender contains TEXT')
    .option('--subject <text>', 'mail: only messages whose subject contains TEXT')
    .option('--attachment <name>', 'mail: only messages with an attachment whose name contains NAME')
    .option('--after <date>', 'mail: received on or after DATE (2026-01-31 or 2026-01-31T12:00:00Z); calendars: ending on or after it')
    .option('--before <date>', 'mail: received before DATE; calendars: starting before it')
    .option('--limit <n>', `at most this many messages, events or contacts, 1 to ${BROWSE_LIMIT} (default: ${BROWSE_LIMIT})`, intParser('--limit', 1, BROWSE_LIMIT))
    .option('--json', 'print the entries as JSON only')
    .action((id: number, where: string, options: BrowseOptions) => browse(ctx, id, where, options));

  m365
    .command('restore')
    .description('put files and folders of a backup back into Microsoft 365: an M365_RESTORE task')
    .argument('<backup>', 'backup id (vplus m365 backup list)', parseM365BackupId)
    .argument('[paths...]', "files and folders of one part, e.g. /drive/Documents /drive/a.txt, /mail/Inbox, /calendar/Calendar, /contacts (default: the backup's only part, all of it)")
    .option('--to <user|site>', 'another user (UPN) or site (name or id) of the same tenant (default: where they came from); mail, calendars and contacts go to a user with a mailbox')
    .option('--library <name>', "the target site's document library (default: the one of the same name)")
    .option('--folder <name>', 'restore into this folder at the top of the target drive or mailbox (default: a new folder "Restore-<date>")')
    .option('--original-place', 'restore to where the items were, instead of into a folder')
    .option('--conflict <mode>', 'when an item exists there: skip it, copy (keep both, the restored one renamed) or replace it (default: copy)', parseConflict)
    .option('--wait', 'follow the task to its end, then name what was skipped or failed; exit 1 when it fails')
    .action((id: number, paths: string[], options: M365RestoreOptions & { wait?: boolean }) => restore(ctx, id, paths, options));

  m365
    .command('export')
    .description('download files and folders of one drive, or mail, calendars and contacts, of a backup as a .zip (mail as .eml and .mbox, events .ics, contacts .vcf), or as one mbox, ICS or VCF file, with progress')
    .argument('<backup>', 'backup id (vplus m365 backup list)', parseM365BackupId)
    .argument('[paths...]', "files and folders of one drive, e.g. /drive/Documents; or /mail/…, /calendar/…, /contacts/… (default: the backup's only part, all of it)")
    .requiredOption('--output <file>', 'the file to write (a directory: m365-backup-ID.zip, .mbox, .ics or .vcf inside it)')
    .option('--format <format>', 'zip (default), or one file: mbox (mail), ics (calendars), vcf (contacts)', parseExportFormat)
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

async function browse(ctx: CliContext, id: number, where: string, options: BrowseOptions): Promise<void> {
  const out = new Output(ctx);
  const searching = [options.search, options.from, options.subject, options.attachment, options.after, options.before].some((v) => v !== undefined);
  await withClient(ctx, async (client) => {
    const m = new M365Client(client);
    const backup = await m.getBackup(id);
    const kind = backup.subject.kind;
    let apiPath = m365MountPath(kind, where);
    // A search without a folder looks through the whole mailbox.
    if (apiPath === '' && searching && backup.parts.some((p) => p.partKind === 'mail')) apiPath = 'mail';
    const part = backup.parts.find((p) => p.name === apiPath.split('/')[0]);
    const partKind = part?.partKind ?? 'drive';
    if (searching && partKind !== 'mail' && !(partKind === 'calendar' && options.search === undefined && options.from === undefined && options.subject === undefined && options.attachment === undefined)) {
      throw new UsageError(`--search, --from, --subject, --attachment, --after and --before search mail (and --after, --before also calendars): give a path under /mail${partKind === 'calendar' ? '' : ' or /calendar'}`);
    }
    const mount = await openBackup(ctx, client, backup);
    const shown = showM365Path(kind, apiPath);
    const limit = options.limit ?? BROWSE_LIMIT;
    const isRoot = apiPath === part?.name;
    // Folders first (not when searching: a search lists messages only).
    const folders = searching || (part && partKind !== 'drive' && !isRoot && partKind !== 'mail') ? null : await readFolder(client, mount.id, apiPath, Number.POSITIVE_INFINITY);
    if (!part || partKind === 'drive') {
      if (options.json) out.json(folders!.entries);
      else out.line(formatM365Listing(shown, folders!.entries));
      if (folders!.truncated) out.note(`${shown} holds more entries than the node reads; the listing has the first ${folders!.total} it read.`);
      return;
    }
    const subfolders = (folders?.entries ?? []).filter((e) => e.type === 'dir');
    const nameOf = (p: string): string => (searching ? showM365Path(kind, p) : p.slice(p.lastIndexOf('/') + 1));
    let items: { total: number; json: unknown[]; table: string | null };
    if (partKind === 'mail') {
      const query: MailSearchQuery = {
        path: apiPath,
        ...(searching ? {} : { recursive: false }),
        ...(options.search !== undefined ? { q: options.search } : {}),
        ...(options.from !== undefined ? { from: options.from } : {}),
        ...(options.subject !== undefined ? { subject: options.subject } : {}),
        ...(options.attachment !== undefined ? { attachment: options.attachment } : {}),
        ...(options.after !== undefined ? { after: options.after } : {}),
        ...(options.before !== undefined ? { before: options.before } : {}),
        limit,
      };
      const r = await m.searchMail(mount.id, query);
      items = { total: r.total, json: r.messages.map((x) => ({ type: 'message', ...x })), table: r.messages.length === 0 && subfolders.length > 0 && !searching ? null : formatMessages(shown, r.messages, (x) => nameOf(x.path)) };
    } else if (isRoot) {
      // The calendars or contact folders themselves.
      items = { total: 0, json: [], table: null };
    } else if (partKind === 'calendar') {
      const r = await m.listEvents(mount.id, { path: apiPath, limit, ...(options.after !== undefined ? { after: options.after } : {}), ...(options.before !== undefined ? { before: options.before } : {}) });
      items = { total: r.total, json: r.events.map((x) => ({ type: 'event', ...x })), table: formatEvents(shown, r.events, (x) => nameOf(x.path)) };
    } else {
      const r = await m.listContacts(mount.id, { path: apiPath, limit });
      items = { total: r.total, json: r.contacts.map((x) => ({ type: 'contact', ...x })), table: formatContacts(shown, r.contacts, (x) => nameOf(x.path)) };
    }
    if (options.json) {
      out.json([...subfolders.map((f) => ({ type: 'folder', name: f.name, path: `${apiPath}/${f.name}` })), ...items.json]);
      return;
    }
    const lines: string[] = [];
    if (subfolders.length > 0) lines.push(formatM365Listing(shown, subfolders));
    if (items.table !== null) lines.push(items.table);
    out.line(lines.length > 0 ? lines.join('\n\n') : `${shown} is empty.`);
    if (items.json.length < items.total) out.note(`Showing ${items.json.length} of ${items.total}; see more with a larger --limit, or narrow the search.`);
  });
}

/** Commander parser for --format. */
function parseExportFormat(value: string): (typeof EXPORT_FORMATS)[number] {
  const found = EXPORT_FORMATS.find((f) => f === value.trim().toLowerCase());
  if (!found) throw new InvalidArgumentError(`use one of ${EXPORT_FORMATS.join(', ')}.`);
  return found;
}

async function exportBackup(ctx: CliContext, id: number, inputs: string[], options: ExportOptions): Promise<void> {
  if (options.output.trim() === '') throw new UsageError('--output needs the name of the file to write');
  const out = new Output(ctx);
  const format = options.format ?? 'zip';
  await withClient(ctx, async (client) => {
    const m = new M365Client(client);
    const backup = await m.getBackup(id);
    const kind = backup.subject.kind;
    if (backup.parts.length === 0) throw new CliError(`${describeM365Backup(backup)} holds nothing: there is nothing to export`);
    const kinds = new Map(backup.parts.map((p) => [p.name, p.partKind]));
    const named = inputs.length > 0 ? backupPaths(backup, inputs, () => []) : null;
    const partOf = (p: string): string => kinds.get(p.split('/')[0]!) ?? 'drive';
    const exchange = named !== null ? named.some((p) => partOf(p) !== 'drive') : backup.parts.every((p) => p.partKind !== 'drive') || format !== 'zip';
    let paths: string[];
    if (!exchange) {
      if (format !== 'zip') throw new UsageError(`--format ${format} is for mail, calendars and contacts; files of a drive export as a zip`);
      paths = oneDrivePaths(backup, inputs, 'export');
    } else {
      paths = named ?? (format === 'zip' ? backup.parts.filter((p) => p.partKind !== 'drive').map((p) => p.name) : backup.parts.filter((p) => p.partKind === FORMAT_PARTS[format].part).map((p) => p.name));
      if (paths.length === 0) throw new UsageError(`${describeM365Backup(backup)} holds no ${format === 'zip' ? 'mail, calendars or contacts' : FORMAT_PARTS[format].words}`);
      const drive = paths.find((p) => partOf(p) === 'drive');
      if (drive) throw new UsageError(`${showM365Path(kind, drive)} is in a drive: export files and mail, calendars or contacts each on its own`);
      if (format !== 'zip') {
        const wrong = paths.find((p) => partOf(p) !== FORMAT_PARTS[format].part);
        if (wrong) throw new UsageError(`--format ${format} exports ${FORMAT_PARTS[format].words} only, not ${showM365Path(kind, wrong)}; use --format zip for a mix`);
      }
    }
    // An existing file is refused (without --force) before the backup is opened.
    const target = downloadTarget(process.cwd(), options.output, `m365-backup-${id}.${EXPORT_EXTENSIONS[format]}`, options.force ?? false);
    const mount = await openBackup(ctx, client, backup);
    const download = exchange ? await m.downloadExport(mount.id, format, paths) : await client.downloadMountZip(mount.id, paths);
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
