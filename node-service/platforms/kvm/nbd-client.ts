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
const REPLY_NONE = 0;
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

/** Incoming bytes, consumed by exact lengths as they arrive. */
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

  /** Copies the next n bytes straight into `target` (no intermediate buffer for read data). */
  async readInto(target: Buffer | null, at: number, n: number): Promise<void> {
    let left = n;
    while (left > 0) {
      await this.need(1);
      const take = Math.min(left, this.size);
      this.copyOut(target, at + (n - left), take);
      left -= take;
    }
  }

  private async need(n: number): Promise<void> {
    if (this.size >= n) return;
    if (this.failure) throw this.failure;
    await new Promise<void>((resolve, reject) => (this.waiter = { n, resolve, reject }));
    this.waiter = null;
  }

  private copyOut(target: Buffer | null, at: number, n: number): void {
    let done = 0;
    while (done < n) {
      const head = this.parts[0]!;
      const take = Math.min(head.length, n - done);
      target?.set(head.subarray(0, take), at + done);
      done += take;
      if (take === head.length) this.parts.shift();
      else this.parts[0] = head.subarray(take);
    }
    this.size -= n;
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
    private readonly queue: ByteQueue,
    readonly exportName: string,
    readonly size: number,
    private readonly contexts: Map<string, number>,
  ) {}

  /** Connects and negotiates `exportName`, asking for the given metadata contexts. */
  static async connect(socketPath: string, exportName: string, metaContexts: readonly string[] = []): Promise<NbdClient> {
    const socket = net.createConnection(socketPath);
    const queue = new ByteQueue();
    socket.on('data', (b: Buffer) => queue.push(b));
    socket.on('error', (e) => queue.fail(nbdError(`connection to ${socketPath} failed: ${e.message}`)));
    socket.on('close', () => queue.fail(nbdError(`the NBD server at ${socketPath} closed the connection`)));
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
      const client = new NbdClient(socket, queue, exportName, size, contexts);
      client.receive().catch((err: unknown) => client.failAll(err instanceof Error ? err : new Error(String(err))));
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

  /** The reply loop: one header at a time, payload routed to the request with that cookie. */
  private async receive(): Promise<void> {
    for (;;) {
      const magic = (await this.queue.read(4)).readUInt32BE(0);
      if (magic === SIMPLE_REPLY_MAGIC) {
        const h = await this.queue.read(12);
        const p = this.take(h.readBigUInt64BE(4), true);
        const error = h.readUInt32BE(0);
        if (error !== 0) p.reject(nbdError(`the NBD server returned error ${error}`));
        else p.resolve();
        continue;
      }
      if (magic !== STRUCTURED_REPLY_MAGIC) throw nbdError(`unexpected NBD reply magic 0x${magic.toString(16)}`);
      const h = await this.queue.read(16);
      const flags = h.readUInt16BE(0);
      const type = h.readUInt16BE(2);
      const cookie = h.readBigUInt64BE(4);
      const length = h.readUInt32BE(12);
      const done = (flags & REPLY_FLAG_DONE) !== 0;
      const p = this.take(cookie, done);
      if (type === REPLY_OFFSET_DATA) {
        const at = Number((await this.queue.read(8)).readBigUInt64BE(0));
        const n = length - 8;
        await this.queue.readInto(p.into ?? null, at - p.offset, n);
        this.bytesRead += n;
      } else if (type === REPLY_OFFSET_HOLE) {
        const b = await this.queue.read(12);
        const at = Number(b.readBigUInt64BE(0));
        p.into?.fill(0, at - p.offset, at - p.offset + b.readUInt32BE(8));
      } else if (type === REPLY_BLOCK_STATUS) {
        const b = await this.queue.read(length);
        let pos = p.offset;
        if (b.readUInt32BE(0) === p.contextId) {
          for (let i = 4; i + 8 <= b.length; i += 8) {
            const len = b.readUInt32BE(i);
            p.extents?.push({ offset: pos, length: len, flags: b.readUInt32BE(i + 4) });
            pos += len;
          }
        }
      } else if (type & REPLY_ERROR_BIT) {
        const b = await this.queue.read(length);
        const msgLen = b.readUInt16BE(4);
        const msg = b.toString('utf8', 6, 6 + msgLen);
        p.error ??= nbdError(`the NBD server returned error ${b.readUInt32BE(0)}${msg ? `: ${msg}` : ''}`);
      } else if (type !== REPLY_NONE) {
        await this.queue.readInto(null, 0, length);
      }
      if (done) {
        if (p.error) p.reject(p.error);
        else p.resolve();
      }
    }
  }

  private take(cookie: bigint, remove: boolean): Pending {
    const p = this.pending.get(cookie);
    if (!p) throw nbdError(`NBD reply for unknown request ${cookie}`);
    if (remove) this.pending.delete(cookie);
    return p;
  }

  private failAll(err: Error): void {
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
