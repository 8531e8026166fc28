import { M365RestoreRequestSchema, type M365Backup, type M365RestoreRequest, type M365Site, type M365User } from '@common/api/index.js';
import { issuesToFieldMessages } from '@common/field-messages.js';
import { m365RestoreFolderName } from '@common/m365-tasks.js';

/**
 * The restore wizard's choices and the request they make. Pure, so what the wizard sends for
 * each choice is tested without a browser.
 */
export type RestoreWhere = 'original' | 'other';
export type RestoreFolderMode = 'new' | 'original';
export type RestoreConflict = NonNullable<M365RestoreRequest['conflict']>;

export interface RestoreChoices {
  /** Mount paths, the drive's folder first ("drive/Documents/a.docx"); the drive's folder alone for all of it. */
  paths: readonly string[];
  where: RestoreWhere;
  /** Another user or site: a value of restoreTargetOptions ("user:<upn>", "site:<name>"). */
  target: string | null;
  /** The library of a target site. */
  library: string | null;
  folderMode: RestoreFolderMode;
  /** The new folder's name; empty: the server's "Restore-<date>". */
  folderName: string;
  conflict: RestoreConflict;
}

export type RestoreField = 'paths' | 'to' | 'toLibrary' | 'folder' | 'conflict';
export const RESTORE_FIELDS: readonly RestoreField[] = ['paths', 'to', 'toLibrary', 'folder', 'conflict'];

/** The drive (its folder in the backup) a mount path is in: "drive" of "drive/Documents/a.docx". */
export function driveOf(path: string): string {
  return path.split('/').find((part) => part !== '') ?? '';
}

/** The drives the paths are in, each once, in order. */
export function drivesOf(paths: readonly string[]): string[] {
  return [...new Set(paths.map(driveOf))];
}

/** "user:alice@contoso.com" → { kind: 'user', ref: 'alice@contoso.com' }. */
export function parseTarget(value: string): { kind: 'user' | 'site'; ref: string } | null {
  const colon = value.indexOf(':');
  const kind = value.slice(0, colon);
  const ref = value.slice(colon + 1);
  if (colon <= 0 || ref === '' || (kind !== 'user' && kind !== 'site')) return null;
  return { kind, ref };
}

export interface TargetOption {
  value: string;
  label: string;
  disabled?: boolean;
}
export interface TargetGroup {
  group: string;
  items: TargetOption[];
}

/**
 * Where else a backup can go: the tenant's users with a OneDrive and its sites with a document
 * library, present in the tenant (a removed one cannot take files); the backup's own subject is
 * left out (that is "original").
 */
export function restoreTargetOptions(backup: Pick<M365Backup, 'subject'>, users: readonly M365User[], sites: readonly M365Site[]): TargetGroup[] {
  const own = (kind: 'user' | 'site', graphId: string) => backup.subject.kind === kind && backup.subject.graphId === graphId;
  const userItems = users
    .filter((user) => user.present && user.hasDrive && !own('user', user.graphId))
    .map((user) => ({ value: `user:${user.upn}`, label: user.displayName === '' ? user.upn : `${user.displayName} (${user.upn})` }))
    .sort((a, b) => a.label.localeCompare(b.label));
  const siteItems = sites
    .filter((site) => site.present && site.libraries.some((library) => library.present) && !own('site', site.graphId))
    .map((site) => ({ value: `site:${site.name}`, label: site.displayName === '' || site.displayName === site.name ? site.name : `${site.displayName} (${site.name})` }))
    .sort((a, b) => a.label.localeCompare(b.label));
  return [
    ...(userItems.length > 0 ? [{ group: 'Users (OneDrive)', items: userItems }] : []),
    ...(siteItems.length > 0 ? [{ group: 'Sites', items: siteItems }] : []),
  ];
}

/**
 * The library of a target site to preselect: the one named as the restored drive (a site's
 * library restored to another site), else "Documents", else the first.
 */
export function defaultLibrary(site: Pick<M365Site, 'libraries'>, drive: string): string | null {
  const present = site.libraries.filter((library) => library.present).map((library) => library.name);
  return present.find((name) => name === drive) ?? present.find((name) => name === 'Documents') ?? present[0] ?? null;
}

/** The request of the choices, or a message under each field that is wrong. */
export function restoreRequestOf(choices: RestoreChoices): { request: M365RestoreRequest } | { errors: Partial<Record<RestoreField, string>> } {
  if (choices.paths.length === 0) return { errors: { paths: 'Choose what to restore' } };
  if (drivesOf(choices.paths).length > 1) return { errors: { paths: 'A restore takes the files of one drive: restore each drive on its own' } };
  const errors: Partial<Record<RestoreField, string>> = {};
  let to: Pick<M365RestoreRequest, 'to' | 'toLibrary'> = {};
  if (choices.where === 'other') {
    const target = choices.target === null ? null : parseTarget(choices.target);
    if (target === null) errors.to = 'Choose the user or site to restore to';
    else if (target.kind === 'site' && choices.library === null) errors.toLibrary = 'Choose the document library to restore into';
    else to = { to: target.ref, ...(target.kind === 'site' && choices.library !== null ? { toLibrary: choices.library } : {}) };
  }
  if (Object.keys(errors).length > 0) return { errors };
  const name = choices.folderName.trim();
  // Absent: the server's own "Restore-<date>" folder; null: each item back where it was.
  const folder = choices.folderMode === 'original' ? { folder: null } : name === '' ? {} : { folder: name };
  const request: M365RestoreRequest = { paths: [...choices.paths], ...to, ...folder, conflict: choices.conflict };
  const parsed = M365RestoreRequestSchema.safeParse(request);
  if (!parsed.success) {
    const messages = issuesToFieldMessages(parsed.error.issues);
    const placed: Partial<Record<RestoreField, string>> = {};
    for (const [key, message] of Object.entries(messages)) {
      const field = RESTORE_FIELDS.find((candidate) => key === candidate || key.startsWith(`${candidate}.`)) ?? 'paths';
      placed[field] ??= message;
    }
    return { errors: placed };
  }
  return { request };
}

/** What the server calls the new folder when none is named ("Restore-2026-12-07 0315", UTC), for the hint. */
export function restoreFolderExample(now: Date): string {
  return m365RestoreFolderName(now);
}

/** The subject in words: "alice@contoso.com (OneDrive)", "site Sales". */
export function subjectWords(subject: Pick<M365Backup['subject'], 'kind' | 'name'>): string {
  return subject.kind === 'user' ? `${subject.name}'s OneDrive` : `site ${subject.name}`;
}
