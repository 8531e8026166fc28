import type { Logger } from 'pino';
import type { TaskListeners } from '../tasks/task-contracts.js';
import type { M365BackupsRepository } from './m365-backups.repository.js';

/**
 * Retention of Microsoft 365 backups: a PRUNE of backup points (params.objectKeys, as an m365
 * policy's retention sends it) keeps the points of backups open in a mount, and afterwards the
 * catalog's backups left without a point are marked removed (GC then frees their packs).
 */
export function listenToPointPrunes(listeners: TaskListeners, backups: Pick<M365BackupsRepository, 'mountedPoints' | 'markPruned'>, logger: Logger): void {
  listeners.onDispatch('PRUNE', async (_task, p) => {
    if (!p.objectKeys) return {};
    const points = await backups.mountedPoints(p.destinationId);
    return points.length > 0 ? { protectedPoints: points } : {};
  });
  listeners.on('PRUNE', async (task, p, r) => {
    if (!p.objectKeys || !r || r.dryRun || !task.state.startsWith('FINISHED')) return;
    const removed = await backups.markPruned(p.destinationId, {
      removed: new Set(r.removed.map((x) => x.id)),
      kept: new Set(r.kept.map((x) => x.id)),
      objectKeys: new Set(p.objectKeys),
    });
    if (removed.length > 0) logger.info({ destinationId: p.destinationId, backups: removed, taskId: task.id }, 'Microsoft 365 backups removed by retention');
  });
}
