/**
 * Mail under /users/{id | userPrincipalName}:
 *   GET mailFolders, mailFolders/delta, mailFolders/msgfolderroot, mailFolders/{id}, mailFolders/{id}/childFolders (paged, $top, default 10)
 *   GET mailFolders/{id}/messages, mailFolders/{id}/messages/delta (mail-delta.ts)
 *   POST messages (into Drafts) and mailFolders/{id}/messages: JSON, or MIME (Content-Type text/plain, base64)
 *   GET / PATCH / DELETE messages/{id} (also under mailFolders/{id}/), POST messages/{id}/move, GET messages/{id}/$value
 *   GET messages/{id}/attachments, attachments/{id}, attachments/{id}/$value; POST attachments; POST attachments/createUploadSession
 * Folder ids and the well-known names inbox, drafts, sentitems, deleteditems, archive address folders.
 * A user without a mailbox answers 404 MailboxNotEnabledForRESTAPI.
 */
import { GraphError, type GraphResult } from './errors.js';
import { type GraphContext, type GraphRoute, ROLES, json } from './graph-routes.js';
import { attachmentJson, folderJson, messageJson, wantsImmutableIds } from './mail-json.js';
import { deltaResponse } from './mail-delta.js';
import type { Mailbox, MessageRecord } from './mailbox.model.js';
import { type Address, composeMime, parseMime } from './mime.js';
import { mailboxOwner, mailboxOf, outlookNotFound } from './outlook-common.js';
import { page, select } from './resources.js';

const PR_MESSAGE_FLAGS = 'integer 0x0e07';
const MSGFLAG_READ = 0x1;
const MSGFLAG_UNSENT = 0x8;

function collection(ctx: GraphContext, context: string, all: unknown[]): GraphResult {
  const { items, nextLink } = page(all, ctx.query, ctx.url, Math.min(Number(ctx.query.get('$top') ?? 10) || 10, 1000));
  return json(200, { '@odata.context': `${ctx.emu.graphBaseUrl}/$metadata#${context}`, value: items, ...(nextLink !== undefined ? { '@odata.nextLink': nextLink } : {}) });
}

function folderOf(box: Mailbox, ref: string): ReturnType<Mailbox['folder']> {
  const f = box.findFolder(decodeURIComponent(ref));
  if (!f || f.id === box.rootId) throw outlookNotFound();
  return f;
}

function messageOf(box: Mailbox, ref: string): MessageRecord {
  const m = box.findMessage(decodeURIComponent(ref));
  if (!m) throw outlookNotFound();
  return m;
}

const msgJson = (ctx: GraphContext, m: MessageRecord): Record<string, unknown> =>
  select(messageJson(m, { immutable: wantsImmutableIds(ctx.headers.prefer), expand: ctx.query.get('$expand'), webBase: 'https://outlook.office365.com' }), ctx.query);

interface JsonMessage {
  subject?: string;
  body?: { contentType?: string; content?: string };
  from?: { emailAddress?: Address };
  toRecipients?: { emailAddress?: Address }[];
  ccRecipients?: { emailAddress?: Address }[];
  bccRecipients?: { emailAddress?: Address }[];
  replyTo?: { emailAddress?: Address }[];
  isRead?: boolean;
  flag?: { flagStatus?: string };
  internetMessageId?: string;
  singleValueExtendedProperties?: { id: string; value: string }[];
  attachments?: { name?: string; contentType?: string; contentBytes?: string; isInline?: boolean; contentId?: string }[];
}

const FLAG_STATUSES = ['notFlagged', 'flagged', 'complete'] as const;
const flagStatusOf = (f: { flagStatus?: string } | undefined): MessageRecord['flag']['flagStatus'] | undefined => FLAG_STATUSES.find((s) => s === f?.flagStatus);
const recipients = (list: { emailAddress?: Address }[] | undefined): Address[] => (list ?? []).flatMap((r) => (r.emailAddress ? [r.emailAddress] : []));

/** A control (Mailbox.failCreate): the creation of a message with this subject fails. */
function refuseIfFailing(box: Mailbox, subject: string): void {
  const status = box.takeCreateFailure(subject);
  if (status !== undefined) throw new GraphError(status, status === 400 ? 'ErrorInvalidRequest' : 'ErrorInternalServerError', 'An internal server error occurred. The operation failed.');
}

