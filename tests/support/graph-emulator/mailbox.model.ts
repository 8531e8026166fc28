/**
 * An Exchange Online mailbox as the emulator holds it, one per User with a mailbox: mail folders
 * (the well-known inbox, drafts, sentitems, deleteditems, archive, and nested custom folders),
 * messages stored as their MIME with the properties Exchange derives from it, a change log
 * (sequence numbers and tombstones per folder) behind delta, and the mailbox's calendar and
 * contacts (calendar.model.ts). Ids: each message has a REST id that changes when it moves to
 * another folder and an immutable id that does not (Prefer: IdType="ImmutableId").
 */
import { randomBytes } from 'node:crypto';
import { type AttachmentSpec, type MimeSpec, composeMime, parseMime, previewOf } from './mime.js';
import type { AttachmentRecord, DeltaRound, MailFolderRecord, MessageRecord, MessageSeed, Tombstone, ValueFailure } from './mailbox.types.js';

import { Pim } from './calendar.model.js';

export type { AttachmentRecord, DeltaRound, MailFolderRecord, MessageRecord, MessageSeed, Tombstone, ValueFailure } from './mailbox.types.js';

export const WELL_KNOWN: Record<string, string> = { inbox: 'Inbox', drafts: 'Drafts', sentitems: 'Sent Items', deleteditems: 'Deleted Items', archive: 'Archive' };

export const exchangeId = (prefix = 'AAMkAD'): string => `${prefix}${randomBytes(30).toString('base64url')}`;

export class Mailbox {
  readonly rootId = exchangeId('AAMkRoot');
  readonly folders = new Map<string, MailFolderRecord>();
  readonly messages = new Map<string, MessageRecord>();
  readonly tombstones: Tombstone[] = [];
  readonly valueFailures = new Map<string, ValueFailure>();
  /** Subjects whose creation (POST messages) fails: failCreate(). */
  readonly createFailures = new Map<string, ValueFailure>();
  readonly deltaRounds = new Map<string, DeltaRound>();
  readonly pim: Pim;
  seq = 0;
  /** Bumped by expireDeltaTokens(): every older delta or next link answers 410. */
  epoch = 0;
  private gate: Promise<void> | undefined;

  constructor(readonly owner: { id: string; upn: string; displayName: string; mail: string }) {
    for (const [wk, name] of Object.entries(WELL_KNOWN)) this.addFolder(this.rootId, name, wk);
    this.pim = new Pim(() => ++this.seq);
  }

  nextSeq(): number {
    return ++this.seq;
  }

  // --- folders -------------------------------------------------------------------------------

  /** By id, well-known name ('inbox') or path of display names ('Inbox/Projects/2024'; the first segment may be a well-known name). */
  findFolder(ref: string): MailFolderRecord | undefined {
    if (ref === 'msgfolderroot' || ref === this.rootId) return undefined;
    const byId = this.folders.get(ref);
    if (byId) return byId;
    let parentId = this.rootId;
    let found: MailFolderRecord | undefined;
    for (const [i, seg] of ref.split('/').filter((s) => s !== '').entries()) {
      found = (i === 0 ? [...this.folders.values()].find((f) => f.wellKnownName === seg.toLowerCase() && f.parentId === this.rootId) : undefined) ?? this.childFolder(parentId, seg);
      if (!found) return undefined;
      parentId = found.id;
    }
    return found;
  }

  folder(ref: string): MailFolderRecord {
    const f = this.findFolder(ref);
    if (!f) throw new Error(`no mail folder ${ref} in ${this.owner.upn}`);
    return f;
  }

  childFolder(parentId: string, displayName: string): MailFolderRecord | undefined {
    return [...this.folders.values()].find((f) => f.parentId === parentId && f.displayName.toLowerCase() === displayName.toLowerCase());
  }

  childFolders(parentId: string): MailFolderRecord[] {
    return [...this.folders.values()].filter((f) => f.parentId === parentId);
  }

  addFolder(parentId: string, displayName: string, wellKnownName?: string): MailFolderRecord {
    const f: MailFolderRecord = { id: exchangeId('AAMkFold'), displayName, parentId, ...(wellKnownName !== undefined ? { wellKnownName } : {}), changeSeq: this.nextSeq() };
    this.folders.set(f.id, f);
    return f;
  }

