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
