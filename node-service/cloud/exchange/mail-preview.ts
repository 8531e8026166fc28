/**
 * What the mail browser shows of a stored message, read from its MIME: its fields
 * (messageDetail), a preview that can neither run anything nor reach anything outside
 * (previewDocument, served with PREVIEW_CSP into a sandboxed iframe) and its attachments
 * (attachmentContent). A message is untrusted input: the HTML is sanitised with sanitize-html
 * (no script, event handlers, javascript: links, frames, objects, forms, meta refresh or base;
 * no CSS reaching a remote host), inline images (cid:) become data: URIs up to a size, remote
 * images are removed and counted; names and types of attachments are made safe. A MIME that
 * cannot be read is a MailContentError.
 */
import sanitizeHtml from 'sanitize-html';
import type { Attachment, ParsedMail } from 'mailparser';
import type { MailAddress } from './model.js';
import { addressesOf, MailContentError, parseMessage, safeContentType, safeFileName, textOfHtml, type MimeSource } from './mail-mime.js';

export { MailContentError } from './mail-mime.js';

/**
 * The Content-Security-Policy the server sends with a preview: nothing loads but data: images
 * and inline styles, nothing runs, no form goes anywhere, only our own pages may frame it, and
 * the document is sandboxed (links may open a new tab, outside the sandbox).
 */
export const PREVIEW_CSP =
  "default-src 'none'; img-src data:; style-src 'unsafe-inline'; font-src data:; form-action 'none'; base-uri 'none'; frame-ancestors 'self'; sandbox allow-popups allow-popups-to-escape-sandbox";
/** The same inside the document (a meta CSP cannot carry sandbox or frame-ancestors), for a preview shown through srcdoc. */
const META_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; font-src data:; form-action 'none'; base-uri 'none'";

/** Inline images are inlined up to this size each, and this much together. */
export const INLINE_IMAGE_MAX = 5 * 1024 * 1024;
export const INLINE_IMAGES_TOTAL_MAX = 20 * 1024 * 1024;
/** The HTML previewed: a longer body is cut (the attachment or an export has all of it). */
const HTML_MAX = 8 * 1024 * 1024;
/** The text in a message's detail. */
const TEXT_MAX = 1024 * 1024;

export interface MailAttachmentEntry {
  /** Position among the MIME's attachments (attachmentContent's index). */
  index: number;
  name: string;
  size: number;
  contentType: string;
  inline: boolean;
}

export interface MessageDetail {
  subject: string;
  from: MailAddress | null;
  to: MailAddress[];
  cc: MailAddress[];
  bcc: MailAddress[];
  replyTo: MailAddress[];
  sentAt: string | null;
  internetMessageId: string | null;
  text: string;
  hasHtml: boolean;
  attachments: MailAttachmentEntry[];
  remoteContentBlocked: number;
}

export interface PreviewDocument {
  html: string;
  remoteContentBlocked: number;
}

/** The fields of a message, its text, its attachments and how much remote content its preview leaves out. */
export async function messageDetail(mime: MimeSource): Promise<MessageDetail> {
  const mail = await parseMessage(mime);
  const html = typeof mail.html === 'string' ? mail.html : null;
  const text = (mail.text ?? '').trim() === '' && html !== null ? await textOfHtml(html) : (mail.text ?? '');
  return {
    subject: mail.subject ?? '',
    from: addressesOf(mail.from)[0] ?? null,
    to: addressesOf(mail.to),
    cc: addressesOf(mail.cc),
    bcc: addressesOf(mail.bcc),
    replyTo: addressesOf(mail.replyTo),
    sentAt: mail.date && !Number.isNaN(mail.date.getTime()) ? mail.date.toISOString() : null,
    internetMessageId: mail.messageId ?? null,
    text: text.length > TEXT_MAX ? `${text.slice(0, TEXT_MAX)}\n…` : text,
    hasHtml: html !== null,
    attachments: mail.attachments.map(entryOf),
    remoteContentBlocked: html !== null ? sanitize(html, mail.attachments).blocked : 0,
  };
}

