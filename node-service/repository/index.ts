/** Public API of the repository library (backup destination format v1, see FORMAT.md). */
export { Repository } from './repository.js';
export type {
  BackupInfo,
  InitOptions,
  OpenOptions,
  PruneItem,
  PruneOptions,
  PruneReport,
  RepositoryDeps,
  RepositoryLocation,
  StartBackupOptions,
} from './repository.js';
export { BackupWriter } from './backup-writer.js';
export { incrementalReadBytes } from './overlay-plan.js';
export type { DiskProgress, IncrementalChanges, WriteDiskOptions } from './backup-writer.js';
export { copyBackup } from './copy.js';
export type { CopyOptions, CopyProgress, CopyReport } from './copy.js';
export { BackupReader } from './backup-reader.js';
export type { RestoreProgress, RestoreResult } from './backup-reader.js';
export { alignToChunks, dirtyChunkMap, openFileSource } from './disk-source.js';
export type { DiskExtent, DiskSource, ExtentSource, FileSource, RandomAccessSource, StreamSource } from './disk-source.js';
export type { VerifyOptions, VerifyProblem, VerifyProgress, VerifyReport } from './verify.js';
export { DEFAULT_GC_GRACE_MS } from './gc.js';
export type { GcOptions, GcReport } from './gc.js';
export type { RepositoryStats } from './stats.js';
export { applyRetention, parseRetentionSpec } from './retention.js';
export type { RetentionDecision, RetentionPolicy } from './retention.js';
export { checkDestination } from './destination-check.js';
export type { DestinationCheck } from './destination-check.js';
export { systemClock } from './clock.js';
export type { Clock } from './clock.js';
export { NodeFileSystem } from './file-system.js';
export type { FileStat, ReadableFile, RepositoryFileSystem, WritableFile, WriteOptions } from './file-system.js';
export type { S3FileSystem } from './s3/s3-file-system.js';
export type { RepositoryLogger } from './logger.js';
export { DEFAULT_CHUNK_SIZE, DEFAULT_COMPRESSION_LEVEL, FORMAT_VERSION } from './format.js';
export type { BackupManifest, BackupSummary, ByteRange, ChunkEntry, DiskManifest, JsonValue } from './format.js';
export * from './errors.js';
export { PointWriter } from './packs/point-writer.js';
export { ObjectLogError, decodeObjectLog, encodeObjectLog } from './packs/object-log.js';
export type { LogClosure, LogEnd, LogEntry, LogPoint, LogVersion } from './packs/object-log.js';
export type { ByteSource, PointWriteStats, StartPointOptions, StoredContent } from './packs/point-writer.js';
export { Points } from './packs/points.js';
export type { PointInfo, PointPruneOptions, PointPruneReport } from './packs/points.js';
export type { PointManifest, StoredObject } from './packs/pack-format.js';
export type { PackGcOptions, PackGcReport } from './packs/pack-gc.js';
export type { BlobProblem, BlobRole, PackVerifyReport } from './packs/pack-verify.js';
export { BlobCorruptError, BlobMissingError, PointCorruptError, PointExistsError, PointGcRaceError, PointNotFoundError } from './packs/pack-errors.js';
