/**
 * Entry of a chunk codec worker thread (started by ChunkCodecPool from its compiled .js):
 * wires the pool's messages to the codec (chunk-codec.ts) and the file side
 * (chunk-file-io.ts). Everything it needs arrives in workerData.
 */
import * as path from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { ChunkCodec, ChunkCorruptError, asBuffer, existingLooksValid } from './chunk-codec.js';
import { ChunkFileIo, ChunkIoError, writeChunkFile } from './chunk-file-io.js';
import type { ChunkWorkerData, ChunkWorkerReply, ChunkWorkerRequest, LoadRequest } from './chunk-worker.protocol.js';

if (!parentPort) throw new Error('chunk-worker.js runs only as a worker thread of ChunkCodecPool');
const port = parentPort;
const init = workerData as ChunkWorkerData;
const codec = new ChunkCodec(init);
const io = new ChunkFileIo();

function chunkFile(id: string): string {
  return path.join(init.chunksDir, id.slice(0, 2), id);
}

function reply(msg: ChunkWorkerReply, transfer: ArrayBuffer[] = []): void {
  port.postMessage(msg, transfer);
}

/** A chunk file this thread wrote itself: its memory is the next one's (no allocation per chunk). */
let ownSpare: Buffer | undefined;

function encode(seq: number, data: Uint8Array, checkExisting: boolean, spare: Uint8Array | undefined, store: { durable: boolean } | undefined): void {
  const plain = asBuffer(data);
  const idBytes = codec.id(plain);
  const id = idBytes.toString('hex');
  if (checkExisting && existingLooksValid(chunkFile(id), plain.length, codec.encrypted)) {
    reply({ seq, id, exists: true, plain }, [plain.buffer as ArrayBuffer]);
    return;
  }
  const payload = codec.encode(plain, idBytes, spare ? asBuffer(spare) : store ? ownSpare : undefined);
  if (store) {
    writeChunkFile(chunkFile(id), payload, store.durable);
    if (payload.buffer.byteLength > (ownSpare?.buffer.byteLength ?? 0)) ownSpare = Buffer.from(payload.buffer);
    reply({ seq, id, exists: false, written: payload.length, plain }, [plain.buffer as ArrayBuffer]);
    return;
  }
  reply({ seq, id, exists: false, payload, plain }, [plain.buffer as ArrayBuffer, payload.buffer as ArrayBuffer]);
}

function load(msg: LoadRequest): void {
  const file = chunkFile(msg.id);
  const keep = msg.fd === undefined && msg.discard !== true;
  // A plaintext handed back needs memory of its own; otherwise reuse this thread's buffers.
  const payload = msg.data !== undefined ? asBuffer(msg.data) : keep ? io.readOwned(file) : io.readReused(file);
  const storedBytes = payload.length;
  const plain = codec.decode(msg.id, payload, msg.verify, keep ? undefined : io.aligned);
  if (plain.length !== msg.expectedLength) {
    throw new ChunkCorruptError(`it holds ${plain.length} bytes where ${msg.expectedLength} are expected`);
  }
  if (msg.fd !== undefined) {
    const nonZeroClusters = io.writeSparse({ fd: msg.fd, directFd: msg.directFd, position: msg.position ?? 0 }, plain, msg.clusterSize);
    reply({ seq: msg.seq, storedBytes, ...(nonZeroClusters ? { nonZeroClusters } : {}) });
  } else if (msg.discard === true) {
    reply({ seq: msg.seq, storedBytes });
  } else {
    reply({ seq: msg.seq, storedBytes, plain }, [plain.buffer as ArrayBuffer]);
  }
}

function handle(msg: ChunkWorkerRequest): void {
  switch (msg.op) {
    case 'encode':
      encode(msg.seq, msg.data, msg.checkExisting, msg.spare, msg.store);
      return;
    case 'decode': {
      const plain = codec.decode(msg.id, asBuffer(msg.data), msg.verify);
      reply({ seq: msg.seq, plain }, [plain.buffer as ArrayBuffer]);
      return;
    }
    case 'load':
      load(msg);
      return;
    default: {
      const unknown = msg as { seq: number; op: unknown };
      reply({ seq: unknown.seq, error: { corrupt: false, message: `unknown op ${String(unknown.op)}` } });
    }
  }
}

port.on('message', (msg: ChunkWorkerRequest) => {
  try {
    handle(msg);
  } catch (err) {
    reply({
      seq: msg.seq,
      error: {
        corrupt: err instanceof ChunkCorruptError,
        message: err instanceof Error ? err.message : String(err),
        where: err instanceof ChunkIoError ? err.where : undefined,
        errno: err instanceof ChunkIoError ? err.errno : undefined,
      },
    });
  }
});
