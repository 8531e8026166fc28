import { z } from 'zod';

/**
 * Browsing a mounted backup's filesystem: the wire shapes. Paths are always relative to the
 * root of one mounted filesystem, '/'-separated, without a leading '/'; '' is the root.
 */

/** A path inside a mount as the API takes it (checked again, for real, on the node). */
export const MountPathSchema = z
  .string()
  .max(4096)
  .refine((p) => !p.includes('\0'), { message: 'path contains a NUL byte' })
  .describe("Relative to the filesystem's root, '/'-separated; '' is the root");

export const BROWSE_ENTRY_TYPES = ['file', 'dir', 'symlink', 'other'] as const;
export const BrowseEntryTypeSchema = z.enum(BROWSE_ENTRY_TYPES);
export type BrowseEntryType = z.infer<typeof BrowseEntryTypeSchema>;

export const BrowseEntrySchema = z.object({
  name: z.string(),
  type: BrowseEntryTypeSchema,
  /** Bytes (for a symlink: the length of its target text). */
  size: z.number().int().min(0),
  /** Modification time, ISO 8601. */
  mtime: z.string(),
  /** Permission bits including setuid/setgid/sticky (st_mode & 0o7777), e.g. 0o755 = 493. */
  mode: z.number().int().min(0).max(0o7777),
  uid: z.number().int().min(0),
  gid: z.number().int().min(0),
  /** User and group names from the backed-up system's own /etc/passwd and /etc/group, when found there. */
  owner: z.string().optional(),
  group: z.string().optional(),
  /** For a symlink: its target text, shown as is and never followed out of the filesystem. */
  target: z.string().optional(),
});
export type BrowseEntry = z.infer<typeof BrowseEntrySchema>;

export const BROWSE_SORT_KEYS = ['name', 'size', 'mtime'] as const;
export const BrowseSortSchema = z.enum(BROWSE_SORT_KEYS);
export type BrowseSort = z.infer<typeof BrowseSortSchema>;

export const BrowseListQuerySchema = z.object({
  path: MountPathSchema.default(''),
  offset: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(5000).default(500),
  sort: BrowseSortSchema.default('name'),
  order: z.enum(['asc', 'desc']).default('asc'),
});
export type BrowseListQuery = z.infer<typeof BrowseListQuerySchema>;

/** One page of a directory. */
export const BrowseListingSchema = z.object({
  /** The directory, canonical (symlinks inside the filesystem resolved). */
  path: z.string(),
  entries: z.array(BrowseEntrySchema),
  /** Entries in the directory (up to the node's scan bound). */
  total: z.number().int().min(0),
  /** The directory holds more entries than the node scans; the listing covers the first ones read. */
  truncated: z.boolean(),
});
export type BrowseListing = z.infer<typeof BrowseListingSchema>;

export const BrowseSearchRequestSchema = z.object({
  /** Where to search from. */
  path: MountPathSchema.default(''),
  /** Case-insensitive: a substring of the name, or a glob (* ? [abc]) matched against the whole name. */
  pattern: z.string().min(1).max(255),
  limit: z.coerce.number().int().min(1).max(5000).default(500),
});
export type BrowseSearchRequest = z.infer<typeof BrowseSearchRequestSchema>;

export const BrowseSearchHitSchema = BrowseEntrySchema.extend({
  /** Path of the match from the filesystem's root. */
  path: z.string(),
});
export type BrowseSearchHit = z.infer<typeof BrowseSearchHitSchema>;

export const BrowseSearchResultSchema = z.object({
  hits: z.array(BrowseSearchHitSchema),
  /** Entries looked at. */
  visited: z.number().int().min(0),
  /** The search stopped early: the limit of hits or of entries visited was reached, or it was cancelled. */
  truncated: z.boolean(),
});
export type BrowseSearchResult = z.infer<typeof BrowseSearchResultSchema>;

/** Download a selection as a zip, or restore it to a directory on the node. */
export const BrowseSelectionSchema = z.object({
  paths: z.array(MountPathSchema).min(1).max(10_000),
});
export const BrowseRestoreRequestSchema = BrowseSelectionSchema.extend({
  /** Absolute directory on the node to restore into. */
  destination: z.string().min(1).max(4096).startsWith('/'),
  overwrite: z.boolean().default(false),
});
export type BrowseRestoreRequest = z.infer<typeof BrowseRestoreRequestSchema>;

