/**
 * The mail browser's questions to a Microsoft 365 backup opened as a mount
 * (common/api/m365-mail.ts): searches and lists answered from the Exchange parts' metadata
 * (mail-query.ts, pim-query.ts), and the streams that read content: a message's preview, an
 * attachment, exports as mbox, ICS, VCF or a zip. Mount paths ("mail/Inbox/…") are resolved
 * by the part's PointTree first, so they are confined exactly as browsing is ('..' above the
 * part's root refused, names as listed).
 */
import { PassThrough, Readable, type Writable } from 'node:stream';
import {
  ContactListQuerySchema,
  EventListQuerySchema,
  MailAttachmentQuerySchema,
  MailMessageQuerySchema,
  MailSearchQuerySchema,
  MountExportQuerySchema,
  type ContactListResult,
  type EventListResult,
  type MailMessageDetail,
  type MailMessageSummary,
  type MailSearchResult,
} from '../../../common/api/m365-mail.js';
import type { M365PartKind } from '../../../common/m365-tasks.js';
import { calendarExport } from '../../cloud/exchange/ics.js';
import { attachmentContent, messageDetail, previewDocument } from '../../cloud/exchange/mail-preview.js';
import { searchMessages } from '../../cloud/exchange/mail-query.js';
import { writeMbox, type MboxMessage } from '../../cloud/exchange/mbox.js';
import type { MessageExtra } from '../../cloud/exchange/model.js';
import { contentsUnder, listContacts, listEvents, recurrenceText } from '../../cloud/exchange/pim-query.js';
import { contactsExport } from '../../cloud/exchange/vcard.js';
import type { ItemView, ObjectStore } from '../../cloud/metadata/index.js';
import { safeName } from '../../cloud/point-tree.js';
import type { ArchiveEntry } from '../../mount/archive-entries.js';
import { zipEntries } from '../../mount/zip-stream.js';
import type { VolumeTree } from '../../mount/volume-tree.js';

/** What a volume of an Exchange part carries besides its tree. */
export interface ExchangeVolumeInfo {
  partKind: Exclude<M365PartKind, 'drive'>;
  store: ObjectStore;
  pointId: string;
}

/** A located Exchange path: the part, its tree, and the item's path in the point ("/Inbox/a ~1.eml"; "/" the root). */
interface Located {
  volumeName: string;
  info: ExchangeVolumeInfo;
  tree: VolumeTree;
  pointPath: string;
  isFolder: boolean;
}

export class ExchangeOpError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly path?: string,
  ) {
    super(message);
  }
}

/** Finds the volume and tree of a mount path (NodeMounts.locate), with the volume's Exchange info if it has any. */
export type Locate = (mountPath: string) => { volume: { name: string; exchange?: ExchangeVolumeInfo }; tree: VolumeTree; rel: string };

/** A stream's head and body writer. */
export interface ExchangeStream {
  head: { size?: number; name?: string; contentType?: string };
  write(out: Writable, signal: AbortSignal): Promise<void>;
}

const WHAT: Record<ExchangeVolumeInfo['partKind'], string> = { mail: 'mail', calendar: 'calendars', contacts: 'contacts' };
const join = (volume: string, pointPath: string): string => (pointPath === '/' || pointPath === '' ? volume : `${volume}/${pointPath.replace(/^\/+/, '')}`);

function parse<T>(schema: { safeParse(v: unknown): { success: true; data: T } | { success: false; error: { issues: { path: PropertyKey[]; message: string }[] } } }, args: unknown): T {
  const r = schema.safeParse(args);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new ExchangeOpError('INVALID_ARGUMENT', `${issue?.path.join('.') || 'args'}: ${issue?.message ?? 'invalid'}`);
  }
  return r.data;
}

export class ExchangeOps {
  constructor(private readonly locate: Locate) {}

  /** A mount path inside an Exchange part of kind `want` (any when absent), resolved and confined by its tree. */
  private async at(mountPath: string, want?: ExchangeVolumeInfo['partKind']): Promise<Located> {
    const { volume, tree, rel } = this.locate(mountPath);
    const info = volume.exchange;
    if (!info || (want !== undefined && info.partKind !== want)) {
      throw new ExchangeOpError('INVALID_ARGUMENT', `"${mountPath}" is not in the ${want ? WHAT[want] : 'mail, calendars or contacts'} of this backup`, mountPath);
    }
    const st = await tree.stat(rel);
    return { volumeName: volume.name, info, tree, pointPath: `/${st.path}`.replace(/\/+$/, '') || '/', isFolder: st.type === 'dir' };
  }

