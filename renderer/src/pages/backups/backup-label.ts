import type { Backup } from '@common/api/index.js';

/** The backup's date, as its actions and dialogs name it (for screen readers and tests too). */
export const backupLabel = (backup: Pick<Backup, 'createdAt'>): string => `the backup of ${new Date(backup.createdAt).toLocaleString()}`;
