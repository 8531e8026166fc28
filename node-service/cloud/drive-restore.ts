import type { Repository, RepositoryLogger } from '../repository/index.js';
import { openObjectStore, type ItemView, type ObjectStore } from './metadata/index.js';
import { CloudError } from './graph/cloud-errors.js';
import type { GraphClient } from './graph/graph-client.js';
import { Semaphore } from './graph/limits.js';
import { BATCH_MAX, sendBatched, type BatchItem } from './graph/batch.js';

export type ConflictMode = 'skip' | 'copy' | 'replace';

export interface DriveRestoreOptions {
  graph: GraphClient;
  repo: Repository;
  objectKey: string;
  pointId: string;
  workDir: string;
  /** Paths in the point to restore ("/" is the whole drive). */
  paths: string[];
  /** Where to: the same drive or another user's ("/drives/<id>"), and whose limits apply. */
  target: { drivePath: string; owner: string; label: string };
  /** A folder at the target's root to restore into (keeping the paths below it); null: the original places. */
  folder: string | null;
  /** A file of the same name at the target: leave it (skip), keep both (copy, Graph renames ours), or overwrite (replace). */
  conflict: ConflictMode;
  signal?: AbortSignal;
  uploads?: number;
  logger?: RepositoryLogger;
  onProgress?: (p: DriveRestoreProgress) => void;
}

export interface DriveRestoreProgress {
  totalFiles: number;
  totalBytes: number;
  doneFiles: number;
  doneBytes: number;
}

export interface DriveRestoreResult {
  restoredFiles: number;
  restoredFolders: number;
  restoredBytes: number;
  skipped: { path: string; reason: string }[];
  failed: { path: string; reason: string }[];
  /** Where the items went, as a path on the target drive. */
  targetRoot: string;
}

/** Above this a file goes through an upload session (simple PUT was documented up to 4 MB for years). */
export const SIMPLE_UPLOAD_MAX = 4 * 1024 * 1024;
/** Upload session fragments: a multiple of 320 KiB, as Graph requires. */
export const FRAGMENT = 32 * 320 * 1024;

interface DriveItemRef {
  id: string;
  name?: string;
  folder?: object;
  file?: object;
}

/**
 * Restores files and folders of a backup point to a OneDrive or library: folders made as
 * needed, files uploaded (simple PUT up to 4 MiB, upload sessions above, the last fragment
 * sent only once the content matched its checksum), times of modification kept, conflicts
 * as chosen. One file that fails is reported and the others go on.
 */
export async function restoreDrive(options: DriveRestoreOptions): Promise<DriveRestoreResult> {
  const store = await openObjectStore(options.repo, options.objectKey, { workDir: options.workDir, ...(options.logger ? { logger: options.logger } : {}) });
  try {
    return await new DriveRestore(options, store).run();
  } finally {
    await store.close();
  }
}

class DriveRestore {
  private readonly folders = new Map<string, string>();
  private times!: BatchQueue;
  private readonly result: DriveRestoreResult;
  private readonly progress: DriveRestoreProgress = { totalFiles: 0, totalBytes: 0, doneFiles: 0, doneBytes: 0 };

  constructor(
    private readonly o: DriveRestoreOptions,
    private readonly store: ObjectStore,
  ) {
    this.result = { restoredFiles: 0, restoredFolders: 0, restoredBytes: 0, skipped: [], failed: [], targetRoot: o.folder ? `/${o.folder}` : '/' };
  }

