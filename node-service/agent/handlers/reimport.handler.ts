import { z } from 'zod';
import type { ReimportResultSchema, RepoPoint } from '../../../common/api/destinations.js';
import type { PointInfo } from '../../repository/index.js';
import type { TaskHandler, TaskRunContext } from '../task-handler.js';
import { formatBytes, parseParams, plural, repoBackupOf, statsView, withRepository, type DestinationHandlerDeps } from './destination-task.js';

type ReimportResult = z.infer<typeof ReimportResultSchema>;

/**
 * REIMPORT: every backup on the destination, read from its manifests alone (catalog disaster
 * recovery): VM backups, and backup points of Microsoft 365 objects with their counts.
 */
export function reimportHandler(deps: DestinationHandlerDeps): TaskHandler {
  return {
    type: 'REIMPORT',
    async run(ctx: TaskRunContext) {
      const { target } = parseParams(ctx, deps, z.object({}));
      return withRepository(ctx, deps, target, async (repo) => {
        const backups = await repo.listBackups();
        const points = await repo.points().scan();
        const raw = await repo.stats();
        const stats = statsView(raw);
        ctx.log('info', `found ${plural(backups.length, 'backup')} (${formatBytes(stats.logicalBytes)} of disks) in ${target.path}`);
        if (points.points.length > 0) {
          const objects = new Set(points.points.map((p) => p.objectKey)).size;
          ctx.log('info', `found ${plural(points.points.length, 'Microsoft 365 backup point')} of ${plural(objects, 'object')} in ${target.path}`);
        }
        const warnings =
          raw.damagedBackups > 0 ? [`${plural(raw.damagedBackups, 'backup manifest')} in ${target.path} cannot be read and ${raw.damagedBackups === 1 ? 'was' : 'were'} left out; run verify`] : [];
        if (points.damaged.length > 0) {
          warnings.push(`${plural(points.damaged.length, 'backup point manifest')} in ${target.path} cannot be read and ${points.damaged.length === 1 ? 'was' : 'were'} left out (${points.damaged.map((d) => d.id).join(', ')}); run verify`);
        }
        for (const w of warnings) ctx.log('warn', w);
        const result: ReimportResult = {
          backups: backups.map(repoBackupOf),
          points: points.points.map(repoPointOf),
          stats,
        };
        return { warnings, result };
      });
    },
  };
}

/** The catalog's entry for a backup point, from its manifest (counts written by the cloud server at commit). */
export function repoPointOf(p: PointInfo): RepoPoint {
  const n = (key: string): number => p.summary[key] ?? 0;
  return {
    id: p.id,
    createdAt: p.createdAt,
    objectKey: p.objectKey,
    kind: p.kind,
    items: n('items'),
    files: n('files'),
    folders: n('folders'),
    bytes: n('bytes'),
    storedBytes: n('newStoredBytes'),
    source: p.source,
  };
}
