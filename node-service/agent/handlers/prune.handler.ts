import type { z } from 'zod';
import { PruneTaskParamsSchema, type PruneResultSchema } from '../../../common/api/destinations.js';
import type { TaskHandler, TaskRunContext } from '../task-handler.js';
import { parseParams, plural, statsView, withRepository, type DestinationHandlerDeps } from './destination-task.js';

type PruneResult = z.infer<typeof PruneResultSchema>;

/**
 * PRUNE: applies a retention policy to every group of backups (one group per VM), or with
 * `objectKeys` to the backup points of those objects (one group per object). A dry run only
 * reports what would go. Pruning removes manifests; GC frees the chunks and packs afterwards.
 */
export function pruneHandler(deps: DestinationHandlerDeps): TaskHandler {
  return {
    type: 'PRUNE',
    async run(ctx: TaskRunContext) {
      const { target, params } = parseParams(ctx, deps, PruneTaskParamsSchema);
      const { retention, dryRun, groups, unprotectedGroups, protectedBackups, objectKeys, protectedPoints } = params;
      const unprotected = new Set(unprotectedGroups ?? []);
      return withRepository(ctx, deps, target, async (repo) => {
        if (objectKeys) {
          // Backup points of protected objects (Microsoft 365 drives), each object its own group.
          ctx.log('info', `${dryRun ? 'dry run: ' : ''}applying retention ${describeRetention(retention)} to the points of ${plural(objectKeys.length, 'object')} on ${target.path}`);
          const report = await repo.points().prune(retention, { dryRun, objectKeys, utcOffsetMinutes: -new Date().getTimezoneOffset(), protectedIds: new Set(protectedPoints ?? []) });
          for (const r of report.removed) ctx.log('info', `${dryRun ? 'would remove' : 'removed'} backup point ${r.id} of ${r.objectKey} from ${r.createdAt}`);
          const warnings = report.damaged.map((id) => `backup point ${id} was left alone: its manifest cannot be read (run verify)`);
          for (const w of warnings) ctx.log('warn', w);
          ctx.log('info', `${dryRun ? 'dry run: would remove' : 'removed'} ${plural(report.removed.length, 'backup point')}, ${dryRun ? 'would keep' : 'kept'} ${report.kept.length}`);
          const result: PruneResult = {
            dryRun: report.dryRun,
            kept: report.kept.map((k) => ({ id: k.id, createdAt: k.createdAt, group: k.objectKey, reasons: k.reasons })),
            removed: report.removed.map((r) => ({ id: r.id, createdAt: r.createdAt, group: r.objectKey })),
            stats: statsView(await repo.stats()),
          };
          return { warnings, result };
        }
        ctx.log('info', `${dryRun ? 'dry run: ' : ''}applying retention ${describeRetention(retention)} to ${target.path}`);
        // Calendar buckets (daily, weekly, ...) follow this node's time zone.
        const report = await repo.prune(retention, {
          dryRun,
          utcOffsetMinutes: -new Date().getTimezoneOffset(),
          ...(groups ? { groups } : {}),
          protectNewest: (group) => !unprotected.has(group),
          protectedIds: new Set(protectedBackups ?? []),
        });
        if (protectedBackups?.length) ctx.log('info', `${plural(protectedBackups.length, 'protected backup')} kept whatever the rules say`);
        for (const r of report.removed) {
          ctx.log('info', `${dryRun ? 'would remove' : 'removed'} backup ${r.id} of ${r.group} from ${r.createdAt}`);
        }
        // Object lock: what the rules would remove but the store refuses to delete yet stays (not a failure: the lock is the destination's setting).
        for (const l of report.locked ?? []) ctx.log('info', `backup ${l.id} of ${l.group} is under object lock until ${l.lockedUntil}: kept; a prune after then removes it`);
        const warnings = report.damaged.map((id) => `backup ${id} was left alone: its manifest cannot be read (run verify)`);
        for (const w of warnings) ctx.log('warn', w);
        const stats = statsView(await repo.stats());
        const locked = report.locked?.length ?? 0;
        ctx.log(
          'info',
          dryRun
            ? `dry run: would remove ${plural(report.removed.length, 'backup')} and keep ${report.kept.length}`
            : `removed ${plural(report.removed.length, 'backup')}, kept ${report.kept.length}${locked > 0 ? ` (${locked} of them only because of object lock)` : ''}${report.removed.length > 0 ? '; garbage collection frees their space' : ''}`,
        );
        const result: PruneResult = {
          dryRun: report.dryRun,
          kept: report.kept.map((k) => ({ id: k.id, createdAt: k.createdAt, group: k.group, reasons: k.reasons })),
          removed: report.removed.map((r) => ({ id: r.id, createdAt: r.createdAt, group: r.group })),
          stats,
        };
        return { warnings, result };
      });
    },
  };
}

function describeRetention(r: z.infer<typeof PruneTaskParamsSchema>['retention']): string {
  const parts = Object.entries(r)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${String(v)}`);
  return parts.join(', ');
}
