import { M365RestoreRequestSchema, type M365Backup, type M365RestoreRequest, type M365User } from '@common/api/index.js';
import { issuesToFieldMessages } from '@common/field-messages.js';
import { exchangePartOf, type ExchangePart } from '../../utils/exchange-format.js';
import type { RestoreConflict, RestoreFolderMode, RestoreWhere } from '../m365/m365-restore.js';

/**
 * The Exchange restore dialog's choices and the request they make (POST
 * /api/m365/backups/:id/restore, paths in one of "mail", "calendar", "contacts"). Pure, so what
 * the dialog sends for each choice is tested without a browser.
 */
export interface ExchangeRestoreChoices {
  /** Mount paths of one part: messages, folders, events, calendars, contacts ("mail/Inbox/Hello ~1a2b3c4d.eml"). */
  paths: readonly string[];
  where: RestoreWhere;
  /** Another user's UPN. */
  target: string | null;
  folderMode: RestoreFolderMode;
  /** The new folder's name; empty: the server's "Restore-<date>". */
  folderName: string;
  conflict: RestoreConflict;
}

export type ExchangeRestoreField = 'paths' | 'to' | 'folder' | 'conflict';
export const EXCHANGE_RESTORE_FIELDS: readonly ExchangeRestoreField[] = ['paths', 'to', 'folder', 'conflict'];

/**
 * Where else the part can go: the tenant's users, present, with a mailbox; the backup's own user
 * is "original". A user whose mailbox the last sync could not confirm (hasMailbox unknown, a
 * permission missing) is offered and says so: the restore then tells.
 */
export function mailboxTargetOptions(backup: Pick<M365Backup, 'subject'>, users: readonly Pick<M365User, 'graphId' | 'upn' | 'displayName' | 'present' | 'hasMailbox'>[]): { value: string; label: string }[] {
  return users
    .filter((user) => user.present && user.hasMailbox !== false && !(backup.subject.kind === 'user' && backup.subject.graphId === user.graphId))
    .map((user) => {
      const name = user.displayName === '' ? user.upn : `${user.displayName} (${user.upn})`;
      return { value: user.upn, label: user.hasMailbox === true ? name : `${name}, mailbox not confirmed` };
    })
    .sort((a, b) => a.label.localeCompare(b.label));
}

/** The one part the paths are in, or null when they are in none or in several. */
export function partOfPaths(paths: readonly string[]): ExchangePart | null {
  const parts = new Set(paths.map(exchangePartOf));
  const [only] = parts;
  return parts.size === 1 && only !== undefined ? only : null;
}

/** The request of the choices, or a message under each field that is wrong. */
export function exchangeRestoreRequestOf(choices: ExchangeRestoreChoices): { request: M365RestoreRequest } | { errors: Partial<Record<ExchangeRestoreField, string>> } {
  if (choices.paths.length === 0) return { errors: { paths: 'Choose what to restore' } };
  if (partOfPaths(choices.paths) === null) return { errors: { paths: 'A restore takes mail, events or contacts: restore each on its own' } };
  if (choices.where === 'other' && (choices.target === null || choices.target.trim() === '')) return { errors: { to: 'Choose the user to restore to' } };
  const to = choices.where === 'other' && choices.target !== null ? { to: choices.target } : {};
  const name = choices.folderName.trim();
  // Absent: the server's own "Restore-<date>" folder; null: each item back into the folder it was in.
  const folder = choices.folderMode === 'original' ? { folder: null } : name === '' ? {} : { folder: name };
  const request: M365RestoreRequest = { paths: [...choices.paths], ...to, ...folder, conflict: choices.conflict };
  const parsed = M365RestoreRequestSchema.safeParse(request);
  if (!parsed.success) {
    const placed: Partial<Record<ExchangeRestoreField, string>> = {};
    for (const [key, message] of Object.entries(issuesToFieldMessages(parsed.error.issues))) {
      const field = EXCHANGE_RESTORE_FIELDS.find((candidate) => key === candidate || key.startsWith(`${candidate}.`)) ?? 'paths';
      placed[field] ??= message;
    }
    return { errors: placed };
  }
  return { request };
}

/** What the part's folders are called, for the dialog's words. */
export const FOLDER_WORDS: Record<ExchangePart, { place: string; folder: string }> = {
  mail: { place: 'mailbox', folder: 'mail folder' },
  calendar: { place: 'calendars', folder: 'calendar' },
  contacts: { place: 'contacts', folder: 'contact folder' },
};
