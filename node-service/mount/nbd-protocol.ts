/**
 * NBD wire format (server side): the constants and the encoding of handshake messages and
 * transmission replies, kept apart from the I/O so they can be tested byte by byte.
 * Spec: https://github.com/NetworkBlockDevice/nbd/blob/master/doc/proto.md (fixed newstyle
 * negotiation, structured replies, base:allocation). Extended headers are not offered.
 */

export const NBDMAGIC = 0x4e42444d41474943n; // "NBDMAGIC"
export const IHAVEOPT = 0x49484156454f5054n; // "IHAVEOPT"
export const OPT_REPLY_MAGIC = 0x3e889045565a9n;
export const REQUEST_MAGIC = 0x25609513;
export const SIMPLE_REPLY_MAGIC = 0x67446698;
export const STRUCTURED_REPLY_MAGIC = 0x668e33ef;

/** Handshake flags (server) and client flags. */
export const FLAG_FIXED_NEWSTYLE = 1 << 0;
export const FLAG_NO_ZEROES = 1 << 1;
export const FLAG_C_FIXED_NEWSTYLE = 1 << 0;
export const FLAG_C_NO_ZEROES = 1 << 1;

export const Opt = {
  EXPORT_NAME: 1,
  ABORT: 2,
  LIST: 3,
  STARTTLS: 5,
  INFO: 6,
  GO: 7,
  STRUCTURED_REPLY: 8,
  LIST_META_CONTEXT: 9,
  SET_META_CONTEXT: 10,
} as const;

export const Rep = {
  ACK: 1,
  SERVER: 2,
  INFO: 3,
  META_CONTEXT: 4,
  ERR_UNSUP: 0x80000001,
  ERR_POLICY: 0x80000002,
  ERR_INVALID: 0x80000003,
  ERR_PLATFORM: 0x80000004,
  ERR_TLS_REQD: 0x80000005,
  ERR_UNKNOWN: 0x80000006,
  ERR_SHUTDOWN: 0x80000007,
  ERR_TOO_BIG: 0x80000009,
} as const;

export const Info = { EXPORT: 0, NAME: 1, DESCRIPTION: 2, BLOCK_SIZE: 3 } as const;

/** Transmission flags. */
export const TFlag = {
  HAS_FLAGS: 1 << 0,
  READ_ONLY: 1 << 1,
  SEND_FLUSH: 1 << 2,
  SEND_FUA: 1 << 3,
  SEND_TRIM: 1 << 5,
  SEND_WRITE_ZEROES: 1 << 6,
  SEND_DF: 1 << 7,
  CAN_MULTI_CONN: 1 << 8,
  SEND_CACHE: 1 << 10,
} as const;

export const Cmd = { READ: 0, WRITE: 1, DISC: 2, FLUSH: 3, TRIM: 4, CACHE: 5, WRITE_ZEROES: 6, BLOCK_STATUS: 7 } as const;
export const CmdFlag = { FUA: 1 << 0, NO_HOLE: 1 << 1, DF: 1 << 2, REQ_ONE: 1 << 3, FAST_ZERO: 1 << 4 } as const;

export const ReplyType = { NONE: 0, OFFSET_DATA: 1, OFFSET_HOLE: 2, BLOCK_STATUS: 5, ERROR: 0x8001 } as const;
export const REPLY_FLAG_DONE = 1;

export const Errno = { EPERM: 1, EIO: 5, ENOMEM: 12, EINVAL: 22, ENOSPC: 28, EOVERFLOW: 75, ENOTSUP: 95, ESHUTDOWN: 108 } as const;

/** base:allocation status bits. */
export const STATE_HOLE = 1 << 0;
export const STATE_ZERO = 1 << 1;
export const BASE_ALLOCATION = 'base:allocation';

/** Size constraints we advertise: the spec's defaults (min 1, preferred 4 KiB, 32 MiB payloads). */
export const MIN_BLOCK = 1;
export const PREFERRED_BLOCK = 4096;
export const MAX_PAYLOAD = 32 * 1024 * 1024;
/** Longest option payload we accept (names and queries are at most 4 KiB each). */
export const MAX_OPTION_LENGTH = 64 * 1024;
/** A block status descriptor's length is 32 bits: split longer runs at a 4 KiB-aligned length. */
export const MAX_DESCRIPTOR_LENGTH = 0xfffff000;
/** Descriptors in one block status reply (the spec asks for at most 2^20). */
export const MAX_DESCRIPTORS = 16 * 1024;

export const REQUEST_HEADER_LENGTH = 28;

export function serverGreeting(): Buffer {
  const b = Buffer.alloc(18);
  b.writeBigUInt64BE(NBDMAGIC, 0);
  b.writeBigUInt64BE(IHAVEOPT, 8);
  b.writeUInt16BE(FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES, 16);
  return b;
}

