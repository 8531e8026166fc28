import type { JsonValue, PointInfo, Repository, RepositoryLogger, StoredContent } from '../repository/index.js';
import { openObjectStore, type ItemInput, type ItemView, type ObjectStore } from './metadata/index.js';
import { ByteChannel } from './byte-channel.js';
import { CloudError } from './graph/cloud-errors.js';
import { downloadItem } from './graph/download.js';
import { driveDelta, DRIVE_ITEM_SELECT, type DriveItem } from './graph/drive-items.js';
import type { GraphClient } from './graph/graph-client.js';
import { Semaphore } from './graph/limits.js';

export interface DriveBackupOptions {
  graph: GraphClient;
  repo: Repository;
  /** The protected object's key in the repository, e.g. "m365:<tenant>:drive:<drive id>". */
  objectKey: string;
  /** Graph path of the drive, "/drives/<id>". */
  drivePath: string;
  /** The user or site whose concurrency limit the calls count against. */
  owner: string;
  /** For messages: "the OneDrive of alice@contoso.com". */
  label: string;
  /** Node-local directory for the metadata databases' working copies. */
  workDir: string;
  /** Enumerate everything (and tombstone what is gone) even when a delta link is kept. */
  full?: boolean;
  source?: JsonValue;
  signal?: AbortSignal;
  /** Parallel downloads (the per-user request limit caps them too). */
  downloads?: number;
  packSize?: number;
  logger?: RepositoryLogger;
  onProgress?: (progress: DriveBackupProgress) => void;
}

export interface DriveBackupProgress {
  /** Items Graph reported so far (files, folders, deletions). */
  items: number;
  downloadedFiles: number;
  downloadedBytes: number;
  /** Files (and their bytes, as Graph lists them) sent to download so far. */
  queuedFiles: number;
  queuedBytes: number;
  /** Every change was listed: queuedBytes is then what this point downloads in all. */
  enumerated: boolean;
  warnings: number;
}

export interface DriveBackupResult {
  pointId: string;
  createdAt: string;
  kind: 'full' | 'incremental';
  /** The change token had expired: this point compared a full enumeration with the last one. */
  resynced: boolean;
  /** The point's view: every item, file and folder, and the files' bytes. */
  items: number;
  files: number;
  folders: number;
  bytes: number;
  added: number;
  changed: number;
  removed: number;
  downloadedFiles: number;
  downloadedBytes: number;
  newStoredBytes: number;
  /** One per item that could not be backed up (it is tried again by the next backup). */
  warnings: string[];
}

/** The answer of a backup of one protected object (a drive, a mailbox, calendars, contacts) from its committed point. */
export function backupResultOf(point: PointInfo, kind: 'full' | 'incremental', resynced: boolean, progress: DriveBackupProgress, warnings: string[]): DriveBackupResult {
  const s = point.summary;
  return {
    pointId: point.id,
    createdAt: point.createdAt,
    kind,
    resynced,
    items: s.items ?? 0,
    files: s.files ?? 0,
    folders: s.folders ?? 0,
    bytes: s.bytes ?? 0,
    added: s.added ?? 0,
    changed: s.changed ?? 0,
    removed: s.removed ?? 0,
    downloadedFiles: progress.downloadedFiles,
    downloadedBytes: progress.downloadedBytes,
    newStoredBytes: s.newStoredBytes ?? 0,
    warnings,
  };
}

/** What a point keeps for the next backup: items whose change was seen but not stored. */
interface AgentState {
  pending?: string[];
}

const noop = (): void => undefined;
const silent: RepositoryLogger = { debug: noop, info: noop, warn: noop, error: noop, child: () => silent };

/**
 * Backs up a OneDrive or a document library as one backup point: the changes since the last
 * point (delta), or everything when there is none, the token expired (410) or `full` is
 * asked; an unchanged file's content is never downloaded again (same QuickXorHash and size),
 * a changed one is streamed into the repository and checked against Graph's hash. One item
 * that fails is a warning naming it, kept as it was in the last point and fetched again next
 * time; the drive's backup goes on.
 */
export async function backupDrive(options: DriveBackupOptions): Promise<DriveBackupResult> {
  const log = (options.logger ?? silent).child({ module: 'drive-backup', object: options.objectKey });
  const store = await openObjectStore(options.repo, options.objectKey, { workDir: options.workDir, logger: log, ...(options.packSize ? { packSize: options.packSize } : {}) });
  try {
    return await new DriveBackup(options, store, log).run();
  } finally {
    await store.close();
  }
}

