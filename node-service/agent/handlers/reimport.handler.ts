import { z } from 'zod';
import type { ReimportResultSchema } from '../../../common/api/destinations.js';
import type { TaskHandler, TaskRunContext } from '../task-handler.js';
import { formatBytes, parseParams, plural, repoBackupOf, statsView, withRepository, type DestinationHandlerDeps } from './destination-task.js';

type ReimportResult = z.infer<typeof ReimportResultSchema>;

/** REIMPORT: every backup on the destination, read from its manifests alone (catalog disaster recovery). */
export function reimportHandler(deps: DestinationHandlerDeps): TaskHandler {
  return {
    type: 'REIMPORT',
    async run(ctx: TaskRunContext) {
      const { target } = parseParams(ctx, deps, z.object({}));
      return withRepository(ctx, deps, target, async (repo) => {
        const backups = await repo.listBackups();
        const raw = await repo.stats();
        const stats = statsView(raw);
        ctx.log('info', `found ${plural(backups.length, 'backup')} (${formatBytes(stats.logicalBytes)} of disks) in ${target.path}`);
        const warnings =
          raw.damagedBackups > 0 ? [`${plural(raw.damagedBackups, 'backup manifest')} in ${target.path} cannot be read and ${raw.damagedBackups === 1 ? 'was' : 'were'} left out; run verify`] : [];
        for (const w of warnings) ctx.log('warn', w);
        const result: ReimportResult = {
          backups: backups.map(repoBackupOf),
          stats,
        };
        return { warnings, result };
      });
    },
  };
}
