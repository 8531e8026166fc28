/**
 * A small pool of worker threads doing the CPU work on chunks (hash + zstd + AES-GCM one
 * way, the reverse plus a re-hash the other), so a backup or restore uses every core while
 * the main thread only moves bytes. Buffers are transferred, not copied. The threads run the
 * compiled chunk-worker.js (see chunkWorkerUrl).
 */
import { statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { ChunkIdHash } from './chunk-format.js';
import type { RepositoryKeys } from './keys.js';
import type { ChunkWorkerData, ChunkWorkerReply, ChunkWorkerRequest } from './chunk-worker.protocol.js';

export interface EncodedChunk {
  id: string;
  /** True when a chunk file with this id already exists: nothing was compressed or encrypted. */
  exists: boolean;
  /** The chunk file's bytes (absent when `exists`, or when the worker wrote the file: `written`). */
  payload?: Buffer;
  /** With `store`: the worker wrote the chunk file, of this many bytes. */
  written?: number;
  /** The plaintext buffer, handed back so the caller can reuse it. */
  plain: Buffer;
}

export class ChunkDecodeError extends Error {
  constructor(
    message: string,
    readonly corrupt: boolean,
    /** Set when reading the chunk file ('read') or writing the output ('write') failed. */
    readonly where?: 'read' | 'write',
    /** The errno code of that failure, e.g. ENOENT. */
    readonly errno?: string,
  ) {
    super(message);
    this.name = 'ChunkDecodeError';
  }
}

export interface LoadedChunk {
  /** The plaintext, unless it was written to a file descriptor. */
  plain?: Buffer;
  /** Size of the chunk file. */
  storedBytes: number;
  /** Written with `clusterSize`: one byte per cluster, 1 where it holds data. */
  nonZeroClusters?: Uint8Array;
}

export interface ChunkCodecPoolOptions {
  threads: number;
  chunksDir: string;
  keys: RepositoryKeys | null;
  chunkIdHash: ChunkIdHash;
  compressionLevel: number;
  /**
   * Object stores: the chunk object's bytes, fetched by this (main) thread and transferred to
   * the worker, which then decodes them as it would a file it read. Absent: the worker reads
   * the chunk file from `chunksDir` itself. A missing chunk rejects with an error whose code is ENOENT.
   */
  readChunk?: (id: string) => Promise<Buffer>;
}

interface Pending {
  resolve: (msg: ChunkWorkerReply) => void;
  reject: (err: Error) => void;
}

interface Slot {
  worker: Worker;
  pending: Map<number, Pending>;
}

/** A request before call() numbers it. */
type WithoutSeq<T> = T extends unknown ? Omit<T, 'seq'> : never;

function asBuffer(u8: Uint8Array): Buffer {
  return Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength);
}

/** A buffer that owns its whole (non-shared) ArrayBuffer can be transferred without a copy. */
function transferable(buf: Buffer): Buffer {
  if (buf.byteOffset === 0 && buf.byteLength === buf.buffer.byteLength && buf.buffer instanceof ArrayBuffer) return buf;
  const copy = Buffer.allocUnsafeSlow(buf.length);
  buf.copy(copy);
  return copy;
}

/** The modules a worker thread loads: from the TypeScript sources, their compiled files must not be older. */
const WORKER_MODULES = ['chunk-worker', 'chunk-codec', 'chunk-file-io', 'chunk-format'];

/**
 * The compiled worker entry. Beside this module when it is itself compiled (dist/, or the
 * standalone build of the repository library); when it runs from the TypeScript sources
 * (vitest), the one `npm run build` put in dist/, which must exist and be up to date —
 * a worker thread cannot load TypeScript.
 */
export function chunkWorkerUrl(moduleUrl: string = import.meta.url): URL {
  if (!moduleUrl.endsWith('.ts')) {
    const url = new URL('./chunk-worker.js', moduleUrl);
    if (!statSync(url, { throwIfNoEntry: false })?.isFile()) {
      throw new Error(`the chunk codec worker ${fileURLToPath(url)} is missing: the installation is incomplete (rebuild with npm run build)`);
    }
    return url;
  }
  const compiledDir = new URL('../../dist/node-service/repository/', moduleUrl);
  for (const name of WORKER_MODULES) {
    const compiled = new URL(`${name}.js`, compiledDir);
    const compiledAt = statSync(compiled, { throwIfNoEntry: false })?.mtimeMs;
    if (compiledAt === undefined) {
      throw new Error(`the chunk codec worker is not compiled (${fileURLToPath(compiled)} is missing): run npm run build`);
    }
    if (statSync(new URL(`./${name}.ts`, moduleUrl)).mtimeMs > compiledAt) {
      throw new Error(`the compiled chunk codec worker is out of date (${name}.ts changed since ${fileURLToPath(compiled)} was built): run npm run build`);
    }
  }
  return new URL('chunk-worker.js', compiledDir);
}

export class ChunkCodecPool {
  private readonly slots: Slot[] = [];
  private seq = 0;
  private closed = false;

  /** Resolved (and checked) up front: a missing worker file would otherwise fail every spawn, over and over. */
  private readonly workerUrl = chunkWorkerUrl();

  constructor(private readonly options: ChunkCodecPoolOptions) {
    const threads = Math.max(1, Math.floor(options.threads));
    for (let i = 0; i < threads; i++) this.slots.push(this.spawn());
  }

  get threads(): number {
    return this.slots.length;
  }

