import { z } from 'zod';
import { BackupCopySchema } from './copies.js';
import { RepositoryStatsSchema } from './destinations.js';
import { NextCursorSchema, TimeCursorSchema } from './paging.js';

export const BACKUP_STATUSES = ['available', 'damaged', 'missing', 'removed'] as const;
export const BackupStatusSchema = z.enum(BACKUP_STATUSES);
export type BackupStatus = z.infer<typeof BackupStatusSchema>;

export const BackupSchema = z.object({
  id: z.number().int(),
  destinationId: z.number().int(),
  destination: z.string(),
  /** The backup's id inside the repository. */
  repoBackupId: z.string(),
  /** What it is a backup of (a VM's UUID or name). */
  vm: z.string(),
  /** The VM's name when it was backed up (from the backup's metadata), if known. */
  vmName: z.string().nullable(),
  type: z.enum(['full', 'incremental']).nullable(),
  /**
   * available: restorable as far as the catalog knows; damaged: verify found chunks or its
   * manifest unreadable; missing: its manifest is gone from the destination; removed: pruned.
   */
  status: BackupStatusSchema,
  createdAt: z.string(),
  logicalBytes: z.number(),
  storedBytes: z.number().nullable(),
  /** When a full verify last found it intact. */
  verifiedAt: z.string().nullable(),
  /** Damaged or missing chunks verify found (damaged backups). */
  damagedChunks: z.number().int().nullable(),
  /** Why it is damaged or missing, in words. */
  statusDetail: z.string().nullable(),
  /** Retention never removes it, and it cannot be deleted until unprotected. */
  protected: z.boolean(),
  /** An admin's note (free text). */
  notes: z.string().nullable(),
  /** Bytes its run read from the disks (unknown for re-imported backups). */
  readBytes: z.number().nullable(),
  /** From the start of its export to the end of its store (unknown for re-imported backups). */
  durationSeconds: z.number().nullable(),
  /** Its copies on other destinations (COPY tasks, policies' "copy to"); restore and mount can read any ok one. */
  copies: z.array(BackupCopySchema).optional(),
});
export type Backup = z.infer<typeof BackupSchema>;

export const BackupListQuerySchema = z.object({
  destination: z.string().max(128).optional(),
  vm: z.string().max(255).optional(),
  status: BackupStatusSchema.optional(),
  /** Created at or after this instant (ISO 8601). */
  from: z.iso.datetime({ offset: true }).optional(),
  /** Created before this instant (ISO 8601). */
  to: z.iso.datetime({ offset: true }).optional(),
  /** Words found in the VM's name (in the inventory or its newest backup) or UUID, the notes, or the beginning of the backup's id. */
  search: z.string().trim().max(200).optional(),
  protected: z.enum(['true', 'false']).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(200),
  /** The page after the one that answered this nextCursor (newest first: by created_at, then id). */
  cursor: TimeCursorSchema.optional(),
  /** Rows to skip (older clients); costs a read of every row skipped: page with cursor instead. Ignored with a cursor. */
  offset: z.coerce.number().int().min(0).optional(),
});

/** Newest first (created, then id). No total: counting a year of backups costs more than the page itself. */
export const BackupPageSchema = z.object({
  backups: z.array(BackupSchema),
  nextCursor: NextCursorSchema,
});
export type BackupPage = z.infer<typeof BackupPageSchema>;

export const BACKUP_NOTES_MAX = 1000;

export const BackupRefParamsSchema = z.object({ id: z.coerce.number().int().min(1).describe('backup id') });

/** PATCH /api/backups/:id: protect or unprotect, and the notes (null or "" clears them). */
export const UpdateBackupSchema = z
  .object({
    protected: z.boolean().optional(),
    notes: z.string().max(BACKUP_NOTES_MAX, `notes can be at most ${BACKUP_NOTES_MAX} characters`).nullable().optional(),
  })
  .refine((u) => u.protected !== undefined || u.notes !== undefined, { message: 'give protected or notes' });
export type UpdateBackup = z.infer<typeof UpdateBackupSchema>;

/** BACKUP_DELETE: remove one backup's manifest from its repository (GC frees its chunks later). */
export const BackupDeleteParamsSchema = z.object({
  destinationId: z.number().int(),
  /** The backup's id in the repository. */
  backupId: z.string().min(1).max(128),
  /** Its catalog id. */
  catalogId: z.number().int(),
});
export const BackupDeleteResultSchema = z.object({
  /** False when its manifest was already gone from the destination. */
  removed: z.boolean(),
  stats: RepositoryStatsSchema,
});
