import type { ChunkCodecPool } from './chunk-codec.pool.js';
import type { ChunkReader } from './chunk-store.js';
import type { Clock } from './clock.js';
import type { RepositoryFileSystem } from './file-system.js';
import type { ChunkIdHash } from './chunk-format.js';
import type { RepositoryKeys } from './keys.js';
import type { RetentionPlan } from './s3/retention-plan.js';
import type { LeaseManager } from './locks.js';
import type { RepositoryLogger } from './logger.js';
import type { ManifestStore } from './manifest-store.js';

/** What the maintenance operations (verify, gc, stats) need from an open repository. */
export interface RepositoryContext {
  repoPath: string;
  fs: RepositoryFileSystem;
  clock: Clock;
  logger: RepositoryLogger;
  manifests: ManifestStore;
  chunks: ChunkReader;
  leases: LeaseManager;
  /** Worker threads doing chunk CPU work. */
  threads: number;
}

/** What copying a backup between two repositories needs of each (copy.ts, Repository.copyAccess()). */
export interface CopyAccess extends RepositoryContext {
  repositoryId: string;
  /** null: an unencrypted repository. */
  keys: RepositoryKeys | null;
  /** How the repository names its chunks (two repositories with the same keys but another hash name a chunk differently). */
  chunkIdHash: ChunkIdHash;
  /** The repository's chunk codec threads (ids, compression and encryption under its keys). */
  pool: ChunkCodecPool;
  /**
   * Object stores, where the codec threads cannot look for a chunk file: every chunk id in the
   * repository, listed once. Absent on a directory (a chunk file is checked where needed).
   */
  listChunks?: () => Promise<ReadonlySet<string>>;
  /** Object lock: a new plan of retain-until dates for one backup (s3/retention-plan.ts). */
  retention?: () => RetentionPlan;
}