export const BROWSE_ERROR_CODES = [
  /** The path leaves the filesystem: '..' past the root, an absolute path or symlink, NUL. */
  'PATH_ESCAPE',
  'NOT_FOUND',
  'NOT_A_DIRECTORY',
  /** Reading or downloading needs a regular file. */
  'NOT_A_FILE',
  'SYMLINK_LOOP',
  'INVALID_RANGE',
  /** Restore would replace something and overwrite was not asked for. */
  'EXISTS',
  'CANCELLED',
] as const;
export const BrowseErrorCodeSchema = z.enum(BROWSE_ERROR_CODES);
export type BrowseErrorCode = z.infer<typeof BrowseErrorCodeSchema>;

export const BrowseErrorSchema = z.object({
  error: BrowseErrorCodeSchema,
  message: z.string(),
  /** The path the error is about. */
  path: z.string(),
});
export type BrowseErrorBody = z.infer<typeof BrowseErrorSchema>;

/* ------------------------------------------------------------------------------------------
 * Mount sessions (the catalog's view) and the REST shapes around them.
 *
 *   POST   /api/mounts                    MountStartRequest → 202 Mount      (operator)
 *   POST   /api/mounts/iscsi              IscsiStartRequest → 202 IscsiStartResponse (operator)
 *   GET    /api/mounts?active=true        Mount[]                            (operator)
 *   GET    /api/mounts/:mount             Mount                              (operator)
 *   POST   /api/mounts/:mount/extend      MountExtendRequest → Mount         (operator)
 *   DELETE /api/mounts/:mount             202 Mount (closing)                (operator)
 *   GET    /api/mounts/:mount/files?path&offset&limit&sort&order  BrowseListing
 *   GET    /api/mounts/:mount/stat?path                          BrowseSearchHit
 *   GET    /api/mounts/:mount/search?path&pattern&limit          BrowseSearchResult
 *   GET    /api/mounts/:mount/content?path[&download=1]          the file's bytes; HTTP Range
 *   GET    /api/mounts/:mount/zip?path=a&path=b                  streamed application/zip
 *   POST   /api/mounts/:mount/restore     MountRestoreRequest → 202 Task (FILE_RESTORE)
 *
 * Paths in these routes start with the filesystem's name: 'vda1/etc/hosts'. '' is the
 * mount's root, which lists one directory per filesystem (readable or not).
 * ---------------------------------------------------------------------------------------- */

export const MOUNT_STATES = ['MOUNTING', 'MOUNTED', 'CLOSING', 'CLOSED', 'FAILED'] as const;
export const MountStateSchema = z.enum(MOUNT_STATES);
export type MountState = z.infer<typeof MountStateSchema>;

/** One filesystem (or a volume that could not be read, with the reason) found in the backup. */
export const MountFilesystemSchema = z.object({
  /** Its folder in the mount: 'vda1', 'vda', 'vg0-root'. */
  name: z.string(),
  disk: z.string(),
  /** 'partition' | 'disk' (a filesystem on the whole disk) | 'lv' */
  kind: z.string(),
  /** ext4, xfs, btrfs, ntfs, vfat, exfat, swap, luks, lvm2-pv …; null when unknown. */
  type: z.string().nullable(),
  label: z.string().optional(),
  size: z.number().int().min(0),
  readable: z.boolean(),
  /** Why it cannot be browsed, when not readable. */
  reason: z.string().optional(),
});
export type MountFilesystem = z.infer<typeof MountFilesystemSchema>;

export const IscsiInfoSchema = z.object({
  disk: z.string(),
  /** host:port of the node's iSCSI portal. */
  portal: z.string(),
  target: z.string(),
  lun: z.number().int(),
  initiatorNames: z.array(z.string()),
  initiatorAddresses: z.array(z.string()),
  chapUser: z.string(),
});
export type IscsiInfo = z.infer<typeof IscsiInfoSchema>;

