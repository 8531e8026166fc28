/**
 * The messages between ChunkCodecPool (chunk-codec.pool.ts) and its worker threads
 * (chunk-worker.ts). Buffers cross as transferred ArrayBuffers (they arrive as Uint8Array),
 * never copied.
 */

import type { ChunkIdHash } from './chunk-format.js';

/** The worker's `workerData`. */
export interface ChunkWorkerData {
  chunkIdHash: ChunkIdHash;
  chunkIdKey: Uint8Array | null;
  chunkKey: Uint8Array | null;
  compressionLevel: number;
  /** The repository's chunks/ directory. */
  chunksDir: string;
}

/** Hash `data`; unless `checkExisting` finds a fitting chunk file for that id, compress and encrypt it. */
export interface EncodeRequest {
  op: 'encode';
  seq: number;
  data: Uint8Array;
  checkExisting: boolean;
  /** A chunk file buffer the caller is done with, to write the result into (saves an allocation). */
  spare?: Uint8Array | undefined;
  /** Write the chunk file here (writeChunkFile) instead of returning it; `durable`: fdatasync it. */
  store?: { durable: boolean } | undefined;
}

/** Decode chunk file `data` stored as `id`. */
export interface DecodeRequest {
  op: 'decode';
  seq: number;
  id: string;
  data: Uint8Array;
  verify: boolean;
}

/** Read chunk `id` in the worker, decode it, check its length; then write it to `fd` (restore), drop it (`discard`: verify) or return it. */
export interface LoadRequest {
  op: 'load';
  seq: number;
  id: string;
  verify: boolean;
  expectedLength: number;
  fd?: number | undefined;
  directFd?: number | undefined;
  position?: number | undefined;
  discard?: boolean | undefined;
  /** With `fd`: report which clusters of this size (a multiple of 4 KiB) hold data (reply.nonZeroClusters). */
  clusterSize?: number | undefined;
  /** The chunk's stored bytes, when the main thread fetched them (object stores); absent: read the chunk file. */
  data?: Uint8Array | undefined;
}

export type ChunkWorkerRequest = EncodeRequest | DecodeRequest | LoadRequest;

export interface ChunkWorkerError {
  /** The chunk itself is bad (as opposed to an I/O or internal failure). */
  corrupt: boolean;
  message: string;
  where?: 'read' | 'write' | undefined;
  errno?: string | undefined;
}

/** One reply per request, with its `seq`: `error`, or the fields of its op. */
export interface ChunkWorkerReply {
  seq: number;
  /** encode: the id (hex), whether a fitting file exists, the chunk file (unless it exists) and the plaintext handed back. */
  id?: string;
  exists?: boolean;
  payload?: Uint8Array;
  /** encode with `store`: the size of the chunk file it wrote. */
  written?: number;
  /** encode, decode, load (unless written or discarded). */
  plain?: Uint8Array;
  /** load: size of the chunk file. */
  storedBytes?: number;
  /** load with `clusterSize`: one byte per cluster of the chunk, 1 where it holds data. */
  nonZeroClusters?: Uint8Array;
  error?: ChunkWorkerError;
}