/**
 * Creating a message. MIME (Content-Type text/plain): as the documentation says, a draft
 * (isDraft true, isRead true) whose receivedDateTime is the creation time and sentDateTime the
 * MIME Date. JSON: a draft too, unless PR_MESSAGE_FLAGS ("Integer 0x0E07") is set at creation
 * without MSGFLAG_UNSENT (0x8) — per [MS-OXCMSG] it can be set only before the first save, so a
 * later PATCH of it changes nothing; PR_MESSAGE_DELIVERY_TIME ("SystemTime 0x0E06") and
 * PR_CLIENT_SUBMIT_TIME ("SystemTime 0x0039") set receivedDateTime and sentDateTime.
 */
async function createMessage(ctx: GraphContext, box: Mailbox, folderId: string): Promise<GraphResult> {
  const raw = await ctx.body();
  const type = (ctx.headers['content-type'] ?? '').toLowerCase();
  const now = new Date();
  let m: MessageRecord;
  if (type.startsWith('text/plain')) {
    const text = raw.toString('latin1').replace(/\s+/g, '');
    if (text === '' || !/^[A-Za-z0-9+/]+={0,2}$/.test(text)) throw new GraphError(400, 'ErrorMimeContentInvalidBase64String', 'Invalid base64 string for MIME content.');
    const mime = Buffer.from(text, 'base64');
    refuseIfFailing(box, parseMime(mime).subject);
    m = box.store(folderId, mime, { isRead: true, isDraft: true, receivedDateTime: now });
  } else {
    let j: JsonMessage;
    try {
      j = JSON.parse(raw.toString('utf8')) as JsonMessage;
    } catch {
      throw new GraphError(400, 'RequestBodyRead', 'Invalid JSON in the request body.');
    }
    refuseIfFailing(box, j.subject ?? '');
    const props = new Map((j.singleValueExtendedProperties ?? []).map((p) => [p.id.toLowerCase(), p.value]));
    const flags = props.has(PR_MESSAGE_FLAGS) ? Number(props.get(PR_MESSAGE_FLAGS)) : undefined;
    const when = (id: string): Date | undefined => (props.has(id) ? new Date(props.get(id)!) : undefined);
    const sent = when('systemtime 0x0039');
    const html = (j.body?.contentType ?? 'text').toLowerCase() === 'html';
    const mime = await composeMime({
      subject: j.subject ?? '',
      ...(j.from?.emailAddress ? { from: j.from.emailAddress } : {}),
      to: recipients(j.toRecipients),
      cc: recipients(j.ccRecipients),
      bcc: recipients(j.bccRecipients),
      replyTo: recipients(j.replyTo),
      date: sent ?? now,
      ...(j.internetMessageId !== undefined ? { messageId: j.internetMessageId } : {}),
      ...(html ? { html: j.body?.content ?? '' } : { text: j.body?.content ?? '' }),
      attachments: (j.attachments ?? []).map((a) => ({
        name: a.name ?? 'attachment',
        contentType: a.contentType ?? 'application/octet-stream',
        content: Buffer.from(a.contentBytes ?? '', 'base64'),
        inline: a.isInline ?? false,
        ...(a.contentId !== undefined && a.contentId !== null ? { contentId: a.contentId } : {}),
      })),
    });
    const isDraft = flags === undefined || (flags & MSGFLAG_UNSENT) !== 0;
    const flag = flagStatusOf(j.flag);
    m = box.store(folderId, mime, { isRead: j.isRead ?? (flags !== undefined ? (flags & MSGFLAG_READ) !== 0 : true), isDraft, receivedDateTime: when('systemtime 0x0e06') ?? now, ...(flag ? { flag } : {}) });
  }
  return json(201, { '@odata.context': `${ctx.emu.graphBaseUrl}/$metadata#users('${box.owner.id}')/messages/$entity`, ...msgJson(ctx, m) });
}

async function patchMessage(ctx: GraphContext, box: Mailbox, m: MessageRecord): Promise<GraphResult> {
  const j = JSON.parse((await ctx.body()).toString('utf8') || '{}') as JsonMessage & { flag?: { flagStatus?: string } };
  if (typeof j.isRead === 'boolean') m.isRead = j.isRead;
  const fs = flagStatusOf(j.flag);
  if (fs) m.flag = { flagStatus: fs };
  if (m.isDraft && typeof j.subject === 'string') {
    m.subject = j.subject;
    m.mimeStale = true;
  }
  box.touch(m);
  return json(200, { '@odata.context': `${ctx.emu.graphBaseUrl}/$metadata#users('${box.owner.id}')/messages/$entity`, ...msgJson(ctx, m) });
}

