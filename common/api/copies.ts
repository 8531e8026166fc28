import { z } from 'zod';

/**
 * Copies of a VM backup on destinations other than its own (issue 19): a COPY task sends the
 * backup's chunks the target lacks, and the catalog keeps one row per backup and destination.
 * copying: its COPY task has not ended; ok: the copy is complete there; failed: the last
 * attempt failed (running it again resumes with what that one sent).
 */
export const COPY_STATES = ['copying', 'ok', 'failed'] as const;
export const CopyStateSchema = z.enum(COPY_STATES);
export type CopyState = z.infer<typeof CopyStateSchema>;

export const BackupCopySchema = z.object({
  id: z.number().int(),
  /** The catalog id of the backup (on its own destination). */
  backupId: z.number().int(),
  destinationId: z.number().int(),
  destination: z.string(),
  state: CopyStateSchema,
  /** The COPY task that made (or is making) it; null for copies found by a re-import. */
  taskId: z.number().int().nullable(),
  /** Bytes the copy added to its destination (chunks it lacked, as stored, and the manifest). */
  storedBytes: z.number().nullable(),
  createdAt: z.string(),
  finishedAt: z.string().nullable(),
  error: z.string().nullable(),
});
export type BackupCopy = z.infer<typeof BackupCopySchema>;

/** POST /api/backups/:id/copies */
export const CreateCopySchema = z.object({
  to: z.string().trim().min(1, 'give the destination to copy to (id or name)').max(128).describe('destination id or name'),
});
export type CreateCopy = z.infer<typeof CreateCopySchema>;

/** GET /api/copies */
export const CopyListQuerySchema = z.object({
  backup: z.coerce.number().int().min(1).optional().describe('only the copies of this backup'),
  destination: z.string().min(1).max(128).optional().describe('only the copies on this destination (id or name)'),
  state: CopyStateSchema.optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(200),
});
export type CopyListQuery = z.infer<typeof CopyListQuerySchema>;

/** A copy with what it is a copy of, for lists. */
export const CopyListItemSchema = BackupCopySchema.extend({
  vm: z.string(),
  vmName: z.string().nullable(),
  /** The backup's own destination. */
  sourceDestination: z.string(),
  /** When the backup was made. */
  backupCreatedAt: z.string(),
  repoBackupId: z.string(),
});
export type CopyListItem = z.infer<typeof CopyListItemSchema>;
