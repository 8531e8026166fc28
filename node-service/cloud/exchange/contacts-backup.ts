/**
 * A user's contacts backed up as one point of the object m365:<dir>:contacts:<user id>
 * (model.ts): contact folders as folders (the default one, Graph's /contacts, as "Contacts"),
 * contacts as vCard 4.0 files with their photo, Graph's contact in `extra`.
 *
 * Incremental by Graph's contact delta, one round per folder (`contacts/delta` for the default
 * folder, `contactFolders/{id}/contacts/delta` for the others), its delta link kept per folder
 * in the point's state: only new and changed contacts are read again (with their photo), removed
 * ones (`@removed`) are tombstoned. An expired sync state (410 SyncStateNotFound), a new folder
 * or a full backup starts the folder's round without a token and compares: contacts of the
 * folder it no longer lists are tombstoned, nothing deleted comes back. A contact that fails
 * (its photo unreadable) is a warning, kept as it was and read again next time.
 */
import { contactPhoto, contactsDelta, listContactFolders, type GraphContact } from '../graph/pim-items.js';
import type { DriveBackupResult } from '../drive-backup.js';
import { openObjectStore, type ObjectStore } from '../metadata/index.js';
import type { RepositoryLogger } from '../../repository/index.js';
import { isItemFailure, strip } from './calendar-backup.js';
import { exchangeFileName, type ContactExtra, type ContactFolderExtra, type ExchangeBackupOptions, type ExchangeRootExtra } from './model.js';
import { DEFAULT_CONTACT_FOLDER_ID, folderName, keepAsItWas, newProgress, previousIndex, resultOf, ROOT_ID, silentLogger, type IndexedItem } from './pim-store.js';
import { contactToVcard } from './vcard.js';

interface ContactsState {
  /** Delta link per contact folder (DEFAULT_CONTACT_FOLDER_ID for the default one). */
  deltaLinks?: Record<string, string>;
  /** Contacts seen changed but not stored (a failure): read again next time. */
  pending?: string[];
}

export async function backupContacts(o: ExchangeBackupOptions): Promise<DriveBackupResult> {
  const log = (o.logger ?? silentLogger).child({ module: 'contacts-backup', object: o.objectKey });
  const store = await openObjectStore(o.repo, o.objectKey, { workDir: o.workDir, logger: log, ...(o.packSize ? { packSize: o.packSize } : {}) });
  try {
    return await new ContactsBackup(o, store, log).run();
  } finally {
    await store.close();
  }
}

class ContactsBackup {
  private readonly warnings: string[] = [];
  private readonly progress = newProgress();
  /** Contacts stored or confirmed in this point, with the folder they are in. */
  private readonly seen = new Map<string, string>();
  private readonly pending = new Set<string>();
  private previous = new Map<string, IndexedItem>();
  private mode: 'full' | 'incremental' = 'full';
  private resynced = false;

  constructor(
    private readonly o: ExchangeBackupOptions,
    private readonly store: ObjectStore,
    private readonly log: RepositoryLogger,
  ) {}

  private req(what: string): { what: string; owner: string; signal?: AbortSignal } {
    return { what, owner: this.o.owner, ...(this.o.signal ? { signal: this.o.signal } : {}) };
  }

  async run(): Promise<DriveBackupResult> {
    const { store, o } = this;
    // Asked first: a user without a mailbox fails here (M365_NO_MAILBOX) before anything is stored.
    const listed = await listContactFolders(o.graph, o.userPath, this.req(`list the contact folders of ${o.label}`));
    const previousState = (store.state() ?? {}) as ContactsState;
    this.previous = await previousIndex(store);
    const fresh = o.full === true || store.baseline === 'none' || store.baseline === 'lost' || this.previous.size === 0;
    this.mode = fresh ? 'full' : 'incremental';
    const links = fresh ? {} : (previousState.deltaLinks ?? {});
    await store.beginPoint({ mode: this.mode, ...(o.source !== undefined ? { source: o.source } : {}) });
    try {
      store.upsertItem({ id: ROOT_ID, parentId: null, name: '', kind: 'folder', extra: { type: 'root' } satisfies ExchangeRootExtra });
      const folders = [{ id: DEFAULT_CONTACT_FOLDER_ID, graphId: null as string | null, displayName: 'Contacts', isDefault: true }, ...listed.map((f) => ({ id: f.id, graphId: f.id, displayName: f.displayName, isDefault: false }))];
      const names = new Set<string>();
      const newLinks: Record<string, string> = {};
      for (const f of folders) {
        let name = folderName(f.displayName, 'Contacts');
        for (let i = 2; names.has(name.toLowerCase()); i++) name = `${folderName(f.displayName, 'Contacts')} (${i})`;
        names.add(name.toLowerCase());
        store.upsertItem({ id: f.id, parentId: ROOT_ID, name, kind: 'folder', extra: { type: 'contactFolder', isDefault: f.isDefault } satisfies ContactFolderExtra });
        const link = await this.folder(f.id, f.graphId, name, links[f.id] ?? null);
        if (link !== null) newLinks[f.id] = link;
      }
      await this.retry(previousState.pending ?? [], new Set(listed.map((f) => f.id)));
      // A folder gone from the mailbox goes with its contacts.
      const live = new Set(folders.map((f) => f.id));
      for (const [id, item] of this.previous) if (item.kind === 'folder' && item.parentId === ROOT_ID && !live.has(id)) store.markDeleted(id);
      this.progress.enumerated = true;
      o.onProgress?.({ ...this.progress });
      o.signal?.throwIfAborted();
      const state: ContactsState = { deltaLinks: newLinks, pending: [...this.pending] };
      const point = await store.commitPoint({ state: state as never, summary: { warnings: this.warnings.length, downloadedFiles: this.progress.downloadedFiles, downloadedBytes: this.progress.downloadedBytes } });
      return resultOf(point, this.mode, this.resynced, this.progress, this.warnings);
    } catch (err) {
      await this.store.abortPoint().catch(() => undefined);
      throw err;
    }
  }

