/**
 * Where an S3-compatible destination lives and how to reach it (issue 19). The server keeps
 * these fields in the catalog (the secret key sealed like every other secret) and injects
 * them, with the decrypted secret, into every task on the destination as
 * `repository: { path: <displayName>, password?, s3: S3Repository }`; the node opens the
 * repository with them (node-service/repository: `Repository.open({ s3 })`).
 *
 * The repository's files map to keys under `prefix` (FORMAT.md, "Object stores").
 */
import { z } from 'zod';

/** Object lock modes (S3 ObjectLockMode); chosen per destination. */
export const S3_LOCK_MODES = ['governance', 'compliance'] as const;
export type S3LockMode = (typeof S3_LOCK_MODES)[number];

/** S3 bucket names (AWS rules; other stores accept a subset of what this lets through). */
export const S3_BUCKET_RE = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

export const S3LockSchema = z.object({
  mode: z.enum(S3_LOCK_MODES),
  /** Every object a backup needs stays locked at least this many days after the backup. */
  days: z.number().int().min(1, 'lock days must be at least 1').max(36_500, 'lock days must be at most 36500'),
});
export type S3Lock = z.infer<typeof S3LockSchema>;

/** The destination's place, without credentials: what the catalog and the API show. */
export const S3PlaceSchema = z.object({
  /** e.g. https://s3.eu-central-1.wasabisys.com or https://127.0.0.1:7480; absent: AWS, from `region`. */
  endpoint: z.string().url('endpoint must be a URL such as https://s3.example.com').max(1024).optional(),
  region: z.string().min(1).max(64).default('us-east-1'),
  bucket: z.string().regex(S3_BUCKET_RE, 'bucket must be 3-63 characters: lower-case letters, digits, "." and "-"'),
  /** Key prefix of the repository inside the bucket, without leading or trailing "/" ("" = the bucket's root). */
  prefix: z
    .string()
    .max(512)
    .regex(/^(?:[A-Za-z0-9._-]+(?:\/[A-Za-z0-9._-]+)*)?$/, 'prefix may contain letters, digits, ".", "_", "-" and "/" between names')
    .default(''),
  /** Path-style addressing (https://host/bucket/key) instead of virtual-host (https://bucket.host/key); MinIO and Ceph usually want it. */
  forcePathStyle: z.boolean().default(false),
  /** A PEM CA bundle to trust for the endpoint's certificate (a private CA); absent: the system's CAs. */
  caPem: z.string().max(65_536).optional(),
  /** Object lock: the bucket must have it enabled. */
  lock: S3LockSchema.optional(),
});
export type S3Place = z.infer<typeof S3PlaceSchema>;

export const S3CredentialsSchema = z.object({
  accessKeyId: z.string().min(1, 'give the access key').max(256),
  secretAccessKey: z.string().min(1, 'give the secret key').max(1024),
});
export type S3Credentials = z.infer<typeof S3CredentialsSchema>;

/** What a node gets to open the repository. */
export const S3RepositorySchema = S3PlaceSchema.extend(S3CredentialsSchema.shape);
export type S3Repository = z.infer<typeof S3RepositorySchema>;

/** How a place is shown to people: "s3://bucket/prefix" (at the endpoint when not AWS). */
export function s3DisplayName(place: Pick<S3Place, 'endpoint' | 'bucket' | 'prefix'>): string {
  const where = `s3://${place.bucket}${place.prefix ? `/${place.prefix}` : ''}`;
  return place.endpoint ? `${where} at ${place.endpoint}` : where;
}