class DriveBackup {
  private readonly warnings: string[] = [];
  private readonly pending = new Set<string>();
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly slots: Semaphore;
  private readonly progress: DriveBackupProgress = { items: 0, downloadedFiles: 0, downloadedBytes: 0, queuedFiles: 0, queuedBytes: 0, enumerated: false, warnings: 0 };
  private resynced = false;

  constructor(
    private readonly o: DriveBackupOptions,
    private readonly store: ObjectStore,
    private readonly log: RepositoryLogger,
  ) {
    this.slots = new Semaphore(Math.max(1, o.downloads ?? 4));
  }

  async run(): Promise<DriveBackupResult> {
    const { store, o } = this;
    const previous = (store.state() ?? {}) as AgentState;
    const fresh = o.full || store.baseline === 'none' || store.baseline === 'lost';
    const from = fresh ? null : store.deltaLink();
    let kind: 'full' | 'incremental' = from ? 'incremental' : 'full';
    await store.beginPoint({ mode: kind, ...(o.source !== undefined ? { source: o.source } : {}) });
    try {
      // Asked before this point stores anything: its own new blobs are not in the index until it commits.
      const missing = store.filesWithMissingContent();
      let deltaLink: string | null = null;
      const req = { what: `read the changes of ${o.label}`, owner: o.owner, ...(o.signal ? { signal: o.signal } : {}) };
      for await (const event of driveDelta(o.graph, o.drivePath, from, req)) {
        if (event.kind === 'resync') {
          // Start the point again as a full enumeration: what it does not list is gone.
          await this.drain();
          await store.abortPoint();
          await store.beginPoint({ mode: 'full', ...(o.source !== undefined ? { source: o.source } : {}) });
          kind = 'full';
          this.resynced = true;
          this.log.warn({ reason: event.reason }, 'the change token expired: enumerating the whole drive');
        } else if (event.kind === 'items') {
          for (const item of event.items) await this.handle(item, false);
        } else deltaLink = event.deltaLink;
      }
      await this.retry(previous.pending ?? [], missing);
      this.progress.enumerated = true;
      this.o.onProgress?.({ ...this.progress });
      await this.drain();
      // Downloads a cancel cut short were dropped without a warning or a pending mark: such a point must not be committed.
      o.signal?.throwIfAborted();
      const point = await store.commitPoint({ deltaLink, state: { pending: [...this.pending] }, summary: { warnings: this.warnings.length, downloadedFiles: this.progress.downloadedFiles, downloadedBytes: this.progress.downloadedBytes } });
      return backupResultOf(point, kind, this.resynced, this.progress, this.warnings);
    } catch (err) {
      await this.drain().catch(noop);
      await store.abortPoint().catch(noop);
      throw err;
    }
  }

  /** Items a previous backup could not store, and files whose stored content went missing (damaged, collected). */
  private async retry(pending: readonly string[], missing: readonly ItemView[]): Promise<void> {
    const ids = new Set([...pending, ...missing.map((m) => m.id)]);
    for (const id of ids) {
      let item: DriveItem;
      try {
        item = await this.o.graph.json<DriveItem>(`${this.o.drivePath}/items/${encodeURIComponent(id)}?$select=${DRIVE_ITEM_SELECT}`, { what: `read item ${id} of ${this.o.label}`, owner: this.o.owner, ...(this.o.signal ? { signal: this.o.signal } : {}) });
      } catch (err) {
        if (err instanceof CloudError && err.code === 'M365_NOT_FOUND') continue; // deleted since: delta says so
        throw err;
      }
      await this.handle(item, true);
    }
  }

