/**
 * A minimal NBD client (fixed newstyle handshake, structured replies, NBD_CMD_READ and
 * NBD_CMD_BLOCK_STATUS) over a unix socket, read-only. In-process rather than libnbd's tools:
 * the repository writer needs random-access reads of just the chunks it stores, many in
 * flight on one connection, and a spawn per extent or a whole-disk pipe would read or copy
 * more than that (see README.md "NBD: measured").
 * Protocol: https://github.com/NetworkBlockDevice/nbd/blob/master/doc/proto.md
 */
import net from 'node:net';
import { KvmError } from './errors.js';

const IHAVEOPT = 0x49484156454f5054n;
const OPT_REPLY_MAGIC = 0x3e889045565a9n;
const REQUEST_MAGIC = 0x25609513;
const SIMPLE_REPLY_MAGIC = 0x67446698;
const STRUCTURED_REPLY_MAGIC = 0x668e33ef;
const OPT_GO = 7;
const OPT_STRUCTURED_REPLY = 8;
const OPT_SET_META_CONTEXT = 10;
const REP_ACK = 1;
const REP_INFO = 3;
const REP_META_CONTEXT = 4;
const INFO_EXPORT = 0;
const CMD_READ = 0;
const CMD_DISC = 2;
const CMD_BLOCK_STATUS = 7;
const REPLY_FLAG_DONE = 1;
const REPLY_OFFSET_DATA = 1;
const REPLY_OFFSET_HOLE = 2;
const REPLY_BLOCK_STATUS = 5;
const REPLY_ERROR_BIT = 0x8000;
/** Block status of a range is asked in pieces; servers cap a reply's coverage anyway. */
const STATUS_STEP = 1024 * 1024 * 1024;

export interface Extent {
  offset: number;
  length: number;
  /** base:allocation: bit 0 hole, bit 1 reads as zero. qemu:dirty-bitmap: bit 0 dirty. */
  flags: number;
}

interface Pending {
  resolve(): void;
  reject(err: Error): void;
  /** READ: where the data goes; BLOCK_STATUS: the extents collected. */
  into?: Buffer;
  offset: number;
  extents?: Extent[];
  contextId?: number;
  error?: Error;
}

/** Incoming bytes of the handshake, consumed by exact lengths as they arrive. */
class ByteQueue {
  private parts: Buffer[] = [];
  private size = 0;
  private waiter: { n: number; resolve: () => void; reject: (e: Error) => void } | null = null;
  private failure: Error | null = null;

  push(b: Buffer): void {
    this.parts.push(b);
    this.size += b.length;
    if (this.waiter && this.size >= this.waiter.n) this.waiter.resolve();
  }

  fail(err: Error): void {
    this.failure ??= err;
    this.waiter?.reject(err);
  }

  async read(n: number): Promise<Buffer> {
    await this.need(n);
    const out = Buffer.allocUnsafe(n);
    this.copyOut(out, 0, n);
    return out;
  }

  private async need(n: number): Promise<void> {
    if (this.size >= n) return;
    if (this.failure) throw this.failure;
    await new Promise<void>((resolve, reject) => (this.waiter = { n, resolve, reject }));
    this.waiter = null;
  }

  private copyOut(target: Buffer, at: number, n: number): void {
    let done = 0;
    while (done < n) {
      const head = this.parts[0]!;
      const take = Math.min(head.length, n - done);
      target.set(head.subarray(0, take), at + done);
      done += take;
      if (take === head.length) this.parts.shift();
      else this.parts[0] = head.subarray(take);
    }
    this.size -= n;
  }
}

/** Fixed-size part of a reply, collected before it is parsed. */
interface FixedStep {
  kind: 'fixed';
  buf: Buffer;
  filled: number;
  done: (b: Buffer) => void;
}

/** Payload bytes going to `target` at `at` (null: dropped). */
interface DataStep {
  kind: 'data';
  target: Buffer | null;
  at: number;
  left: number;
  done: () => void;
}

/** Below this, reading the rest of a payload into the parser's buffer and copying is as cheap. */
const DIRECT_MIN = 4096;

/**
 * The receiving side of a connection, driven synchronously by the socket's `onread`: the
 * handshake's bytes go to a ByteQueue (copied; a few hundred bytes), replies are parsed as
 * they arrive. While a READ's data is expected, the socket reads straight into the caller's
 * buffer (nextBuffer returns that part of it), so disk data is never copied or allocated on
 * the way — before, every 64 KiB socket read was a new Buffer copied into the chunk, and
 * their garbage made the main thread run a full GC every ~25 MiB of a backup.
 */