  async run(): Promise<DriveRestoreResult> {
    const { o } = this;
    const files: ItemView[] = [];
    const folders: ItemView[] = [];
    for (const p of o.paths) {
      const item = await this.store.getItem(o.pointId, p);
      if (!item) throw new CloudError('M365_NOT_FOUND', `${p} is not in backup point ${o.pointId}`);
      await this.collect(item, files, folders);
    }
    this.progress.totalFiles = files.length;
    this.progress.totalBytes = files.reduce((n, f) => n + f.size, 0);
    this.o.onProgress?.({ ...this.progress });
    for (const f of folders) {
      await this.folderId(this.targetPath(f.path));
      this.result.restoredFolders++;
    }
    this.times = new BatchQueue(this.o.graph, this.req('set the times of restored files'), (path, error) => this.result.failed.push({ path, reason: `restored, but its times could not be kept: ${error.message}` }));
    const slots = new Semaphore(Math.max(1, o.uploads ?? 4));
    await Promise.all(
      files.map(async (f) => {
        const release = await slots.acquire(o.signal);
        try {
          await this.restoreFile(f);
        } catch (err) {
          if (o.signal?.aborted) throw err;
          this.result.failed.push({ path: f.path, reason: (err as Error).message });
        } finally {
          release();
        }
      }),
    );
    await this.times.flush();
    return this.result;
  }

  private async collect(item: ItemView, files: ItemView[], folders: ItemView[]): Promise<void> {
    if (item.kind === 'file') {
      files.push(item);
      return;
    }
    if (item.path !== '/') folders.push(item);
    for (const child of await this.store.listChildren(this.o.pointId, { id: item.id })) await this.collect(child, files, folders);
  }

  private targetPath(original: string): string {
    return this.o.folder ? `/${this.o.folder}${original === '/' ? '' : original}` : original;
  }

  private req(what: string): { what: string; owner: string; signal?: AbortSignal } {
    return { what, owner: this.o.target.owner, ...(this.o.signal ? { signal: this.o.signal } : {}) };
  }

  /** The id of a folder at the target, made (with its parents) when missing; an existing one is reused. */
  private async folderId(path: string): Promise<string> {
    const known = this.folders.get(path);
    if (known) return known;
    let id: string;
    if (path === '/') id = (await this.o.graph.json<DriveItemRef>(`${this.o.target.drivePath}/root?$select=id`, this.req(`read the root of ${this.o.target.label}`))).id;
    else {
      const cut = path.lastIndexOf('/');
      const parent = await this.folderId(cut === 0 ? '/' : path.slice(0, cut));
      const name = path.slice(cut + 1);
      try {
        id = (
          await this.o.graph.json<DriveItemRef>(`${this.o.target.drivePath}/items/${parent}/children`, {
            ...this.req(`make folder ${path} on ${this.o.target.label}`),
            method: 'POST',
            body: { name, folder: {}, '@microsoft.graph.conflictBehavior': 'fail' },
          })
        ).id;
      } catch (err) {
        if (!(err instanceof CloudError && err.status === 409)) throw err;
        const existing = await this.o.graph.json<DriveItemRef>(`${this.o.target.drivePath}/items/${parent}:/${encodeURIComponent(name)}?$select=id,folder,file`, this.req(`read ${path} on ${this.o.target.label}`));
        if (!existing.folder) throw new CloudError('M365_REQUEST_FAILED', `${path} on ${this.o.target.label} is a file, so a folder of that name cannot be made there`);
        id = existing.id;
      }
    }
    this.folders.set(path, id);
    return id;
  }

  private async restoreFile(f: ItemView): Promise<void> {
    const target = this.targetPath(f.path);
    const cut = target.lastIndexOf('/');
    const parent = await this.folderId(cut === 0 ? '/' : target.slice(0, cut));
    const behavior = this.o.conflict === 'skip' ? 'fail' : this.o.conflict === 'copy' ? 'rename' : 'replace';
    const fileSystemInfo = { ...(f.createdAt ? { createdDateTime: f.createdAt } : {}), ...(f.modifiedAt ? { lastModifiedDateTime: f.modifiedAt } : {}) };
    const address = `${this.o.target.drivePath}/items/${parent}:/${encodeURIComponent(f.name)}:`;
    try {
      if (f.size <= SIMPLE_UPLOAD_MAX) {
        const body = await this.contentOf(f); // checked against its checksum before anything is sent
        const item = await this.o.graph.json<DriveItemRef>(`${address}/content?@microsoft.graph.conflictBehavior=${behavior}`, { ...this.req(`upload ${target}`), method: 'PUT', body, headers: { 'content-type': 'application/octet-stream' } });
        // A simple upload cannot carry the times: they follow in a PATCH, batched 20 to a request.
        if (Object.keys(fileSystemInfo).length) await this.times.add({ method: 'PATCH', url: `${this.o.target.drivePath}/items/${item.id}`, body: { fileSystemInfo }, what: `set the times of ${target}` }, f.path);
      } else await this.uploadSession(f, address, behavior, fileSystemInfo, target);
    } catch (err) {
      if (this.o.conflict === 'skip' && err instanceof CloudError && err.status === 409) {
        this.result.skipped.push({ path: f.path, reason: `${target} exists on ${this.o.target.label}` });
        return;
      }
      throw err;
    }
    this.result.restoredFiles++;
    this.result.restoredBytes += f.size;
    this.progress.doneFiles++;
    this.progress.doneBytes += f.size;
    this.o.onProgress?.({ ...this.progress });
  }

