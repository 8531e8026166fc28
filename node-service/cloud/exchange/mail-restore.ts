/**
 * Restores mail from a backup point (model.ts: folders and messages whose content is the
 * original MIME) to a mailbox, the same user's or another's.
 *
 * Graph makes a draft of every message created from MIME, so each message is posted as JSON
 * built from its MIME instead, with PR_MESSAGE_FLAGS (0x0E07) set at creation without
 * MSGFLAG_UNSENT (the flags are read-only after the first save, MS-OXCMSG 2.2.1.6) and the
 * delivery (0x0E06) and submit (0x0039) times: a received message with its original dates,
 * read state and flag. Attachments follow in MIME order: the leading small ones inside the
 * create request, the others posted one by one below 3 MB and through an upload session
 * (ranges of at most 4 MB) above. A message that fails is reported with its subject and
 * folder, the half-made copy removed, and the others go on.
 */
import type { Attachment, ParsedMail } from 'mailparser';
import type { ExchangeRestoreOptions, MailFlag, MessageExtra, MailFolderExtra } from './model.js';
import type { DriveRestoreProgress, DriveRestoreResult } from '../drive-restore.js';
import { openObjectStore, type ItemView, type ObjectStore } from '../metadata/index.js';
import { CloudError } from '../graph/cloud-errors.js';
import { Semaphore } from '../graph/limits.js';
import { addressesOf, parseMessage } from './mail-mime.js';

/** Attachments of this size or more go through an upload session (Graph refuses larger ones in a POST). */
export const ATTACHMENT_SESSION_MIN = 3 * 1024 * 1024;
/** Upload-session ranges: under Graph's "up to 4 MB each time", whether it means 10^6 or 2^20. */
export const ATTACHMENT_RANGE = 10 * 320 * 1024;
/** Small leading attachments ride in the create request up to this many bytes (Graph takes requests of 4 MB, base64 grows by a third). */
const INLINE_CREATE_MAX = 2 * 1024 * 1024;
/** Messages restored at once; the GraphClient still keeps the mailbox's requests to its limit of 4. */
const PARALLEL_MESSAGES = 4;

const PR_MESSAGE_FLAGS = 'Integer 0x0E07';
const PR_MESSAGE_DELIVERY_TIME = 'SystemTime 0x0E06';
const PR_CLIENT_SUBMIT_TIME = 'SystemTime 0x0039';
const MSGFLAG_READ = 0x1;
const MSGFLAG_UNSENT = 0x8;

interface Recipient {
  emailAddress: { name?: string; address: string };
}

interface AttachmentJson {
  '@odata.type': '#microsoft.graph.fileAttachment';
  name: string;
  contentType: string;
  contentBytes: string;
  isInline: boolean;
  contentId?: string;
}

/** Restores messages and folders of a mail backup point to a mailbox (see the top of this file). */
export async function restoreMail(o: ExchangeRestoreOptions): Promise<DriveRestoreResult> {
  const store = await openObjectStore(o.repo, o.objectKey, { workDir: o.workDir, ...(o.logger ? { logger: o.logger } : {}) });
  try {
    return await new MailRestore(o, store).run();
  } finally {
    await store.close();
  }
}

class MailRestore {
  private readonly result: DriveRestoreResult;
  private readonly progress: DriveRestoreProgress = { totalFiles: 0, totalBytes: 0, doneFiles: 0, doneBytes: 0 };
  /** Target folder ids by the point's folder path ("/" the mailbox's root or the restore folder). */
  private readonly folders = new Map<string, Promise<string>>();
  /** The point's folders by id, for their paths and well-known names. */
  private readonly pointFolders = new Map<string, ItemView>();
  /** Children of target folders by lower-case display name (read once per folder). */
  private readonly children = new Map<string, Promise<Map<string, string>>>();
  /** Messages already in target folders by internetMessageId (read once per folder; none in a folder this run made). */
  private readonly existing = new Map<string, Promise<Map<string, string[]>>>();
  private readonly base: string;