class ReplyParser {
  private readonly scratch = Buffer.allocUnsafe(256 * 1024);
  private client: NbdClient | null = null;
  private step: FixedStep | DataStep | null = null;
  private failure: Error | null = null;
  /** Small reusable buffers for the fixed parts (a part's buffer is used only until its parse returns). */
  private readonly small = new Map<number, Buffer>();

  constructor(private readonly handshake: ByteQueue) {}

  /** From now on bytes are replies to `client`'s requests. */
  start(client: NbdClient): void {
    this.client = client;
    this.expectMagic();
  }

  fail(err: Error): void {
    this.failure ??= err;
    this.handshake.fail(err);
    this.client?.failAll(err);
  }

  nextBuffer(): Uint8Array {
    const s = this.step;
    if (s?.kind === 'data' && s.target && s.left >= DIRECT_MIN) return s.target.subarray(s.at, s.at + s.left);
    return this.scratch;
  }

  /** Always true: keep reading (the socket's onread contract). */
  received(n: number, buf: Uint8Array): boolean {
    if (this.failure) return true;
    try {
      if (!this.client) {
        this.handshake.push(Buffer.from(buf.subarray(0, n)));
        return true;
      }
      if (buf !== this.scratch) {
        // Read in place: the bytes are already where they belong.
        const s = this.step as DataStep;
        s.at += n;
        s.left -= n;
        if (s.left === 0) s.done();
        return true;
      }
      let pos = 0;
      while (pos < n) {
        const s = this.step!;
        const take = Math.min(n - pos, s.kind === 'fixed' ? s.buf.length - s.filled : s.left);
        if (s.kind === 'fixed') {
          this.scratch.copy(s.buf, s.filled, pos, pos + take);
          s.filled += take;
          pos += take;
          if (s.filled === s.buf.length) s.done(s.buf);
        } else {
          s.target?.set(this.scratch.subarray(pos, pos + take), s.at);
          s.at += take;
          s.left -= take;
          pos += take;
          if (s.left === 0) s.done();
        }
      }
    } catch (err) {
      this.fail(err instanceof Error ? err : new Error(String(err)));
    }
    return true;
  }

  private fixed(n: number, done: (b: Buffer) => void): void {
    let buf = n <= 64 ? this.small.get(n) : undefined;
    if (!buf) {
      buf = Buffer.allocUnsafe(n);
      if (n <= 64) this.small.set(n, buf);
    }
    // A zero-length part is complete at once.
    if (n === 0) {
      this.step = { kind: 'fixed', buf, filled: 0, done };
      done(buf);
      return;
    }
    this.step = { kind: 'fixed', buf, filled: 0, done };
  }

  private data(target: Buffer | null, at: number, n: number, done: () => void): void {
    if (n === 0) {
      done();
      return;
    }
    this.step = { kind: 'data', target, at, left: n, done };
  }

  private expectMagic(): void {
    this.fixed(4, (b) => {
      const magic = b.readUInt32BE(0);
      if (magic === SIMPLE_REPLY_MAGIC) this.fixed(12, (h) => this.simpleReply(h));
      else if (magic === STRUCTURED_REPLY_MAGIC) this.fixed(16, (h) => this.structuredReply(h));
      else throw nbdError(`unexpected NBD reply magic 0x${magic.toString(16)}`);
    });
  }

  private simpleReply(h: Buffer): void {
    const p = this.client!.take(h.readBigUInt64BE(4), true);
    const error = h.readUInt32BE(0);
    this.expectMagic();
    if (error !== 0) p.reject(nbdError(`the NBD server returned error ${error}`));
    else p.resolve();
  }

