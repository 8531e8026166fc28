/**
 * The incremental backup of a user's mailbox as one backup point of its ObjectStore object
 * (layout in model.ts): the folder tree as folders, each message as a file whose content is
 * its original MIME ($value), with its Graph fields and its attachments' names in `extra`.
 *
 * Graph's delta for mail is per folder, so the point's state keeps a delta link per folder
 * (the point's own deltaLink column holds the hierarchy's). A backup reads the hierarchy's
 * changes, then each known folder's message changes; a message whose content cannot change
 * (a received message; a draft whose changeKey is the same) is never downloaded again: a
 * read-state or flag change, or a move (its immutable id stays), is a new version with the
 * stored content.
 *
 * Removals are applied at the end of the point, once every folder was read: a message moved
 * from A to B is reported removed by A and listed by B in any order, and is closed only if it
 * is still in A. An expired delta (410) of a folder enumerates that folder in full and closes
 * what the last point had in it and the enumeration did not list; an expired hierarchy
 * enumerates the hierarchy and closes the folders it no longer lists, with their messages.
 * Nothing deleted comes back, and an incremental point stays incremental.
 */
import type { Readable } from 'node:stream';
import { MailParser, type AttachmentStream } from 'mailparser';
import type { JsonValue, RepositoryLogger, StoredContent } from '../../repository/index.js';
import { ByteChannel } from '../byte-channel.js';
import { backupResultOf, type DriveBackupProgress, type DriveBackupResult } from '../drive-backup.js';
import { CloudError } from '../graph/cloud-errors.js';
import { Semaphore } from '../graph/limits.js';
import { getMessage, mailFolder, mailFolderDelta, mailRoot, messageDelta, streamMime, WELL_KNOWN_FOLDERS, type GraphMessage, type GraphRecipient, type MailFolder, type MailRequest } from '../graph/mail-items.js';
import { openObjectStore, type ItemInput, type ObjectStore } from '../metadata/index.js';
import { exchangeFileName, type ExchangeBackupOptions, type MailAddress, type MailAttachmentInfo, type MailFlag, type MailFolderExtra, type MessageExtra } from './model.js';

export interface MailBackupOptions extends ExchangeBackupOptions {
  /** Messages downloaded at once (GraphClient keeps the mailbox within 4 requests in flight). */
  downloads?: number;
  /** Folders whose changes are read at once. */
  listings?: number;
  /** Prefer: odata.maxpagesize of the delta calls. */
  pageSize?: number;
}

/** What a mail point keeps for the next backup (CommitPointInput.state). */
export interface MailBackupState {
  /** The hierarchy's delta link (also the point's deltaLink). */
  foldersLink: string | null;
  /** Every folder the point has, with its messages' delta link (null: to be enumerated in full). */
  folders: Record<string, string | null>;
  /** Folder id → well-known name (inbox, sentitems…). */
  wellKnown: Record<string, string>;
  /** Messages seen but not stored: fetched again by the next backup. */
  pending: { id: string; folderId: string }[];
}

const noop = (): void => undefined;
const silent: RepositoryLogger = { debug: noop, info: noop, warn: noop, error: noop, child: () => silent };

/**
 * Backs up a mailbox as one backup point. A user without a mailbox is CloudError
 * M365_NO_MAILBOX, with nothing stored. One message that fails is a warning naming it; it is
 * fetched again by the next backup and the mailbox's backup goes on.
 */
export async function backupMailbox(o: MailBackupOptions): Promise<DriveBackupResult> {
  const log = (o.logger ?? silent).child({ module: 'mail-backup', object: o.objectKey });
  const req: MailRequest = { what: `read the mail folders of ${o.label}`, owner: o.owner, ...(o.signal ? { signal: o.signal } : {}) };
  // First: a user without a mailbox fails here, before anything is written.
  const root = await mailRoot(o.graph, o.userPath, req);
  const store = await openObjectStore(o.repo, o.objectKey, { workDir: o.workDir, logger: log, ...(o.packSize ? { packSize: o.packSize } : {}) });
  try {
    return await new MailBackup(o, store, log, root).run();
  } finally {
    await store.close();
  }
}

/** An attachment's description, read from the MIME while it is stored (mailparser streams it; nothing is kept). */
export class MimeAttachmentScanner {
  private readonly parser = new MailParser({ skipHtmlToText: true, skipTextToHtml: true, skipImageLinks: true, skipTextLinks: true, checksumAlgo: false });
  private readonly found: { a: AttachmentStream; ended: Promise<void> }[] = [];
  private failed: Error | null = null;
  private readonly finished: Promise<void>;

