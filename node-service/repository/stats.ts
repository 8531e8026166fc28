/** Repository statistics: what the backups represent versus what is stored. */
import * as path from 'node:path';
import { runBounded } from './concurrency.js';
import { isErrno, toRepositoryError } from './errors.js';
import { CHUNK_ID_RE, LAYOUT, forEachDataChunk, objectsOf, shardNames } from './format.js';
import type { RepositoryContext } from './repository-context.js';

export interface RepositoryStats {
  backups: number;
  damagedBackups: number;
  /** Sum of the disk sizes of every backup (what restoring all of them would produce). */
  logicalBytes: number;
  /** Sum of the non-zero chunks of every backup (logical minus zeros and holes). */
  dataBytes: number;
  /** Plaintext size of the distinct chunks referenced. */
  uniqueBytes: number;
  uniqueChunks: number;
  /** On-disk size of the referenced chunk files. */
  referencedStoredBytes: number;
  /** On-disk size of every chunk file, referenced or not (not yet collected). */
  chunkStoredBytes: number;
  chunkFiles: number;
  unreferencedChunks: number;
  unreferencedBytes: number;
  manifestBytes: number;
  /** Everything on disk: chunk files + manifests. */
  storedBytes: number;
  /** dataBytes / uniqueBytes. */
  dedupRatio: number;
  /** uniqueBytes / referencedStoredBytes. */
  compressionRatio: number;
  /** logicalBytes / storedBytes. */
  totalRatio: number;
}

const ratio = (a: number, b: number): number => (b > 0 ? a / b : 1);

export async function repositoryStats(ctx: RepositoryContext): Promise<RepositoryStats> {
  let logicalBytes = 0;
  let dataBytes = 0;
  const unique = new Map<string, number>();
  const { headers, damaged } = await ctx.manifests.each((m) => {
    for (const d of m.disks) {
      logicalBytes += d.size;
      forEachDataChunk(d, (slot, _i, _o, length) => {
        dataBytes += length;
        for (const o of objectsOf(slot, length)) unique.set(o.id, o.length);
      });
    }
  });
  let uniqueBytes = 0;
  for (const len of unique.values()) uniqueBytes += len;

  let chunkStoredBytes = 0;
  let referencedStoredBytes = 0;
  let chunkFiles = 0;
  let unreferencedChunks = 0;
  for (const shard of shardNames()) {
    const dir = path.join(ctx.repoPath, LAYOUT.chunks, shard);
    const names = await ctx.fs.readdir(dir).catch((err: unknown) => {
      if (isErrno(err, 'ENOENT')) return [] as string[];
      throw toRepositoryError(err, ctx.repoPath, 'listing chunks');
    });
    await runBounded(names, 32, async (name) => {
      if (!CHUNK_ID_RE.test(name)) return;
      let size: number;
      try {
        size = (await ctx.fs.stat(path.join(dir, name))).size;
      } catch (err) {
        if (isErrno(err, 'ENOENT')) return;
        throw toRepositoryError(err, ctx.repoPath, 'inspecting chunks');
      }
      chunkFiles++;
      chunkStoredBytes += size;
      if (unique.has(name)) referencedStoredBytes += size;
      else unreferencedChunks++;
    });
  }
  let manifestBytes = 0;
  for (const m of headers) {
    try {
      manifestBytes += (await ctx.fs.stat(ctx.manifests.fileOf(m.id))).size;
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw toRepositoryError(err, ctx.repoPath, 'inspecting manifests');
    }
  }
  const storedBytes = chunkStoredBytes + manifestBytes;
  return {
    backups: headers.length,
    damagedBackups: damaged.length,
    logicalBytes,
    dataBytes,
    uniqueBytes,
    uniqueChunks: unique.size,
    referencedStoredBytes,
    chunkStoredBytes,
    chunkFiles,
    unreferencedChunks,
    unreferencedBytes: chunkStoredBytes - referencedStoredBytes,
    manifestBytes,
    storedBytes,
    dedupRatio: ratio(dataBytes, uniqueBytes),
    compressionRatio: ratio(uniqueBytes, referencedStoredBytes),
    totalRatio: ratio(logicalBytes, storedBytes),
  };
}
