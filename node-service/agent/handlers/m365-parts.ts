/**
 * Which library backs up and restores each kind of part of a Microsoft 365 backup: a drive
 * (OneDrive, library) by drive-backup/drive-restore, a user's mail, calendars and contacts by
 * the Exchange libraries. They all store an ObjectStore object and answer the drive's result
 * shapes, so the handlers treat every part alike.
 */
import type { M365PartKind } from '../../../common/m365-tasks.js';
import type { DriveBackupResult } from '../../cloud/drive-backup.js';
import type { DriveRestoreResult } from '../../cloud/drive-restore.js';
import type { ExchangeBackupOptions, ExchangeRestoreOptions } from '../../cloud/exchange/model.js';
import { backupCalendars } from '../../cloud/exchange/calendar-backup.js';
import { backupContacts } from '../../cloud/exchange/contacts-backup.js';
import { backupMailbox } from '../../cloud/exchange/mail-backup.js';
import { restoreMail } from '../../cloud/exchange/mail-restore.js';
import { restoreCalendars, restoreContacts } from '../../cloud/exchange/pim-restore.js';

export type ExchangePartKind = Exclude<M365PartKind, 'drive'>;

/** What a part's items are called in progress and log lines. */
export const PART_ITEM: Record<M365PartKind, string> = { drive: 'file', mail: 'message', calendar: 'event', contacts: 'contact' };

/** The Exchange backups by part kind. */
export const EXCHANGE_BACKUPS: Record<ExchangePartKind, (o: ExchangeBackupOptions) => Promise<DriveBackupResult>> = {
  mail: backupMailbox,
  calendar: backupCalendars,
  contacts: backupContacts,
};

/** The Exchange restores by part kind. */
export const EXCHANGE_RESTORES: Record<ExchangePartKind, (o: ExchangeRestoreOptions) => Promise<DriveRestoreResult>> = {
  mail: restoreMail,
  calendar: restoreCalendars,
  contacts: restoreContacts,
};
