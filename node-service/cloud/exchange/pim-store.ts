/**
 * What the calendar and contacts backups share: the previous point's items, keeping an item as
 * it was, the result of a point, warnings.
 */
import type { RepositoryLogger } from '../../repository/index.js';
import type { DriveBackupProgress } from '../drive-backup.js';
import type { ObjectStore } from '../metadata/index.js';

const noop = (): void => undefined;
export const silentLogger: RepositoryLogger = { debug: noop, info: noop, warn: noop, error: noop, child: () => silentLogger };

/** The id of each Exchange object's root item. */
export const ROOT_ID = 'root';
/** The contacts object's item for the default contact folder (Graph's /contacts has no listed id). */
export const DEFAULT_CONTACT_FOLDER_ID = 'contacts';

export interface IndexedItem {
  id: string;
  parentId: string | null;
  kind: 'file' | 'folder';
  type: string | null;
  seriesMasterId: string | null;
}

/** Every item of the newest point (before a new one is begun): what a full comparison checks against. */
export async function previousIndex(store: ObjectStore): Promise<Map<string, IndexedItem>> {
  const points = await store.points();
  const latest = points[points.length - 1];
  const out = new Map<string, IndexedItem>();
  if (!latest) return out;
  await store.withPoint(latest.id, (db, seq) => {
    const rows = db
      .prepare(
        `SELECT item_id AS id, parent_id AS parentId, kind, json_extract(extra, '$.type') AS type, json_extract(extra, '$.seriesMasterId') AS seriesMasterId
         FROM versions WHERE valid_from <= @seq AND (valid_to IS NULL OR valid_to > @seq)`,
      )
      .all({ seq }) as IndexedItem[];
    for (const r of rows) out.set(r.id, r);
  });
  return out;
}

/** In a full point an item not upserted is tombstoned: one that failed, or needs nothing new, keeps its last version. */
export function keepAsItWas(store: ObjectStore, id: string): boolean {
  const v = store.currentItem(id);
  if (!v) return false;
  store.upsertItem({ id: v.id, parentId: v.parentId, name: v.name, kind: v.kind, size: v.size, quickXorHash: v.quickXorHash, sha256: v.sha256, createdAt: v.createdAt, modifiedAt: v.modifiedAt, eTag: v.eTag, cTag: v.cTag, ...(v.blobs ? { content: v.blobs } : {}), extra: v.extra });
  return true;
}

/** A calendar's or contact folder's name as one path component. */
export function folderName(name: string, fallback: string): string {
  const clean = name
    .replace(/[\p{Cc}/\\]/gu, '_')
    .replace(/\s+/g, ' ')
    .trim();
  return clean === '' || clean === '.' || clean === '..' ? fallback : clean;
}

export function newProgress(): DriveBackupProgress {
  return { items: 0, downloadedFiles: 0, downloadedBytes: 0, queuedFiles: 0, queuedBytes: 0, enumerated: false, warnings: 0 };
}

/** The backup's answer from its point: the drive backup's, shared by every object. */
export { backupResultOf as resultOf } from '../drive-backup.js';
