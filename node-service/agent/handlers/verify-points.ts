/**
 * What VERIFY says about the packs of Microsoft 365 backup points: the result's `points`
 * part, warning lines, and the clause of the failure sentence, kept apart from the VM wording.
 */
import type { z } from 'zod';
import type { VerifyResultSchema } from '../../../common/api/destinations.js';
import type { PackVerifyReport } from '../../repository/index.js';
import { plural } from './destination-task.js';

type PointsResult = NonNullable<z.infer<typeof VerifyResultSchema>['points']>;

const MAX_LISTED = 20;
const MAX_RESULT_PROBLEMS = 10_000;

const ROLE: Record<PackVerifyReport['problems'][number]['role'], string> = {
  content: 'file content',
  metadata: 'the metadata of a point',
};

function list(ids: readonly string[]): string {
  return ids.length <= MAX_LISTED ? ids.join(', ') : `${ids.slice(0, MAX_LISTED).join(', ')} and ${ids.length - MAX_LISTED} more`;
}

export function pointsResult(r: PackVerifyReport): PointsResult {
  return {
    checkedPacks: r.packsChecked,
    checkedBytes: r.bytesChecked,
    problems: r.problems.slice(0, MAX_RESULT_PROBLEMS).map((p) => ({ blob: p.blobId, pack: p.packId, problem: `${p.kind}: ${p.detail}`.slice(0, 1000), role: p.role, points: p.points })),
    damagedPacks: r.damagedPacks.map((d) => ({ pack: d.packId, detail: d.detail.slice(0, 1000), points: d.points })),
    damagedPoints: r.damagedPoints.map((d) => ({ point: d.pointId, detail: d.detail.slice(0, 1000) })),
    affectedPoints: r.affectedPoints,
    points: r.points,
  };
}

export function pointWarnings(r: PackVerifyReport | null): string[] {
  if (!r) return [];
  const out: string[] = [];
  for (const p of r.problems.slice(0, 100)) {
    out.push(`blob ${p.blobId} (${ROLE[p.role]}) is ${p.kind === 'missing' ? 'missing' : 'damaged'}; needed by ${plural(p.points.length, 'backup point')}: ${list(p.points)}`.slice(0, 2000));
  }
  if (r.problems.length > 100) out.push(`and ${r.problems.length - 100} more damaged blobs; the task result lists them`);
  for (const d of r.damagedPacks.slice(0, 100)) out.push(`pack ${d.packId} is damaged (${d.detail})${d.points.length > 0 ? `; it holds blobs of ${list(d.points)}` : ''}`.slice(0, 2000));
  for (const d of r.damagedPoints) out.push(`the manifest of backup point ${d.pointId} cannot be read: ${d.detail}`.slice(0, 2000));
  for (const d of r.unreadableLogs) out.push(`the metadata of backup point ${d.pointId} cannot be read (${d.detail}); what it lists cannot be checked`.slice(0, 2000));
  for (const d of r.damagedIndexFiles) out.push(`the pack index file ${d.indexId} cannot be read (${d.detail}); the packs' own headers stand in for it, and the next garbage collection rewrites the index`.slice(0, 2000));
  return out;
}

/** e.g. "2 damaged blobs affect Microsoft 365 backup points A, B", or null when the packs are fine. */
export function pointFailureClause(r: PackVerifyReport | null): string | null {
  if (!r || r.ok) return null;
  const parts: string[] = [];
  if (r.affectedPoints.length > 0) parts.push(`${plural(r.affectedPoints.length, 'Microsoft 365 backup point')} cannot be restored in full (${list(r.affectedPoints)})`);
  else if (r.damagedPacks.length > 0) parts.push(`${plural(r.damagedPacks.length, 'pack')} of Microsoft 365 backups ${r.damagedPacks.length === 1 ? 'is' : 'are'} damaged, though no backup point needs what is lost`);
  else if (r.damagedIndexFiles.length > 0) parts.push(`${plural(r.damagedIndexFiles.length, 'pack index file')} cannot be read (the packs are intact; garbage collection rewrites the index)`);
  return parts.join('; ');
}