export function optionReply(option: number, type: number, data: Buffer = Buffer.alloc(0)): Buffer {
  const b = Buffer.alloc(20 + data.length);
  b.writeBigUInt64BE(OPT_REPLY_MAGIC, 0);
  b.writeUInt32BE(option, 8);
  b.writeUInt32BE(type, 12);
  b.writeUInt32BE(data.length, 16);
  data.copy(b, 20);
  return b;
}

export function optionError(option: number, type: number, message: string): Buffer {
  return optionReply(option, type, Buffer.from(message, 'utf8'));
}

export function repServer(name: string, description: string): Buffer {
  const n = Buffer.from(name, 'utf8');
  const d = Buffer.from(description, 'utf8');
  const b = Buffer.alloc(4 + n.length + d.length);
  b.writeUInt32BE(n.length, 0);
  n.copy(b, 4);
  d.copy(b, 4 + n.length);
  return b;
}

export function infoExport(size: number, flags: number): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt16BE(Info.EXPORT, 0);
  b.writeBigUInt64BE(BigInt(size), 2);
  b.writeUInt16BE(flags, 10);
  return b;
}

export function infoString(type: typeof Info.NAME | typeof Info.DESCRIPTION, text: string): Buffer {
  const t = Buffer.from(text, 'utf8');
  const b = Buffer.alloc(2 + t.length);
  b.writeUInt16BE(type, 0);
  t.copy(b, 2);
  return b;
}

export function infoBlockSize(): Buffer {
  const b = Buffer.alloc(14);
  b.writeUInt16BE(Info.BLOCK_SIZE, 0);
  b.writeUInt32BE(MIN_BLOCK, 2);
  b.writeUInt32BE(PREFERRED_BLOCK, 6);
  b.writeUInt32BE(MAX_PAYLOAD, 10);
  return b;
}

export function repMetaContext(id: number, name: string): Buffer {
  const n = Buffer.from(name, 'utf8');
  const b = Buffer.alloc(4 + n.length);
  b.writeUInt32BE(id, 0);
  n.copy(b, 4);
  return b;
}

/** The reply to NBD_OPT_EXPORT_NAME: size, flags and (unless NO_ZEROES) 124 zero bytes. */
export function exportNameReply(size: number, flags: number, noZeroes: boolean): Buffer {
  const b = Buffer.alloc(noZeroes ? 10 : 134);
  b.writeBigUInt64BE(BigInt(size), 0);
  b.writeUInt16BE(flags, 8);
  return b;
}

/** Thrown by the parsers on a malformed option payload (answered with NBD_REP_ERR_INVALID). */
export class OptionSyntaxError extends Error {}

class Cursor {
  private at = 0;
  constructor(private readonly buf: Buffer) {}
  u16(): number {
    this.need(2);
    const v = this.buf.readUInt16BE(this.at);
    this.at += 2;
    return v;
  }
  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.at);
    this.at += 4;
    return v;
  }
  string(n: number): string {
    if (n > 4096) throw new OptionSyntaxError('string longer than 4096 bytes');
    this.need(n);
    const s = this.buf.toString('utf8', this.at, this.at + n);
    this.at += n;
    return s;
  }
  end(): void {
    if (this.at !== this.buf.length) throw new OptionSyntaxError('trailing bytes in option data');
  }
  private need(n: number): void {
    if (this.at + n > this.buf.length) throw new OptionSyntaxError('option data too short');
  }
}

/** NBD_OPT_INFO / NBD_OPT_GO data: export name and the information types asked for. */
export function parseInfoRequest(data: Buffer): { name: string; requests: number[] } {
  const c = new Cursor(data);
  const name = c.string(c.u32());
  const count = c.u16();
  const requests: number[] = [];
  for (let i = 0; i < count; i++) requests.push(c.u16());
  c.end();
  return { name, requests };
}

/** NBD_OPT_LIST_META_CONTEXT / NBD_OPT_SET_META_CONTEXT data: export name and queries. */
export function parseMetaContextRequest(data: Buffer): { name: string; queries: string[] } {
  const c = new Cursor(data);
  const name = c.string(c.u32());
  const count = c.u32();
  const queries: string[] = [];
  for (let i = 0; i < count; i++) queries.push(c.string(c.u32()));
  c.end();
  return { name, queries };
}

export interface RequestHeader {
  flags: number;
  type: number;
  /** The client's opaque 8 bytes, echoed in every reply chunk. */
  cookie: Buffer;
  /** Past Number.MAX_SAFE_INTEGER it is rounded; the bounds check refuses it anyway. */
  offset: number;
  length: number;
}