  private async contentOf(f: ItemView): Promise<Buffer> {
    const parts: Buffer[] = [];
    for await (const b of this.store.readContent(this.o.pointId, f.id)) parts.push(b);
    return Buffer.concat(parts);
  }

  private async uploadSession(f: ItemView, address: string, behavior: string, fileSystemInfo: object, target: string): Promise<void> {
    const session = await this.o.graph.json<{ uploadUrl: string }>(`${address}/createUploadSession`, {
      ...this.req(`start uploading ${target}`),
      method: 'POST',
      body: { item: { '@microsoft.graph.conflictBehavior': behavior, ...(Object.keys(fileSystemInfo).length ? { fileSystemInfo } : {}) } },
    });
    let sent = 0;
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    const put = async (chunk: Buffer): Promise<void> => {
      await this.o.graph.send(session.uploadUrl, {
        ...this.req(`upload ${target}`),
        method: 'PUT',
        auth: false, // the upload URL is pre-authenticated; a bearer token there is refused
        body: chunk,
        headers: { 'content-range': `bytes ${sent}-${sent + chunk.length - 1}/${f.size}`, 'content-type': 'application/octet-stream' },
      }, async (res) => void (await res.body?.cancel()));
      sent += chunk.length;
    };
    try {
      for await (const b of this.store.readContent(this.o.pointId, f.id)) {
        pending.push(b);
        pendingBytes += b.length;
        // Send whole fragments while more may follow; the last one waits for the checksum at the end.
        while (pendingBytes > FRAGMENT) {
          const all = Buffer.concat(pending);
          await put(all.subarray(0, FRAGMENT));
          pending = [all.subarray(FRAGMENT)];
          pendingBytes = all.length - FRAGMENT;
        }
      }
      await put(Buffer.concat(pending));
    } catch (err) {
      // Cancel the session so no partial file is left behind.
      await this.o.graph.send(session.uploadUrl, { ...this.req(`cancel the upload of ${target}`), method: 'DELETE', auth: false, accept: [404] }, async () => undefined).catch(() => undefined);
      throw err;
    }
  }
}

/**
 * Small requests gathered and sent in $batch calls of 20 (one call instead of twenty); what a
 * request of the batch could not do is reported for the item it was about.
 */
class BatchQueue {
  private pending: { item: BatchItem; path: string }[] = [];

  constructor(
    private readonly graph: GraphClient,
    private readonly req: { what: string; owner: string; signal?: AbortSignal },
    private readonly failed: (path: string, error: CloudError) => void,
  ) {}

  async add(item: BatchItem, path: string): Promise<void> {
    this.pending.push({ item, path });
    if (this.pending.length >= BATCH_MAX) await this.flush();
  }

  async flush(): Promise<void> {
    while (this.pending.length > 0) {
      const part = this.pending.splice(0, BATCH_MAX);
      const outcomes = await sendBatched(this.graph, part.map((p) => p.item), this.req);
      outcomes.forEach((o, i) => {
        if (!o.ok) this.failed(part[i]!.path, o.error);
      });
    }
  }
}