  constructor(
    private readonly o: ExchangeRestoreOptions,
    private readonly store: ObjectStore,
  ) {
    this.result = { restoredFiles: 0, restoredFolders: 0, restoredBytes: 0, skipped: [], failed: [], targetRoot: o.folder ? `/${o.folder}` : '/' };
    this.base = o.target.userPath;
  }

  async run(): Promise<DriveRestoreResult> {
    const { o } = this;
    const messages = new Map<string, ItemView>();
    const folders = new Map<string, ItemView>();
    for (const p of o.paths) {
      const item = await this.store.getItem(o.pointId, p);
      if (!item) throw new CloudError('M365_NOT_FOUND', `${p} is not in backup point ${o.pointId}`);
      await this.collect(item, messages, folders);
    }
    this.progress.totalFiles = messages.size;
    this.progress.totalBytes = [...messages.values()].reduce((n, f) => n + f.size, 0);
    o.onProgress?.({ ...this.progress });
    // Folders first (parents before children, as collected), so empty ones are restored too.
    for (const f of folders.values()) {
      try {
        await this.folderId(f.path);
      } catch (err) {
        if (o.signal?.aborted) throw err;
        this.result.failed.push({ path: f.path, reason: `the folder ${f.path} could not be made in ${o.target.label}: ${(err as Error).message}` });
      }
    }
    const slots = new Semaphore(PARALLEL_MESSAGES);
    await Promise.all(
      [...messages.values()].map(async (m) => {
        const release = await slots.acquire(o.signal);
        try {
          await this.restoreMessage(m);
        } finally {
          release();
        }
      }),
    );
    return this.result;
  }

  private async collect(item: ItemView, messages: Map<string, ItemView>, folders: Map<string, ItemView>): Promise<void> {
    if (item.kind === 'file') {
      messages.set(item.id, item);
      await this.knowParents(item);
      return;
    }
    this.pointFolders.set(item.id, item);
    if (item.path !== '/') {
      await this.knowParents(item);
      folders.set(item.id, item);
    }
    for (const child of await this.store.listChildren(this.o.pointId, { id: item.id })) await this.collect(child, messages, folders);
  }

  /** Records the point's folders above an item (their well-known names decide where a restore to the original folders goes). */
  private async knowParents(item: ItemView): Promise<void> {
    let parentId = item.parentId;
    while (parentId !== null && !this.pointFolders.has(parentId)) {
      const parent = await this.store.getItem(this.o.pointId, { id: parentId });
      if (!parent) break;
      this.pointFolders.set(parent.id, parent);
      parentId = parent.parentId;
    }
  }

  private req(what: string): { what: string; owner: string; signal?: AbortSignal } {
    return { what, owner: this.o.target.owner, ...(this.o.signal ? { signal: this.o.signal } : {}) };
  }

  private get label(): string {
    return this.o.target.label;
  }

  // --- folders -------------------------------------------------------------------------------

  /** The target folder of a point folder's path, made (with its parents) when missing. */
  private folderId(path: string): Promise<string> {
    let id = this.folders.get(path);
    if (!id) {
      id = this.makeFolder(path);
      this.folders.set(path, id);
    }
    return id;
  }

  private async makeFolder(path: string): Promise<string> {
    if (path === '/') {
      if (this.o.folder) return this.childFolder(null, this.o.folder);
      // Messages right under the mailbox's root (Exchange keeps none there): the inbox takes them.
      return this.wellKnown('inbox', 'Inbox');
    }
    const cut = path.lastIndexOf('/');
    const parentPath = cut === 0 ? '/' : path.slice(0, cut);
    const name = path.slice(cut + 1);
    if (parentPath === '/' && !this.o.folder) {
      // Into the original folders: Inbox is the target's inbox (whatever its name in another language).
      const wkn = this.wellKnownNameOf(path);
      if (wkn) return this.wellKnown(wkn, name);
      return this.childFolder(null, name);
    }
    return this.childFolder(await this.folderId(parentPath), name);
  }