  constructor() {
    this.parser.on('data', (data: { type: string }) => {
      if (data.type !== 'attachment') return;
      const a = data as AttachmentStream;
      const content: Readable = a.content;
      const ended = new Promise<void>((resolve) => {
        content.once('end', resolve);
        content.once('error', resolve);
      });
      content.resume();
      this.found.push({ a, ended });
      a.release?.();
    });
    this.finished = new Promise<void>((resolve) => {
      this.parser.once('end', resolve);
      this.parser.once('error', (err: Error) => {
        this.failed = err;
        resolve();
      });
    });
  }

  async write(chunk: Buffer): Promise<void> {
    if (this.failed) return;
    if (this.parser.write(chunk)) return;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        this.parser.off('drain', done);
        this.parser.off('error', done);
        resolve();
      };
      this.parser.on('drain', done);
      this.parser.on('error', done);
    });
  }

  /** The attachments in MIME order; null when the MIME could not be read (the message is still stored). */
  async end(): Promise<MailAttachmentInfo[] | null> {
    if (!this.failed) this.parser.end();
    await this.finished;
    if (this.failed) return null;
    await Promise.all(this.found.map((f) => f.ended));
    return this.found.map(({ a }) => ({
      name: a.filename ?? (a.contentType === 'message/rfc822' ? 'message.eml' : 'attachment'),
      size: a.size ?? 0,
      contentType: a.contentType,
      inline: a.related === true || (a.contentDisposition === 'inline' && a.cid !== undefined),
    }));
  }

  /** Stops reading (the download failed). */
  abort(): void {
    if (!this.failed) this.failed = new Error('aborted');
    this.parser.destroy();
  }
}

function address(r: GraphRecipient | null | undefined): MailAddress | null {
  const a = r?.emailAddress;
  if (!a || (!a.address && !a.name)) return null;
  return { name: a.name ?? null, address: a.address ?? '' };
}

const addresses = (rs: GraphRecipient[] | undefined): MailAddress[] => (rs ?? []).map(address).filter((a): a is MailAddress => a !== null);
const FLAGS: readonly string[] = ['notFlagged', 'flagged', 'complete'];
const IMPORTANCE: readonly string[] = ['low', 'normal', 'high'];

/** MessageExtra from Graph's fields; the attachments come from the MIME. */
export function messageExtra(m: GraphMessage, attachments: MailAttachmentInfo[]): MessageExtra {
  const flag = m.flag?.flagStatus ?? 'notFlagged';
  const importance = (m.importance ?? 'normal').toLowerCase();
  return {
    type: 'message',
    subject: m.subject ?? '',
    from: address(m.from) ?? address(m.sender),
    to: addresses(m.toRecipients),
    cc: addresses(m.ccRecipients),
    bcc: addresses(m.bccRecipients),
    receivedAt: m.receivedDateTime ?? null,
    sentAt: m.sentDateTime ?? null,
    isRead: m.isRead ?? false,
    isDraft: m.isDraft ?? false,
    flag: (FLAGS.includes(flag) ? flag : 'notFlagged') as MailFlag,
    importance: (IMPORTANCE.includes(importance) ? importance : 'normal') as MessageExtra['importance'],
    hasAttachments: m.hasAttachments ?? attachments.some((a) => !a.inline),
    attachments,
    internetMessageId: m.internetMessageId ?? null,
    conversationId: m.conversationId ?? null,
    preview: (m.bodyPreview ?? '').slice(0, 255),
  };
}

/** A folder's display name as one path component ("/" cannot be one). */
function folderName(f: MailFolder): string {
  const n = (f.displayName ?? '').replace(/[/\\]/g, '_').trim();
  return n === '' || n === '.' || n === '..' ? `(folder ${f.id.slice(-8)})` : n;
}

class MailBackup {
  private readonly warnings: string[] = [];
  private readonly pending = new Map<string, string>();
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly handled = new Set<string>();
  /** Messages the last point could not store: downloaded whatever delta says of them. */
  private retrying = new Set<string>();
  private readonly downloads: Semaphore;
  private readonly progress: DriveBackupProgress = { items: 0, downloadedFiles: 0, downloadedBytes: 0, queuedFiles: 0, queuedBytes: 0, enumerated: false, warnings: 0 };
  /** Messages a folder's delta reported removed: closed at the end if still in that folder. */
  private readonly removals: { id: string; folderId: string }[] = [];
  /** Folders gone from the mailbox: closed at the end with what is still in them. */
  private readonly removedFolders = new Set<string>();
  private resynced = false;
  private mode: 'full' | 'incremental' = 'incremental';
  private lastPoint: string | null = null;