  async call(op: string, args: Record<string, unknown>): Promise<unknown> {
    switch (op) {
      case 'mail.search':
        return this.searchMail(args);
      case 'mail.message':
        return this.message(args);
      case 'calendar.events':
        return this.events(args);
      case 'contacts.list':
        return this.contacts(args);
      default:
        throw new ExchangeOpError('INVALID_ARGUMENT', `unknown operation ${op}`);
    }
  }

  private async searchMail(args: Record<string, unknown>): Promise<MailSearchResult> {
    const q = parse(MailSearchQuerySchema, args);
    const at = await this.at(q.path, 'mail');
    if (!at.isFolder) throw new ExchangeOpError('NOT_A_DIRECTORY', `"${q.path}" is a message, not a mail folder`, q.path);
    const started = performance.now();
    const found = await searchMessages(at.info.store, at.info.pointId, {
      folder: at.pointPath,
      // The whole mailbox is searched through; a folder on its own unless asked otherwise.
      recursive: q.recursive ?? at.pointPath === '/',
      ...(q.q !== undefined ? { q: q.q } : {}),
      ...(q.from !== undefined ? { from: q.from } : {}),
      ...(q.subject !== undefined ? { subject: q.subject } : {}),
      ...(q.attachment !== undefined ? { attachment: q.attachment } : {}),
      ...(q.after !== undefined ? { after: q.after } : {}),
      ...(q.before !== undefined ? { before: q.before } : {}),
      ...(q.hasAttachments !== undefined ? { hasAttachments: q.hasAttachments } : {}),
      sort: q.sort,
      order: q.order,
      offset: q.offset,
      limit: q.limit,
    });
    const tookMs = performance.now() - started;
    return { messages: found.items.map((m) => summaryOf(at.volumeName, m.path, m.folderPath, m.size, m.extra)), total: found.total, tookMs };
  }

  /** A message: what the metadata says, and what only its content says (read from the repository). */
  private async message(args: Record<string, unknown>): Promise<MailMessageDetail> {
    const { path } = parse(MailMessageQuerySchema, args);
    const { item, at } = await this.messageItem(path);
    const detail = await messageDetail(at.info.store.readContent(at.info.pointId, item.id));
    const folder = at.pointPath.slice(0, at.pointPath.lastIndexOf('/')) || '/';
    const summary = summaryOf(at.volumeName, at.pointPath, folder, item.size, item.extra as MessageExtra);
    return {
      ...summary,
      cc: detail.cc,
      bcc: detail.bcc,
      replyTo: detail.replyTo,
      internetMessageId: detail.internetMessageId ?? (item.extra as MessageExtra).internetMessageId,
      attachments: detail.attachments.map((a) => ({ index: a.index, name: a.name, size: a.size, contentType: a.contentType, inline: a.inline })),
      hasHtml: detail.hasHtml,
      text: detail.text,
      remoteContentBlocked: detail.remoteContentBlocked,
    };
  }

  private async messageItem(path: string): Promise<{ item: ItemView; at: Located }> {
    const at = await this.at(path, 'mail');
    if (at.isFolder) throw new ExchangeOpError('NOT_A_FILE', `"${path}" is a mail folder, not a message`, path);
    const item = await at.info.store.getItem(at.info.pointId, at.pointPath);
    if (!item || (item.extra as { type?: string } | null)?.type !== 'message') throw new ExchangeOpError('NOT_A_FILE', `"${path}" is not a message`, path);
    return { item, at };
  }

  private async events(args: Record<string, unknown>): Promise<EventListResult> {
    const q = parse(EventListQuerySchema, args);
    const at = await this.at(q.path, 'calendar');
    if (!at.isFolder) throw new ExchangeOpError('NOT_A_DIRECTORY', `"${q.path}" is an event, not a calendar`, q.path);
    const r = await listEvents(at.info.store, at.info.pointId, {
      folderPath: at.pointPath,
      ...(q.q !== undefined ? { q: q.q } : {}),
      ...(q.after !== undefined ? { after: q.after } : {}),
      ...(q.before !== undefined ? { before: q.before } : {}),
      offset: q.offset,
      limit: q.limit,
    });
    return {
      total: r.total,
      events: r.items.map(({ path, folder, extra: e }) => ({
        path: join(at.volumeName, path),
        calendar: join(at.volumeName, folder),
        subject: e.subject,
        start: e.start,
        end: e.end,
        isAllDay: e.isAllDay,
        eventType: e.eventType,
        recurrence: e.eventType === 'seriesMaster' ? recurrenceText(e.graph.recurrence as Parameters<typeof recurrenceText>[0]) : null,
        location: e.location,
        organizer: e.organizer,
      })),
    };
  }

