import { InvalidArgumentError } from 'commander';
import { M365RestoreRequestSchema, type M365Backup, type M365BackupRunRequest, type M365RestoreRequest } from '../common/api/m365.js';
import { M365ConflictSchema, type M365Conflict } from '../common/m365-tasks.js';
import { UsageError } from './errors.js';
import { mountPath } from './mount-arguments.js';

/**
 * The arguments of `vplus m365 backup|browse|restore|export`, read and checked before the
 * server is asked (exit 2 otherwise). Paths are written as CLI.md shows a backup: a user's
 * OneDrive under /drive/…, a site's libraries under /libraries/<name>/…; the API takes them
 * as the backup's browse mount lays them out: one folder per drive ("drive", or the
 * library's name), so /libraries/Documents/Q3 is "Documents/Q3" there.
 */

type SubjectKind = M365Backup['subject']['kind'];

/** The folder a site's libraries are shown under. */
const LIBRARIES = 'libraries';

/** USER|SITE: a UPN has an "@", anything else names a site (by name or catalog id). */
export function backupSubject(ref: string): Pick<M365BackupRunRequest, 'user' | 'site'> {
  const value = ref.trim();
  if (value === '') throw new UsageError('name the user (their UPN, e.g. alice@contoso.com) or the site (its name or id), as vplus m365 user list and site list show them');
  return value.includes('@') ? { user: value } : { site: value };
}

/** Commander parser for a Microsoft 365 backup's id. */
export function parseM365BackupId(value: string): number {
  if (!/^\d+$/.test(value.trim()) || Number(value) < 1 || !Number.isSafeInteger(Number(value))) {
    throw new InvalidArgumentError('a Microsoft 365 backup is given by its id, a positive whole number as vplus m365 backup list shows it.');
  }
  return Number(value);
}

/** Commander parser for --conflict. */
export function parseConflict(value: string): M365Conflict {
  const found = M365ConflictSchema.options.find((c) => c === value.trim().toLowerCase());
  if (!found) throw new InvalidArgumentError(`use one of ${M365ConflictSchema.options.join(', ')}.`);
  return found;
}

/**
 * A path as written ("/drive/Documents", "libraries/Documents/Q3/", "/") → the browse mount's
 * ("drive/Documents", "Documents/Q3", ""). For a site the /libraries/ prefix is optional: a
 * library named "libraries" is then written /libraries/libraries/….
 */
export function m365MountPath(kind: SubjectKind, input: string): string {
  const path = mountPath(input);
  if (kind !== 'site') return path;
  if (path === LIBRARIES) return '';
  return path.startsWith(`${LIBRARIES}/`) ? path.slice(LIBRARIES.length + 1) : path;
}

/** The browse mount's path as people read it: "/drive/Documents", "/libraries/Documents/Q3". */
export function showM365Path(kind: SubjectKind, path: string): string {
  if (kind !== 'site') return `/${path}`;
  return path === '' ? `/${LIBRARIES}` : `/${LIBRARIES}/${path}`;
}

/** "drive", or "libraries Documents, Policies", as the backup's drives are named in messages. */
function drivesOf(backup: Pick<M365Backup, 'subject' | 'parts'>): string {
  const names = backup.parts.map((p) => showM365Path(backup.subject.kind, p.name));
  return names.length === 0 ? 'no drives' : names.join(', ');
}

/**
 * The paths given, as the browse mount has them, each inside one of the backup's drives; with
 * none, `whenNone` (the backup's drives). A path outside every drive is a usage error naming
 * the drives the backup has.
 */
export function backupPaths(backup: Pick<M365Backup, 'id' | 'subject' | 'parts'>, inputs: readonly string[], whenNone: () => string[]): string[] {
  const kind = backup.subject.kind;
  const names = new Set(backup.parts.map((p) => p.name));
  const paths = inputs.map((input) => ({ input, path: m365MountPath(kind, input) }));
  if (paths.length === 0) return whenNone();
  for (const { input, path } of paths) {
    if (path === '') throw new UsageError(`"${input}" is the whole backup; name its drives instead: ${drivesOf(backup)}`);
    const drive = path.split('/')[0]!;
    if (!names.has(drive)) throw new UsageError(`backup ${backup.id} has no ${showM365Path(kind, drive)} ("${input}"); it holds ${drivesOf(backup)}`);
  }
  return [...new Set(paths.map((p) => p.path))];
}

export interface M365RestoreOptions {
  to?: string;
  library?: string;
  folder?: string;
  originalPlace?: boolean;
  conflict?: M365Conflict;
}