/** A complete HTML document showing the message safely (see the top of this file). */
export async function previewDocument(mime: MimeSource): Promise<PreviewDocument> {
  const mail = await parseMessage(mime, { skipHtmlToText: true });
  const html = typeof mail.html === 'string' ? mail.html : null;
  if (html === null) return { html: documentOf(`<pre class="vplus-text">${escapeHtml(textOf(mail))}</pre>`), remoteContentBlocked: 0 };
  const { html: body, blocked } = sanitize(html, mail.attachments);
  return { html: documentOf(body), remoteContentBlocked: blocked };
}

/** An attachment's bytes, with a name safe to offer as a download and a safe content type. */
export async function attachmentContent(mime: MimeSource, index: number): Promise<{ name: string; contentType: string; content: Buffer }> {
  const mail = await parseMessage(mime, { skipHtmlToText: true });
  const a = Number.isInteger(index) && index >= 0 ? mail.attachments[index] : undefined;
  if (!a) throw new MailContentError(`the message has no attachment number ${index} (it has ${mail.attachments.length})`);
  const e = entryOf(a, index);
  return { name: e.name, contentType: e.contentType, content: a.content };
}

function entryOf(a: Attachment, index: number): MailAttachmentEntry {
  return {
    index,
    name: safeFileName(a.filename, `attachment-${index + 1}`),
    size: a.size,
    contentType: safeContentType(a.contentType),
    inline: a.related === true || (a.contentDisposition === 'inline' && !!a.cid),
  };
}