  /**
   * Hashes `plain` and, unless a chunk with that id is already stored, compresses and encrypts
   * it. The buffer is transferred, and so is `spare` (a chunk file of an earlier encode the
   * caller is done with), which the result is written into when it fits: a backup then reuses
   * a few chunk file buffers instead of making the main thread collect one per chunk.
   */
  async encode(plain: Buffer, checkExisting: boolean, spare?: Buffer, store?: { durable: boolean }): Promise<EncodedChunk> {
    const data = transferable(plain);
    const transfer = [data.buffer as ArrayBuffer];
    const whole = spare && spare.buffer instanceof ArrayBuffer && !transfer.includes(spare.buffer) ? new Uint8Array(spare.buffer) : undefined;
    if (whole) transfer.push(whole.buffer);
    const reply = await this.call({ op: 'encode', data, checkExisting, ...(whole ? { spare: whole } : {}), ...(store ? { store } : {}) }, transfer);
    if (reply.id === undefined || reply.plain === undefined) throw new Error('chunk worker sent an incomplete reply');
    return {
      id: reply.id,
      exists: reply.exists === true,
      ...(reply.payload ? { payload: asBuffer(reply.payload) } : {}),
      ...(reply.written !== undefined ? { written: reply.written } : {}),
      plain: asBuffer(reply.plain),
    };
  }

  /** Decrypts and decompresses a chunk file; with `verify` also re-hashes it against its id. The buffer is transferred. */
  async decode(id: string, payload: Buffer, verify: boolean): Promise<Buffer> {
    const data = transferable(payload);
    const reply = await this.call({ op: 'decode', id, data, verify }, [data.buffer as ArrayBuffer]);
    if (reply.plain === undefined) throw new Error('chunk worker sent an incomplete reply');
    return asBuffer(reply.plain);
  }

  /**
   * Reads chunk `id` from the repository in the worker thread, decodes it (re-hashing with
   * `verify`), checks its length, and either returns the plaintext or, with `fd`, writes its
   * non-zero blocks at `position` there (restore without copying through the main thread;
   * `directFd`, the same file opened O_DIRECT, takes the block-aligned part).
   */
  async load(
    id: string,
    options: { verify: boolean; expectedLength: number; fd?: number; directFd?: number; position?: number; discard?: boolean; clusterSize?: number },
  ): Promise<LoadedChunk> {
    let data: Buffer | undefined;
    if (this.options.readChunk) {
      try {
        data = transferable(await this.options.readChunk(id));
      } catch (err) {
        if ((err as { code?: unknown } | null)?.code !== 'ENOENT') throw err;
        throw new ChunkDecodeError(`chunk ${id} does not exist`, false, 'read', 'ENOENT');
      }
    }
    const reply = await this.call({ op: 'load', id, ...options, ...(data ? { data } : {}) }, data ? [data.buffer as ArrayBuffer] : []);
    if (reply.storedBytes === undefined) throw new Error('chunk worker sent an incomplete reply');
    return {
      storedBytes: reply.storedBytes,
      ...(reply.plain ? { plain: asBuffer(reply.plain) } : {}),
      ...(reply.nonZeroClusters ? { nonZeroClusters: reply.nonZeroClusters } : {}),
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }

  private spawn(): Slot {
    const { keys } = this.options;
    const workerData: ChunkWorkerData = {
      chunkIdHash: this.options.chunkIdHash,
      chunkIdKey: keys?.chunkIdKey ?? null,
      chunkKey: keys?.chunkKey ?? null,
      compressionLevel: this.options.compressionLevel,
      chunksDir: this.options.chunksDir,
    };
    const worker = new Worker(this.workerUrl, { workerData });
    // An idle pool must not keep the process alive; a busy one must (see call()).
    worker.unref();
    const slot: Slot = { worker, pending: new Map() };
    worker.on('message', (msg: ChunkWorkerReply) => {
      const p = slot.pending.get(msg.seq);
      if (!p) return;
      slot.pending.delete(msg.seq);
      if (slot.pending.size === 0) worker.unref();
      if (msg.error) p.reject(new ChunkDecodeError(msg.error.message, msg.error.corrupt, msg.error.where, msg.error.errno));
      else p.resolve(msg);
    });
    const failAll = (err: Error): void => {
      for (const p of slot.pending.values()) p.reject(err);
      slot.pending.clear();
      const i = this.slots.indexOf(slot);
      if (i >= 0 && !this.closed) this.slots[i] = this.spawn();
    };
    worker.on('error', (err) => failAll(err));
    worker.on('exit', (code) => {
      if (!this.closed) failAll(new Error(`chunk worker exited with code ${code}`));
    });
    return slot;
  }

  private call(msg: WithoutSeq<ChunkWorkerRequest>, transfer: ArrayBuffer[]): Promise<ChunkWorkerReply> {
    if (this.closed) return Promise.reject(new Error('chunk codec pool is closed'));
    let best = this.slots[0];
    for (const s of this.slots) if (best === undefined || s.pending.size < best.pending.size) best = s;
    if (best === undefined) return Promise.reject(new Error('chunk codec pool has no workers'));
    const slot = best;
    const seq = ++this.seq;
    return new Promise<ChunkWorkerReply>((resolve, reject) => {
      if (slot.pending.size === 0) slot.worker.ref();
      slot.pending.set(seq, { resolve, reject });
      slot.worker.postMessage({ ...msg, seq }, transfer);
    });
  }
}
