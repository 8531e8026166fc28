/**
 * One NBD client: the fixed newstyle handshake, then transmission with up to `maxInFlight`
 * requests handled at once; replies go out as each request completes (out of order, matched
 * by the client's cookie). Input is read only while there is room: a slow device or a client
 * that does not read its replies stops the reading of new requests (backpressure both ways).
 */
import type { Socket } from 'node:net';
import type { RepositoryLogger } from '../repository/logger.js';
import { ReadOnlyDeviceError, type BlockDevice } from './block-device.js';
import * as P from './nbd-protocol.js';

export interface NbdExport {
  name: string;
  description: string;
  device: BlockDevice;
}

export interface ExportCatalog {
  /** "" is the default export. */
  find(name: string): NbdExport | undefined;
  list(): readonly NbdExport[];
}

export interface ConnectionOptions {
  exports: ExportCatalog;
  maxInFlight: number;
  logger: RepositoryLogger;
}

/** Incoming bytes buffered beyond this pause the socket (a WRITE payload may need more). */
const INPUT_HIGH_WATER = 1024 * 1024;
/** Largest CACHE prefetch: more would only push itself out of the reader's small chunk cache. */
const MAX_CACHE_PREFETCH = 8 * 1024 * 1024;

class ConnectionClosedError extends Error {}

/** The socket's bytes, consumed by exact lengths. */
class Incoming {
  private parts: Buffer[] = [];
  private size = 0;
  private waiter: { n: number; wake: () => void } | null = null;
  private ended: Error | null = null;

  constructor(private readonly socket: Socket) {
    socket.on('data', (b: Buffer) => this.push(b));
    socket.on('end', () => this.end(new ConnectionClosedError('the client closed the connection')));
    socket.on('close', () => this.end(new ConnectionClosedError('the connection closed')));
    socket.on('error', (err) => this.end(err));
  }

  async read(n: number): Promise<Buffer> {
    while (this.size < n) {
      if (this.ended) throw this.ended;
      this.socket.resume();
      await new Promise<void>((wake) => (this.waiter = { n, wake }));
      this.waiter = null;
    }
    const out = this.take(n);
    if (this.size < INPUT_HIGH_WATER) this.socket.resume();
    return out;
  }

  private take(n: number): Buffer {
    const head = this.parts[0];
    if (head && head.length === n) {
      this.parts.shift();
      this.size -= n;
      return head;
    }
    const out = Buffer.allocUnsafe(n);
    let at = 0;
    while (at < n) {
      const p = this.parts[0];
      if (!p) break;
      const k = Math.min(p.length, n - at);
      p.copy(out, at, 0, k);
      at += k;
      if (k === p.length) this.parts.shift();
      else this.parts[0] = p.subarray(k);
    }
    this.size -= n;
    return out;
  }

  private push(b: Buffer): void {
    this.parts.push(b);
    this.size += b.length;
    if (this.size >= Math.max(INPUT_HIGH_WATER, this.waiter?.n ?? 0)) this.socket.pause();
    if (this.waiter && this.size >= this.waiter.n) this.waiter.wake();
  }

  private end(err: Error): void {
    this.ended ??= err;
    this.waiter?.wake();
  }
}

interface Session {
  export: NbdExport;
  structured: boolean;
  /** The base:allocation context id when the client selected it for this export. */
  allocationContext: number | null;
}

/** NBD_EPERM for writes to a read-only export, NBD_ENOSPC for a full staging space, else NBD_EIO. */
export function nbdErrno(err: unknown): number {
  if (err instanceof ReadOnlyDeviceError) return P.Errno.EPERM;
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT' || code === 'EFBIG') return P.Errno.ENOSPC;
  if (code === 'ENOMEM') return P.Errno.ENOMEM;
  return P.Errno.EIO;
}

export function transmissionFlags(device: BlockDevice, structured: boolean): number {
  let flags = P.TFlag.HAS_FLAGS | P.TFlag.SEND_FLUSH | P.TFlag.SEND_FUA | P.TFlag.CAN_MULTI_CONN | P.TFlag.SEND_CACHE;
  if (structured) flags |= P.TFlag.SEND_DF;
  flags |= device.writable ? P.TFlag.SEND_TRIM | P.TFlag.SEND_WRITE_ZEROES : P.TFlag.READ_ONLY;
  return flags;
}

