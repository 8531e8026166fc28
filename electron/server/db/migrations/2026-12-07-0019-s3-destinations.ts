import type { Migration } from './migration.js';

/**
 * S3-compatible destinations (issue 19): a destination is a directory on its node or a bucket
 * (and prefix) of an object store its node reaches. The place (endpoint, region, bucket,
 * prefix, addressing, trusted CA, object lock, access key id) is kept as JSON; the secret key
 * is sealed in `secrets` like the repository password. `path` keeps how the place is shown.
 */
export const migration: Migration = {
  id: '2026-12-07-0019-s3-destinations',
  statements: [
    `ALTER TABLE destinations ADD COLUMN IF NOT EXISTS kind ENUM('directory','s3') NOT NULL DEFAULT 'directory' COMMENT 'directory: path on the node; s3: the place in s3_place' AFTER node_id`,
    `ALTER TABLE destinations ADD COLUMN IF NOT EXISTS s3_place LONGTEXT NULL COMMENT 'S3 destinations: endpoint, region, bucket, prefix, forcePathStyle, caPem, lock, accessKeyId (JSON); the secret key is in secrets' AFTER path`,
  ],
};
