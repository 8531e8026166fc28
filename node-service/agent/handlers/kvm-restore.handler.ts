import path from 'node:path';
import type { z } from 'zod';
import { RestoreParamsSchema, type RestoreResultSchema } from '../../../common/kvm-tasks.js';
import { restoreToDirectory, Virsh } from '../../platforms/kvm/index.js';
import { TaskError, type TaskHandler, type TaskRunContext } from '../task-handler.js';
import { formatBytes, parseParams, withRepository } from './destination-task.js';
import { kvmStep, type KvmHandlerDeps } from './kvm-task.js';

type RestoreResult = z.infer<typeof RestoreResultSchema>;

/** RESTORE: a VM backup's disks (sparse qcow2 or raw) plus its domain XML into a directory on this node. */
export function kvmRestoreHandler(deps: KvmHandlerDeps): TaskHandler {
  return {
    type: 'RESTORE',
    async run(ctx: TaskRunContext) {
      const { target, params } = parseParams(ctx, deps, RestoreParamsSchema);
      if (!path.isAbsolute(params.directory)) {
        throw new TaskError(`the restore directory must be an absolute path on node ${deps.nodeName}, not "${params.directory}"`, 'KVM_RESTORE_TARGET');
      }
      const directory = path.resolve(params.directory);
      if (params.importAs) await checkNameFree(ctx, deps, params.importAs, params.overwrite);
      const r = await withRepository(ctx, deps, target, async (repository) => {
        // Progress over all chosen disks: each disk reports its own bytes.
        const manifest = await repository.loadManifest(params.backupId);
        const chosen = manifest.disks.filter((d) => !params.disks || params.disks.includes(d.name));
        const total = chosen.reduce((s, d) => s + d.size, 0);
        const before = new Map<string, number>();
        let offset = 0;
        for (const d of chosen) {
          before.set(d.name, offset);
          offset += d.size;
        }
        return kvmStep(ctx, deps, () =>
          restoreToDirectory(
            {
              repository,
              backupId: params.backupId,
              directory,
              format: params.format,
              disks: params.disks,
              overwrite: params.overwrite,
              ...(params.fileMode !== undefined ? { fileMode: params.fileMode } : {}),
              ...(params.dirMode !== undefined ? { dirMode: params.dirMode } : {}),
              ...(params.keepOnFailure !== undefined ? { keepOnFailure: params.keepOnFailure } : {}),
              signal: ctx.signal,
              onProgress: (p) => ctx.progress((before.get(p.disk) ?? 0) + p.bytesDone, total, `disk ${p.disk}`),
            },
          ),
        );
      });
      const result: RestoreResult = {
        directory,
        files: r.disks.map((d) => ({ target: d.disk, path: d.path, format: d.format, size: d.size })),
        domainXmlPath: r.domainXmlPath,
        createdDirectories: r.createdDirectories,
      };
      ctx.log('info', `restored ${r.disks.map((d) => `${d.disk} (${formatBytes(d.size)})`).join(', ')} of backup ${params.backupId} to ${directory} as ${params.format}`);
      return { result };
    },
  };
}

/**
 * A restore as a new VM: the name must be free on the hypervisor before a byte is written (the
 * server checked its inventory, which may be stale). IMPORT checks again: it could be taken
 * while the disks are written.
 */
async function checkNameFree(ctx: TaskRunContext, deps: KvmHandlerDeps, importAs: { uri: string; name: string }, overwrite: boolean): Promise<void> {
  const name = importAs.name.trim();
  if (!VM_NAME.test(name)) throw new TaskError(`"${importAs.name}" cannot be a VM name; use letters, digits, '.', '_', '+' and '-' (at most 64)`, 'KVM_IMPORT_NAME');
  const taken = await kvmStep(ctx, deps, () => new Virsh(deps.runner!, importAs.uri).exists(name));
  if (taken && !overwrite) {
    throw new TaskError(`a virtual machine named ${name} already exists on ${importAs.uri}; nothing was restored. Choose another name or allow overwriting it`, 'KVM_IMPORT_EXISTS');
  }
}

/** libvirt accepts more, but these names are safe as file and directory names too. */
export const VM_NAME = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$/;