export const MountSchema = z.object({
  id: z.number().int(),
  kind: z.enum(['browse', 'iscsi']),
  /** The catalog's backup id (null for a Microsoft 365 backup). */
  backupId: z.number().int().nullable(),
  /** The catalog's Microsoft 365 backup id (m365_backups.id) when it is one. */
  m365BackupId: z.number().int().nullable(),
  /** What the backup is of (the VM's name; a Microsoft 365 user's UPN or site's name) and when it was taken. */
  vm: z.string(),
  backupCreatedAt: z.string(),
  destination: z.string(),
  nodeId: z.number().int(),
  node: z.string(),
  /** The MOUNT task that holds the mount open (its progress, log and errors). */
  taskId: z.number().int().nullable(),
  state: MountStateSchema,
  /** Disks served (all of the backup's by default). */
  disks: z.array(z.string()),
  /** Served through a copy-on-write overlay (journals replayed). */
  overlay: z.boolean(),
  filesystems: z.array(MountFilesystemSchema),
  iscsi: IscsiInfoSchema.nullable(),
  createdBy: z.string(),
  createdAt: z.string(),
  /** Idle timeout in seconds: the mount closes this long after its last use. */
  idleSeconds: z.number().int(),
  /** When it closes if nobody uses it (last use + idle timeout). */
  expiresAt: z.string().nullable(),
  closedAt: z.string().nullable(),
  error: z.string().nullable(),
});
export type Mount = z.infer<typeof MountSchema>;

export const DEFAULT_MOUNT_IDLE_SECONDS = 2 * 60 * 60;
export const MAX_MOUNT_IDLE_SECONDS = 7 * 24 * 60 * 60;

export const MountStartRequestSchema = z.object({
  backup: z.number().int().positive(),
  /** Disks to serve (default: all the backup's disks). */
  disks: z.array(z.string().min(1).max(64)).min(1).max(64).optional(),
  /** Copy-on-write overlay so journals replay (default true). */
  overlay: z.boolean().default(true),
  idleSeconds: z.number().int().min(60).max(MAX_MOUNT_IDLE_SECONDS).default(DEFAULT_MOUNT_IDLE_SECONDS),
});
export type MountStartRequest = z.input<typeof MountStartRequestSchema>;

const IQN = /^(iqn\.\d{4}-\d{2}\.[a-z0-9.-]+(:.*)?|eui\.[0-9A-Fa-f]{16})$/;
export const IscsiStartRequestSchema = z
  .object({
    backup: z.number().int().positive(),
    disk: z.string().min(1).max(64),
    initiatorNames: z.array(z.string().max(223).regex(IQN, 'an initiator IQN looks like iqn.YYYY-MM.domain[:name]')).max(32).default([]),
    initiatorAddresses: z.array(z.union([z.ipv4(), z.ipv6()])).max(32).default([]),
    idleSeconds: z.number().int().min(60).max(MAX_MOUNT_IDLE_SECONDS).default(DEFAULT_MOUNT_IDLE_SECONDS),
  })
  .refine((r) => r.initiatorNames.length + r.initiatorAddresses.length > 0, {
    message: 'name at least one initiator (IQN or address): an export open to any initiator is refused',
    path: ['initiatorNames'],
  });
export type IscsiStartRequest = z.input<typeof IscsiStartRequestSchema>;

/** The CHAP password is in this answer only; it is never stored on the server. */
export const IscsiStartResponseSchema = z.object({
  mount: MountSchema,
  portal: z.string(),
  target: z.string(),
  lun: z.number().int(),
  chapUser: z.string(),
  chapPassword: z.string(),
});
export type IscsiStartResponse = z.infer<typeof IscsiStartResponseSchema>;

export const MountExtendRequestSchema = z.object({
  /** The new idle timeout, counted from now. */
  idleSeconds: z.number().int().min(60).max(MAX_MOUNT_IDLE_SECONDS),
});

export const MountListQuerySchema = z.object({
  /** Only mounts that are mounting or mounted. */
  active: z.enum(['true', 'false']).transform((v) => v === 'true').optional(),
});

export const MountRefParamsSchema = z.object({ mount: z.coerce.number().int().positive() });

export const MountStatQuerySchema = z.object({ path: MountPathSchema });
export const MountContentQuerySchema = z.object({
  path: MountPathSchema,
  /** 1: Content-Disposition attachment (a download); otherwise inline for previews. */
  download: z.enum(['0', '1']).optional(),
});
export const MountZipQuerySchema = z.object({
  path: z.union([MountPathSchema, z.array(MountPathSchema).min(1).max(1000)]).transform((p) => (Array.isArray(p) ? p : [p])),
  /** The zip's file name (default: the backup's VM and date). */
  name: z.string().max(200).optional(),
});

export const MountRestoreRequestSchema = BrowseSelectionSchema.extend({
  /** The node to restore to (default: the mount's node). */
  node: z.string().min(1).max(128).optional(),
  /** Absolute directory on that node. */
  path: z.string().min(1).max(4096).startsWith('/', 'the path must be absolute'),
  overwrite: z.boolean().default(false),
});
export type MountRestoreRequest = z.input<typeof MountRestoreRequestSchema>;
