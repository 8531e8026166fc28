/**
 * mbox export in the mboxrd flavour (the one mutt, Thunderbird's import and Python's mailbox
 * read without loss): each message starts with a "From <sender> <asctime date>" line, its
 * lines end in LF (CRLF is turned into LF, as mbox is a Unix format), every line matching
 * /^>*From / gets one more ">" (so a reader removes exactly one and gets the line back), and a
 * blank line follows each message. Written as the messages stream from the repository: one
 * line at a time is held, never a message.
 */
import { once } from 'node:events';
import type { Writable } from 'node:stream';

export interface MboxMessage {
  mime: AsyncIterable<Uint8Array>;
  /** The envelope sender (the From address); null: MAILER-DAEMON. */
  from: string | null;
  /** When it was received (or sent); null: the epoch, as mbox has no "unknown". */
  date: Date | null;
}

export interface MboxResult {
  messages: number;
  bytes: number;
}

const LF = 0x0a;
const CR = 0x0d;
const GT = 0x3e;
const FROM_ = Buffer.from('From ');
/** A partial line is held until it can be quoted; longer than this, it is written as it is (">"-runs that long are no mail). */
const MAX_HELD = 64 * 1024;
const NL_BUF = Buffer.from('\n');
const GT_BUF = Buffer.from('>');

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const two = (n: number): string => String(n).padStart(2, '0');

/** C's asctime() of a time in UTC: "Tue Jan  2 09:59:00 2024". */
export function asctime(d: Date): string {
  const t = Number.isNaN(d.getTime()) ? new Date(0) : d;
  return `${DAYS[t.getUTCDay()]} ${MONTHS[t.getUTCMonth()]} ${String(t.getUTCDate()).padStart(2, ' ')} ${two(t.getUTCHours())}:${two(t.getUTCMinutes())}:${two(t.getUTCSeconds())} ${t.getUTCFullYear()}`;
}

/** The "From " line of a message; the sender made one word (mbox separates fields by spaces). */
export function fromLine(from: string | null, date: Date | null): string {
  const sender = (from ?? '').replace(/[\s\p{Cc}]+/gu, '');
  return `From ${sender === '' ? 'MAILER-DAEMON' : sender} ${asctime(date ?? new Date(0))}\n`;
}

/** Whether a line (its start, at least up to "From ") matches /^>*From /; null: not known yet from so few bytes. */
function needsQuote(line: Buffer): boolean | null {
  let i = 0;
  while (i < line.length && line[i] === GT) i++;
  for (let k = 0; k < FROM_.length; k++) {
    if (i + k >= line.length) return null;
    if (line[i + k] !== FROM_[k]) return false;
  }
  return true;
}

/** Turns one message's bytes into mboxrd body lines. */
class BodyEncoder {
  /** The start of the current line, not yet written (its quoting undecided). */
  private held: Buffer = Buffer.alloc(0);
  /** The current line was already partly written (its quoting decided). */
  private midLine = false;
  /** A CR ended the last chunk: a CRLF if the next chunk starts with LF. */
  private pendingCR = false;

  encode(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    const data = chunk;
    if (data.length === 0) return out;
    if (this.pendingCR) {
      this.pendingCR = false;
      // A CRLF split between chunks loses its CR; a lone CR stays.
      if (data[0] !== LF) this.text(Buffer.from([CR]), out);
    }
    let start = 0;
    for (;;) {
      const nl = data.indexOf(LF, start);
      if (nl < 0) break;
      const end = nl > start && data[nl - 1] === CR ? nl - 1 : nl;
      if (!this.midLine && this.held.length === 0) {
        // A whole line inside this chunk (the common case): decided and passed on without a copy.
        const line = data.subarray(start, end);
        if (needsQuote(line) === true) out.push(GT_BUF);
        if (line.length > 0) out.push(line);
        out.push(NL_BUF);
      } else {
        this.text(data.subarray(start, end), out);
        this.endLine(out);
      }
      start = nl + 1;
    }
    let rest = data.subarray(start);
    if (rest.length > 0 && rest[rest.length - 1] === CR) {
      this.pendingCR = true;
      rest = rest.subarray(0, rest.length - 1);
    }
    if (rest.length > 0) this.text(rest, out);
    return out;
  }

  /** The end of the message: its last line ended, and the blank line after it. */
  finish(): Buffer[] {
    const out: Buffer[] = [];
    if (this.pendingCR) {
      this.pendingCR = false;
      this.text(Buffer.from([CR]), out);
    }
    if (this.held.length > 0 || this.midLine) this.endLine(out);
    out.push(Buffer.from('\n'));
    return out;
  }

  /** Bytes of the current line (no LF in them). */
  private text(bytes: Buffer, out: Buffer[]): void {
    if (bytes.length === 0) return;
    if (this.midLine) {
      out.push(bytes);
      return;
    }
    this.held = this.held.length ? Buffer.concat([this.held, bytes]) : Buffer.from(bytes);
    const quote = needsQuote(this.held);
    if (quote === null && this.held.length < MAX_HELD) return;
    if (quote === true) out.push(GT_BUF);
    out.push(this.held);
    this.held = Buffer.alloc(0);
    this.midLine = true;
  }

  private endLine(out: Buffer[]): void {
    if (!this.midLine && this.held.length > 0) {
      if (needsQuote(this.held) === true) out.push(GT_BUF);
      out.push(this.held);
    }
    this.held = Buffer.alloc(0);
    this.midLine = false;
    out.push(NL_BUF);
  }
}

/** One write per chunk read: a line is several small buffers, and a write each made the export 3x slower than reading. */
async function write(out: Writable, buffers: Buffer[]): Promise<number> {
  const joined = buffers.length === 1 ? buffers[0]! : Buffer.concat(buffers);
  if (joined.length === 0) return 0;
  if (!out.write(joined)) await once(out, 'drain');
  return joined.length;
}

/**
 * Writes messages as one mboxrd stream, in the order given; `out` is not ended (the caller may
 * add more or close it). Cancelled through `signal` between chunks.
 */
export async function writeMbox(messages: AsyncIterable<MboxMessage>, out: Writable, signal?: AbortSignal): Promise<MboxResult> {
  let count = 0;
  let bytes = 0;
  for await (const m of messages) {
    signal?.throwIfAborted();
    bytes += await write(out, [Buffer.from(fromLine(m.from, m.date), 'utf8')]);
    const enc = new BodyEncoder();
    for await (const chunk of m.mime) {
      signal?.throwIfAborted();
      bytes += await write(out, enc.encode(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length)));
    }
    bytes += await write(out, enc.finish());
    count++;
  }
  return { messages: count, bytes };
}
