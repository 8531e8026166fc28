import type { z } from 'zod';
import { GcRequestSchema, type GcResultSchema } from '../../../common/api/destinations.js';
import type { TaskHandler, TaskRunContext } from '../task-handler.js';
import { formatBytes, parseParams, plural, statsView, withRepository, type DestinationHandlerDeps } from './destination-task.js';

type GcResult = z.infer<typeof GcResultSchema>;

/**
 * GC: removes chunks no backup references any more, keeping those younger than the grace
 * period (a backup still being written may need them).
 */
export function gcHandler(deps: DestinationHandlerDeps): TaskHandler {
  return {
    type: 'GC',
    async run(ctx: TaskRunContext) {
      const { target, params } = parseParams(ctx, deps, GcRequestSchema);
      return withRepository(ctx, deps, target, async (repo) => {
        ctx.log('info', `collecting garbage in ${target.path} (unreferenced chunks older than ${params.graceHours} h)`);
        const report = await repo.gc({
          graceMs: Math.round(params.graceHours * 3_600_000),
          signal: ctx.signal,
          // Bytes freed (the total is unknown until the sweep ends); how far the sweep is, in the message.
          onProgress: (p) => ctx.progress(p.freedBytes, null, `${p.shardsDone} of ${p.shardsTotal} chunk directories swept`),
        });
        const stats = statsView(await repo.stats());
        const warnings: string[] = [];
        ctx.log('info', `removed ${plural(report.removedChunks, 'chunk')}, freed ${formatBytes(report.freedBytes)} in ${(report.durationMs / 1000).toFixed(1)} s`);
        const packs = report.packs;
        if (packs) {
          ctx.log('info', `packs of Microsoft 365 backups: deleted ${packs.packsDeleted}, repacked ${packs.packsRepacked} into ${packs.packsWritten}, freed ${formatBytes(packs.freedBytes)}`);
          if (packs.missingBlobs > 0) warnings.push(`${plural(packs.missingBlobs, 'blob')} needed by Microsoft 365 backup points ${packs.missingBlobs === 1 ? 'is' : 'are'} missing from ${target.path}; run verify to see which points are affected`);
        }
        if (report.keptRecentChunks > 0) {
          ctx.log('info', `kept ${plural(report.keptRecentChunks, 'unreferenced chunk')} (${formatBytes(report.keptRecentBytes)}) younger than the grace period`);
        }
        if (report.locked > 0) {
          // Never a failure: the lock is the destination's setting; a later GC removes them.
          ctx.log('info', `kept ${plural(report.locked, 'unreferenced object')} under object lock (the first until ${report.lockedUntil}); a later garbage collection removes them`);
        }
        if (report.missingChunks > 0) {
          warnings.push(`${plural(report.missingChunks, 'chunk')} referenced by backups ${report.missingChunks === 1 ? 'is' : 'are'} missing from ${target.path}; run verify to see which backups are affected`);
        }
        for (const w of warnings) ctx.log('warn', w);
        const result: GcResult = {
          removedChunks: report.removedChunks,
          freedBytes: report.freedBytes,
          ...(packs ? { packs: { deleted: packs.packsDeleted, repacked: packs.packsRepacked, written: packs.packsWritten, freedBytes: packs.freedBytes } } : {}),
          stats,
        };
        return { warnings, result };
      });
    },
  };
}
