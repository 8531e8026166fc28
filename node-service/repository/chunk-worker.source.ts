/**
 * Source of the chunk codec worker thread: hash, compress, encrypt (encode) and decrypt,
 * decompress, re-hash (decode). It is plain CommonJS evaluated with `new Worker(src, { eval:
 * true })`, so the same code runs from the TypeScript sources (tests) and from dist/, with no
 * loader. This is the only implementation of the chunk file layout (FORMAT.md "Chunk files");
 * keep the two in step. Everything it needs arrives in workerData.
 */
export const CHUNK_WORKER_SOURCE = String.raw`
'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const zstd = require(workerData.zstdBindingPath);

const MAGIC = Buffer.from('VPCK', 'latin1');
const VERSION = 1;
const HEADER = 12;
const NONCE = 12;
const TAG = 16;
const F_ZSTD = 1;
const F_ENC = 2;

const idKey = workerData.chunkIdKey ? Buffer.from(workerData.chunkIdKey) : null;
const encKey = workerData.chunkKey ? Buffer.from(workerData.chunkKey) : null;
const level = workerData.level;
const chunksDir = workerData.chunksDir;
const cctx = new zstd.CCtx();
const dctx = new zstd.DCtx();
let scratch = Buffer.alloc(0);
// Reused by load() when the plaintext stays in this thread (restore, verify): no fresh
// memory, so no page faults, per chunk.
let readBuf = Buffer.alloc(0);
let alignedBuf = Buffer.alloc(0);
// O_DIRECT wants block-aligned memory; a WebAssembly memory starts on a page boundary.
const BLOCK = 4096;
const ZERO_BLOCK = Buffer.alloc(BLOCK);

class Corrupt extends Error {}

function asBuffer(u8) {
  return Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength);
}

// A buffer that owns its whole ArrayBuffer can be transferred back without a copy.
function owned(buf) {
  if (buf.byteOffset === 0 && buf.byteLength === buf.buffer.byteLength) return buf;
  const copy = Buffer.allocUnsafeSlow(buf.length);
  buf.copy(copy);
  return copy;
}

function idOf(buf) {
  const h = idKey ? crypto.createHmac('sha256', idKey) : crypto.createHash('sha256');
  return h.update(buf).digest();
}

function header(flags, plainLength) {
  const h = Buffer.alloc(HEADER);
  MAGIC.copy(h, 0);
  h[4] = VERSION;
  h[5] = flags;
  h.writeUInt32LE(plainLength, 8);
  return h;
}

function encode(plain, checkExisting) {
  const idBuf = idOf(plain);
  const id = idBuf.toString('hex');
  if (checkExisting && existingLooksValid(path.join(chunksDir, id.slice(0, 2), id), plain.length)) {
    return { id, exists: true, plain };
  }
  let body = plain;
  let flags = 0;
  if (level > 0) {
    const bound = zstd.compressBound(plain.length);
    if (scratch.length < bound) scratch = Buffer.allocUnsafeSlow(bound);
    const n = cctx.compress(scratch, plain, level);
    // Incompressible data is stored raw: restore then skips decompression.
    if (n < plain.length) {
      body = scratch.subarray(0, n);
      flags |= F_ZSTD;
    }
  }
  if (encKey) flags |= F_ENC;
  const h = header(flags, plain.length);
  let out;
  if (encKey) {
    const nonce = crypto.randomBytes(NONCE);
    const c = crypto.createCipheriv('aes-256-gcm', encKey, nonce);
    c.setAAD(Buffer.concat([h, idBuf]));
    out = Buffer.allocUnsafeSlow(HEADER + NONCE + body.length + TAG);
    h.copy(out, 0);
    nonce.copy(out, HEADER);
    let off = HEADER + NONCE;
    const ct = c.update(body);
    off += ct.copy(out, off);
    const fin = c.final();
    off += fin.copy(out, off);
    c.getAuthTag().copy(out, off);
  } else {
    out = Buffer.allocUnsafeSlow(HEADER + body.length);
    h.copy(out, 0);
    body.copy(out, HEADER);
  }
  return { id, exists: false, payload: out, plain };
}

// Before deduplicating against an existing chunk file: its header and size must fit the
// plaintext (catches truncated, zeroed or foreign files for the cost of a 12-byte read).
// A file that does not fit is written again under the same id (rename over it).
function existingLooksValid(file, plainLength) {
  let fd;
  try {
    fd = fs.openSync(file, 'r');
  } catch {
    return false;
  }
  try {
    const size = fs.fstatSync(fd).size;
    const h = Buffer.alloc(HEADER);
    if (fs.readSync(fd, h, 0, HEADER, 0) !== HEADER) return false;
    if (!h.subarray(0, 4).equals(MAGIC) || h[4] !== VERSION) return false;
    const flags = h[5];
    if ((flags & ~(F_ZSTD | F_ENC)) !== 0 || Boolean(flags & F_ENC) !== Boolean(encKey)) return false;
    if (h.readUInt32LE(8) !== plainLength) return false;
    const overhead = HEADER + (encKey ? NONCE + TAG : 0);
    return flags & F_ZSTD ? size > overhead && size < overhead + plainLength : size === overhead + plainLength;
  } catch {
    return false;
  } finally {
    fs.closeSync(fd);
  }
}

function alignedBuffer(n) {
  if (alignedBuf.length < n) {
    const pages = Math.ceil(n / 65536);
    alignedBuf = Buffer.from(new WebAssembly.Memory({ initial: pages, maximum: pages }).buffer, 0, pages * 65536);
  }
  return alignedBuf.subarray(0, n);
}

// With 'into' (n => Buffer), the plaintext goes into memory this thread reuses and may alias
// 'payload'; without, it is a buffer of its own that can be transferred.
function decode(id, payload, verify, into) {
  if (payload.length < HEADER || !payload.subarray(0, 4).equals(MAGIC)) throw new Corrupt('not a chunk file');
  if (payload[4] !== VERSION) throw new Corrupt('unknown chunk format version ' + payload[4]);
  const flags = payload[5];
  if ((flags & ~(F_ZSTD | F_ENC)) !== 0) throw new Corrupt('unknown flags');
  const plainLength = payload.readUInt32LE(8);
  const encrypted = (flags & F_ENC) !== 0;
  if (encrypted !== (encKey !== null)) {
    throw new Corrupt(encrypted ? 'encrypted chunk in an unencrypted repository' : 'unencrypted chunk in an encrypted repository');
  }
  const idBuf = Buffer.from(id, 'hex');
  let body;
  if (encrypted) {
    if (payload.length < HEADER + NONCE + TAG) throw new Corrupt('truncated');
    const d = crypto.createDecipheriv('aes-256-gcm', encKey, payload.subarray(HEADER, HEADER + NONCE));
    d.setAAD(Buffer.concat([payload.subarray(0, HEADER), idBuf]));
    d.setAuthTag(payload.subarray(payload.length - TAG));
    body = d.update(payload.subarray(HEADER + NONCE, payload.length - TAG));
    try {
      d.final();
    } catch (err) {
      throw new Corrupt('authentication failed (damaged, tampered with, or stored under the wrong id)');
    }
  } else {
    body = payload.subarray(HEADER);
  }
  let plain;
  if ((flags & F_ZSTD) !== 0) {
    plain = into ? into(plainLength) : Buffer.allocUnsafeSlow(plainLength);
    let n;
    try {
      n = dctx.decompress(plain, body);
    } catch (err) {
      throw new Corrupt('decompression failed: ' + err.message);
    }
    if (n !== plainLength) throw new Corrupt('decompressed length ' + n + ', header says ' + plainLength);
  } else {
    if (body.length !== plainLength) throw new Corrupt('length ' + body.length + ', header says ' + plainLength);
    plain = into ? body : owned(body);
  }
  if (verify && !idOf(plain).equals(idBuf)) throw new Corrupt('content does not match its id');
  return plain;
}

class IoError extends Error {
  constructor(where, err) {
    super(err && err.message ? err.message : String(err));
    this.where = where;
    this.errno = err && err.code;
  }
}

// The whole chunk file, into readBuf (reused: the caller is done with it before the next read).
function readChunkFile(file) {
  let fd;
  try {
    fd = fs.openSync(file, 'r');
    const size = fs.fstatSync(fd).size;
    if (readBuf.length < size) readBuf = Buffer.allocUnsafeSlow(size + 65536);
    let off = 0;
    while (off < size) {
      const n = fs.readSync(fd, readBuf, off, size - off, off);
      if (n === 0) break;
      off += n;
    }
    return readBuf.subarray(0, off);
  } catch (err) {
    throw new IoError('read', err);
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

function isZeroBlock(buf, at) {
  const end = Math.min(buf.length, at + BLOCK);
  return buf.compare(ZERO_BLOCK, 0, end - at, at, end) === 0;
}

function pwriteAll(fd, buf, from, length, position) {
  let off = 0;
  while (off < length) off += fs.writeSync(fd, buf, from + off, length - off, position + off);
}

// Writes the plaintext of a chunk at msg.position of a restore target that was truncated to its
// size, so all-zero blocks are skipped and stay holes (sparse output). With msg.directFd (the same
// file opened O_DIRECT) whole blocks bypass the page cache: a multi-GB restore neither waits for
// dirty-page writeback nor evicts the host's cache. A filesystem that refuses a direct write
// (EINVAL) gets that range through msg.fd.
function writeOut(msg, plain) {
  const direct = typeof msg.directFd === 'number' && msg.position % BLOCK === 0;
  if (direct && plain.buffer !== alignedBuf.buffer) {
    const a = alignedBuffer(plain.length);
    plain.copy(a);
    plain = a;
  }
  const n = plain.length;
  let b = 0;
  while (b < n) {
    while (b < n && isZeroBlock(plain, b)) b += BLOCK;
    if (b >= n) break;
    let e = b;
    while (e < n && !isZeroBlock(plain, e)) e += BLOCK;
    e = Math.min(e, n);
    let viaCache = b;
    if (direct) {
      const whole = b + Math.floor((e - b) / BLOCK) * BLOCK;
      try {
        if (whole > b) pwriteAll(msg.directFd, plain, b, whole - b, msg.position + b);
        viaCache = whole;
      } catch (err) {
        if (!err || err.code !== 'EINVAL') throw err;
      }
    }
    if (viaCache < e) pwriteAll(msg.fd, plain, viaCache, e - viaCache, msg.position + viaCache);
    b = e;
  }
}

// Reads a chunk file here rather than on the main thread (no copy, no round trips), decodes
// it, and writes the plaintext to msg.fd at msg.position (restore), drops it (msg.discard:
// verify), or hands it back.
function load(msg) {
  const file = path.join(chunksDir, msg.id.slice(0, 2), msg.id);
  const keep = typeof msg.fd !== 'number' && !msg.discard;
  let payload;
  if (keep) {
    try {
      payload = fs.readFileSync(file);
    } catch (err) {
      throw new IoError('read', err);
    }
  } else {
    payload = readChunkFile(file);
  }
  const storedBytes = payload.length;
  const plain = decode(msg.id, payload, msg.verify, keep ? undefined : alignedBuffer);
  if (plain.length !== msg.expectedLength) {
    throw new Corrupt('it holds ' + plain.length + ' bytes where ' + msg.expectedLength + ' are expected');
  }
  if (typeof msg.fd === 'number') {
    try {
      writeOut(msg, plain);
    } catch (err) {
      throw new IoError('write', err);
    }
    parentPort.postMessage({ seq: msg.seq, storedBytes });
  } else if (msg.discard) {
    parentPort.postMessage({ seq: msg.seq, storedBytes });
  } else {
    parentPort.postMessage({ seq: msg.seq, storedBytes, plain }, [plain.buffer]);
  }
}

parentPort.on('message', (msg) => {
  try {
    if (msg.op === 'encode') {
      const r = encode(asBuffer(msg.data), msg.checkExisting);
      const transfer = [r.plain.buffer];
      if (r.payload) transfer.push(r.payload.buffer);
      parentPort.postMessage({ seq: msg.seq, id: r.id, exists: r.exists, payload: r.payload, plain: r.plain }, transfer);
    } else if (msg.op === 'decode') {
      const plain = decode(msg.id, asBuffer(msg.data), msg.verify);
      parentPort.postMessage({ seq: msg.seq, plain }, [plain.buffer]);
    } else if (msg.op === 'load') {
      load(msg);
    } else {
      parentPort.postMessage({ seq: msg.seq, error: { corrupt: false, message: 'unknown op ' + msg.op } });
    }
  } catch (err) {
    parentPort.postMessage({
      seq: msg.seq,
      error: {
        corrupt: err instanceof Corrupt,
        message: err && err.message ? err.message : String(err),
        where: err instanceof IoError ? err.where : undefined,
        errno: err instanceof IoError ? err.errno : undefined,
      },
    });
  }
});
`;