  constructor(
    private readonly o: MailBackupOptions,
    private readonly store: ObjectStore,
    private readonly log: RepositoryLogger,
    private readonly root: MailFolder,
  ) {
    this.downloads = new Semaphore(Math.max(1, o.downloads ?? 8));
  }

  private req(what: string): MailRequest {
    return { what, owner: this.o.owner, ...(this.o.signal ? { signal: this.o.signal } : {}) };
  }

  async run(): Promise<DriveBackupResult> {
    const { store, o } = this;
    const previous = store.state() as Partial<MailBackupState> | null;
    const fresh = o.full === true || store.baseline === 'none' || store.baseline === 'lost' || store.deltaLink() === null || !previous?.folders;
    this.mode = fresh ? 'full' : 'incremental';
    this.lastPoint = fresh ? null : await this.basePoint();
    await store.beginPoint({ mode: this.mode, ...(o.source !== undefined ? { source: o.source } : {}) });
    try {
      // Asked before this point stores anything: its own new blobs are not in the index until it commits.
      const missing = store.filesWithMissingContent();
      this.retrying = new Set([...(previous?.pending ?? []).map((p) => p.id), ...missing.map((m) => m.id)]);
      store.upsertItem({ id: this.root.id, parentId: null, name: '', kind: 'folder', extra: { type: 'root' } });
      const wellKnown = fresh || !previous?.wellKnown ? await this.wellKnownFolders() : previous.wellKnown;
      const known = fresh ? {} : { ...previous.folders };
      const { link: foldersLink, folders } = await this.hierarchy(fresh ? null : (previous.foldersLink ?? store.deltaLink()), known, wellKnown);
      await this.syncFolders(folders);
      await this.retry(previous?.pending ?? [], missing.map((m) => ({ id: m.id, folderId: m.parentId ?? '' })));
      this.progress.enumerated = true;
      this.o.onProgress?.({ ...this.progress });
      await this.drain();
      o.signal?.throwIfAborted();
      this.applyRemovals();
      const state: MailBackupState = { foldersLink, folders: Object.fromEntries(folders), wellKnown, pending: [...this.pending].map(([id, folderId]) => ({ id, folderId })) };
      const point = await store.commitPoint({ deltaLink: foldersLink, state: state as unknown as JsonValue, summary: { warnings: this.warnings.length, downloadedFiles: this.progress.downloadedFiles, downloadedBytes: this.progress.downloadedBytes } });
      return backupResultOf(point, this.mode, this.resynced, this.progress, this.warnings);
    } catch (err) {
      await this.drain().catch(noop);
      await store.abortPoint().catch(noop);
      throw err;
    }
  }

  /** The newest point the working database holds (what "the last point" means for a folder enumerated again). */
  private async basePoint(): Promise<string | null> {
    for (const p of (await this.store.points()).reverse()) {
      try {
        await this.store.withPoint(p.id, () => undefined);
        return p.id;
      } catch (err) {
        this.log.debug({ point: p.id, err }, 'a point’s metadata cannot be read');
      }
    }
    return null;
  }

