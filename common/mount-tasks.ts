/**
 * The MOUNT and FILE_RESTORE tasks' data (see common/task-contracts.ts).
 *
 * A MOUNT task holds a mount open: it runs on the destination's node for as long as the
 * mount lives (RUNNING = mounted), reports the filesystems it found with a `mount.ready`
 * message, and finishes when the mount is closed (by a user, its idle timeout, or the node
 * stopping). FILE_RESTORE copies paths of an open mount to a directory on the mount's node.
 */
import { z } from 'zod';
import { MountFilesystemSchema, MountPathSchema } from './api/mounts.js';

export const MountParamsSchema = z.object({
  /** The catalog's mount id (mounts.id). */
  mountId: z.number().int(),
  destinationId: z.number().int(),
  /** The backup's id in the repository (a Microsoft 365 backup: its run id). */
  backupId: z.string().min(1),
  /**
   * A Microsoft 365 backup instead of a VM's: one folder per drive (named `name`), each the
   * view of one backup point of one repository object, read from the cloud server's metadata.
   */
  m365: z
    .object({ parts: z.array(z.object({ name: z.string().min(1), objectKey: z.string().min(1), pointId: z.string().min(1) })).min(1) })
    .optional(),
  /** Disks to serve; all the backup's when absent. */
  disks: z.array(z.string().min(1)).optional(),
  overlay: z.boolean(),
  idleSeconds: z.number().int().positive(),
  /** An iSCSI export of one disk instead of mounted filesystems. */
  iscsi: z
    .object({
      disk: z.string().min(1),
      initiatorNames: z.array(z.string()),
      initiatorAddresses: z.array(z.string()),
    })
    .optional(),
});
export type MountParams = z.infer<typeof MountParamsSchema>;

export const MountClosedBySchema = z.enum(['user', 'idle', 'node']);
export const MountResultSchema = z.object({
  closedBy: MountClosedBySchema,
  filesystems: z.array(MountFilesystemSchema),
});
export type MountResult = z.infer<typeof MountResultSchema>;

export const FileRestoreParamsSchema = z.object({
  mountId: z.number().int(),
  /** Paths from the mount's root, each starting with its filesystem's name ('vda1/etc'). */
  paths: z.array(MountPathSchema).min(1),
  directory: z.string().min(1).startsWith('/'),
  overwrite: z.boolean(),
});
export type FileRestoreParams = z.infer<typeof FileRestoreParamsSchema>;

export const FileRestoreResultSchema = z.object({
  directory: z.string(),
  entries: z.number().int().min(0),
  bytes: z.number().min(0),
  /** Entries a plain directory cannot hold (devices, fifos, sockets). */
  skipped: z.array(z.string()),
});
export type FileRestoreResult = z.infer<typeof FileRestoreResultSchema>;