  private structuredReply(h: Buffer): void {
    const flags = h.readUInt16BE(0);
    const type = h.readUInt16BE(2);
    const cookie = h.readBigUInt64BE(4);
    const length = h.readUInt32BE(12);
    const p = this.client!.take(cookie, (flags & REPLY_FLAG_DONE) !== 0);
    const finish = (): void => {
      this.expectMagic();
      if ((flags & REPLY_FLAG_DONE) === 0) return;
      if (p.error) p.reject(p.error);
      else p.resolve();
    };
    if (type === REPLY_OFFSET_DATA) {
      if (length < 8) throw nbdError(`NBD data reply of ${length} bytes`);
      this.fixed(8, (b) => {
        const at = Number(b.readBigUInt64BE(0)) - p.offset;
        const n = length - 8;
        if (p.into && (at < 0 || at + n > p.into.length)) throw nbdError(`NBD data reply outside the requested range`);
        this.data(p.into ?? null, at, n, () => {
          this.client!.bytesRead += n;
          finish();
        });
      });
    } else if (type === REPLY_OFFSET_HOLE) {
      this.fixed(12, (b) => {
        const at = Number(b.readBigUInt64BE(0)) - p.offset;
        p.into?.fill(0, at, at + b.readUInt32BE(8));
        finish();
      });
    } else if (type === REPLY_BLOCK_STATUS) {
      this.fixed(length, (b) => {
        let pos = p.offset;
        if (b.length >= 4 && b.readUInt32BE(0) === p.contextId) {
          for (let i = 4; i + 8 <= b.length; i += 8) {
            const len = b.readUInt32BE(i);
            p.extents?.push({ offset: pos, length: len, flags: b.readUInt32BE(i + 4) });
            pos += len;
          }
        }
        finish();
      });
    } else if (type & REPLY_ERROR_BIT) {
      this.fixed(length, (b) => {
        const msgLen = b.length >= 6 ? b.readUInt16BE(4) : 0;
        const msg = b.toString('utf8', 6, 6 + msgLen);
        p.error ??= nbdError(`the NBD server returned error ${b.length >= 4 ? b.readUInt32BE(0) : '?'}${msg ? `: ${msg}` : ''}`);
        finish();
      });
    } else {
      // NBD_REPLY_TYPE_NONE (length 0) or a type we do not know: skip its payload.
      this.data(null, 0, length, finish);
    }
  }
}

export class NbdClient {
  private readonly pending = new Map<bigint, Pending>();
  private nextCookie = 1n;
  private closed = false;
  /** Bytes of disk data received from the server (holes the server reports as such are not counted). */
  bytesRead = 0;

  private constructor(
    private readonly socket: net.Socket,
    readonly exportName: string,
    readonly size: number,
    private readonly contexts: Map<string, number>,
  ) {}

  /** Connects and negotiates `exportName`, asking for the given metadata contexts. */
  static async connect(socketPath: string, exportName: string, metaContexts: readonly string[] = []): Promise<NbdClient> {
    const queue = new ByteQueue();
    const parser = new ReplyParser(queue);
    // Received bytes land in the parser's buffer, or straight in the buffer of the READ being
    // answered: no allocation per socket read and, for data, no copy (see ReplyParser).
    const socket = net.createConnection({
      path: socketPath,
      onread: { buffer: () => parser.nextBuffer(), callback: (n: number, buf: Uint8Array) => parser.received(n, buf) },
    });
    socket.on('error', (e) => parser.fail(nbdError(`connection to ${socketPath} failed: ${e.message}`)));
    socket.on('close', () => parser.fail(nbdError(`the NBD server at ${socketPath} closed the connection`)));
    try {
      const hello = await queue.read(18);
      if (hello.toString('latin1', 0, 8) !== 'NBDMAGIC' || hello.readBigUInt64BE(8) !== IHAVEOPT) {
        throw nbdError(`${socketPath} is not a newstyle NBD server`);
      }
      const serverFlags = hello.readUInt16BE(16);
      // Fixed newstyle (1); no zero padding (2) when the server offers it.
      socket.write(u32(1 | (serverFlags & 2)));
      await option(socket, queue, OPT_STRUCTURED_REPLY, Buffer.alloc(0));
      const contexts = new Map<string, number>();
      if (metaContexts.length > 0) {
        const name = Buffer.from(exportName);
        const queries = metaContexts.map((q) => Buffer.concat([u32(Buffer.byteLength(q)), Buffer.from(q)]));
        const payload = Buffer.concat([u32(name.length), name, u32(queries.length), ...queries]);
        for (const r of await option(socket, queue, OPT_SET_META_CONTEXT, payload)) {
          if (r.type === REP_META_CONTEXT) contexts.set(r.data.toString('utf8', 4), r.data.readUInt32BE(0));
        }
      }
      const name = Buffer.from(exportName);
      let size = -1;
      for (const r of await option(socket, queue, OPT_GO, Buffer.concat([u32(name.length), name, u16(0)]))) {
        if (r.type === REP_INFO && r.data.readUInt16BE(0) === INFO_EXPORT) size = Number(r.data.readBigUInt64BE(2));
      }
      if (size < 0) throw nbdError(`the NBD server did not report the size of export "${exportName}"`);
      const client = new NbdClient(socket, exportName, size, contexts);
      parser.start(client);
      return client;
    } catch (err) {
      socket.destroy();
      throw err;
    }
  }