  /** Creates the folders of a path that are missing; returns the last. */
  mkdirp(path: string): MailFolderRecord {
    let parentId = this.rootId;
    let f: MailFolderRecord | undefined;
    for (const [i, seg] of path.split('/').filter((s) => s !== '').entries()) {
      f = (i === 0 ? this.findFolder(seg) : undefined) ?? this.childFolder(parentId, seg) ?? this.addFolder(parentId, seg);
      parentId = f.id;
    }
    if (!f) throw new Error('empty folder path');
    return f;
  }

  renameFolder(ref: string, displayName: string): void {
    const f = this.folder(ref);
    f.displayName = displayName;
    f.changeSeq = this.nextSeq();
  }

  /** Deletes a custom folder with its subfolders and messages (tombstones for delta). */
  deleteFolder(ref: string): void {
    const f = this.folder(ref);
    if (f.wellKnownName !== undefined) throw new Error('well-known folders cannot be deleted');
    for (const c of this.childFolders(f.id)) this.deleteFolder(c.id);
    for (const m of this.messagesIn(f.id)) this.delete(m);
    this.folders.delete(f.id);
    this.tombstones.push({ scope: 'folders', id: f.id, seq: this.nextSeq() });
  }

  // --- messages ------------------------------------------------------------------------------

  messagesIn(folderId: string): MessageRecord[] {
    return [...this.messages.values()].filter((m) => m.folderId === folderId);
  }

  /** By REST id or immutable id. */
  findMessage(id: string): MessageRecord | undefined {
    return this.messages.get(id) ?? [...this.messages.values()].find((m) => m.immutableId === id);
  }

  /** A message delivered into a folder (received, not a draft unless seed.isDraft). */
  async addMessage(folderRef: string, seed: MessageSeed): Promise<MessageRecord> {
    const folder = this.findFolder(folderRef) ?? this.mkdirp(folderRef);
    const mime = seed.mime ?? (await composeMime({ subject: seed.subject ?? '', from: seed.from ?? { name: 'Sender', address: 'sender@example.com' }, to: seed.to ?? [{ name: this.owner.displayName, address: this.owner.mail }], ...seed }));
    const received = seed.receivedDateTime ?? new Date();
    return this.store(folder.id, mime, { isRead: seed.isRead ?? false, isDraft: seed.isDraft ?? false, receivedDateTime: received, flagged: seed.flagged ?? false });
  }

  /** Stores MIME as a new message, deriving its properties as Exchange does. */
  store(folderId: string, mime: Buffer, state: { isRead: boolean; isDraft: boolean; receivedDateTime: Date; flagged?: boolean; flag?: MessageRecord['flag']['flagStatus'] }): MessageRecord {
    const p = parseMime(mime);
    const now = new Date();
    const m: MessageRecord = {
      restId: exchangeId(),
      immutableId: exchangeId('AAkALg'),
      folderId,
      mime,
      mimeStale: false,
      subject: p.subject,
      ...(p.from ? { from: p.from } : {}),
      to: p.to,
      cc: p.cc,
      bcc: p.bcc,
      replyTo: p.replyTo,
      body: p.body,
      bodyPreview: previewOf(p.body),
      internetMessageId: p.messageId ?? `<${randomBytes(12).toString('hex')}@emulator.prod.outlook.com>`,
      createdDateTime: now,
      lastModifiedDateTime: now,
      receivedDateTime: state.receivedDateTime,
      sentDateTime: p.date ?? state.receivedDateTime,
      isRead: state.isRead,
      isDraft: state.isDraft,
      flag: { flagStatus: state.flag ?? (state.flagged === true ? 'flagged' : 'notFlagged') },
      attachments: p.attachments.map((a) => ({ id: exchangeId('AAMkAtt'), name: a.name, contentType: a.contentType, isInline: a.isInline, ...(a.contentId !== undefined ? { contentId: a.contentId } : {}), content: a.content, lastModified: now })),
      version: 1,
      changeSeq: this.nextSeq(),
      createdSeq: this.seq,
    };
    this.messages.set(m.restId, m);
    return m;
  }

  /** Seeds several folders at once: { 'inbox': [...], 'Inbox/Projects': [...] }. */
  async seed(spec: Record<string, MessageSeed[]>): Promise<MessageRecord[]> {
    const out: MessageRecord[] = [];
    for (const [folder, seeds] of Object.entries(spec)) {
      if (!this.findFolder(folder)) this.mkdirp(folder);
      for (const s of seeds) out.push(await this.addMessage(folder, s));
    }
    return out;
  }