/** Parses a 28-byte request header; null when the magic is wrong (the client is confused: hang up). */
export function parseRequestHeader(b: Buffer): RequestHeader | null {
  if (b.length < REQUEST_HEADER_LENGTH || b.readUInt32BE(0) !== REQUEST_MAGIC) return null;
  return {
    flags: b.readUInt16BE(4),
    type: b.readUInt16BE(6),
    cookie: Buffer.from(b.subarray(8, 16)),
    offset: Number(b.readBigUInt64BE(16)),
    length: b.readUInt32BE(24),
  };
}

export function simpleReply(cookie: Buffer, error: number): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt32BE(SIMPLE_REPLY_MAGIC, 0);
  b.writeUInt32BE(error, 4);
  cookie.copy(b, 8);
  return b;
}

/** A structured reply chunk's 20-byte header; the payload follows. */
export function chunkHeader(cookie: Buffer, flags: number, type: number, length: number): Buffer {
  const b = Buffer.alloc(20);
  b.writeUInt32BE(STRUCTURED_REPLY_MAGIC, 0);
  b.writeUInt16BE(flags, 4);
  b.writeUInt16BE(type, 6);
  cookie.copy(b, 8);
  b.writeUInt32BE(length, 16);
  return b;
}

/** Header and offset of an NBD_REPLY_TYPE_OFFSET_DATA chunk; `dataLength` bytes of data follow. */
export function offsetDataHeader(cookie: Buffer, offset: number, dataLength: number, done: boolean): Buffer {
  const h = chunkHeader(cookie, done ? REPLY_FLAG_DONE : 0, ReplyType.OFFSET_DATA, 8 + dataLength);
  const o = Buffer.alloc(8);
  o.writeBigUInt64BE(BigInt(offset), 0);
  return Buffer.concat([h, o]);
}

export function offsetHoleChunk(cookie: Buffer, offset: number, length: number, done: boolean): Buffer {
  const b = Buffer.alloc(32);
  chunkHeader(cookie, done ? REPLY_FLAG_DONE : 0, ReplyType.OFFSET_HOLE, 12).copy(b, 0);
  b.writeBigUInt64BE(BigInt(offset), 20);
  b.writeUInt32BE(length, 28);
  return b;
}

export function noneChunk(cookie: Buffer): Buffer {
  return chunkHeader(cookie, REPLY_FLAG_DONE, ReplyType.NONE, 0);
}

export function errorChunk(cookie: Buffer, error: number, message: string): Buffer {
  const m = Buffer.from(message.slice(0, 1024), 'utf8');
  const b = Buffer.alloc(20 + 6 + m.length);
  chunkHeader(cookie, REPLY_FLAG_DONE, ReplyType.ERROR, 6 + m.length).copy(b, 0);
  b.writeUInt32BE(error, 20);
  b.writeUInt16BE(m.length, 24);
  m.copy(b, 26);
  return b;
}

export interface StatusDescriptor {
  length: number;
  flags: number;
}

export function blockStatusChunk(cookie: Buffer, contextId: number, descriptors: readonly StatusDescriptor[]): Buffer {
  const b = Buffer.alloc(20 + 4 + 8 * descriptors.length);
  chunkHeader(cookie, REPLY_FLAG_DONE, ReplyType.BLOCK_STATUS, 4 + 8 * descriptors.length).copy(b, 0);
  b.writeUInt32BE(contextId, 20);
  let at = 24;
  for (const d of descriptors) {
    b.writeUInt32BE(d.length, at);
    b.writeUInt32BE(d.flags, at + 4);
    at += 8;
  }
  return b;
}

/** A run of the export: data (allocated) or reading as zeros (a hole). */
export interface DiskRun {
  offset: number;
  length: number;
  zero: boolean;
}

/**
 * Turns runs starting at the request's offset into base:allocation descriptors following the
 * spec: lengths fit 32 bits, consecutive equal statuses are merged, at most MAX_DESCRIPTORS,
 * and every descriptor but the last ends before the request does. With REQ_ONE, exactly one
 * descriptor, no longer than the request.
 */
export function statusDescriptors(runs: readonly DiskRun[], requestLength: number, reqOne: boolean): StatusDescriptor[] {
  const out: StatusDescriptor[] = [];
  let covered = 0;
  for (const r of runs) {
    const flags = r.zero ? STATE_HOLE | STATE_ZERO : 0;
    let left = r.length;
    while (left > 0 && covered < requestLength && out.length < MAX_DESCRIPTORS) {
      const last = out[out.length - 1];
      if (last && last.flags === flags && last.length + left <= MAX_DESCRIPTOR_LENGTH) {
        last.length += left;
        covered += left;
        left = 0;
        break;
      }
      const n = Math.min(left, MAX_DESCRIPTOR_LENGTH);
      out.push({ length: n, flags });
      covered += n;
      left -= n;
    }
    if (covered >= requestLength || out.length >= MAX_DESCRIPTORS) break;
  }
  const first = out[0];
  if (reqOne && first) return [{ length: Math.min(first.length, requestLength), flags: first.flags }];
  return out;
}