  private async contacts(args: Record<string, unknown>): Promise<ContactListResult> {
    const q = parse(ContactListQuerySchema, args);
    const at = await this.at(q.path, 'contacts');
    if (!at.isFolder) throw new ExchangeOpError('NOT_A_DIRECTORY', `"${q.path}" is a contact, not a contact folder`, q.path);
    const r = await listContacts(at.info.store, at.info.pointId, { folderPath: at.pointPath, ...(q.q !== undefined ? { q: q.q } : {}), offset: q.offset, limit: q.limit });
    return {
      total: r.total,
      contacts: r.items.map(({ path, folder, extra: c }) => ({
        path: join(at.volumeName, path),
        folder: join(at.volumeName, folder),
        displayName: c.displayName,
        emails: c.emails,
        phones: c.phones,
        company: c.company,
        hasPhoto: c.hasPhoto,
      })),
    };
  }

  // ---- streams ------------------------------------------------------------------

  /** Opens a stream op: every path is resolved (and refused) before its head is sent. */
  async stream(op: string, args: Record<string, unknown>): Promise<ExchangeStream> {
    switch (op) {
      case 'mail.preview': {
        const { path } = parse(MailMessageQuerySchema, args);
        const { item, at } = await this.messageItem(path);
        const doc = await previewDocument(at.info.store.readContent(at.info.pointId, item.id));
        const html = Buffer.from(doc.html, 'utf8');
        return { head: { size: html.length, contentType: 'text/html; charset=utf-8' }, write: (out) => writeBuffer(out, html) };
      }
      case 'mail.attachment': {
        const { path, index } = parse(MailAttachmentQuerySchema, args);
        const { item, at } = await this.messageItem(path);
        const a = await attachmentContent(at.info.store.readContent(at.info.pointId, item.id), index);
        return { head: { size: a.content.length, name: a.name, contentType: a.contentType }, write: (out) => writeBuffer(out, a.content) };
      }
      case 'export':
        return this.export(args);
      default:
        throw new ExchangeOpError('INVALID_ARGUMENT', `unknown stream ${op}`);
    }
  }

  private async export(args: Record<string, unknown>): Promise<ExchangeStream> {
    const q = parse(MountExportQuerySchema, args);
    const located: Located[] = [];
    for (const p of q.path) located.push(await this.at(p));
    const only = (kind: ExchangeVolumeInfo['partKind'], format: string): Located[] => {
      const other = located.find((l) => l.info.partKind !== kind);
      if (other) throw new ExchangeOpError('INVALID_ARGUMENT', `${format} holds only ${WHAT[kind]}: "${join(other.volumeName, other.pointPath)}" is not; export a zip for a mix`, join(other.volumeName, other.pointPath));
      const stores = new Set(located.map((l) => l.info.store));
      if (stores.size > 1) throw new ExchangeOpError('INVALID_ARGUMENT', `an export takes the ${WHAT[kind]} of one backup part`);
      return located;
    };
    switch (q.format) {
      case 'mbox': {
        const sel = only('mail', 'an mbox');
        return { head: { contentType: 'application/mbox' }, write: (out, sig) => this.mbox(sel, out, sig).then(() => undefined) };
      }
      case 'ics': {
        const sel = only('calendar', 'an ICS file');
        const { store, pointId } = sel[0]!.info;
        return { head: { contentType: 'text/calendar; charset=utf-8' }, write: (out) => calendarExport(contentsUnder(store, pointId, sel.map((l) => l.pointPath)), out) };
      }
      case 'vcf': {
        const sel = only('contacts', 'a VCF file');
        const { store, pointId } = sel[0]!.info;
        return { head: { contentType: 'text/vcard; charset=utf-8' }, write: (out) => contactsExport(contentsUnder(store, pointId, sel.map((l) => l.pointPath)), out) };
      }
      case 'zip':
        return { head: { contentType: 'application/zip' }, write: async (out, sig) => void (await zipEntries(this.zipEntries(located, sig), out, { signal: sig })) };
    }
    throw new ExchangeOpError('INVALID_ARGUMENT', `unknown format ${String(q.format)}`);
  }

