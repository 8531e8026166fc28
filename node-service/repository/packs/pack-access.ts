/**
 * What the pack layer needs of an open repository (Repository.packAccess()), and the keys it
 * derives. Blobs are chunk envelopes: the same keyed id (so a blob and a chunk of equal
 * content have equal ids) and the same content key; the pack layer's own files (pack
 * headers, index, point manifests) are sealed with a key of their own, derived from the
 * manifest key, and content-defined chunking uses a secret gear table so blob sizes do not
 * fingerprint known files.
 */
import { createHash, hkdfSync } from 'node:crypto';
import { ChunkCodec } from '../chunk-codec.js';
import type { Clock } from '../clock.js';
import type { RepositoryFileSystem } from '../file-system.js';
import type { RepositoryKeys } from '../keys.js';
import type { LeaseManager } from '../locks.js';
import type { ChunkIdHash } from '../chunk-format.js';
import type { RepositoryLogger } from '../logger.js';

export interface PackAccess {
  repoPath: string;
  repositoryId: string;
  fs: RepositoryFileSystem;
  clock: Clock;
  logger: RepositoryLogger;
  leases: LeaseManager;
  /** null: an unencrypted repository. */
  keys: RepositoryKeys | null;
  chunkIdHash: ChunkIdHash;
  compressionLevel: number;
}

export interface PackKeys {
  /** Seals pack headers, index files and point manifests; null when unencrypted. */
  sealKey: Buffer | null;
  /** 32 bytes seeding the content-defined chunker's gear table. */
  gearSeed: Buffer;
}

export function derivePackKeys(access: Pick<PackAccess, 'keys' | 'repositoryId'>): PackKeys {
  const salt = Buffer.from(access.repositoryId, 'utf8');
  const keys = access.keys;
  if (!keys) return { sealKey: null, gearSeed: createHash('sha256').update(`vplus/packs/v1/cdc-gear:${access.repositoryId}`).digest() };
  return {
    sealKey: Buffer.from(hkdfSync('sha256', keys.manifestKey, salt, 'vplus/packs/v1/sealed-files', 32)),
    gearSeed: Buffer.from(hkdfSync('sha256', keys.chunkIdKey, salt, 'vplus/packs/v1/cdc-gear', 32)),
  };
}

/** The blob codec: the chunk codec (ids, zstd, AES-256-GCM), run on the calling thread. */
export function blobCodec(access: Pick<PackAccess, 'keys' | 'chunkIdHash' | 'compressionLevel'>): ChunkCodec {
  return new ChunkCodec({ chunkIdHash: access.chunkIdHash, chunkIdKey: access.keys?.chunkIdKey ?? null, chunkKey: access.keys?.chunkKey ?? null, compressionLevel: access.compressionLevel });
}