  hasContext(name: string): boolean {
    return this.contexts.has(name);
  }

  /** Reads `into.length` bytes at `offset` (holes arrive as zeros). */
  async read(into: Buffer, offset: number): Promise<number> {
    const length = Math.min(into.length, this.size - offset);
    if (length <= 0) return 0;
    await this.request(CMD_READ, offset, length, { into, offset });
    return length;
  }

  /** The extents of one metadata context over [offset, offset+length), merged when flags repeat. */
  async blockStatus(context: string, offset = 0, length = this.size - offset): Promise<Extent[]> {
    const id = this.contexts.get(context);
    if (id === undefined) throw nbdError(`export "${this.exportName}" does not offer metadata context ${context}`);
    const out: Extent[] = [];
    let pos = offset;
    const end = offset + length;
    while (pos < end) {
      const extents: Extent[] = [];
      await this.request(CMD_BLOCK_STATUS, pos, Math.min(STATUS_STEP, end - pos), { offset: pos, extents, contextId: id });
      if (extents.length === 0) throw nbdError(`block status of ${context} at ${pos} returned nothing`);
      for (const e of extents) {
        const clipped = { offset: e.offset, length: Math.min(e.length, end - e.offset), flags: e.flags };
        if (clipped.length <= 0) continue;
        const last = out[out.length - 1];
        if (last && last.flags === clipped.flags && last.offset + last.length === clipped.offset) last.length += clipped.length;
        else out.push(clipped);
        pos = clipped.offset + clipped.length;
      }
    }
    return out;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.pending.values()) p.reject(nbdError('the NBD connection was closed'));
    this.pending.clear();
    this.socket.end(requestHeader(CMD_DISC, 0n, 0, 0));
    await new Promise<void>((resolve) => {
      if (this.socket.destroyed) resolve();
      else this.socket.once('close', () => resolve()).setTimeout(2000, () => this.socket.destroy());
    });
  }

  private request(type: number, offset: number, length: number, p: Omit<Pending, 'resolve' | 'reject'>): Promise<void> {
    if (this.closed) return Promise.reject(nbdError('the NBD connection is closed'));
    const cookie = this.nextCookie++;
    return new Promise<void>((resolve, reject) => {
      this.pending.set(cookie, { ...p, resolve, reject });
      this.socket.write(requestHeader(type, cookie, offset, length));
    });
  }

  /** The request a reply answers (parser side); `remove` when it is the request's last reply. */
  take(cookie: bigint, remove: boolean): Pending {
    const p = this.pending.get(cookie);
    if (!p) throw nbdError(`NBD reply for unknown request ${cookie}`);
    if (remove) this.pending.delete(cookie);
    return p;
  }

  /** Fails every pending request and drops the connection (a broken or closed stream). */
  failAll(err: Error): void {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
    this.socket.destroy();
  }
}

/** Sends one option and collects its replies up to the final ACK; an error reply throws. */
async function option(socket: net.Socket, queue: ByteQueue, opt: number, data: Buffer): Promise<{ type: number; data: Buffer }[]> {
  const head = Buffer.alloc(16);
  head.writeBigUInt64BE(IHAVEOPT, 0);
  head.writeUInt32BE(opt, 8);
  head.writeUInt32BE(data.length, 12);
  socket.write(Buffer.concat([head, data]));
  const replies: { type: number; data: Buffer }[] = [];
  for (;;) {
    const h = await queue.read(20);
    if (h.readBigUInt64BE(0) !== OPT_REPLY_MAGIC) throw nbdError('bad NBD option reply');
    const type = h.readUInt32BE(12);
    const body = await queue.read(h.readUInt32BE(16));
    if (type === REP_ACK) return replies;
    if (type & 0x80000000) {
      throw nbdError(`the NBD server refused option ${opt} (error ${type & 0x7fffffff})${body.length ? `: ${body.toString('utf8')}` : ''}`);
    }
    replies.push({ type, data: body });
  }
}

function requestHeader(type: number, cookie: bigint, offset: number, length: number): Buffer {
  const b = Buffer.alloc(28);
  b.writeUInt32BE(REQUEST_MAGIC, 0);
  b.writeUInt16BE(0, 4);
  b.writeUInt16BE(type, 6);
  b.writeBigUInt64BE(cookie, 8);
  b.writeBigUInt64BE(BigInt(offset), 16);
  b.writeUInt32BE(length, 24);
  return b;
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n, 0);
  return b;
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n, 0);
  return b;
}

function nbdError(message: string): KvmError {
  return new KvmError('KVM_NBD', message);
}