async function messageAction(ctx: GraphContext, box: Mailbox, m: MessageRecord, rest: string): Promise<GraphResult> {
  const method = ctx.method;
  if (rest === '' && method === 'GET') return json(200, msgJson(ctx, m));
  if (rest === '' && method === 'PATCH') return patchMessage(ctx, box, m);
  if (rest === '' && method === 'DELETE') {
    box.delete(m);
    return { status: 204 };
  }
  if (rest === '/$value' && method === 'GET') {
    const failure = box.takeValueFailure(m);
    if (failure !== undefined) throw new GraphError(failure, failure === 404 ? 'ErrorItemNotFound' : 'ErrorInternalServerError', 'An internal server error occurred. The operation failed.');
    return { status: 200, headers: { 'Content-Type': 'text/plain' }, body: await box.mimeOf(m) };
  }
  if (rest === '/move' && method === 'POST') {
    const { destinationId } = JSON.parse((await ctx.body()).toString('utf8') || '{}') as { destinationId?: string };
    box.move(m, folderOf(box, destinationId ?? '').id);
    return json(201, msgJson(ctx, m));
  }
  if (rest === '/attachments' && method === 'GET') return collection(ctx, `users('${box.owner.id}')/messages/attachments`, m.attachments.map((a) => select(attachmentJson(a, false), ctx.query)));
  if (rest === '/attachments' && method === 'POST') {
    const a = JSON.parse((await ctx.body()).toString('utf8') || '{}') as { name?: string; contentType?: string; contentBytes?: string; isInline?: boolean; contentId?: string | null };
    const bytes = Buffer.from(a.contentBytes ?? '', 'base64');
    if (bytes.length >= 3 * 1024 * 1024) throw new GraphError(413, 'ErrorRequestEntityTooLarge', 'The attachment is 3 MB or larger: use an upload session.');
    return json(
      201,
      attachmentJson(
        box.addAttachment(m, {
          name: a.name ?? 'attachment',
          content: bytes,
          ...(a.contentType !== undefined ? { contentType: a.contentType } : {}),
          ...(a.isInline !== undefined ? { isInline: a.isInline } : {}),
          ...(typeof a.contentId === 'string' ? { contentId: a.contentId } : {}),
        }),
        true,
      ),
    );
  }
  if (rest === '/attachments/createUploadSession' && method === 'POST') {
    const { AttachmentItem: item } = JSON.parse((await ctx.body()).toString('utf8') || '{}') as { AttachmentItem?: { attachmentType?: string; name?: string; size?: number; contentType?: string; isInline?: boolean; contentId?: string | null } };
    if (!item || item.attachmentType !== 'file' || typeof item.name !== 'string' || typeof item.size !== 'number') throw new GraphError(400, 'ErrorInvalidRequest', 'AttachmentItem with attachmentType file, name and size is required.');
    if (item.size > 150 * 1024 * 1024) throw new GraphError(400, 'ErrorAttachmentSizeLimitExceeded', 'The attachment exceeds the 150 MB limit of an upload session.');
    return json(201, ctx.emu.mailUploads.create(ctx.tenant.id, box, m, { name: item.name, size: item.size, contentType: item.contentType ?? 'application/octet-stream', isInline: item.isInline ?? false, ...(typeof item.contentId === 'string' ? { contentId: item.contentId } : {}) }, ctx.emu.graphBaseUrl));
  }
  const att = /^\/attachments\/([^/]+)(\/\$value)?$/.exec(rest);
  if (att && method === 'GET') {
    const a = m.attachments.find((x) => x.id === decodeURIComponent(att[1]!));
    if (!a) throw outlookNotFound();
    if (att[2] !== undefined) return { status: 200, headers: { 'Content-Type': a.contentType }, body: a.content };
    return json(200, select(attachmentJson(a, true), ctx.query));
  }
  throw new GraphError(400, 'BadRequest', `Unsupported request: ${method} ${rest}`);
}