/** What can be told of the restore's flags alone, before the backup is read. */
export function checkRestoreOptions(options: M365RestoreOptions): void {
  if (options.folder !== undefined && options.originalPlace) throw new UsageError('give either --folder NAME or --original-place, not both');
  if (options.to !== undefined && options.to.trim() === '') throw new UsageError('--to needs a user (UPN) or a site (name or id)');
}

/** The flag each field of the restore request comes from, to name it in a usage error. */
const RESTORE_FLAGS: Record<string, string> = { paths: 'PATH', to: '--to', toLibrary: '--library', folder: '--folder', conflict: '--conflict' };

/**
 * Paths of one drive of the backup, as a restore and a zip take them: without any, the
 * backup's only drive, whole (a site's backup of several libraries needs one named).
 */
export function oneDrivePaths(backup: Pick<M365Backup, 'id' | 'subject' | 'parts'>, inputs: readonly string[], use: 'restore' | 'export'): string[] {
  const kind = backup.subject.kind;
  const paths = backupPaths(backup, inputs, () => {
    if (backup.parts.length === 1) return [backup.parts[0]!.name];
    throw new UsageError(`backup ${backup.id} holds ${drivesOf(backup)}; name what to ${use}, e.g. ${showM365Path(kind, backup.parts[0]?.name ?? '')}`);
  });
  const drives = [...new Set(paths.map((p) => p.split('/')[0]!))];
  if (drives.length > 1) {
    const shown = drives.map((d) => showM365Path(kind, d)).join(' and ');
    throw new UsageError(
      use === 'restore'
        ? `a restore works in one drive at a time; these paths are in ${shown}: restore each in a command of its own`
        : `a zip holds one drive at a time; these paths are in ${shown}: export each to a zip of its own`,
    );
  }
  return paths;
}

/** The API's restore request: paths of one drive of the backup (oneDrivePaths). */
export function m365RestoreRequest(backup: Pick<M365Backup, 'id' | 'subject' | 'parts'>, inputs: readonly string[], options: M365RestoreOptions): M365RestoreRequest {
  checkRestoreOptions(options);
  const paths = oneDrivePaths(backup, inputs, 'restore');
  const targetIsUser = options.to !== undefined ? options.to.includes('@') : backup.subject.kind === 'user';
  if (options.library !== undefined && targetIsUser) throw new UsageError("--library names a site's document library; a user's OneDrive has none");
  const request: M365RestoreRequest = {
    paths,
    ...(options.to !== undefined ? { to: options.to } : {}),
    ...(options.library !== undefined ? { toLibrary: options.library } : {}),
    ...(options.originalPlace ? { folder: null } : options.folder !== undefined ? { folder: options.folder } : {}),
    conflict: options.conflict ?? 'copy',
  };
  const checked = M365RestoreRequestSchema.safeParse(request);
  if (!checked.success) {
    const issue = checked.error.issues[0];
    const field = String(issue?.path[0] ?? '');
    throw new UsageError(`${RESTORE_FLAGS[field] ?? 'the restore'}: ${issue?.message ?? 'not accepted'}`);
  }
  return request;
}

/** Where a restore puts things, in words: "a new Restore-<date> folder in library Documents of site hr". */
export function describeRestoreTarget(backup: Pick<M365Backup, 'subject'> & Partial<Pick<M365Backup, 'parts'>>, request: M365RestoreRequest): string {
  // Mail, calendars and contacts go to a user's mailbox, whichever part they are.
  const head = request.paths[0]?.split('/')[0];
  const partKind = backup.parts?.find((p) => p.name === head)?.partKind ?? 'drive';
  if (partKind !== 'drive') {
    const words = { mail: 'the mailbox', calendar: 'the calendars', contacts: 'the contacts' }[partKind];
    const into = request.folder === null ? 'their original folders in' : request.folder !== undefined ? `folder "${request.folder}" in` : 'a new Restore-<date> folder in';
    return `${into} ${words} of ${request.to ?? backup.subject.name}`;
  }
  const toUser = request.to !== undefined ? request.to.includes('@') : backup.subject.kind === 'user';
  const owner = request.to ?? backup.subject.name;
  // A site's library keeps its name unless --library says otherwise; a OneDrive has no such name to keep.
  const library = request.toLibrary ?? (backup.subject.kind === 'site' ? request.paths[0]?.split('/')[0] : undefined);
  const where = toUser ? `the OneDrive of ${owner}` : library !== undefined ? `library ${library} of site ${owner}` : `site ${owner}`;
  const folder = request.folder === null ? 'their original places in' : request.folder !== undefined ? `folder "${request.folder}" in` : 'a new Restore-<date> folder in';
  return `${folder} ${where}`;
}
