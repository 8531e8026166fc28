/**
 * What the points on the destination need, for GC and verify: each point's log blobs, and
 * the content blobs of the versions valid in it. Per object, the newest point's log covers
 * every older point of its lineage (a version leaves the log only once no point it is valid
 * in remains), so one log is read per object; a point no newer log covers (another lineage,
 * or a newer log that cannot be read) is read from its own log.
 */
import type { BlobReader } from './blob-reader.js';
import { decodeObjectLog, scanObjectLog } from './object-log.js';
import type { PointManifest } from './pack-format.js';

export interface NeedsVisitor {
  /** A blob of `pointId`'s own log. */
  metadata(blobId: string, pointId: string): void;
  /** A content blob and the points (ids) whose view needs it; a blob may come more than once. */
  content(blobId: string, pointIds: readonly string[]): void;
}

/** Walks every point's needs; returns the points whose needs are unknown (their log and every newer one unreadable). */
export async function walkPointNeeds(points: readonly PointManifest[], reader: BlobReader, visit: NeedsVisitor): Promise<{ unknown: { pointId: string; detail: string }[] }> {
  const byObject = new Map<string, PointManifest[]>();
  for (const p of points) {
    for (const b of p.metadata.blobs) visit.metadata(b, p.id);
    const list = byObject.get(p.objectKey) ?? [];
    list.push(p);
    byObject.set(p.objectKey, list);
  }
  const unknown: { pointId: string; detail: string }[] = [];
  for (const list of byObject.values()) {
    list.sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.id.localeCompare(a.id));
    const uncovered = new Set(list.map((p) => p.id));
    const failed = new Map<string, string>();
    for (const p of list) {
      if (!uncovered.has(p.id)) continue;
      try {
        const { covered } = await scanObjectLog(decodeObjectLog(reader.readMany(p.metadata.blobs)), new Set(uncovered), (b, ids) => visit.content(b, ids));
        if (!covered.includes(p.id)) throw new Error('the log does not list its own point');
        for (const id of covered) uncovered.delete(id);
      } catch (err) {
        failed.set(p.id, err instanceof Error ? err.message : String(err));
      }
    }
    for (const id of uncovered) unknown.push({ pointId: id, detail: failed.get(id) ?? 'its log cannot be read' });
  }
  return { unknown };
}
