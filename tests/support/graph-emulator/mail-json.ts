/**
 * JSON of Outlook resources as Graph v1.0 returns them: message, mailFolder, fileAttachment
 * (https://learn.microsoft.com/graph/api/resources/message, .../mailfolder, .../fileattachment).
 * A message's ids follow the Prefer: IdType="ImmutableId" header
 * (https://learn.microsoft.com/graph/outlook-immutable-id). Graph has no message size property;
 * PR_MESSAGE_SIZE comes as the extended property "Integer 0x0E08" when expanded.
 */
import type { AttachmentRecord, MailFolderRecord, Mailbox, MessageRecord } from './mailbox.model.js';
import type { Address } from './mime.js';
import type { Json } from './resources.js';

const iso = (d: Date): string => `${d.toISOString().slice(0, 19)}Z`;
const recipient = (a: Address): Json => ({ emailAddress: { name: a.name ?? a.address, address: a.address } });

export const changeKeyOf = (id: string, version: number): string => Buffer.from(`${id.slice(-12)}:${version}`).toString('base64');

export function wantsImmutableIds(prefer: string | undefined): boolean {
  return /IdType\s*=\s*"?ImmutableId"?/i.test(prefer ?? '');
}

export function messageId(m: MessageRecord, immutable: boolean): string {
  return immutable ? m.immutableId : m.restId;
}

export function messageJson(m: MessageRecord, opts: { immutable: boolean; expand?: string | null; webBase: string }): Json {
  const id = messageId(m, opts.immutable);
  const changeKey = changeKeyOf(m.immutableId, m.version);
  const j: Json = {
    '@odata.etag': `W/"${changeKey}"`,
    id,
    createdDateTime: iso(m.createdDateTime),
    lastModifiedDateTime: iso(m.lastModifiedDateTime),
    changeKey,
    categories: [],
    receivedDateTime: iso(m.receivedDateTime),
    sentDateTime: iso(m.sentDateTime),
    hasAttachments: m.attachments.some((a) => !a.isInline),
    internetMessageId: m.internetMessageId,
    subject: m.subject,
    bodyPreview: m.bodyPreview,
    importance: 'normal',
    parentFolderId: m.folderId,
    conversationId: `AAQkAD${Buffer.from(m.subject.replace(/^(re|fw|fwd):\s*/i, '')).toString('base64url').slice(0, 24)}`,
    isDeliveryReceiptRequested: false,
    isReadReceiptRequested: false,
    isRead: m.isRead,
    isDraft: m.isDraft,
    webLink: `${opts.webBase}/owa/?ItemID=${encodeURIComponent(id)}&exvsurl=1&viewmodel=ReadMessageItem`,
    inferenceClassification: 'focused',
    body: m.body,
    ...(m.from ? { sender: recipient(m.from), from: recipient(m.from) } : {}),
    toRecipients: m.to.map(recipient),
    ccRecipients: m.cc.map(recipient),
    bccRecipients: m.bcc.map(recipient),
    replyTo: m.replyTo.map(recipient),
    flag: m.flag,
  };
  if (/(^|,)\s*attachments/i.test(opts.expand ?? '')) j.attachments = m.attachments.map((a) => attachmentJson(a, true));
  if (/0x0E08/i.test(opts.expand ?? '')) j.singleValueExtendedProperties = [{ id: 'Integer 0x0e08', value: String(m.mime.length) }];
  return j;
}

export function folderJson(box: Mailbox, f: MailFolderRecord): Json {
  const msgs = box.messagesIn(f.id);
  return {
    id: f.id,
    displayName: f.displayName,
    parentFolderId: f.parentId,
    childFolderCount: box.childFolders(f.id).length,
    unreadItemCount: msgs.filter((m) => !m.isRead).length,
    totalItemCount: msgs.length,
    sizeInBytes: msgs.reduce((n, m) => n + m.mime.length, 0),
    isHidden: false,
  };
}

export function attachmentJson(a: AttachmentRecord, withContent: boolean): Json {
  return {
    '@odata.type': '#microsoft.graph.fileAttachment',
    '@odata.mediaContentType': a.contentType,
    id: a.id,
    lastModifiedDateTime: iso(a.lastModified),
    name: a.name,
    contentType: a.contentType,
    size: a.content.length,
    isInline: a.isInline,
    contentId: a.contentId ?? null,
    contentLocation: null,
    ...(withContent ? { contentBytes: a.content.toString('base64') } : {}),
  };
}
