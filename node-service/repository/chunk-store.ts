/**
 * Reading chunk files back: read, decrypt, decompress, and (when asked) re-hash, with typed
 * errors naming the chunk. The reading itself happens in the worker threads (node:fs
 * directly, not the filesystem adapter): it saves a copy and a thread-pool round trip per chunk.
 */
import * as path from 'node:path';
import { ChunkDecodeError, type ChunkCodecPool, type LoadedChunk } from './chunk-codec.pool.js';
import { ChunkCorruptError, ChunkMissingError, RestoreTargetError, toRepositoryError } from './errors.js';
import { chunkRelPath } from './format.js';

export interface FetchedChunk {
  plain: Buffer;
  storedBytes: number;
}

export class ChunkReader {
  constructor(
    private readonly repoPath: string,
    private readonly pool: () => ChunkCodecPool,
    /** Encrypted chunks are authenticated by AES-GCM (the id is in the AAD); plain ones must be re-hashed. */
    private readonly authenticated: boolean,
  ) {}

  fileOf(id: string): string {
    return path.join(this.repoPath, chunkRelPath(id));
  }

  /**
   * Returns the chunk's plaintext. `expectedLength` guards against a chunk of the wrong size;
   * `verify` forces a re-hash even where AES-GCM already authenticated the content.
   */
  async fetch(id: string, expectedLength: number, verify = false): Promise<FetchedChunk> {
    const r = await this.load(id, expectedLength, verify);
    if (!r.plain) throw new Error('chunk worker returned no data');
    return { plain: r.plain, storedBytes: r.storedBytes };
  }

  /** Reads, decodes and re-hashes a chunk without returning it (verify); returns the file size. */
  async check(id: string, expectedLength: number): Promise<number> {
    return (await this.load(id, expectedLength, true, undefined, true)).storedBytes;
  }

  /**
   * Decodes a chunk straight into the restore target at `position`, skipping all-zero blocks
   * (the target must read as zeros there); reports which `clusterSize` clusters of the chunk
   * hold data (one byte each, 1 = data): a qcow2 restore leaves the all-zero ones unallocated.
   */
  async writeClustersTo(
    id: string,
    expectedLength: number,
    out: { fd: number; directFd?: number | undefined; position: number; target: string; clusterSize: number },
  ): Promise<Uint8Array> {
    const r = await this.load(id, expectedLength, false, out);
    if (!r.nonZeroClusters) throw new Error('chunk worker returned no cluster map');
    return r.nonZeroClusters;
  }

  /** Reading and decoding happen in a worker thread; its errors become typed errors here. */
  private async load(
    id: string,
    expectedLength: number,
    verify: boolean,
    out?: { fd: number; directFd?: number | undefined; position: number; target: string; clusterSize?: number },
    discard = false,
  ): Promise<LoadedChunk> {
    const file = this.fileOf(id);
    try {
      return await this.pool().load(id, {
        verify: verify || !this.authenticated,
        expectedLength,
        ...(out ? { fd: out.fd, position: out.position, ...(out.directFd === undefined ? {} : { directFd: out.directFd }), ...(out.clusterSize === undefined ? {} : { clusterSize: out.clusterSize }) } : {}),
        discard,
      });
    } catch (err) {
      if (!(err instanceof ChunkDecodeError)) throw err;
      if (err.corrupt) throw new ChunkCorruptError(file, id, err.message);
      const cause = Object.assign(new Error(err.message), { code: err.errno });
      if (err.where === 'write' && out) throw new RestoreTargetError(out.target, `restoring chunk ${id.slice(0, 12)}…`, cause);
      if (err.errno === 'ENOENT') throw new ChunkMissingError(file, id);
      throw toRepositoryError(cause, this.repoPath, `reading chunk ${id}`);
    }
  }
}
