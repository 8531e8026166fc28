import { z } from 'zod';
import { ID_LIKE_NAME_MESSAGE, notIdLike, unicodeNamePattern } from '../names.js';
import { NOT_A_RECOVERY_KEY, readRecoveryKeyBlock, RECOVERY_KEY_MAX_LENGTH } from '../recovery-key.js';
import { S3PlaceSchema, S3RepositorySchema } from '../s3-location.js';

/**
 * Each retention rule keeps at least one backup (a count) or one day (maxAgeDays): a 0 would
 * keep nothing by that rule, so the rule is left out instead. The API, the CLI and the UI
 * all check these limits, with these words.
 */
export const RETENTION_LIMITS = {
  keepLast: { min: 1, max: 10_000 },
  daily: { min: 1, max: 10_000 },
  weekly: { min: 1, max: 10_000 },
  monthly: { min: 1, max: 10_000 },
  yearly: { min: 1, max: 10_000 },
  maxAgeDays: { min: 1, max: 100_000 },
} as const;
export type RetentionRule = keyof typeof RETENTION_LIMITS;
export const RETENTION_RULES = Object.keys(RETENTION_LIMITS) as RetentionRule[];

function retentionRuleSchema(rule: RetentionRule) {
  const { min, max } = RETENTION_LIMITS[rule];
  const unit = rule === 'maxAgeDays' ? ' day' : '';
  return z
    .number()
    .int(`${rule} must be a whole number`)
    .min(min, `${rule} must be at least ${min}${unit}; leave the rule out to not use it`)
    .max(max, `${rule} must be at most ${max}`);
}

/** Why `value` cannot be the `rule` of a retention policy, in the API's words; null when it can. */
export function retentionRuleProblem(rule: RetentionRule, value: number): string | null {
  const parsed = retentionRuleSchema(rule).safeParse(value);
  return parsed.success ? null : (parsed.error.issues[0]?.message ?? `${rule} is not valid`);
}

export const RetentionSchema = z
  .object({
    keepLast: retentionRuleSchema('keepLast').optional(),
    daily: retentionRuleSchema('daily').optional(),
    weekly: retentionRuleSchema('weekly').optional(),
    monthly: retentionRuleSchema('monthly').optional(),
    yearly: retentionRuleSchema('yearly').optional(),
    maxAgeDays: retentionRuleSchema('maxAgeDays').optional(),
  })
  .refine((r) => Object.values(r).some((v) => v !== undefined), { message: 'give at least one retention rule (keepLast, daily, weekly, monthly, yearly or maxAgeDays)' });
export type Retention = z.infer<typeof RetentionSchema>;

/** Repository numbers as the node reports them after any destination task. */
export const RepositoryStatsSchema = z.object({
  backups: z.number().int(),
  logicalBytes: z.number(),
  storedBytes: z.number(),
  dedupRatio: z.number().nullable(),
  compressionRatio: z.number().nullable(),
});
export type RepositoryStatsView = z.infer<typeof RepositoryStatsSchema>;

/** One backup as stored on a destination (what re-import reads). */
export const RepoBackupSchema = z.object({
  id: z.string(),
  createdAt: z.string(),
  /** What the backup is of, e.g. a VM's UUID. */
  group: z.string(),
  logicalBytes: z.number(),
  /** Bytes this backup added to the destination (its new chunks, as stored); absent from older nodes. */
  storedBytes: z.number().optional(),
  disks: z.array(z.object({ name: z.string(), size: z.number() })),
  /** Opaque metadata written by the backup (VM definition, type, …). */
  source: z.unknown().optional(),
});
export type RepoBackup = z.infer<typeof RepoBackupSchema>;

/** Where a destination's repository lives: a directory on its node, or a bucket (and prefix) of an S3-compatible store its node reaches. */
export const DESTINATION_KINDS = ['directory', 's3'] as const;
export type DestinationKind = (typeof DESTINATION_KINDS)[number];

/** An S3 destination's place as the API shows it: never the secret key. */
export const S3DestinationViewSchema = S3PlaceSchema.omit({ caPem: true }).extend({
  accessKeyId: z.string(),
  /** A private CA is trusted for the endpoint (its PEM is not repeated here). */
  customCa: z.boolean(),
});
export type S3DestinationView = z.infer<typeof S3DestinationViewSchema>;

