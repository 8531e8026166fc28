/**
 * A Microsoft 365 backup opened as a mount: one volume per part of the backup (a drive, a
 * user's mail, calendars, contacts), each the view of one backup point (cloud/point-tree.ts),
 * read from the object's metadata database and the repository: mail folders are folders,
 * messages .eml files, events .ics, contacts .vcf. An Exchange part's volume also carries its
 * store and point for the mail browser's searches (exchange-ops.ts). A part whose point
 * cannot be read is a volume that is not readable, with the reason; the others can still be
 * browsed.
 */
import type { Logger } from 'pino';
import { M365PartKindSchema, M365PointSourceSchema, type M365PartKind } from '../../../common/m365-tasks.js';
import { openObjectStore, type ObjectStore } from '../../cloud/metadata/index.js';
import { prepareMailSearch } from '../../cloud/exchange/mail-query.js';
import { PointTree } from '../../cloud/point-tree.js';
import type { Repository } from '../../repository/index.js';
import type { MountVolume } from './node-mounts.js';

export interface M365MountPart {
  name: string;
  objectKey: string;
  pointId: string;
}

export interface M365Volumes {
  volumes: MountVolume[];
  /** Closes the metadata databases (the repository stays the caller's). */
  close(): Promise<void>;
}

/**
 * Opens each part's object store in `workDir`: the mount's own working copies, apart from
 * the ones backups use (the copies are not locked, and a backup rewrites its copy).
 */
export async function openM365Volumes(repo: Repository, parts: readonly M365MountPart[], opts: { workDir: string; logger: Logger }): Promise<M365Volumes> {
  const stores = new Map<string, ObjectStore>();
  const close = async (): Promise<void> => {
    for (const [key, s] of stores) {
      await s.close().catch((err: unknown) => opts.logger.error({ err, object: key }, 'closing a metadata database of a Microsoft 365 mount failed'));
    }
    stores.clear();
  };
  const volumes: MountVolume[] = [];
  try {
    for (const part of parts) {
      const partKind = partKindOf(part.objectKey);
      const base = { name: part.name, disk: part.objectKey, kind: `m365-${partKind}`, size: 0 };
      try {
        // One store per object: two parts of the same drive share its working copy.
        let store = stores.get(part.objectKey);
        if (!store) {
          store = await openObjectStore(repo, part.objectKey, { workDir: opts.workDir, logger: opts.logger });
          stores.set(part.objectKey, store);
        }
        const point = (await store.points()).find((p) => p.id === part.pointId);
        if (!point) throw new Error(`backup point ${part.pointId} of ${part.objectKey} is not on the destination (pruned or deleted?)`);
        const source = M365PointSourceSchema.safeParse(point.source);
        const type = partKind !== 'drive' ? partKind : !source.success ? null : source.data.subject.kind === 'user' ? 'onedrive' : 'library';
        const counts = await store.counts(part.pointId);
        const tree = new PointTree(store, part.pointId, part.name, new Date(point.createdAt));
        // The mail search's index is built while the mount opens, not by the first search (about 2 s at 100,000 messages).
        if (partKind === 'mail') await prepareMailSearch(store, part.pointId);
        volumes.push({ ...base, type, size: counts.bytes, readable: true, tree, ...(partKind === 'drive' ? {} : { exchange: { partKind, store, pointId: part.pointId } }) });
      } catch (err) {
        opts.logger.warn({ err, part: part.name, object: part.objectKey, point: part.pointId }, 'a part of a Microsoft 365 backup cannot be browsed');
        volumes.push({ ...base, type: null, readable: false, reason: (err as Error).message });
      }
    }
  } catch (err) {
    await close();
    throw err;
  }
  return { volumes, close };
}

/** The part's kind from its object key ("m365:<directory>:<kind>:<id>", common/m365-tasks.ts); a drive when it says none. */
function partKindOf(objectKey: string): M365PartKind {
  const kind = M365PartKindSchema.safeParse(objectKey.split(':')[2]);
  return kind.success ? kind.data : 'drive';
}