  private wellKnownNameOf(path: string): string | null {
    for (const f of this.pointFolders.values()) {
      if (f.path === path) {
        const extra = f.extra as Partial<MailFolderExtra> | null;
        return extra?.type === 'mailFolder' && typeof extra.wellKnownName === 'string' && /^[a-z]+$/i.test(extra.wellKnownName) ? extra.wellKnownName.toLowerCase() : null;
      }
    }
    return null;
  }

  private async wellKnown(wkn: string, name: string): Promise<string> {
    try {
      return (await this.o.graph.json<{ id: string }>(`${this.base}/mailFolders/${wkn}?$select=id`, this.req(`read the ${name} folder of ${this.label}`))).id;
    } catch (err) {
      if (!(err instanceof CloudError && err.status === 404)) throw err;
      return this.childFolder(null, name);
    }
  }

  private collection(parentId: string | null): string {
    return parentId === null ? `${this.base}/mailFolders` : `${this.base}/mailFolders/${encodeURIComponent(parentId)}/childFolders`;
  }

  private childrenOf(parentId: string | null): Promise<Map<string, string>> {
    const key = parentId ?? '';
    let c = this.children.get(key);
    if (!c) {
      c = (async () => {
        const byName = new Map<string, string>();
        for await (const page of this.o.graph.pages<{ id: string; displayName: string }>(`${this.collection(parentId)}?$top=250&$select=id,displayName`, this.req(`list the folders of ${this.label}`))) {
          for (const f of page.items) byName.set(f.displayName.toLowerCase(), f.id);
        }
        return byName;
      })();
      this.children.set(key, c);
      c.catch(() => this.children.delete(key));
    }
    return c;
  }

  /** A folder of this name under a target folder (null: the top of the mailbox), made when missing. */
  private async childFolder(parentId: string | null, name: string): Promise<string> {
    const known = (await this.childrenOf(parentId)).get(name.toLowerCase());
    if (known) return known;
    let id: string;
    try {
      id = (await this.o.graph.json<{ id: string }>(this.collection(parentId), { ...this.req(`make the folder ${name} in ${this.label}`), method: 'POST', body: { displayName: name } })).id;
      this.result.restoredFolders++;
      this.existing.set(id, Promise.resolve(new Map<string, string[]>()));
    } catch (err) {
      if (!(err instanceof CloudError && err.status === 409)) throw err;
      // Made meanwhile (another restore, or hidden from the list): read the list again.
      this.children.delete(parentId ?? '');
      const again = (await this.childrenOf(parentId)).get(name.toLowerCase());
      if (!again) throw err;
      return again;
    }
    (await this.childrenOf(parentId)).set(name.toLowerCase(), id);
    return id;
  }

  /** internetMessageId → ids of the messages in a target folder. */
  private existingIn(folderId: string): Promise<Map<string, string[]>> {
    let e = this.existing.get(folderId);
    if (!e) {
      e = (async () => {
        const ids = new Map<string, string[]>();
        const url = `${this.base}/mailFolders/${encodeURIComponent(folderId)}/messages?$top=1000&$select=id,internetMessageId`;
        for await (const page of this.o.graph.pages<{ id: string; internetMessageId?: string | null }>(url, this.req(`list the messages of a folder of ${this.label}`))) {
          for (const m of page.items) if (m.internetMessageId) ids.set(m.internetMessageId, [...(ids.get(m.internetMessageId) ?? []), m.id]);
        }
        return ids;
      })();
      this.existing.set(folderId, e);
      e.catch(() => this.existing.delete(folderId));
    }
    return e;
  }

  // --- messages ------------------------------------------------------------------------------