  touch(m: MessageRecord): void {
    m.version++;
    m.lastModifiedDateTime = new Date();
    m.changeSeq = this.nextSeq();
  }

  markRead(m: MessageRecord, isRead = true): void {
    m.isRead = isRead;
    this.touch(m);
  }

  setFlag(m: MessageRecord, flagStatus: MessageRecord['flag']['flagStatus']): void {
    m.flag = { flagStatus };
    this.touch(m);
  }

  /** Moves a message: it leaves the source folder's delta (@removed) and gets a new REST id; the immutable id stays. */
  move(m: MessageRecord, folderRef: string): MessageRecord {
    const to = this.folder(folderRef);
    this.tombstones.push({ scope: m.folderId, id: m.restId, immutableId: m.immutableId, seq: this.nextSeq() });
    this.messages.delete(m.restId);
    m.restId = exchangeId();
    m.folderId = to.id;
    this.messages.set(m.restId, m);
    this.touch(m);
    m.createdSeq = m.changeSeq;
    return m;
  }

  /** Hard delete (as DELETE /messages/{id} does). */
  delete(m: MessageRecord): void {
    this.messages.delete(m.restId);
    this.tombstones.push({ scope: m.folderId, id: m.restId, immutableId: m.immutableId, seq: this.nextSeq() });
  }

  addAttachment(m: MessageRecord, a: { name: string; contentType?: string; content: Buffer; isInline?: boolean; contentId?: string }): AttachmentRecord {
    const rec: AttachmentRecord = {
      id: exchangeId('AAMkAtt'),
      name: a.name,
      contentType: a.contentType ?? 'application/octet-stream',
      isInline: a.isInline ?? false,
      ...(a.contentId !== undefined ? { contentId: a.contentId } : {}),
      content: a.content,
      lastModified: new Date(),
    };
    m.attachments.push(rec);
    m.mimeStale = true;
    this.touch(m);
    return rec;
  }

  /** The MIME $value serves; rebuilt from the properties once attachments were added after creation. */
  async mimeOf(m: MessageRecord): Promise<Buffer> {
    if (m.mimeStale) {
      const spec: MimeSpec = { subject: m.subject, to: m.to, cc: m.cc, bcc: m.bcc, replyTo: m.replyTo, date: m.sentDateTime, messageId: m.internetMessageId, ...(m.from ? { from: m.from } : {}), ...(m.body.contentType === 'html' ? { html: m.body.content } : { text: m.body.content }) };
      spec.attachments = m.attachments.map((a): AttachmentSpec => ({ name: a.name, contentType: a.contentType, content: a.content, inline: a.isInline, ...(a.contentId !== undefined ? { contentId: a.contentId } : {}) }));
      m.mime = await composeMime(spec);
      m.mimeStale = false;
    }
    return m.mime;
  }

  // --- controls ------------------------------------------------------------------------------

  /** Every delta and next link of this mailbox (mail, folders, calendar, contacts) answers 410 SyncStateNotFound. */
  expireDeltaTokens(): void {
    this.epoch++;
  }

  /** GET .../messages/{id}/$value answers `status` (default 500), `times` times (default always). */
  failValue(m: MessageRecord, how: { status?: number; times?: number } = {}): void {
    this.valueFailures.set(m.immutableId, { status: how.status ?? 500, times: how.times ?? Number.POSITIVE_INFINITY });
  }

  takeValueFailure(m: MessageRecord): number | undefined {
    const f = this.valueFailures.get(m.immutableId);
    if (!f || f.times <= 0) return undefined;
    f.times--;
    return f.status;
  }

  /** POST …/messages of a message with this subject answers `status` (default 500), `times` times (default always). */
  failCreate(subject: string, how: { status?: number; times?: number } = {}): void {
    this.createFailures.set(subject, { status: how.status ?? 500, times: how.times ?? Number.POSITIVE_INFINITY });
  }

  takeCreateFailure(subject: string): number | undefined {
    const f = this.createFailures.get(subject);
    if (!f || f.times <= 0) return undefined;
    f.times--;
    return f.status;
  }

  /** Holds every request to this mailbox (after it is counted in flight) until the returned function is called: makes concurrency deterministic in tests. */
  hold(): () => void {
    let release = (): void => {};
    this.gate = new Promise<void>((resolve) => (release = resolve));
    return () => {
      this.gate = undefined;
      release();
    };
  }

  async passGate(): Promise<void> {
    if (this.gate) await this.gate;
  }
}
