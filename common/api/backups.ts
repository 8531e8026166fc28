import { z } from 'zod';

export const BackupSchema = z.object({
  id: z.number().int(),
  destinationId: z.number().int(),
  destination: z.string(),
  /** The backup's id inside the repository. */
  repoBackupId: z.string(),
  /** What it is a backup of (a VM's UUID or name). */
  vm: z.string(),
  type: z.enum(['full', 'incremental']).nullable(),
  status: z.enum(['available', 'removed']),
  createdAt: z.string(),
  logicalBytes: z.number(),
  storedBytes: z.number().nullable(),
});
export type Backup = z.infer<typeof BackupSchema>;

export const BackupListQuerySchema = z.object({
  destination: z.string().max(128).optional(),
  vm: z.string().max(255).optional(),
  status: z.enum(['available', 'removed']).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(200),
  offset: z.coerce.number().int().min(0).default(0),
});
