/**
 * Upload sessions for large message attachments, as attachment: createUploadSession and
 * https://learn.microsoft.com/graph/outlook-large-attachments document them: the uploadUrl (on
 * another host, Outlook's in the real service; here the file host) takes sequential PUTs of at
 * most 4 MB (the documentation says "up to 4 MB each time"; larger is refused) with Content-Range
 * and no Authorization header; each answers 200 with nextExpectedRanges until the last, which attaches the file and answers 201 with a Location
 * header naming the attachment; DELETE cancels.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { readAll } from './content.js';
import { GraphError, type GraphResult } from './errors.js';
import type { Mailbox, MessageRecord } from './mailbox.model.js';
import type { RequestRecord } from './traffic.js';

const MAX_FRAGMENT = 4 * 1024 * 1024;
const PATH = /^\/api\/v2\.0\/Users\('([^']+)'\)\/Messages\('([^']+)'\)\/AttachmentSessions\('([^']+)'\)$/;

interface MailUpload {
  id: string;
  tenantId: string;
  box: Mailbox;
  message: MessageRecord;
  item: { name: string; size: number; contentType: string; isInline: boolean; contentId?: string };
  parts: Buffer[];
  received: number;
  expires: Date;
}

export class MailUploads {
  private readonly sessions = new Map<string, MailUpload>();

  constructor(private readonly origin: () => string) {}

  create(tenantId: string, box: Mailbox, message: MessageRecord, item: MailUpload['item'], _graphBase: string): Record<string, unknown> {
    const s: MailUpload = { id: randomUUID(), tenantId, box, message, item, parts: [], received: 0, expires: new Date(Date.now() + 15 * 60_000) };
    this.sessions.set(s.id, s);
    return {
      '@odata.context': 'https://graph.microsoft.com/v1.0/$metadata#microsoft.graph.uploadSession',
      uploadUrl: `${this.origin()}/api/v2.0/Users('${box.owner.id}')/Messages('${encodeURIComponent(message.immutableId)}')/AttachmentSessions('${s.id}')?authtoken=${randomUUID()}`,
      expirationDateTime: s.expires.toISOString(),
      nextExpectedRanges: ['0-'],
    };
  }

  matches(url: URL): boolean {
    return PATH.test(url.pathname);
  }

  identify(url: URL, rec: RequestRecord): void {
    const s = this.find(url);
    if (s) {
      rec.tenantId = s.tenantId;
      rec.owner = { kind: 'user', id: s.box.owner.id, name: s.box.owner.upn };
    }
  }

  private find(url: URL): MailUpload | undefined {
    const m = PATH.exec(url.pathname);
    const s = m ? this.sessions.get(m[3]!) : undefined;
    return s && s.expires.getTime() > Date.now() ? s : undefined;
  }

  async handle(req: IncomingMessage, url: URL): Promise<GraphResult> {
    const s = this.find(url);
    if (!s) throw new GraphError(404, 'ErrorItemNotFound', 'The upload session was not found or has expired.');
    if (req.method === 'DELETE') {
      this.sessions.delete(s.id);
      return { status: 204 };
    }
    if (req.method !== 'PUT') throw new GraphError(405, 'ErrorInvalidRequest', 'Use PUT to upload a range.');
    if (req.headers.authorization !== undefined) throw new GraphError(401, 'InvalidAuthenticationToken', 'Do not send an Authorization header to the upload URL: it is pre-authenticated.');
    const body = await readAll(req, MAX_FRAGMENT + 1);
    const m = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(req.headers['content-range'] ?? '');
    if (!m) throw new GraphError(400, 'ErrorInvalidRequest', 'The Content-Range header is missing or malformed.');
    const [start, end, total] = [Number(m[1]), Number(m[2]), Number(m[3])];
    if (total !== s.item.size) throw new GraphError(400, 'ErrorInvalidRequest', 'The total size does not match the AttachmentItem size.');
    if (body.length > MAX_FRAGMENT) throw new GraphError(400, 'ErrorInvalidRequest', 'Ranges are limited to 4 MB each.');
    if (start !== s.received || end < start || body.length !== end - start + 1) throw new GraphError(416, 'ErrorInvalidRange', `Expected the range starting at ${s.received}.`);
    s.parts.push(body);
    s.received = end + 1;
    // As the walkthrough shows it: ExpirationDateTime capitalised, the next range as its start only.
    if (s.received < total) {
      const ctx = `${this.origin()}/api/v2.0/$metadata#Users('${encodeURIComponent(s.box.owner.id)}')/Messages('${encodeURIComponent(s.message.immutableId)}')/AttachmentSessions/$entity`;
      return { status: 200, json: { '@odata.context': ctx, ExpirationDateTime: s.expires.toISOString(), nextExpectedRanges: [String(s.received)] } };
    }
    this.sessions.delete(s.id);
    const a = s.box.addAttachment(s.message, { ...s.item, content: Buffer.concat(s.parts) });
    return { status: 201, headers: { Location: `${this.origin()}/api/v2.0/Users('${s.box.owner.id}')/Messages('${encodeURIComponent(s.message.immutableId)}')/Attachments('${a.id}')` } };
  }
}