  /** Folder id → well-known name, asked by name (mailFolder has no wellKnownName property in v1.0). */
  private async wellKnownFolders(): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    await Promise.all(
      WELL_KNOWN_FOLDERS.map(async (name) => {
        try {
          const f = await mailFolder(this.o.graph, this.o.userPath, name, this.req(`read folder ${name} of ${this.o.label}`));
          out[f.id] = name;
        } catch (err) {
          if (!(err instanceof CloudError && err.code === 'M365_NOT_FOUND')) throw err;
        }
      }),
    );
    return out;
  }

  /**
   * The hierarchy's changes: folders upserted now, removed ones closed at the end. Answers the
   * folders whose messages to read, each with its delta link (null: enumerate in full).
   */
  private async hierarchy(from: string | null, known: Record<string, string | null>, wellKnown: Record<string, string>): Promise<{ link: string; folders: Map<string, string | null> }> {
    let listed = new Set<string>();
    let complete = from === null; // this round lists every folder
    let link: string | null = null;
    for await (const event of mailFolderDelta(this.o.graph, this.o.userPath, from, this.req(`read the folder changes of ${this.o.label}`), this.pageSize())) {
      if (event.kind === 'resync') {
        this.resynced = true;
        complete = true;
        listed = new Set();
        this.log.warn({ reason: event.reason }, 'the folder hierarchy’s change token expired: enumerating every folder');
      } else if (event.kind === 'items') {
        for (const f of event.items) {
          this.progress.items++;
          if (f['@removed']) {
            this.removedFolders.add(f.id);
            listed.delete(f.id);
            continue;
          }
          listed.add(f.id);
          this.removedFolders.delete(f.id);
          const extra: MailFolderExtra = { type: 'mailFolder', wellKnownName: wellKnown[f.id] ?? null };
          this.store.upsertItem({ id: f.id, parentId: f.parentFolderId ?? this.root.id, name: folderName(f), kind: 'folder', extra });
        }
      } else link = event.deltaLink;
    }
    if (link === null) throw new Error(`the folder hierarchy of ${this.o.label} was read without a delta link`);
    // A complete listing of an incremental point: the folders it no longer has were deleted.
    if (complete) for (const id of Object.keys(known)) if (!listed.has(id)) this.removedFolders.add(id);
    const folders = new Map<string, string | null>();
    for (const [id, l] of Object.entries(known)) if (!this.removedFolders.has(id)) folders.set(id, l);
    for (const id of listed) if (!folders.has(id)) folders.set(id, null);
    return { link, folders };
  }

  /** Every folder's message changes, a few folders at a time; each folder's new delta link goes into `folders`. */
  private async syncFolders(folders: Map<string, string | null>): Promise<void> {
    const queue = [...folders.keys()];
    const workers = Array.from({ length: Math.min(queue.length, Math.max(1, this.o.listings ?? 4)) }, async () => {
      for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
        folders.set(id, await this.syncFolder(id, folders.get(id) ?? null));
      }
    });
    await Promise.all(workers);
  }

  /** One folder's changes; answers its new delta link (the old one when it vanished meanwhile). */
  private async syncFolder(folderId: string, from: string | null): Promise<string | null> {
    // Enumerating a folder the last point had: what it does not list is closed at the end.
    let seen: Set<string> | null = from === null && this.mode === 'incremental' ? new Set() : null;
    let link: string | null = null;
    try {
      for await (const event of messageDelta(this.o.graph, this.o.userPath, folderId, from, this.req(`read the message changes of ${this.folderPath(folderId)} in ${this.o.label}`), this.pageSize())) {
        if (event.kind === 'resync') {
          this.resynced = true;
          if (this.mode === 'incremental') seen = new Set();
          this.log.warn({ folder: folderId, reason: event.reason }, 'a folder’s change token expired: enumerating the folder');
        } else if (event.kind === 'items') {
          for (const m of event.items) {
            this.progress.items++;
            if (m['@removed']) this.removals.push({ id: m.id, folderId });
            else {
              seen?.add(m.id);
              await this.handle(m, folderId, false);
            }
          }
        } else link = event.deltaLink;
      }
    } catch (err) {
      // Deleted after the hierarchy was read: the next backup's hierarchy says so.
      if (err instanceof CloudError && err.code === 'M365_NOT_FOUND') {
        this.log.info({ folder: folderId }, 'a folder vanished while it was read');
        return from;
      }
      throw err;
    }
    if (seen !== null && this.lastPoint !== null) {
      const before = await this.store.withPoint(this.lastPoint, (db, seq) =>
        db.prepare("SELECT item_id FROM versions WHERE parent_id = ? AND kind = 'file' AND valid_from <= ? AND (valid_to IS NULL OR valid_to > ?)").all(folderId, seq, seq) as { item_id: string }[],
      );
      for (const r of before) if (!seen.has(r.item_id)) this.removals.push({ id: r.item_id, folderId });
    }
    return link;
  }

  /** Messages a previous backup could not store, and those whose stored content went missing. */
  private async retry(pending: readonly { id: string; folderId: string }[], missing: readonly { id: string; folderId: string }[]): Promise<void> {
    const todo = new Map<string, string>();
    for (const p of [...pending, ...missing]) if (!this.handled.has(p.id)) todo.set(p.id, p.folderId);
    for (const [id, folderId] of todo) {
      let m: GraphMessage;
      try {
        m = await getMessage(this.o.graph, this.o.userPath, id, this.req(`read a message of ${this.o.label}`));
      } catch (err) {
        if (err instanceof CloudError && err.code === 'M365_NOT_FOUND') continue; // deleted since: its folder's delta says so
        throw err;
      }
      await this.handle(m, m.parentFolderId ?? folderId, true);
    }
  }

  private async handle(m: GraphMessage, folderId: string, force: boolean): Promise<void> {
    const { store } = this;
    await this.inFlight.get(m.id);
    this.handled.add(m.id);
    this.pending.delete(m.id);
    const cur = store.currentItem(m.id);
    const base = {
      id: m.id,
      parentId: m.parentFolderId ?? folderId,
      name: exchangeFileName(m.subject ?? '', m.id, 'eml'),
      kind: 'file' as const,
      createdAt: m.sentDateTime ?? null,
      modifiedAt: m.receivedDateTime ?? null,
      eTag: m.changeKey ?? null,
    };
    // A received message's MIME never changes; a draft's does, and then its changeKey too.
    const stored = cur?.kind === 'file' && cur.blobs !== null && cur.contentSha256 !== null ? cur : null;
    const reuse = !force && !this.retrying.has(m.id) && stored !== null && (!m.isDraft || stored.eTag === (m.changeKey ?? null)) && store.hasContent(stored.blobs ?? []);
    if (reuse && stored) {
      const attachments = (stored.extra as Partial<MessageExtra> | null)?.attachments ?? [];
      store.upsertItem({ ...base, size: stored.size, content: stored.blobs ?? [], extra: messageExtra(m, attachments) });
      return;
    }
    this.progress.queuedFiles++;
    const release = await this.downloads.acquire(this.o.signal);
    const job = this.download(m)
      .then(({ content, attachments }) => void store.upsertItem({ ...base, size: content.size, content, extra: messageExtra(m, attachments) }))
      .catch((err: unknown) => {
        if (this.o.signal?.aborted) return; // the run ends with the cancellation itself
        this.warn(m, base.parentId, `could not be backed up: ${(err as Error).message}`);
        this.pending.set(m.id, base.parentId);
        this.keepAsItWas(m.id);
      })
      .finally(() => {
        release();
        this.inFlight.delete(m.id);
      });
    this.inFlight.set(m.id, job);
  }

  /** The MIME, streamed into the repository and through the attachment scanner at once. */
  private async download(m: GraphMessage): Promise<{ content: StoredContent; attachments: MailAttachmentInfo[] }> {
    const channel = new ByteChannel();
    const scanner = new MimeAttachmentScanner();
    const fetched = streamMime(this.o.graph, this.o.userPath, m.id, this.req('reading its content'), async (chunk) => {
      await scanner.write(chunk);
      await channel.push(chunk);
    }).then(
      (bytes) => {
        channel.end();
        return bytes;
      },
      (err: unknown) => {
        channel.fail(err);
        scanner.abort();
        throw err;
      },
    );
    let content: StoredContent;
    try {
      content = await this.store.putContent(channel);
    } catch (err) {
      await fetched.catch(noop);
      scanner.abort();
      throw err;
    }
    const bytes = await fetched;
    const attachments = await scanner.end();
    if (attachments === null) this.log.warn({ message: m.id }, 'the MIME of a message could not be parsed for its attachments; it is stored as it is');
    this.progress.downloadedFiles++;
    this.progress.downloadedBytes += bytes;
    this.o.onProgress?.({ ...this.progress });
    return { content, attachments: attachments ?? [] };
  }

  /** Removals are applied once every folder was read: an item still in the folder that reported it gone is closed. */
  private applyRemovals(): void {
    for (const r of this.removals) {
      const cur = this.store.currentItem(r.id);
      if (cur && cur.parentId === r.folderId) this.store.markDeleted(r.id);
    }
    for (const id of this.removedFolders) if (this.store.currentItem(id)) this.store.markDeleted(id);
  }

  /** In a full enumeration an item not upserted is closed: a message that failed keeps its last version. */
  private keepAsItWas(id: string): void {
    const v = this.store.currentItem(id);
    if (!v || this.mode !== 'full') return;
    const input: ItemInput = { id: v.id, parentId: v.parentId, name: v.name, kind: v.kind, size: v.size, createdAt: v.createdAt, modifiedAt: v.modifiedAt, eTag: v.eTag, ...(v.blobs ? { content: v.blobs } : {}), extra: v.extra };
    this.store.upsertItem(input);
  }

  private folderPath(folderId: string): string {
    return this.store.currentItem(folderId)?.path ?? `folder ${folderId}`;
  }

  private warn(m: GraphMessage, folderId: string, what: string): void {
    const message = `message "${m.subject ?? ''}" in ${this.folderPath(folderId)} ${what}`;
    this.warnings.push(message);
    this.progress.warnings++;
    this.log.warn({ message: m.id }, message);
    this.o.onProgress?.({ ...this.progress });
  }

  private pageSize(): { pageSize: number } {
    return { pageSize: this.o.pageSize ?? 100 };
  }

  private async drain(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight.values()]);
  }
}
