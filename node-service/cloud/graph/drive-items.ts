import { ResyncRequiredError } from './cloud-errors.js';
import type { GraphClient, GraphRequest } from './graph-client.js';

/** A driveItem as delta and children return it (the fields the backup keeps). */
export interface DriveItem {
  id: string;
  name?: string;
  size?: number;
  eTag?: string;
  cTag?: string;
  parentReference?: { id?: string; driveId?: string; path?: string };
  file?: { mimeType?: string; hashes?: { quickXorHash?: string; sha256Hash?: string; sha1Hash?: string } };
  folder?: { childCount?: number };
  package?: { type?: string };
  root?: object;
  deleted?: { state?: string };
  createdDateTime?: string;
  lastModifiedDateTime?: string;
  fileSystemInfo?: { createdDateTime?: string; lastModifiedDateTime?: string };
  /** A short-lived pre-authenticated URL of a file's content (saves the /content request). */
  '@microsoft.graph.downloadUrl'?: string;
}

export const DRIVE_ITEM_SELECT = 'id,name,size,eTag,cTag,parentReference,file,folder,package,root,deleted,createdDateTime,lastModifiedDateTime,fileSystemInfo,@microsoft.graph.downloadUrl';

export type DeltaEvent =
  /** A page of changes (a full enumeration: every item), parents before children. */
  | { kind: 'items'; items: DriveItem[] }
  /**
   * The change token expired (410): what follows is a full enumeration, and whatever the
   * previous backup had that it does not list was deleted.
   */
  | { kind: 'resync'; reason: string }
  /** The end: the link to ask for the next changes. */
  | { kind: 'done'; deltaLink: string };

const MAX_RESYNCS = 3;

/**
 * A drive's changes since `deltaLink` (all of it when null) with `/root/delta`, page by page.
 * On 410 it starts the fresh enumeration Graph points at and says so first.
 */
export async function* driveDelta(graph: GraphClient, drivePath: string, deltaLink: string | null, req: Omit<GraphRequest, 'method' | 'body'>): AsyncGenerator<DeltaEvent> {
  let start = deltaLink ?? `${drivePath}/root/delta?$select=${DRIVE_ITEM_SELECT}`;
  for (let resyncs = 0; ; resyncs++) {
    try {
      for await (const page of graph.pages<DriveItem>(start, req)) {
        if (page.items.length) yield { kind: 'items', items: page.items };
        if (page.deltaLink) {
          yield { kind: 'done', deltaLink: page.deltaLink };
          return;
        }
      }
      throw new Error(`${req.what}: the delta enumeration ended without a delta link`);
    } catch (err) {
      if (!(err instanceof ResyncRequiredError) || resyncs >= MAX_RESYNCS) throw err;
      yield { kind: 'resync', reason: err.detail ?? 'resyncRequired' };
      start = err.location ?? `${drivePath}/root/delta?$select=${DRIVE_ITEM_SELECT}`;
    }
  }
}
