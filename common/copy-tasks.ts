/**
 * COPY (issue 19): a copy of one VM backup from the destination it is on to another
 * destination, sending only the chunks the target lacks. The copy has the same repository
 * backup id on the target; the catalog records it per backup (`backup_copies`).
 *
 * Runs on the node of the source destination; the target must be reachable from it (an S3
 * destination, or a directory destination on the same node). The server adds at dispatch,
 * beside these params: `source` and `target`, each `{ path, password?, s3? }` as every
 * destination task gets its `repository` (common/s3-location.ts), and `repoBackupId`.
 */
import { z } from 'zod';
import { RepoBackupSchema } from './api/destinations.js';

export const CopyParamsSchema = z.object({
  /** Catalog id of the backup (the original, on its primary destination). */
  backupId: z.number().int(),
  sourceDestinationId: z.number().int(),
  targetDestinationId: z.number().int(),
  /** Set when a policy made the copy: its copy retention is applied on the target afterwards. */
  policyId: z.number().int().optional(),
});
export type CopyParams = z.infer<typeof CopyParamsSchema>;

export const CopyResultSchema = z.object({
  /** The backup's repository id (the same on both destinations). */
  repoBackupId: z.string(),
  /** Non-zero chunks the backup references (distinct ids). */
  chunks: z.number().int(),
  /** Chunks written to the target by this run. */
  copiedChunks: z.number().int(),
  /** Chunks the target already had (deduplicated, or written by an interrupted earlier run). */
  skippedChunks: z.number().int(),
  /** Bytes written to the target (chunk files as stored plus the manifest). */
  bytesSent: z.number(),
  logicalBytes: z.number(),
  /** True when an earlier interrupted copy of this backup had already sent part of it. */
  resumed: z.boolean(),
  /** False when the target already held this backup (nothing to do). */
  created: z.boolean(),
  /** The catalog's entry for the copy, as REIMPORT would make it from the target. */
  backup: RepoBackupSchema,
});
export type CopyResult = z.infer<typeof CopyResultSchema>;