function textOf(mail: ParsedMail): string {
  const t = mail.text ?? '';
  return t.length > TEXT_MAX ? `${t.slice(0, TEXT_MAX)}\n…` : t;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function documentOf(body: string): string {
  return [
    '<!DOCTYPE html>',
    '<html><head><meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="${META_CSP}">`,
    '<meta name="referrer" content="no-referrer">',
    '<style>body{margin:8px;font-family:system-ui,sans-serif;font-size:14px;overflow-wrap:anywhere}pre.vplus-text{white-space:pre-wrap;font-family:inherit;margin:0}img{max-width:100%;height:auto}</style>',
    '</head><body>',
    body,
    '</body></html>',
  ].join('');
}

const REMOTE = /^\s*(?:https?:|\/\/|ftp:)/i;

/** Decodes CSS escapes (\75 rl → url) so hidden url()s and expressions are seen. */
function unescapeCss(css: string): string {
  return css.replace(/\\([0-9a-f]{1,6})\s?|\\(.)/gi, (_m, hex: string | undefined, ch: string | undefined) => {
    if (hex === undefined) return ch ?? '';
    const code = parseInt(hex, 16);
    return code > 0 && code <= 0x10ffff && !(code >= 0xd800 && code <= 0xdfff) ? String.fromCodePoint(code) : '\ufffd';
  });
}

/** CSS without anything that loads or runs: @import, url() other than data: images, expression(), bindings. */
function cleanCss(css: string, count: () => void): string {
  return unescapeCss(css)
    .replace(/@import[^;]*;?/gi, () => {
      count();
      return '';
    })
    .replace(/url\s*\(\s*(['"]?)([^'")]*)\1\s*\)/gi, (_m, _q: string, target: string) => {
      if (/^data:image\//i.test(target.trim())) return `url("${target.trim().replace(/["\\]/g, '')}")`;
      count();
      return 'none';
    })
    .replace(/expression\s*\(|-moz-binding|behavior\s*:|javascript:/gi, '');
}

const ALLOWED_TAGS = [
  ...sanitizeHtml.defaults.allowedTags.filter((t) => t !== 'style'),
  'img', 'style', 'font', 'center', 'span', 'div', 'u', 's', 'strike', 'small', 'big', 'sub', 'sup', 'hr', 'br', 'col', 'colgroup', 'caption', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6',
];
const PRESENTATION = ['style', 'class', 'align', 'valign', 'width', 'height', 'bgcolor', 'color', 'dir', 'lang', 'title', 'border', 'cellpadding', 'cellspacing', 'colspan', 'rowspan', 'face', 'size', 'nowrap'];

/**
 * The sanitised HTML of a body: what may stay (formatting, tables, links, images), inline
 * images as data: URIs, and the count of remote things taken out.
 */
function sanitize(input: string, attachments: Attachment[]): { html: string; blocked: number } {
  let blocked = 0;
  const count = (): void => void blocked++;
  let inlined = 0;
  const byCid = new Map<string, Attachment>();
  for (const a of attachments) if (a.cid) byCid.set(a.cid.toLowerCase(), a);
  const html = input.length > HTML_MAX ? input.slice(0, HTML_MAX) : input;
  const clean = sanitizeHtml(html, {
    allowedTags: ALLOWED_TAGS,
    allowVulnerableTags: true, // <style> is needed for most HTML mail; its CSS is cleaned below and CSP blocks the rest
    disallowedTagsMode: 'discard',
    nonTextTags: ['script', 'textarea', 'option', 'noscript', 'title', 'template', 'xmp', 'noembed', 'noframes', 'iframe', 'object'],
    allowedAttributes: { '*': PRESENTATION, a: ['href', 'name', 'target', 'rel'], img: ['src', 'alt'], td: ['background'], table: ['background'], body: ['background'] },
    allowedSchemes: ['http', 'https', 'mailto'],
    allowedSchemesByTag: { img: ['data'] },
    allowedSchemesAppliedToAttributes: ['href', 'src'],
    allowProtocolRelative: false,
    parseStyleAttributes: false,
    transformTags: {
      '*': (tagName, attribs) => {
        const out: Record<string, string> = { ...attribs };
        if (out.style !== undefined) out.style = cleanCss(out.style, count);
        if (out.background !== undefined) {
          // A background image attribute is always remote or cid: it goes (a cid: one too, rarely used).
          if (REMOTE.test(out.background)) count();
          delete out.background;
        }
        if (out.srcset !== undefined || out.dynsrc !== undefined || out.lowsrc !== undefined) count();
        return { tagName, attribs: out };
      },
      a: (tagName, attribs) => ({ tagName, attribs: { ...attribs, ...(attribs.style !== undefined ? { style: cleanCss(attribs.style, count) } : {}), rel: 'noopener noreferrer', target: '_blank' } }),
      img: (tagName, attribs) => {
        const out: Record<string, string> = { ...attribs };
        if (out.style !== undefined) out.style = cleanCss(out.style, count);
        if (out.srcset !== undefined) count();
        const src = (out.src ?? '').trim();
        delete out.src;
        delete out.srcset;
        if (/^cid:/i.test(src)) {
          const a = byCid.get(decodeURIComponentSafe(src.slice(4)).replace(/^<|>$/g, '').toLowerCase());
          if (a && a.size <= INLINE_IMAGE_MAX && inlined + a.size <= INLINE_IMAGES_TOTAL_MAX && /^image\/[a-z0-9.+-]+$/i.test(safeContentType(a.contentType))) {
            inlined += a.size;
            out.src = `data:${safeContentType(a.contentType)};base64,${a.content.toString('base64')}`;
          }
        } else if (/^data:image\//i.test(src)) out.src = src;
        else if (src !== '') count();
        return { tagName, attribs: out };
      },
    },
  });
  // The CSS of <style> elements (sanitize-html passes it as it is).
  const styled = clean.replace(/(<style\b[^>]*>)([\s\S]*?)(<\/style>)/gi, (_m, open: string, css: string, close: string) => `${open}${cleanCss(css, count).replace(/<\//g, '<\\/')}${close}`);
  return { html: styled, blocked };
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

export type { MimeSource } from './mail-mime.js';