  private async handle(item: DriveItem, force: boolean): Promise<void> {
    const { store } = this;
    this.progress.items++;
    // Events about one item apply in order; a deletion may take a folder's files with it.
    if (item.deleted) {
      await this.drain();
      store.markDeleted(item.id);
      return;
    }
    await this.inFlight.get(item.id);
    const base = this.itemInput(item);
    if (item.root || item.folder || item.package) {
      store.upsertItem({ ...base, kind: 'folder' });
      return;
    }
    if (!item.file) {
      this.warn(item, 'is neither a file nor a folder (e.g. a shortcut to another drive) and is not backed up');
      return;
    }
    const current = store.currentItem(item.id);
    const graphHash = item.file.hashes?.quickXorHash ?? null;
    const unchanged =
      !force &&
      current?.kind === 'file' &&
      current.blobs !== null &&
      current.size === (item.size ?? 0) &&
      (graphHash !== null ? current.quickXorHash === graphHash : current.cTag !== null && current.cTag === (item.cTag ?? null)) &&
      store.hasContent(current.blobs);
    if (unchanged) {
      store.upsertItem({ ...base, kind: 'file', content: current.blobs ?? [] });
      return;
    }
    this.progress.queuedFiles++;
    this.progress.queuedBytes += item.size ?? 0;
    const release = await this.slots.acquire(this.o.signal);
    const job = this.download(item, graphHash)
      .then((content) => void store.upsertItem({ ...base, kind: 'file', content }))
      .catch((err: unknown) => {
        if (this.o.signal?.aborted) return; // the run ends with the cancellation itself
        this.warn(item, `could not be backed up: ${(err as Error).message}`);
        this.pending.add(item.id);
        this.keepAsItWas(item.id);
      })
      .finally(() => {
        release();
        this.inFlight.delete(item.id);
      });
    this.inFlight.set(item.id, job);
  }

  /** The content, streamed into the repository; once more if it changed while being read. */
  private async download(item: DriveItem, graphHash: string | null): Promise<StoredContent> {
    for (let attempt = 1; ; attempt++) {
      const channel = new ByteChannel();
      const path = `${this.o.drivePath}/items/${encodeURIComponent(item.id)}/content`;
      const req = { what: `download ${this.pathOf(item)}`, owner: this.o.owner, ...(this.o.signal ? { signal: this.o.signal } : {}) };
      const fetched = downloadItem(this.o.graph, path, req, (chunk) => channel.push(chunk), attempt === 1 ? item['@microsoft.graph.downloadUrl'] : undefined).then(
        (r) => {
          channel.end();
          return r;
        },
        (err: unknown) => {
          channel.fail(err);
          throw err;
        },
      );
      let content: StoredContent;
      try {
        content = await this.store.putContent(channel);
      } catch (err) {
        await fetched.catch(noop);
        throw err;
      }
      const result = await fetched;
      this.progress.downloadedFiles++;
      this.progress.downloadedBytes += result.bytes;
      this.o.onProgress?.({ ...this.progress });
      if (graphHash === null || result.quickXorHash === graphHash) return content;
      if (attempt >= 2) throw new Error(`its content changed while it was read (QuickXorHash ${result.quickXorHash}, Graph said ${graphHash})`);
    }
  }

  /** In a full enumeration an item not upserted is tombstoned: an item that failed keeps its last version. */
  private keepAsItWas(id: string): void {
    const v = this.store.currentItem(id);
    if (!v) return;
    this.store.upsertItem({ id: v.id, parentId: v.parentId, name: v.name, kind: v.kind, size: v.size, quickXorHash: v.quickXorHash, sha256: v.sha256, createdAt: v.createdAt, modifiedAt: v.modifiedAt, eTag: v.eTag, cTag: v.cTag, ...(v.blobs ? { content: v.blobs } : {}), extra: v.extra });
  }

  private itemInput(item: DriveItem): Omit<ItemInput, 'kind'> {
    return {
      id: item.id,
      parentId: item.root ? null : (item.parentReference?.id ?? null),
      name: item.root ? '' : (item.name ?? item.id),
      size: item.size ?? 0,
      quickXorHash: item.file?.hashes?.quickXorHash ?? null,
      sha256: item.file?.hashes?.sha256Hash?.toLowerCase() ?? null,
      createdAt: item.fileSystemInfo?.createdDateTime ?? item.createdDateTime ?? null,
      modifiedAt: item.fileSystemInfo?.lastModifiedDateTime ?? item.lastModifiedDateTime ?? null,
      eTag: item.eTag ?? null,
      cTag: item.cTag ?? null,
    };
  }

  private pathOf(item: DriveItem): string {
    const parent = item.parentReference?.id ? this.store.currentItem(item.parentReference.id) : null;
    const dir = parent?.path && parent.path !== '/' ? parent.path : '';
    return `${dir}/${item.name ?? item.id}`;
  }

  private warn(item: DriveItem, what: string): void {
    const message = `${this.pathOf(item)} ${what}`;
    this.warnings.push(message);
    this.progress.warnings++;
    this.log.warn({ item: item.id }, message);
    this.o.onProgress?.({ ...this.progress });
  }

  private async drain(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight.values()]);
  }
}
