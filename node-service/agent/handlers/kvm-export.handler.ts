import type { z } from 'zod';
import { ExportParamsSchema, type ExportResultSchema } from '../../../common/kvm-tasks.js';
import { KvmBackup, KvmError, Virsh, type KvmExport } from '../../platforms/kvm/index.js';
import { TaskError, type TaskHandler, type TaskRunContext } from '../task-handler.js';
import { parseParams, withRepository } from './destination-task.js';
import { ensureWorkDir, kvmStep, kvmWorkDir, type KvmHandlerDeps } from './kvm-task.js';

type ExportResult = z.infer<typeof ExportResultSchema>;

/**
 * EXPORT: makes the VM's disks readable at one point in time (a checkpoint + pull-mode backup
 * job, or qemu-nbd over a shut-off VM's files) and keeps the export open in this node's
 * registry for the STORE task that follows. The repository is only read, for the chain check.
 */
export function kvmExportHandler(deps: KvmHandlerDeps): TaskHandler {
  return {
    type: 'EXPORT',
    async run(ctx: TaskRunContext) {
      const { target, params } = parseParams(ctx, deps, ExportParamsSchema);
      const workDir = await ensureWorkDir(await kvmWorkDir(ctx, deps));
      for (const id of await deps.registry.endForVm(params.vm.uuid)) {
        ctx.log('warn', `ended an earlier export of ${params.vm.name} (${id}) that no STORE task read`);
      }
      const backup = new KvmBackup({ runner: deps.runner, starter: deps.starter, virsh: new Virsh(deps.runner!, params.uri), owner: deps.owner });
      // Kept outside the repository's scope: if closing the repository fails, the export must still end.
      const opened: { exp?: KvmExport } = {};
      let exp: KvmExport;
      try {
        exp = await withRepository(ctx, deps, target, (repository) =>
          kvmStep(ctx, deps, async () => {
            try {
              return (opened.exp = await backup.begin({
                domain: params.vm.uuid,
                repository,
                mode: params.mode,
                previous: params.previous,
                excludeDisks: params.excludeDisks,
                workDir,
                signal: ctx.signal,
                log: (level, message) => ctx.log(level, message),
              }));
            } catch (err) {
              if (err instanceof KvmError && err.code === 'KVM_DOMAIN_NOT_FOUND') {
                throw new TaskError(`virtual machine ${params.vm.name} (${params.vm.uuid}) does not exist on ${params.uri}; sync the inventory of this host`, err.code);
              }
              throw err;
            }
          }),
        );
      } catch (err) {
        if (opened.exp) for (const p of await opened.exp.transport.end(false)) ctx.log('warn', p);
        throw err;
      }
      if (ctx.signal.aborted) {
        await exp.transport.end(false);
        ctx.signal.throwIfAborted();
      }
      deps.registry.add(exp, ctx.taskId);
      const result: ExportResult = { exportId: exp.id, type: exp.type, disks: exp.disks.map((d) => ({ target: d.target, size: d.size })), warnings: exp.warnings };
      ctx.log('info', `${exp.vm.name}: ${exp.type} export ${exp.id} open on node ${deps.nodeName} (${exp.disks.map((d) => d.target).join(', ')})`);
      return { warnings: exp.warnings, result };
    },
  };
}