  private async restoreMessage(item: ItemView): Promise<void> {
    const extra = (item.extra ?? {}) as Partial<MessageExtra>;
    const folderPath = item.path.slice(0, item.path.lastIndexOf('/')) || '/';
    let subject = typeof extra.subject === 'string' ? extra.subject : item.name;
    let created: string | null = null;
    try {
      const folderId = await this.folderId(folderPath);
      const mail = await parseMessage(this.store.readContent(this.o.pointId, item.id));
      subject = mail.subject ?? subject;
      const messageId = mail.messageId ?? extra.internetMessageId ?? null;
      if (messageId !== null && this.o.conflict !== 'copy') {
        const there = (await this.existingIn(folderId)).get(messageId) ?? [];
        if (there.length > 0 && this.o.conflict === 'skip') {
          this.result.skipped.push({ path: item.path, reason: `"${subject}" is already in ${this.targetPathOf(folderPath)} of ${this.label}` });
          this.done(item);
          return;
        }
        for (const id of there) await this.o.graph.send(`${this.base}/messages/${encodeURIComponent(id)}`, { ...this.req(`delete "${subject}" from ${this.label} to replace it`), method: 'DELETE', accept: [404] }, async (r) => void (await r.body?.cancel()));
        (await this.existingIn(folderId)).delete(messageId);
      }
      const attachments = mail.attachments;
      let embedded = 0;
      let embeddedBytes = 0;
      while (embedded < attachments.length && embeddedBytes + attachments[embedded]!.size <= INLINE_CREATE_MAX) embeddedBytes += attachments[embedded++]!.size;
      const body = this.messageJson(mail, extra, messageId, attachments.slice(0, embedded).map(attachmentJson));
      created = (await this.o.graph.json<{ id: string }>(`${this.base}/mailFolders/${encodeURIComponent(folderId)}/messages`, { ...this.req(`restore "${subject}" to ${this.label}`), method: 'POST', body })).id;
      for (const a of attachments.slice(embedded)) await this.attach(created, a, subject);
      if (messageId !== null) {
        const known = await this.existingIn(folderId);
        known.set(messageId, [...(known.get(messageId) ?? []), created]);
      }
    } catch (err) {
      if (this.o.signal?.aborted) throw err;
      if (created !== null) {
        // A message without all its attachments is not a restore of it: leave none rather than half of one.
        await this.o.graph.send(`${this.base}/messages/${encodeURIComponent(created)}`, { ...this.req(`remove the incomplete copy of "${subject}"`), method: 'DELETE', accept: [404] }, async (r) => void (await r.body?.cancel())).catch(() => undefined);
      }
      this.result.failed.push({ path: item.path, reason: `the message "${subject}" in ${folderPath} could not be restored: ${(err as Error).message}` });
      this.done(item);
      return;
    }
    this.result.restoredFiles++;
    this.result.restoredBytes += item.size;
    this.done(item);
  }

  private done(item: ItemView): void {
    this.progress.doneFiles++;
    this.progress.doneBytes += item.size;
    this.o.onProgress?.({ ...this.progress });
  }

  private targetPathOf(folderPath: string): string {
    return this.o.folder ? `/${this.o.folder}${folderPath === '/' ? '' : folderPath}` : folderPath;
  }

  /** Graph's message resource for a received message with the MIME's fields and the backup's state. */
  private messageJson(mail: ParsedMail, extra: Partial<MessageExtra>, messageId: string | null, attachments: AttachmentJson[]): Record<string, unknown> {
    const recipients = (v: ParsedMail['to']): Recipient[] => addressesOf(v).map((a) => ({ emailAddress: { ...(a.name ? { name: a.name } : {}), address: a.address } }));
    const from = recipients(mail.from)[0];
    const isRead = typeof extra.isRead === 'boolean' ? extra.isRead : true;
    const isDraft = extra.isDraft === true;
    const sent = validIso(extra.sentAt) ?? (mail.date && !Number.isNaN(mail.date.getTime()) ? mail.date.toISOString() : null);
    const received = validIso(extra.receivedAt) ?? sent ?? new Date().toISOString();
    const flag: MailFlag = extra.flag === 'flagged' || extra.flag === 'complete' ? extra.flag : 'notFlagged';
    const importance = extra.importance ?? (mail.headers.get('priority') as 'low' | 'normal' | 'high' | undefined) ?? 'normal';
    const html = typeof mail.html === 'string' ? mail.html : null;
    return {
      subject: mail.subject ?? extra.subject ?? '',
      body: html !== null ? { contentType: 'html', content: html } : { contentType: 'text', content: mail.text ?? '' },
      ...(from ? { from, sender: from } : {}),
      toRecipients: recipients(mail.to),
      ccRecipients: recipients(mail.cc),
      bccRecipients: recipients(mail.bcc),
      replyTo: recipients(mail.replyTo),
      ...(messageId !== null ? { internetMessageId: messageId } : {}),
      importance: ['low', 'normal', 'high'].includes(importance) ? importance : 'normal',
      isRead,
      flag: { flagStatus: flag },
      singleValueExtendedProperties: [
        // Without MSGFLAG_UNSENT the message is a received one (a draft of the backup stays a draft).
        { id: PR_MESSAGE_FLAGS, value: String((isRead ? MSGFLAG_READ : 0) | (isDraft ? MSGFLAG_UNSENT : 0)) },
        { id: PR_MESSAGE_DELIVERY_TIME, value: received },
        ...(sent !== null ? [{ id: PR_CLIENT_SUBMIT_TIME, value: sent }] : []),
      ],
      ...(attachments.length ? { attachments } : {}),
    };
  }