class RequestError extends Error {
  constructor(
    readonly errno: number,
    message: string,
  ) {
    super(message);
  }
}

export class NbdConnection {
  private readonly incoming: Incoming;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly log: RepositoryLogger;
  private shuttingDown = false;

  constructor(
    private readonly socket: Socket,
    private readonly options: ConnectionOptions,
  ) {
    this.incoming = new Incoming(socket);
    this.log = options.logger;
  }

  /** Serves the client until it disconnects (or is disconnected); never rejects. */
  async run(): Promise<void> {
    try {
      const session = await this.handshake();
      if (session) await this.transmission(session);
    } catch (err) {
      if (!(err instanceof ConnectionClosedError)) this.log.debug({ err }, 'NBD connection ended');
    } finally {
      await Promise.allSettled(this.inFlight);
      this.finish();
      if (!this.socket.closed) await new Promise((resolve) => this.socket.once('close', resolve));
    }
  }

  /** Server shutdown: stop reading requests, let the ones in flight answer, then hang up. */
  shutdown(): void {
    this.shuttingDown = true;
    this.socket.pause();
    void Promise.allSettled(this.inFlight).then(() => this.finish());
  }

  /** Ends a connection that will not end by itself (a client that stopped reading its replies). */
  destroy(): void {
    this.socket.destroy();
  }

  /** Sends what is queued, then closes. */
  private finish(): void {
    if (!this.socket.destroyed && !this.socket.writableEnded) this.socket.end(() => this.socket.destroy());
  }

  private send(...bufs: Buffer[]): void {
    if (this.socket.destroyed) return;
    this.socket.cork();
    for (const b of bufs) this.socket.write(b);
    this.socket.uncork();
  }

  private hangUp(reason: string): null {
    this.log.debug({ reason }, 'NBD client dropped');
    this.finish();
    return null;
  }

