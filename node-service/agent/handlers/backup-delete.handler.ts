import type { z } from 'zod';
import { BackupDeleteParamsSchema, type BackupDeleteResultSchema } from '../../../common/api/backups.js';
import type { TaskHandler, TaskRunContext } from '../task-handler.js';
import { parseParams, statsView, withRepository, type DestinationHandlerDeps } from './destination-task.js';

type BackupDeleteResult = z.infer<typeof BackupDeleteResultSchema>;

/**
 * BACKUP_DELETE: removes one backup from the repository (its manifest; GC frees the chunks
 * no other backup shares). A backup already gone is not an error: the catalog forgets it.
 */
export function backupDeleteHandler(deps: DestinationHandlerDeps): TaskHandler {
  return {
    type: 'BACKUP_DELETE',
    async run(ctx: TaskRunContext) {
      const { target, params } = parseParams(ctx, deps, BackupDeleteParamsSchema);
      return withRepository(ctx, deps, target, async (repo) => {
        const removed = await repo.deleteBackup(params.backupId);
        const warnings = removed ? [] : [`backup ${params.backupId} was already gone from ${target.path}; the catalog forgets it`];
        ctx.log(removed ? 'info' : 'warn', removed ? `deleted backup ${params.backupId} from ${target.path}; garbage collection frees its space` : warnings[0]!);
        const result: BackupDeleteResult = { removed, stats: statsView(await repo.stats()) };
        return { warnings, result };
      });
    },
  };
}