  /** One folder's delta round; answers its new delta link (null: the round failed, the old link is dropped). */
  private async folder(id: string, graphId: string | null, name: string, link: string | null): Promise<string | null> {
    const { store } = this;
    let compare = link === null; // a round without a token lists everything: compare it
    const listedHere = new Set<string>();
    try {
      for await (const ev of contactsDelta(this.o.graph, this.o.userPath, graphId, link, this.req(`read the changes of contact folder ${name} of ${this.o.label}`))) {
        if (ev.kind === 'resync') {
          this.resynced = true;
          compare = true;
          this.log.warn({ folder: name, reason: ev.reason }, 'the contacts sync state expired: comparing the whole folder');
        } else if (ev.kind === 'items') {
          for (const c of ev.items) {
            this.progress.items++;
            if (c['@removed']) {
              // A contact moved to a folder already read is removed here but lives there.
              if (this.seen.get(c.id) === undefined || this.seen.get(c.id) === id) store.markDeleted(c.id);
              continue;
            }
            listedHere.add(c.id);
            await this.contact(c, id, name, false);
          }
        } else {
          if (compare) {
            for (const [cid, item] of this.previous) {
              if (item.parentId !== id || item.kind !== 'file' || listedHere.has(cid) || this.seen.has(cid)) continue;
              store.markDeleted(cid);
            }
          }
          return ev.deltaLink;
        }
      }
      return null;
    } catch (err) {
      if (!isItemFailure(err, this.o.signal)) throw err;
      this.warn(`contact folder ${name} could not be read, its contacts are kept as they were: ${(err as Error).message}`);
      for (const [cid, item] of this.previous) if (item.parentId === id && !this.seen.has(cid) && this.mode === 'full') keepAsItWas(store, cid);
      return null;
    }
  }

  private async contact(c: GraphContact, folderId: string, folderLabel: string, force: boolean): Promise<void> {
    const { store } = this;
    const name = exchangeFileName(c.displayName || c.emailAddresses?.[0]?.address || '', c.id, 'vcf');
    this.seen.set(c.id, folderId);
    const cur = store.currentItem(c.id);
    const unchanged = !force && cur !== null && c.changeKey !== undefined && cur.eTag === c.changeKey && cur.parentId === folderId && cur.name === name && cur.blobs !== null && store.hasContent(cur.blobs);
    if (unchanged) {
      if (this.mode === 'full') keepAsItWas(store, c.id);
      return;
    }
    try {
      const photo = await contactPhoto(this.o.graph, this.o.userPath, c.id, this.req(`read the photo of contact ${folderLabel}/${name} of ${this.o.label}`));
      const vcf = Buffer.from(contactToVcard(c, photo), 'utf8');
      const content = await store.putContent(vcf);
      const extra: ContactExtra = {
        type: 'contact',
        displayName: c.displayName ?? '',
        emails: (c.emailAddresses ?? []).map((e) => e.address ?? '').filter((a) => a !== ''),
        phones: [c.mobilePhone, ...(c.businessPhones ?? []), ...(c.homePhones ?? [])].filter((p): p is string => typeof p === 'string' && p !== ''),
        company: c.companyName || null,
        hasPhoto: photo !== null,
        graph: strip(c),
      };
      store.upsertItem({ id: c.id, parentId: folderId, name, kind: 'file', size: vcf.length, content, createdAt: typeof c.createdDateTime === 'string' ? c.createdDateTime : null, modifiedAt: typeof c.lastModifiedDateTime === 'string' ? c.lastModifiedDateTime : null, eTag: c.changeKey ?? null, extra });
      this.pending.delete(c.id);
      this.progress.downloadedFiles++;
      this.progress.downloadedBytes += vcf.length;
      this.o.onProgress?.({ ...this.progress });
    } catch (err) {
      if (!isItemFailure(err, this.o.signal)) throw err;
      this.warn(`${folderLabel}/${name} could not be backed up, it is kept as it was and read again next time: ${(err as Error).message}`);
      this.pending.add(c.id);
      if (this.mode === 'full' || cur !== null) keepAsItWas(store, c.id);
    }
  }

  /** Contacts a previous backup could not store. */
  private async retry(pending: readonly string[], folderIds: ReadonlySet<string>): Promise<void> {
    for (const id of pending) {
      if (this.seen.has(id)) continue;
      const cur = this.store.currentItem(id);
      let c: GraphContact;
      try {
        c = await this.o.graph.json<GraphContact>(`${this.o.userPath}/contacts/${encodeURIComponent(id)}`, { ...this.req(`read contact ${id} of ${this.o.label}`), headers: { Prefer: 'IdType="ImmutableId"' } });
      } catch (err) {
        if (!isItemFailure(err, this.o.signal)) throw err;
        continue; // deleted since (delta says so), or still failing: it stays pending only if delta lists it again
      }
      // The default folder's Graph id is not listed: its contacts sit under DEFAULT_CONTACT_FOLDER_ID.
      const folderId = c.parentFolderId && folderIds.has(c.parentFolderId) ? c.parentFolderId : (cur?.parentId ?? DEFAULT_CONTACT_FOLDER_ID);
      await this.contact(c, folderId, folderId, true);
    }
  }

  private warn(message: string): void {
    this.warnings.push(message);
    this.progress.warnings++;
    this.log.warn({}, message);
    this.o.onProgress?.({ ...this.progress });
  }
}