  /** Messages at or under the selection, folder by folder, as mbox. */
  private async mbox(sel: readonly Located[], out: Writable, signal: AbortSignal): Promise<{ messages: number; bytes: number }> {
    const messages = async function* (this: ExchangeOps): AsyncGenerator<MboxMessage> {
      for (const l of sel) {
        const root = await l.info.store.getItem(l.info.pointId, l.pointPath);
        if (root) yield* this.messagesUnder(l.info, root, true);
      }
    };
    return writeMbox(messages.call(this), out, signal);
  }

  /** A folder's messages (and, when `deep`, its subfolders' after them), or the message itself. */
  private async *messagesUnder(info: ExchangeVolumeInfo, item: ItemView, deep: boolean): AsyncGenerator<MboxMessage> {
    if (item.kind === 'file') {
      const m = item.extra as MessageExtra | null;
      const date = m?.receivedAt ?? m?.sentAt ?? null;
      yield { mime: info.store.readContent(info.pointId, item.id), from: m?.from?.address ?? null, date: date ? new Date(date) : null };
      return;
    }
    const children = await info.store.listChildren(info.pointId, { id: item.id });
    for (const c of children) if (c.kind === 'file') yield* this.messagesUnder(info, c, false);
    if (deep) for (const c of children) if (c.kind === 'folder') yield* this.messagesUnder(info, c, true);
  }

  /**
   * The zip of an export: every file as it is stored (a message .eml, an event .ics, a
   * contact .vcf) under its folders, and each mail folder also as one "<folder>.mbox" beside
   * its folder. Names start with the part ("mail/Inbox/…"), so a zip may mix parts.
   */
  private async *zipEntries(sel: readonly Located[], signal: AbortSignal): AsyncGenerator<ArchiveEntry> {
    const seen = new Set<string>();
    for (const l of sel) {
      const start = await l.info.store.getItem(l.info.pointId, l.pointPath);
      if (!start) continue;
      yield* this.walk(l, start, l.pointPath === '/' ? l.volumeName : `${l.volumeName}/${l.pointPath.slice(1).split('/').map(safeName).join('/')}`, seen, signal);
    }
  }

  private async *walk(l: Located, item: ItemView, name: string, seen: Set<string>, signal: AbortSignal): AsyncGenerator<ArchiveEntry> {
    if (signal.aborted) throw new ExchangeOpError('CANCELLED', name, 'the export was cancelled');
    if (seen.has(name)) return;
    seen.add(name);
    const mtime = new Date(item.modifiedAt ?? item.createdAt ?? 0);
    const meta = { rel: name, mtime: Number.isNaN(mtime.getTime()) ? new Date(0) : mtime, uid: 0, gid: 0 };
    const { store, pointId } = l.info;
    if (item.kind === 'file') {
      yield { ...meta, name, type: 'file', mode: 0o644, size: item.size, open: () => Promise.resolve(Readable.from(store.readContent(pointId, item.id), { objectMode: false })) };
      return;
    }
    yield { ...meta, name, type: 'directory', mode: 0o755, size: 0 };
    const children = await store.listChildren(pointId, { id: item.id });
    if (l.info.partKind === 'mail' && children.some((c) => c.kind === 'file')) {
      // The folder's own messages as one mbox, beside the folder ("mail/Inbox.mbox").
      const info = l.info;
      const folder = item;
      yield {
        ...meta,
        name: `${name}.mbox`,
        type: 'file',
        mode: 0o644,
        size: 0,
        open: () => {
          const pass = new PassThrough();
          writeMbox(this.messagesUnder(info, folder, false), pass, signal).then(
            () => pass.end(),
            (err: unknown) => pass.destroy(err instanceof Error ? err : new Error(String(err))),
          );
          return Promise.resolve(pass);
        },
      };
    }
    for (const c of children) yield* this.walk(l, c, `${name}/${safeName(c.name)}`, seen, signal);
  }
}

/** A message as the list shows it, from its metadata. */
function summaryOf(volume: string, path: string, folderPath: string, size: number, m: MessageExtra): MailMessageSummary {
  return {
    path: join(volume, path),
    folder: join(volume, folderPath),
    subject: m.subject,
    from: m.from,
    to: m.to,
    receivedAt: m.receivedAt,
    sentAt: m.sentAt,
    size,
    isRead: m.isRead,
    isDraft: m.isDraft,
    flag: m.flag,
    importance: m.importance,
    hasAttachments: m.hasAttachments,
    attachmentNames: m.attachments.filter((a) => !a.inline).map((a) => a.name),
    preview: m.preview,
  };
}

function writeBuffer(out: Writable, b: Buffer): Promise<void> {
  return new Promise((resolve, reject) => out.write(b, (err) => (err ? reject(err) : resolve())));
}
