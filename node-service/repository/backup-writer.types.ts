/**
 * What a BackupWriter works with and is asked for (backup-writer.ts): its context from the
 * repository, its options, and each disk's options and progress.
 */
import type { ChunkCodecPool } from './chunk-codec.pool.js';
import type { Clock } from './clock.js';
import type { RepositoryFileSystem } from './file-system.js';
import type { BackupManifest, ByteRange, JsonValue } from './format.js';
import type { RepositoryLogger } from './logger.js';
import type { ManifestStore } from './manifest-store.js';
import type { RetentionPlan } from './s3/retention-plan.js';

export interface WriterContext {
  repoPath: string;
  repositoryId: string;
  defaultChunkSize: number;
  fs: RepositoryFileSystem;
  clock: Clock;
  logger: RepositoryLogger;
  pool: ChunkCodecPool;
  manifests: ManifestStore;
  readGcEpoch(): Promise<string | null>;
  /** Chunks verify found damaged or missing: never reused, re-stored when their data comes again. */
  damaged: ReadonlySet<string>;
  /**
   * Object stores: the chunks listed at the start of the backup (the worker threads cannot
   * look at the store). Absent on a directory, where the worker checks the chunk file itself.
   */
  knownChunks?: ReadonlySet<string>;
  /** Object lock: the retain-until dates of what this backup writes and reuses (s3/retention-plan.ts). */
  retention?: RetentionPlan;
  /**
   * The repository's default for WriteDiskOptions.partialChunks. Object stores say 'read': the
   * previous backup's chunk would be a GET (a round trip, a billed request, work for the store).
   */
  partialChunks?: 'patch' | 'read';
  /** A local directory: the codec workers write the chunk files themselves (RepositoryFileSystem.threadWrites). */
  chunkWrites?: { durable: boolean } | undefined;
}

export interface BackupWriterOptions {
  id: string;
  group: string;
  source: JsonValue;
  /** Chunks processed concurrently (bounds memory: about 2 × this × chunk size). */
  maxInFlight: number;
  gcEpoch: string | null;
}

export interface DiskProgress {
  disk: string;
  /** Bytes of the disk accounted for so far (read, skipped as zero, or reused). */
  bytesDone: number;
  bytesTotal: number;
  /** Bytes actually read from the source. */
  readBytes: number;
  /** Plaintext bytes of new chunks stored. */
  newBytes: number;
}

export interface IncrementalChanges {
  /** The previous backup of this disk, from this repository. */
  previous: BackupManifest;
  /** Byte ranges written since `previous` (e.g. a dirty bitmap); everything else is reused unread. */
  dirty: readonly ByteRange[];
  /** The disk's name in `previous`, if it differs. */
  previousDisk?: string;
}

export interface WriteDiskOptions {
  changes?: IncrementalChanges;
  /** Chunk size for a disk without `changes` (default: the repository's). */
  chunkSize?: number;
  /** Called as chunks complete, at most every `progressIntervalMs` and once at the end. */
  onProgress?: (progress: DiskProgress) => void;
  progressIntervalMs?: number;
  /**
   * A chunk of an incremental that changed in part (less than half) and a random-access source:
   * 'patch' (default; 'read' on an object store) rebuilds it from the previous backup's chunk
   * with only the dirty ranges read from the source; 'read' reads it whole from the source
   * (but a chunk that was zero is patched either way: there is nothing to load). Same chunk
   * either way; 'read' costs source reads, 'patch' a chunk load from the repository (read,
   * decrypt, decompress, re-hash). Used where an overlay cannot be. See FORMAT.md "Partly
   * changed chunks".
   */
  partialChunks?: 'patch' | 'read';
  /**
   * A chunk of an incremental that changed in part and a random-access source: stored as an
   * overlay of the previous backup's chunk (only the changed ranges are read and stored;
   * default) where OVERLAY_MAX_PARTS allows, else as `partialChunks` says. False: never.
   */
  overlays?: boolean;
}
