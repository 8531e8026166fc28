/**
 * Telling an object store from a directory without loading the S3 SDK: the directory path
 * never imports s3-file-system.ts (Repository loads it only for an S3 location).
 */
import type { RepositoryFileSystem } from '../file-system.js';
import type { S3FileSystem } from './s3-file-system.js';

export function isObjectStore(fs: RepositoryFileSystem): fs is S3FileSystem {
  return (fs as { kind?: unknown }).kind === 'object-store';
}