  private async handshake(): Promise<Session | null> {
    this.send(P.serverGreeting());
    const clientFlags = (await this.incoming.read(4)).readUInt32BE(0);
    if ((clientFlags & ~(P.FLAG_C_FIXED_NEWSTYLE | P.FLAG_C_NO_ZEROES)) !== 0) return this.hangUp('unknown client flags');
    const noZeroes = (clientFlags & P.FLAG_C_NO_ZEROES) !== 0;
    let structured = false;
    let meta: { export: NbdExport; id: number } | null = null;
    const exports = this.options.exports;
    for (;;) {
      const h = await this.incoming.read(16);
      if (h.readBigUInt64BE(0) !== P.IHAVEOPT) return this.hangUp('bad option magic');
      const opt = h.readUInt32BE(8);
      const len = h.readUInt32BE(12);
      if (len > P.MAX_OPTION_LENGTH) {
        if (opt !== P.Opt.EXPORT_NAME) this.send(P.optionError(opt, P.Rep.ERR_TOO_BIG, 'option data too long'));
        return this.hangUp('option data too long');
      }
      const data = await this.incoming.read(len);
      const reply = (type: number, payload?: Buffer): void => this.send(P.optionReply(opt, type, payload));
      const fail = (type: number, message: string): void => this.send(P.optionError(opt, type, message));
      /** The option's request parsed and its export found, or null once the error is replied. */
      const forExport = <T extends { name: string }>(parse: (d: Buffer) => T): { req: T; exp: NbdExport } | null => {
        let req: T;
        try {
          req = parse(data);
        } catch (err) {
          fail(P.Rep.ERR_INVALID, (err as Error).message);
          return null;
        }
        const exp = exports.find(req.name);
        if (exp) return { req, exp };
        fail(P.Rep.ERR_UNKNOWN, `no export "${req.name}" (exports: ${exports.list().map((e) => e.name).join(', ')})`);
        return null;
      };
      switch (opt) {
        case P.Opt.EXPORT_NAME: {
          const exp = exports.find(data.toString('utf8'));
          if (!exp) return this.hangUp('unknown export'); // this option has no error reply
          this.send(P.exportNameReply(exp.device.size, transmissionFlags(exp.device, structured), noZeroes));
          return { export: exp, structured, allocationContext: meta?.export === exp ? meta.id : null };
        }
        case P.Opt.INFO:
        case P.Opt.GO: {
          const found = forExport(P.parseInfoRequest);
          if (!found) break;
          const { req, exp } = found;
          reply(P.Rep.INFO, P.infoExport(exp.device.size, transmissionFlags(exp.device, structured)));
          if (req.requests.includes(P.Info.NAME)) reply(P.Rep.INFO, P.infoString(P.Info.NAME, exp.name));
          if (req.requests.includes(P.Info.DESCRIPTION)) reply(P.Rep.INFO, P.infoString(P.Info.DESCRIPTION, exp.description));
          reply(P.Rep.INFO, P.infoBlockSize());
          reply(P.Rep.ACK);
          if (opt === P.Opt.GO) return { export: exp, structured, allocationContext: meta?.export === exp ? meta.id : null };
          break;
        }
        case P.Opt.ABORT:
          reply(P.Rep.ACK);
          return this.hangUp('client aborted');
        case P.Opt.LIST:
          if (len !== 0) fail(P.Rep.ERR_INVALID, 'NBD_OPT_LIST takes no data');
          else {
            for (const e of exports.list()) reply(P.Rep.SERVER, P.repServer(e.name, e.description));
            reply(P.Rep.ACK);
          }
          break;
        case P.Opt.STRUCTURED_REPLY:
          if (len !== 0) fail(P.Rep.ERR_INVALID, 'NBD_OPT_STRUCTURED_REPLY takes no data');
          else {
            structured = true;
            reply(P.Rep.ACK);
          }
          break;
        case P.Opt.LIST_META_CONTEXT:
        case P.Opt.SET_META_CONTEXT: {
          const set = opt === P.Opt.SET_META_CONTEXT;
          if (set) meta = null; // replaced even when this request fails
          if (!structured) {
            fail(P.Rep.ERR_INVALID, 'negotiate structured replies first');
            break;
          }
          const found = forExport(P.parseMetaContextRequest);
          if (!found) break;
          const { req, exp } = found;
          const matches = set
            ? req.queries.some((q) => q === P.BASE_ALLOCATION)
            : req.queries.length === 0 || req.queries.some((q) => q === 'base:' || q === P.BASE_ALLOCATION);
          if (matches) {
            reply(P.Rep.META_CONTEXT, P.repMetaContext(set ? 1 : 0, P.BASE_ALLOCATION));
            if (set) meta = { export: exp, id: 1 };
          }
          reply(P.Rep.ACK);
          break;
        }
        default:
          fail(P.Rep.ERR_UNSUP, `option ${opt} is not supported`);
      }
    }
  }

  private async transmission(session: Session): Promise<void> {
    const limit = Math.max(1, this.options.maxInFlight);
    for (;;) {
      const header = P.parseRequestHeader(await this.incoming.read(P.REQUEST_HEADER_LENGTH));
      if (!header) {
        this.hangUp('bad request magic');
        return;
      }
      let payload: Buffer | null = null;
      if (header.type === P.Cmd.WRITE) {
        // Its payload must be read to stay in step; one we will not buffer ends the connection.
        if (header.length > P.MAX_PAYLOAD) {
          this.hangUp(`write of ${header.length} bytes exceeds the maximum payload`);
          return;
        }
        payload = await this.incoming.read(header.length);
      }
      if (header.type === P.Cmd.DISC) return; // run() answers what is in flight, then closes
      const task = this.answer(session, header, payload).finally(() => this.inFlight.delete(task));
      this.inFlight.add(task);
      // Room for the next request: below the limit, and the client is reading its replies.
      while (this.inFlight.size >= limit) await Promise.race(this.inFlight);
      if (this.socket.writableNeedDrain) await this.drained();
    }
  }

