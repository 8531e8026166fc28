import type { Migration } from './migration.js';

/**
 * Whether each Microsoft 365 user has an Exchange Online mailbox, as the last sync found out
 * (Graph has no property for it: the sync asks for one mail folder). NULL: unknown, e.g. the
 * app may not read mail; such a user's backup then covers only their OneDrive.
 */
export const migration: Migration = {
  id: '2026-12-07-0018-m365-mailboxes',
  statements: [`ALTER TABLE m365_users ADD COLUMN IF NOT EXISTS has_mailbox TINYINT(1) NULL COMMENT 'an Exchange Online mailbox; NULL: unknown' AFTER drive_id`],
};