export const DestinationSchema = z.object({
  id: z.number().int(),
  name: z.string(),
  /** The node that works on the repository (for S3: the one that talks to the store). */
  nodeId: z.number().int(),
  node: z.string(),
  kind: z.enum(DESTINATION_KINDS),
  /** The directory on the node; for S3 the place as shown to people ("s3://bucket/prefix at https://…"). */
  path: z.string(),
  /** The bucket, prefix, endpoint, lock…: S3 destinations only. */
  s3: S3DestinationViewSchema.nullable(),
  encrypted: z.boolean(),
  status: z.enum(['ok', 'error', 'unknown']),
  statusMessage: z.string().nullable(),
  backups: z.number().int(),
  logicalBytes: z.number(),
  storedBytes: z.number(),
  dedupRatio: z.number().nullable(),
  compressionRatio: z.number().nullable(),
  freeBytes: z.number().nullable(),
  totalBytes: z.number().nullable(),
  lastCheckedAt: z.string().nullable(),
  createdAt: z.string(),
});
export type Destination = z.infer<typeof DestinationSchema>;

export const DestinationNameSchema = z
  .string()
  .min(1)
  .max(64)
  .regex(unicodeNamePattern('._-'), 'destination names may contain letters, digits, ".", "_" and "-"')
  .refine(notIdLike, ID_LIKE_NAME_MESSAGE);

/** A repository password: the one a new repository is encrypted with, or the new one set with a recovery key. */
export const RepositoryPasswordSchema = z.string().min(8, 'the encryption password must be at least 8 characters').max(1024);

/** The S3 place's rules and words, for the UI (which imports only common/api and a few browser-safe modules). */
export { S3_LOCK_MODES, s3DisplayName, type S3LockMode } from '../s3-location.js';

/** The block's markers, for the UI (which imports only common/api and a few browser-safe modules). */
export { RECOVERY_KEY_BEGIN, RECOVERY_KEY_END, RECOVERY_KEY_MAX_LENGTH } from '../recovery-key.js';

/**
 * A recovery key as given back by a person (pasted, typed from paper, or a downloaded key
 * file): the block's shape is checked here, its checksum on the node that uses it.
 */
export const RecoveryKeySchema = z
  .string()
  .max(RECOVERY_KEY_MAX_LENGTH, 'this is too long for a vPlus recovery key: give only the block, from BEGIN to END')
  .refine((text) => readRecoveryKeyBlock(text) !== null, NOT_A_RECOVERY_KEY);