  /** Resolves when the client has read enough of its replies (or is gone). */
  private drained(): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        this.socket.off('drain', done).off('close', done);
        resolve();
      };
      this.socket.on('drain', done).on('close', done);
    });
  }

  /** Handles one request and sends its reply; never rejects. */
  private async answer(s: Session, h: P.RequestHeader, payload: Buffer | null): Promise<void> {
    try {
      if (this.shuttingDown) throw new RequestError(P.Errno.ESHUTDOWN, 'the server is shutting down');
      await this.execute(s, h, payload);
    } catch (err) {
      const errno = err instanceof RequestError ? err.errno : nbdErrno(err);
      if (!(err instanceof RequestError) && errno === P.Errno.EIO) {
        this.log.warn({ err, command: h.type, offset: h.offset, length: h.length, export: s.export.name }, 'NBD request failed');
      }
      const message = err instanceof Error ? err.message : String(err);
      this.send(s.structured ? P.errorChunk(h.cookie, errno, message) : P.simpleReply(h.cookie, errno));
    }
  }

  private async execute(s: Session, h: P.RequestHeader, payload: Buffer | null): Promise<void> {
    const device = s.export.device;
    const ok = (): void => this.send(s.structured ? P.noneChunk(h.cookie) : P.simpleReply(h.cookie, 0));
    const inBounds = h.offset + h.length <= device.size && Number.isSafeInteger(h.offset);
    const fua = (h.flags & P.CmdFlag.FUA) !== 0;
    switch (h.type) {
      case P.Cmd.READ: {
        if (!inBounds) throw new RequestError(P.Errno.EINVAL, 'read beyond the end of the export');
        if (h.length > P.MAX_PAYLOAD) throw new RequestError(P.Errno.EOVERFLOW, 'read larger than the maximum payload');
        if (!s.structured) {
          const data = await device.read(h.offset, h.length);
          this.send(P.simpleReply(h.cookie, 0), data);
        } else if (h.length === 0) ok();
        else {
          const runs = device.runs(h.offset, h.length);
          const only = runs[0];
          if (runs.length === 1 && only?.zero) this.send(P.offsetHoleChunk(h.cookie, h.offset, h.length, true));
          else {
            const data = await device.read(h.offset, h.length);
            this.send(P.offsetDataHeader(h.cookie, h.offset, data.length, true), data);
          }
        }
        return;
      }
      case P.Cmd.WRITE:
        if (!device.writable) throw new ReadOnlyDeviceError();
        if (!inBounds) throw new RequestError(P.Errno.ENOSPC, 'write beyond the end of the export');
        await device.write(h.offset, payload ?? Buffer.alloc(0));
        if (fua) await device.flush();
        return ok();
      case P.Cmd.TRIM:
      case P.Cmd.WRITE_ZEROES:
        if (!device.writable) throw new ReadOnlyDeviceError();
        if (!inBounds) throw new RequestError(h.type === P.Cmd.TRIM ? P.Errno.EINVAL : P.Errno.ENOSPC, 'range beyond the end of the export');
        await device.zero(h.offset, h.length);
        if (fua) await device.flush();
        return ok();
      case P.Cmd.FLUSH:
        await device.flush();
        return ok();
      case P.Cmd.CACHE:
        if (!inBounds) throw new RequestError(P.Errno.EINVAL, 'range beyond the end of the export');
        await device.read(h.offset, Math.min(h.length, MAX_CACHE_PREFETCH));
        return ok();
      case P.Cmd.BLOCK_STATUS: {
        if (!s.structured || s.allocationContext === null) throw new RequestError(P.Errno.EINVAL, 'no metadata context was negotiated');
        if (!inBounds || h.length === 0) throw new RequestError(P.Errno.EINVAL, 'invalid block status range');
        const reqOne = (h.flags & P.CmdFlag.REQ_ONE) !== 0;
        const descriptors = P.statusDescriptors(device.runs(h.offset, h.length), h.length, reqOne);
        this.send(P.blockStatusChunk(h.cookie, s.allocationContext, descriptors));
        return;
      }
      default:
        throw new RequestError(P.Errno.EINVAL, `command ${h.type} is not supported`);
    }
  }
}
