import { z } from 'zod';

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
});
export type Backup = z.infer<typeof BackupSchema>;

export const BackupListQuerySchema = z.object({
  destination: z.string().max(128).optional(),
  vm: z.string().max(255).optional(),
  status: BackupStatusSchema.optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(200),
  offset: z.coerce.number().int().min(0).default(0),
});
