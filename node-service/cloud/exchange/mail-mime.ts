/**
 * Reading a stored message's MIME with mailparser, for the restore, the preview and the
 * export. The MIME comes from a mailbox, so from anyone: its size is capped, mailparser is
 * told to keep cid: links as they are (the restore re-attaches the inline parts; the preview
 * inlines them itself, capped) and every failure is a MailContentError saying which message
 * could not be read, never a crash.
 */
import { simpleParser, type AddressObject, type EmailAddress, type ParsedMail } from 'mailparser';
import type { MailAddress } from './model.js';

/** Above this a message is not parsed (Exchange's own limit for a message is 150 MB). */
export const MAX_MIME_BYTES = 160 * 1024 * 1024;
/** A header block larger than this is refused (ordinary mail has a few KiB; Exchange allows 256 KiB). */
export const MAX_HEADER_BYTES = 1024 * 1024;

export class MailContentError extends Error {
  readonly code = 'MAIL_UNREADABLE';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MailContentError';
  }
}

export type MimeSource = Buffer | Uint8Array | AsyncIterable<Uint8Array>;

/** The whole MIME in memory, refused past `max` bytes. */
export async function readMime(source: MimeSource, max = MAX_MIME_BYTES): Promise<Buffer> {
  if (source instanceof Uint8Array) {
    if (source.length > max) throw new MailContentError(`the message is ${source.length} bytes, more than the ${max} bytes a message may have`);
    return Buffer.from(source.buffer, source.byteOffset, source.length);
  }
  const parts: Buffer[] = [];
  let size = 0;
  for await (const b of source) {
    size += b.length;
    if (size > max) throw new MailContentError(`the message is more than the ${max} bytes a message may have`);
    parts.push(Buffer.from(b.buffer, b.byteOffset, b.length));
  }
  return Buffer.concat(parts, size);
}

function headerBlockSize(mime: Buffer): number {
  const crlf = mime.indexOf('\r\n\r\n');
  const lf = mime.indexOf('\n\n');
  const ends = [crlf, lf].filter((i) => i >= 0);
  return ends.length ? Math.min(...ends) : mime.length;
}

/** Parses a message; cid: links stay as they are. */
export async function parseMessage(source: MimeSource, options: { skipHtmlToText?: boolean } = {}): Promise<ParsedMail> {
  const mime = await readMime(source);
  if (headerBlockSize(mime) > MAX_HEADER_BYTES) throw new MailContentError(`the message's header is larger than ${MAX_HEADER_BYTES} bytes: it is not a message this tool reads`);
  try {
    return await simpleParser(mime, { keepCidLinks: true, skipTextToHtml: true, skipTextLinks: true, maxHtmlLengthToParse: 8 * 1024 * 1024, ...(options.skipHtmlToText ? { skipHtmlToText: true } : {}) });
  } catch (err) {
    throw new MailContentError(`the message cannot be parsed as MIME: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * The text of an HTML body, by mailparser's own conversion (html-to-text), which it makes only
 * for an HTML part at the top of a message: an HTML part inside multipart/related (a message
 * with inline images) has no text otherwise.
 */
export async function textOfHtml(html: string): Promise<string> {
  const mime = Buffer.concat([Buffer.from('Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n'), Buffer.from(html, 'utf8')]);
  try {
    return (await simpleParser(mime, { skipTextToHtml: true, skipTextLinks: true, skipImageLinks: true, maxHtmlLengthToParse: 8 * 1024 * 1024 })).text ?? '';
  } catch {
    return '';
  }
}

function flatten(list: EmailAddress[], out: MailAddress[]): void {
  for (const a of list) {
    if (a.group) flatten(a.group, out);
    else if (a.address) out.push({ name: a.name ? a.name : null, address: a.address });
  }
}

/** The mailboxes of an address header (groups replaced by their members). */
export function addressesOf(v: AddressObject | AddressObject[] | undefined): MailAddress[] {
  const out: MailAddress[] = [];
  for (const o of v === undefined ? [] : Array.isArray(v) ? v : [v]) flatten(o.value, out);
  return out;
}

/**
 * A file name from a message safe to show and to use as one path component: no directory
 * parts, no control characters or NUL, no characters Windows refuses, at most 200 characters.
 */
export function safeFileName(name: string | undefined, fallback: string): string {
  const base = (name ?? '').split(/[/\\]/).pop() ?? '';
  const clean = base
    .replace(/[\p{Cc}:*?"<>|]/gu, '_')
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/^\.+/, '');
  const cut = [...clean].slice(0, 200).join('').trim();
  return cut === '' ? fallback : cut;
}

/** An attachment's content type, reduced to type/subtype with safe characters (a hostile header must not reach an HTTP header). */
export function safeContentType(t: string | undefined): string {
  const m = /^([a-z0-9][a-z0-9!#$&^_.+-]{0,62})\/([a-z0-9][a-z0-9!#$&^_.+-]{0,126})$/i.exec((t ?? '').trim());
  return m ? `${m[1]!.toLowerCase()}/${m[2]!.toLowerCase()}` : 'application/octet-stream';
}