const handleMail = async (m: RegExpExecArray, ctx: GraphContext): Promise<GraphResult> => {
  const box = await mailboxOf(ctx, m[1]!);
  const rest = m[2] ?? '';
  const get = ctx.method === 'GET';
  let x: RegExpExecArray | null;
  if (/^\/mailFolders\/?$/.test(rest)) {
    if (ctx.method === 'POST') return createFolder(ctx, box, box.rootId);
    return collection(ctx, `users('${box.owner.id}')/mailFolders`, box.childFolders(box.rootId).map((f) => select(folderJson(box, f), ctx.query)));
  }
  if (rest === '/mailFolders/msgfolderroot' && get) {
    // The root of the folder tree ("Top of Information Store"): the parent of the top-level folders.
    const top = box.childFolders(box.rootId);
    return json(200, select({ id: box.rootId, displayName: 'Top of Information Store', parentFolderId: `${box.rootId}-nonipm`, childFolderCount: top.length, unreadItemCount: 0, totalItemCount: 0, sizeInBytes: 0, isHidden: false }, ctx.query));
  }
  if (rest === '/mailFolders/delta' && get) {
    return deltaResponse(ctx, box, {
      scope: 'folders',
      odataType: '#microsoft.graph.mailFolder',
      context: 'Collection(mailFolder)',
      entries: () => [...box.folders.values()].map((f) => ({ id: f.id, changeSeq: f.changeSeq, json: () => folderJson(box, f) })),
      removedSince: (seq) => box.tombstones.filter((t) => t.scope === 'folders' && t.seq > seq).map((t) => t.id),
    });
  }
  if ((x = /^\/mailFolders\/([^/]+)(\/childFolders|\/messages\/delta|\/messages)?\/?$/.exec(rest))) {
    const f = folderOf(box, x[1]!);
    if (x[2] === undefined && get) return json(200, select(folderJson(box, f), ctx.query));
    if (x[2] === '/childFolders' && ctx.method === 'POST') return createFolder(ctx, box, f.id);
    if (x[2] === '/childFolders' && get) return collection(ctx, `users('${box.owner.id}')/mailFolders('${f.id}')/childFolders`, box.childFolders(f.id).map((c) => select(folderJson(box, c), ctx.query)));
    if (x[2] === '/messages' && ctx.method === 'POST') return createMessage(ctx, box, f.id);
    if (x[2] === '/messages' && get) return collection(ctx, `users('${box.owner.id}')/mailFolders('${f.id}')/messages`, box.messagesIn(f.id).map((msg) => msgJson(ctx, msg)));
    if (x[2] === '/messages/delta' && get) {
      const immutable = wantsImmutableIds(ctx.headers.prefer);
      return deltaResponse(ctx, box, {
        scope: f.id,
        odataType: '#microsoft.graph.message',
        context: 'Collection(message)',
        entries: () => box.messagesIn(f.id).map((msg) => ({ id: immutable ? msg.immutableId : msg.restId, changeSeq: msg.changeSeq, createdSeq: msg.createdSeq, json: () => messageJson(msg, { immutable, expand: ctx.query.get('$expand'), webBase: 'https://outlook.office365.com' }) })),
        removedSince: (seq) => box.tombstones.filter((t) => t.scope === f.id && t.seq > seq).map((t) => (immutable ? (t.immutableId ?? t.id) : t.id)),
      });
    }
  }
  if (rest === '/messages' && ctx.method === 'POST') return createMessage(ctx, box, box.folder('drafts').id);
  if (rest === '/messages' && get) return collection(ctx, `users('${box.owner.id}')/messages`, [...box.messages.values()].map((msg) => msgJson(ctx, msg)));
  if ((x = /^(?:\/mailFolders\/[^/]+)?\/messages\/([^/]+)(\/.*)?$/.exec(rest))) return messageAction(ctx, box, messageOf(box, x[1]!), x[2] ?? '');
  throw new GraphError(400, 'BadRequest', `Resource not found for the segment '${rest.split('/')[1] ?? ''}'.`);
};

async function createFolder(ctx: GraphContext, box: Mailbox, parentId: string): Promise<GraphResult> {
  const { displayName } = JSON.parse((await ctx.body()).toString('utf8') || '{}') as { displayName?: string };
  if (typeof displayName !== 'string' || displayName === '') throw new GraphError(400, 'ErrorInvalidRequest', 'displayName is required.');
  if (box.childFolder(parentId, displayName)) throw new GraphError(409, 'ErrorFolderExists', 'A folder with the specified name already exists.');
  return json(201, folderJson(box, box.addFolder(parentId, displayName)));
}

export const mailRoutes: GraphRoute[] = [
  {
    methods: ['GET', 'POST', 'PATCH', 'DELETE'],
    pattern: /^\/users\/([^/]+)((?:\/mailFolders|\/messages)(?:\/.*)?)$/,
    roles: (method) => (method === 'GET' ? ROLES.readMail : ROLES.writeMail),
    denial: 'outlook',
    mailbox: true,
    owner: mailboxOwner,
    handle: handleMail,
  },
];
