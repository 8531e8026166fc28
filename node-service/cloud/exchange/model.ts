/**
 * How a user's Exchange data sits in the cloud server's metadata (metadata/object-store.ts):
 * three protected objects per user, each an ObjectStore of folders and files, so the drive
 * machinery (points, versions, tombstones, re-import, retention, browsing as a volume with
 * PointTree, zips) serves them unchanged:
 *
 *   m365:<dir>:mail:<user id>      root = the mailbox's msgfolderroot; folders = mail folders
 *                                  (Graph ids, parentFolderId); files = messages, content = the
 *                                  original MIME ($value), named "<subject> ~<tag>.eml"
 *   m365:<dir>:calendar:<user id>  root; folders = calendars; files = events (singles, series
 *                                  masters, exceptions), content = an iCalendar VCALENDAR with
 *                                  the event, named "<subject> ~<tag>.ics"
 *   m365:<dir>:contacts:<user id>  root; folders = contact folders (the default one "Contacts");
 *                                  files = contacts, content = a vCard 4.0 with its photo,
 *                                  named "<display name> ~<tag>.vcf"
 *
 * Every item's `extra` is one of the records below: what the browser lists and searches
 * (read from the metadata alone, never from content) and what a restore needs besides the
 * content. Items are identified by Graph's immutable ids.
 */
import { createHash } from 'node:crypto';

export interface MailAddress {
  name: string | null;
  address: string;
}

export interface MailAttachmentInfo {
  name: string;
  size: number;
  contentType: string;
  /** Inline (an image the HTML refers to by cid:). */
  inline: boolean;
}

/** The root item of each Exchange object. */
export interface ExchangeRootExtra {
  type: 'root';
}

export interface MailFolderExtra {
  type: 'mailFolder';
  /** inbox, sentitems, drafts, deleteditems, archive, junkemail… when Graph names it so. */
  wellKnownName: string | null;
}

export type MailFlag = 'notFlagged' | 'flagged' | 'complete';

/** A message's fields (Graph's message resource, plus what its MIME says about attachments). */
export interface MessageExtra {
  type: 'message';
  subject: string;
  from: MailAddress | null;
  to: MailAddress[];
  cc: MailAddress[];
  bcc: MailAddress[];
  /** ISO 8601 (UTC). */
  receivedAt: string | null;
  sentAt: string | null;
  isRead: boolean;
  isDraft: boolean;
  flag: MailFlag;
  importance: 'low' | 'normal' | 'high';
  hasAttachments: boolean;
  /** From the MIME: every attachment, inline ones too, in MIME order. */
  attachments: MailAttachmentInfo[];
  internetMessageId: string | null;
  conversationId: string | null;
  /** Graph's bodyPreview (≤ 255 characters of text). */
  preview: string;
}

export interface CalendarExtra {
  type: 'calendar';
  /** Graph's calendar resource (name, color, isDefaultCalendar, owner…). */
  graph: Record<string, unknown>;
}

export interface EventExtra {
  type: 'event';
  subject: string;
  /** ISO 8601 (UTC) start and end of the event (of the series' first occurrence for a master). */
  start: string | null;
  end: string | null;
  isAllDay: boolean;
  /** singleInstance, seriesMaster, exception (occurrences are not stored: the master's recurrence makes them). */
  eventType: 'singleInstance' | 'seriesMaster' | 'exception' | 'occurrence';
  seriesMasterId: string | null;
  location: string | null;
  organizer: MailAddress | null;
  /** Graph's event resource as read, for a restore (ids and read-only fields dropped there). */
  graph: Record<string, unknown>;
  /** A series master's cancelled occurrences: their original starts (ISO 8601, UTC); EXDATEs in the content. */
  cancelledOccurrences?: string[];
}

export interface ContactFolderExtra {
  type: 'contactFolder';
  /** The mailbox's default contacts folder (Graph's /contacts). */
  isDefault: boolean;
}