  private async attach(messageId: string, a: Attachment, subject: string): Promise<void> {
    const what = `attach ${attachmentName(a)} to "${subject}" in ${this.label}`;
    const url = `${this.base}/messages/${encodeURIComponent(messageId)}/attachments`;
    if (a.size < ATTACHMENT_SESSION_MIN) {
      await this.o.graph.json(url, { ...this.req(what), method: 'POST', body: attachmentJson(a) });
      return;
    }
    const j = attachmentJson(a);
    const session = await this.o.graph.json<{ uploadUrl: string }>(`${url}/createUploadSession`, {
      ...this.req(what),
      method: 'POST',
      body: { AttachmentItem: { attachmentType: 'file', name: j.name, size: a.size, contentType: j.contentType, isInline: j.isInline, ...(j.contentId ? { contentId: j.contentId } : {}) } },
    });
    try {
      for (let start = 0; start < a.size; start += ATTACHMENT_RANGE) {
        const chunk = a.content.subarray(start, Math.min(a.size, start + ATTACHMENT_RANGE));
        await this.o.graph.send(
          session.uploadUrl,
          {
            ...this.req(what),
            method: 'PUT',
            auth: false, // the upload URL carries its own token; a bearer token there is refused
            body: chunk,
            headers: { 'content-range': `bytes ${start}-${start + chunk.length - 1}/${a.size}`, 'content-type': 'application/octet-stream' },
          },
          async (r) => void (await r.body?.cancel()),
        );
      }
    } catch (err) {
      await this.o.graph.send(session.uploadUrl, { ...this.req(`cancel the upload of ${attachmentName(a)}`), method: 'DELETE', auth: false, accept: [404] }, async () => undefined).catch(() => undefined);
      throw err;
    }
  }
}

function validIso(s: string | null | undefined): string | null {
  if (typeof s !== 'string') return null;
  const t = Date.parse(s);
  return Number.isNaN(t) ? null : new Date(t).toISOString();
}

function attachmentName(a: Attachment): string {
  // Graph needs a name; a part without one gets what Outlook shows for it.
  return (a.filename ?? '').replace(/\p{Cc}/gu, '').trim() || 'attachment';
}

/** An inline part: an image in multipart/related, or one marked inline with a Content-ID, as Outlook sees them. */
export function isInlinePart(a: Pick<Attachment, 'related' | 'contentDisposition' | 'cid'>): boolean {
  return a.related === true || (a.contentDisposition === 'inline' && typeof a.cid === 'string' && a.cid !== '');
}

function attachmentJson(a: Attachment): AttachmentJson {
  const inline = isInlinePart(a);
  return {
    '@odata.type': '#microsoft.graph.fileAttachment',
    name: attachmentName(a),
    contentType: a.contentType || 'application/octet-stream',
    contentBytes: a.content.toString('base64'),
    isInline: inline,
    ...(inline && a.cid ? { contentId: a.cid } : {}),
  };
}
