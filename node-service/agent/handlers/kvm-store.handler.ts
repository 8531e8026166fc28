import { z } from 'zod';
import { ExportResultSchema, StoreParamsSchema, type StoreResultSchema } from '../../../common/kvm-tasks.js';
import { KvmBackup, pruneCheckpoints, Virsh } from '../../platforms/kvm/index.js';
import { TaskError, type TaskHandler, type TaskRunContext } from '../task-handler.js';
import { formatBytes, parseParams, repoBackupOf, withRepository } from './destination-task.js';
import { kvmStep, type KvmHandlerDeps } from './kvm-task.js';

type StoreResult = z.infer<typeof StoreResultSchema>;

const StoreTaskParamsSchema = StoreParamsSchema.extend({ previousResult: ExportResultSchema });

/**
 * STORE: reads the export EXPORT left open on this node (allocated extents for a full, dirty
 * ones for an incremental), writes the repository, commits, and ends the export so its new
 * checkpoint becomes the next base. On failure or cancel the writer is aborted and the export
 * ended as failed (its new checkpoint deleted, the previous one stays the base). After a
 * committed backup of a running VM the older vPlus checkpoints are deleted, except the ones in
 * `keepCheckpoints` (other destinations' bases); failing to delete one is only a warning.
 */
export function kvmStoreHandler(deps: KvmHandlerDeps): TaskHandler {
  return {
    type: 'STORE',
    async run(ctx: TaskRunContext) {
      const { target, params } = parseParams(ctx, deps, StoreTaskParamsSchema);
      const { exportId } = params.previousResult;
      const exp = deps.registry.take(exportId);
      if (!exp) {
        throw new TaskError(
          `the export of ${params.vm.name} is no longer open on node ${deps.nodeName} (the node service restarted or the export expired since the EXPORT task); run the backup again`,
          'KVM_EXPORT_GONE',
        );
      }
      try {
        if (exp.vm.uuid !== params.vm.uuid) {
          throw new TaskError(`export ${exportId} belongs to ${exp.vm.name}, not ${params.vm.name}; this is a server bug, please report it`, 'INVALID_PARAMS');
        }
        const backup = new KvmBackup({ runner: deps.runner, starter: deps.starter });
        const r = await withRepository(ctx, deps, target, (repository) =>
          kvmStep(ctx, deps, () =>
            backup.store(exp, {
              repository,
              signal: ctx.signal,
              onProgress: (done, total, disk) => ctx.progress(done, total, `disk ${disk}`),
              log: (level, message) => ctx.log(level, message),
            }),
          ),
        );
        const result: StoreResult = {
          backupId: r.backupId,
          type: r.type,
          checkpoint: r.checkpoint,
          bytesRead: r.bytesRead,
          logicalBytes: r.disks.reduce((s, d) => s + d.size, 0),
          disks: r.disks.map((d) => ({ target: d.name, size: d.size, changedBytes: d.changedBytes, bytesRead: d.bytesRead })),
          backup: repoBackupOf(r.manifest),
        };
        ctx.log('info', `backup ${r.backupId} of ${exp.vm.name} stored (${r.type}, ${formatBytes(r.bytesRead)} read)`);
        // The export's own warnings were reported by the EXPORT task (matched by text, not by position).
        const reported = new Set(exp.warnings);
        const warnings = r.warnings.filter((w) => !reported.has(w));
        // A shut-off VM's export creates no checkpoint (and libvirt cannot delete one of an inactive domain).
        if (exp.kind === 'pull' && r.checkpoint) {
          const pruned = await pruneCheckpoints(new Virsh(deps.runner!, exp.uri), exp.vm.uuid, r.checkpoint, params.keepCheckpoints);
          if (pruned.removed.length) ctx.log('info', `removed ${pruned.removed.length} old checkpoint(s) of ${exp.vm.name}: ${pruned.removed.join(', ')}`);
          for (const w of pruned.warnings) {
            ctx.log('warn', w);
            warnings.push(w);
          }
        }
        return { warnings, result };
      } finally {
        // A no-op after store() ended it; ends it as failed when we never got that far.
        for (const p of await exp.transport.end(false)) ctx.log('warn', p);
      }
    },
  };
}