export interface ContactExtra {
  type: 'contact';
  displayName: string;
  emails: string[];
  phones: string[];
  company: string | null;
  hasPhoto: boolean;
  /** Graph's contact resource as read, for a restore; the photo is in the vCard content. */
  graph: Record<string, unknown>;
}

export type ExchangeExtra = ExchangeRootExtra | MailFolderExtra | MessageExtra | CalendarExtra | EventExtra | ContactFolderExtra | ContactExtra;

/** A short stable tag of a Graph id: keeps names unique within a folder. */
export function itemTag(graphId: string): string {
  return createHash('sha256').update(graphId).digest('hex').slice(0, 8);
}

/** A name for an item's file: the title cut at 80 characters, made one safe path component, with its tag. */
export function exchangeFileName(title: string, graphId: string, extension: 'eml' | 'ics' | 'vcf'): string {
  const clean = title
    // eslint-disable-next-line no-control-regex -- control characters are what is being removed
    .replace(/[\u0000-\u001f\u007f/\\:*?"<>|]/g, '_')
    .replace(/\s+/g, ' ')
    .trim();
  const cut = [...clean].slice(0, 80).join('').trim();
  return `${cut === '' || cut === '.' || cut === '..' ? '(no subject)' : cut} ~${itemTag(graphId)}.${extension}`;
}

/**
 * What the Exchange backups take (backupMailbox in mail-backup.ts, backupCalendars in
 * calendar-backup.ts, backupContacts in contacts-backup.ts); they answer the drive backup's
 * DriveBackupResult and report DriveBackupProgress (files = messages, events, contacts).
 * A user without a mailbox: CloudError M365_NO_MAILBOX, nothing stored.
 */
export interface ExchangeBackupOptions {
  graph: import('../graph/graph-client.js').GraphClient;
  repo: import('../../repository/index.js').Repository;
  /** m365ExchangeObjectKey(directory, 'mail' | 'calendar' | 'contacts', user id). */
  objectKey: string;
  /** "/users/<user id>". */
  userPath: string;
  /** The user's Graph id: the mailbox whose concurrency limit (4) the calls count against. */
  owner: string;
  /** For messages: "the mailbox of alice@contoso.com". */
  label: string;
  /** Node-local directory for the metadata databases' working copies. */
  workDir: string;
  /** Enumerate everything (and tombstone what is gone) even when delta links are kept. */
  full?: boolean;
  source?: import('../../repository/index.js').JsonValue;
  signal?: AbortSignal;
  packSize?: number;
  logger?: import('../../repository/index.js').RepositoryLogger;
  onProgress?: (progress: import('../drive-backup.js').DriveBackupProgress) => void;
}

/**
 * What the Exchange restores take (restoreMail in mail-restore.ts, restoreCalendars and
 * restoreContacts in pim-restore.ts); they answer DriveRestoreResult (files = messages,
 * events, contacts; folders = folders made) and report DriveRestoreProgress.
 */
export interface ExchangeRestoreOptions {
  graph: import('../graph/graph-client.js').GraphClient;
  repo: import('../../repository/index.js').Repository;
  objectKey: string;
  pointId: string;
  workDir: string;
  /** Paths in the point ("/" everything; "/Inbox/Projects"; "/Inbox/Hello ~1a2b3c4d.eml"). */
  paths: string[];
  /** The same user's mailbox or another's ("/users/<id>"), and whose limits apply. */
  target: { userPath: string; owner: string; label: string };
  /** A folder at the top of the mailbox (calendars: a calendar; contacts: a contact folder) to restore into, keeping the folder paths below it; null: the original folders. */
  folder: string | null;
  /** An item already there (same internetMessageId / iCalUId / same name and e-mail): leave it, add another, or replace it. */
  conflict: 'skip' | 'copy' | 'replace';
  signal?: AbortSignal;
  logger?: import('../../repository/index.js').RepositoryLogger;
  onProgress?: (p: import('../drive-restore.js').DriveRestoreProgress) => void;
}
