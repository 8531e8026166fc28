/**
 * Mail backup points made directly with the ObjectStore, in the shape exchange/model.ts gives
 * them (the mail backup writes the same): a root item (msgfolderroot), folders named by their
 * display names with MailFolderExtra, and messages whose content is their MIME and whose
 * extra is MessageExtra, read from that MIME with mailparser as the backup reads it from Graph.
 * Lets restore, export and preview tests run without a backup.
 */
import { createHash, randomBytes } from 'node:crypto';
import { simpleParser, type AddressObject, type ParsedMail } from 'mailparser';
import { exchangeFileName, type MailAddress, type MailFlag, type MessageExtra } from '../../../node-service/cloud/exchange/model.js';
import { openObjectStore } from '../../../node-service/cloud/metadata/index.js';
import type { Repository } from '../../../node-service/repository/index.js';

/** Top-level folders Graph gives a well-known name, by display name. */
const WELL_KNOWN: Record<string, string> = { inbox: 'inbox', drafts: 'drafts', 'sent items': 'sentitems', 'deleted items': 'deleteditems', archive: 'archive', 'junk email': 'junkemail' };

export interface FixtureMessage {
  /** "Inbox", "Inbox/Projects/2024" (display names). */
  folder: string;
  mime: Buffer;
  isRead?: boolean;
  isDraft?: boolean;
  flag?: MailFlag;
  receivedAt?: Date;
}

export interface FixtureItem {
  id: string;
  /** Its path in the point ("/Inbox/Hello ~1a2b3c4d.eml"). */
  path: string;
  mime: Buffer;
  extra: MessageExtra;
}

const graphId = (prefix: string): string => `${prefix}${randomBytes(24).toString('base64url')}`;

function addresses(v: AddressObject | AddressObject[] | undefined): MailAddress[] {
  const list = v === undefined ? [] : Array.isArray(v) ? v : [v];
  return list.flatMap((o) => o.value.flatMap((a) => (a.address ? [{ name: a.name || null, address: a.address }] : [])));
}

/** MessageExtra of a MIME, with the mailbox state given. */
export async function messageExtraOf(m: FixtureMessage): Promise<MessageExtra> {
  let p: ParsedMail;
  try {
    p = await simpleParser(m.mime, { keepCidLinks: true });
  } catch {
    // A MIME mailparser refuses (a hostile one): the backup keeps what Graph said of it.
    const subject = /^Subject: *(.*)$/im.exec(m.mime.subarray(0, 4096).toString('latin1'))?.[1]?.trim() ?? '';
    p = { subject, attachments: [], headers: new Map(), headerLines: [] };
  }
  const sent = p.date ? p.date.toISOString() : null;
  return {
    type: 'message',
    subject: p.subject ?? '',
    from: addresses(p.from)[0] ?? null,
    to: addresses(p.to),
    cc: addresses(p.cc),
    bcc: addresses(p.bcc),
    receivedAt: (m.receivedAt ?? p.date ?? new Date()).toISOString(),
    sentAt: sent,
    isRead: m.isRead ?? false,
    isDraft: m.isDraft ?? false,
    flag: m.flag ?? 'notFlagged',
    importance: 'normal',
    hasAttachments: p.attachments.some((a) => !a.related),
    attachments: p.attachments.map((a) => ({ name: a.filename ?? 'attachment', size: a.size, contentType: a.contentType, inline: a.related === true })),
    internetMessageId: p.messageId ?? null,
    conversationId: null,
    preview: (p.text ?? '').replace(/\s+/g, ' ').trim().slice(0, 255),
  };
}

/**
 * A backup point of a mailbox holding these messages (folders made as their paths need,
 * plus `emptyFolders`). Answers the point's id and each message's item.
 */
export async function makeMailPoint(o: { repo: Repository; objectKey: string; workDir: string; messages: FixtureMessage[]; emptyFolders?: string[] }): Promise<{ pointId: string; items: FixtureItem[] }> {
  const store = await openObjectStore(o.repo, o.objectKey, { workDir: o.workDir });
  try {
    await store.beginPoint({ mode: 'full' });
    const rootId = graphId('AAMkRoot');
    store.upsertItem({ id: rootId, parentId: null, name: '', kind: 'folder', extra: { type: 'root' } });
    const folders = new Map<string, { id: string; path: string }>([['', { id: rootId, path: '' }]]);
    const folder = (path: string): { id: string; path: string } => {
      const clean = path.split('/').filter((s) => s !== '').join('/');
      const known = folders.get(clean);
      if (known) return known;
      const cut = clean.lastIndexOf('/');
      const parent = folder(cut < 0 ? '' : clean.slice(0, cut));
      const name = clean.slice(cut + 1);
      const id = graphId('AAMkFold');
      const wellKnownName = parent.id === rootId ? (WELL_KNOWN[name.toLowerCase()] ?? null) : null;
      store.upsertItem({ id, parentId: parent.id, name, kind: 'folder', extra: { type: 'mailFolder', wellKnownName } });
      const f = { id, path: `${parent.path}/${name}` };
      folders.set(clean, f);
      return f;
    };
    for (const f of o.emptyFolders ?? []) folder(f);
    const items: FixtureItem[] = [];
    for (const m of o.messages) {
      const parent = folder(m.folder);
      const id = graphId('AAkALg');
      const extra = await messageExtraOf(m);
      const name = exchangeFileName(extra.subject, id, 'eml');
      const content = await store.putContent(m.mime);
      const sha256 = createHash('sha256').update(m.mime).digest('hex');
      store.upsertItem({ id, parentId: parent.id, name, kind: 'file', size: m.mime.length, sha256, createdAt: extra.receivedAt, modifiedAt: extra.receivedAt, content, extra });
      items.push({ id, path: `${parent.path}/${name}`, mime: m.mime, extra });
    }
    const point = await store.commitPoint({});
    return { pointId: point.id, items };
  } finally {
    await store.close();
  }
}