/** A directory destination's path on its node. */
export const DestinationPathSchema = z.string().min(2).max(1024).regex(/^\//, 'the path must be absolute, e.g. /mnt/nas/vplus');

/** An S3 destination as added: the place and the credentials (the secret key is sealed in the catalog and never shown again). */
export const CreateS3DestinationSchema = S3RepositorySchema;
export type CreateS3Destination = z.input<typeof CreateS3DestinationSchema>;

export const CreateDestinationSchema = z
  .object({
    name: DestinationNameSchema,
    node: z.string().min(1).max(128).describe('node id or name; for S3: the node that talks to the store'),
    /** A directory on the node; give this or `s3`. */
    path: DestinationPathSchema.optional(),
    /** A bucket (and prefix) of an S3-compatible store; give this or `path`. */
    s3: CreateS3DestinationSchema.optional(),
    /**
     * Encrypts the repository; without it backups are stored unencrypted. Kept encrypted in the
     * catalog. With `recoveryKey`: the repository's new password.
     */
    password: RepositoryPasswordSchema.optional(),
    /**
     * Opens the encrypted repository already at `path` with its recovery key instead of its
     * password (lost), and sets `password` as its new password first: the old password no longer
     * opens it. Used for this request only: never stored or logged.
     */
    recoveryKey: RecoveryKeySchema.optional(),
  })
  .refine((d) => d.recoveryKey === undefined || d.password !== undefined, {
    path: ['password'],
    message: 'give the new password for the repository opened with the recovery key',
  })
  .refine((d) => (d.path === undefined) !== (d.s3 === undefined), {
    path: ['path'],
    message: 'give either a path (a directory on the node) or s3 (a bucket of an S3-compatible store)',
  });
export type CreateDestination = z.infer<typeof CreateDestinationSchema>;

/**
 * POST /api/destinations/check-s3: the form's **Check** before adding: the node reaches the
 * store and opens the repository under the prefix (or finds it empty, ready for one). Nothing
 * is created or kept; a failure answers 400 naming the field it is about (`s3.bucket`, …).
 */
export const CheckS3DestinationSchema = z.object({
  node: z.string().min(1).max(128).describe('node id or name: the node that talks to the store'),
  s3: CreateS3DestinationSchema,
  password: RepositoryPasswordSchema.optional(),
});
export type CheckS3Destination = z.infer<typeof CheckS3DestinationSchema>;

export const S3CheckAnswerSchema = z.object({
  /** found: a vPlus repository is there (and opened with the password); empty: adding creates one. */
  repository: z.enum(['found', 'empty']),
  encrypted: z.boolean().nullable(),
  backups: z.number().int().nullable(),
  message: z.string(),
});
export type S3CheckAnswer = z.infer<typeof S3CheckAnswerSchema>;

/** PUT /api/destinations/:destination/s3-credentials: a rotated key pair for an S3 destination (checked before it is kept). */
export const UpdateS3CredentialsSchema = z.object({
  accessKeyId: S3RepositorySchema.shape.accessKeyId,
  secretAccessKey: S3RepositorySchema.shape.secretAccessKey,
});
export type UpdateS3Credentials = z.infer<typeof UpdateS3CredentialsSchema>;

/**
 * POST /api/destinations/:destination/reset-password: the catalog's password for an encrypted
 * destination no longer opens it (lost, or changed elsewhere). The node opens the repository
 * with its recovery key and sets `password` in place of the old one; the catalog keeps the new one.
 */
export const ResetDestinationPasswordSchema = z.object({
  recoveryKey: RecoveryKeySchema,
  password: RepositoryPasswordSchema,
});
export type ResetDestinationPassword = z.infer<typeof ResetDestinationPasswordSchema>;

/**
 * The answer to adding a destination. An encrypted one carries its recovery key (the
 * repository's master key as a printable block, which opens it without the password): this is
 * the only time it is shown; the server keeps it nowhere. Absent when the node could not give it.
 */
export const CreatedDestinationSchema = DestinationSchema.extend({ recoveryKey: z.string().optional() });
export type CreatedDestination = z.infer<typeof CreatedDestinationSchema>;

export const UpdateDestinationSchema = z.object({ name: DestinationNameSchema });

export const DestinationRefParamsSchema = z.object({ destination: z.string().min(1).max(128) });

export const DestinationUsagePointSchema = z.object({ at: z.string(), storedBytes: z.number(), logicalBytes: z.number(), backups: z.number().int() });

export const VerifyRequestSchema = z.object({
  /** Check only part `part` of `of` (rotating subsets complete a full pass every `of` runs). */
  subset: z.object({ part: z.number().int().min(0), of: z.number().int().min(1).max(1000) }).refine((s) => s.part < s.of, { message: 'part must be below of' }).optional(),
});

export const PruneRequestSchema = z.object({
  retention: RetentionSchema,
  dryRun: z.boolean().default(true),
  /** Only these groups (VM UUIDs); default: every group on the destination. */
  groups: z.array(z.string().min(1).max(128)).max(10_000).optional(),
  /** Groups whose newest backup may go too (VMs gone from their host); default: none. */
  unprotectedGroups: z.array(z.string().min(1).max(128)).max(10_000).optional(),
});

/** A PRUNE task as its node gets it: the server adds the backups retention must not remove at dispatch. */
export const PruneTaskParamsSchema = PruneRequestSchema.extend({
  /** Repository ids of protected backups: kept whatever the rules say, and not counted by them. */
  protectedBackups: z.array(z.string().min(1).max(128)).max(100_000).optional(),
  /**
   * Prune the backup points of these protected objects (Microsoft 365 drives,
   * "m365:<directory>:drive:<id>"), per object, instead of VM backups; the result's groups are
   * then the object keys and its ids point ids.
   */
  objectKeys: z.array(z.string().min(1).max(300)).max(10_000).optional(),
  /** Point ids retention must keep (Microsoft 365 backups open in a mount); added at dispatch. */
  protectedPoints: z.array(z.string().min(1).max(128)).max(100_000).optional(),
});

export const GcRequestSchema = z.object({
  /**
   * Unreferenced chunks younger than this stay in any case. Not needed for safety: garbage
   * collection runs alone on the destination, and keeps what a backup whose process may still
   * run could need; the default 0 frees what failed backups left at once.
   */
  graceHours: z.number().min(0).max(24 * 365).default(0),
});

// ---- results of destination tasks (node → server, in task.result) ----------------------------

export const DestinationCheckResultSchema = z.object({
  created: z.boolean(),
  /** A probe (the form's Check) found no repository where one would be created. */
  empty: z.boolean().optional(),
  encrypted: z.boolean(),
  /** Null where the store does not say (S3). */
  freeBytes: z.number().nullable(),
  totalBytes: z.number().nullable(),
  stats: RepositoryStatsSchema,
});

export const VerifyResultSchema = z.object({
  checkedChunks: z.number().int(),
  checkedBytes: z.number(),
  /** Damaged chunks still referenced; `checkedNow: false` = found by an earlier (subset) verify, not re-checked this time. */
  problems: z.array(z.object({ chunk: z.string(), problem: z.string(), backups: z.array(z.string()), checkedNow: z.boolean().optional() })),
  affectedBackups: z.array(z.string()),
  /** Every backup whose manifest was read (absent from nodes of older versions: then the catalog is not reconciled). */
  backups: z.array(z.string()).optional(),
  damagedManifests: z.array(z.object({ backup: z.string(), detail: z.string() })).optional(),
  /** Chunks on the damaged list found intact again (a backup re-stored them). */
  healedChunks: z.number().int().optional(),
  subset: z.object({ part: z.number().int(), of: z.number().int() }).nullable().optional(),
  /** The packs of Microsoft 365 backup points (absent when the destination has none, and from older nodes). */
  points: z
    .object({
      checkedPacks: z.number().int(),
      checkedBytes: z.number(),
      /** Damaged or missing blobs still needed, with their role and every point that needs them. */
      problems: z.array(z.object({ blob: z.string(), pack: z.string().nullable(), problem: z.string(), role: z.enum(['content', 'metadata']), points: z.array(z.string()) })),
      damagedPacks: z.array(z.object({ pack: z.string(), detail: z.string(), points: z.array(z.string()) })),
      damagedPoints: z.array(z.object({ point: z.string(), detail: z.string() })),
      affectedPoints: z.array(z.string()),
      /** Every point whose manifest was read. */
      points: z.array(z.string()),
    })
    .optional(),
  stats: RepositoryStatsSchema,
});

export const PruneResultSchema = z.object({
  dryRun: z.boolean(),
  kept: z.array(z.object({ id: z.string(), createdAt: z.string(), group: z.string(), reasons: z.array(z.string()) })),
  removed: z.array(z.object({ id: z.string(), createdAt: z.string(), group: z.string() })),
  stats: RepositoryStatsSchema,
});

export const GcResultSchema = z.object({
  removedChunks: z.number().int(),
  freedBytes: z.number(),
  /** The packs of Microsoft 365 backup points (absent when the destination has none, and from older nodes). */
  packs: z.object({ deleted: z.number().int(), repacked: z.number().int(), written: z.number().int(), freedBytes: z.number() }).optional(),
  stats: RepositoryStatsSchema,
});

/** A backup point of a protected object (a Microsoft 365 drive or library) found on a destination. */
export const RepoPointSchema = z.object({
  id: z.string(),
  createdAt: z.string(),
  /** The protected object, e.g. "m365:<tenant>:drive:<drive id>". */
  objectKey: z.string(),
  kind: z.enum(['full', 'incremental']),
  items: z.number(),
  files: z.number(),
  folders: z.number(),
  /** Bytes of the files the point lists. */
  bytes: z.number(),
  /** Bytes this point added to the destination (its new packs). */
  storedBytes: z.number(),
  /** Opaque metadata written by the backup (tenant, user, drive name…). */
  source: z.unknown().optional(),
});
export type RepoPoint = z.infer<typeof RepoPointSchema>;

export const ReimportResultSchema = z.object({
  backups: z.array(RepoBackupSchema),
  /** Backup points of Microsoft 365 objects, from the point manifests alone (absent from older nodes). */
  points: z.array(RepoPointSchema).optional(),
  stats: RepositoryStatsSchema,
});
