import type { z } from 'zod';
import { SnapshotParamsSchema, type SnapshotResultSchema } from '../../../common/kvm-tasks.js';
import { KvmError, KvmSnapshots, Virsh } from '../../platforms/kvm/index.js';
import { TaskError, type TaskHandler, type TaskRunContext } from '../task-handler.js';
import { kvmStep, parseOwn, type KvmHandlerDeps } from './kvm-task.js';

type SnapshotResult = z.infer<typeof SnapshotResultSchema>;

/**
 * SNAPSHOT: create, list, revert to or delete a VM's internal (libvirt) snapshot. Every op
 * answers with the VM's snapshots afterwards, so the server can show the list at once.
 */
export function kvmSnapshotHandler(deps: KvmHandlerDeps): TaskHandler {
  return {
    type: 'SNAPSHOT',
    async run(ctx: TaskRunContext) {
      const params = parseOwn(ctx, SnapshotParamsSchema);
      const snapshots = new KvmSnapshots(new Virsh(deps.runner!, params.uri));
      const domain = params.vm.uuid;
      const label = params.vm.name;
      const needName = (): string => {
        if (params.name) return params.name;
        throw new TaskError(`a snapshot ${params.op} needs the snapshot's name; this is a server bug, please report it`, 'INVALID_PARAMS');
      };
      /** Oldest first, so the rolling set keeps the newest `keep` of the policy's own snapshots (none older than maxAgeDays). */
      const rotate = async (r: { prefix: string; keep: number; maxAgeDays?: number | undefined }, created: string): Promise<void> => {
        const own = (await snapshots.list(domain, label)).filter((x) => x.name.startsWith(r.prefix)).sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.name.localeCompare(b.name));
        const tooMany = own.length - r.keep;
        const oldest = r.maxAgeDays === undefined ? -Infinity : Date.now() - r.maxAgeDays * 86_400_000;
        for (const [i, old] of own.entries()) {
          if (old.name === created) continue;
          const why = i < tooMany ? `keeping ${r.keep}` : Date.parse(old.createdAt) < oldest ? `older than ${r.maxAgeDays} days` : null;
          if (!why) continue;
          await snapshots.delete(domain, old.name, label);
          ctx.log('info', `${label}: snapshot "${old.name}" deleted by rotation (${why}) on node ${deps.nodeName}`);
        }
      };
      return kvmStep(ctx, deps, async () => {
        try {
          switch (params.op) {
            case 'create': {
              const name = await snapshots.create(domain, params.name, label);
              ctx.log('info', `${label}: snapshot "${name}" created on node ${deps.nodeName}`);
              if (params.rotate) await rotate(params.rotate, name);
              break;
            }
            case 'revert': {
              const discarded = await snapshots.revert(domain, needName(), label, { discardCheckpoints: params.discardCheckpoints ?? false });
              if (discarded.length > 0) ctx.log('warn', `${label}: deleted backup checkpoints ${discarded.join(', ')}; the next backup of this VM is a full one`);
              ctx.log('info', `${label}: reverted to snapshot "${params.name}" on node ${deps.nodeName}`);
              break;
            }
            case 'delete':
              await snapshots.delete(domain, needName(), label);
              ctx.log('info', `${label}: snapshot "${params.name}" deleted on node ${deps.nodeName}`);
              break;
            case 'list':
              break;
          }
          const result: SnapshotResult = { snapshots: await snapshots.list(domain, label) };
          return { result };
        } catch (err) {
          if (err instanceof KvmError && err.code === 'KVM_DOMAIN_NOT_FOUND') {
            throw new TaskError(`virtual machine ${label} (${domain}) does not exist on ${params.uri}; sync the inventory of this host`, err.code);
          }
          throw err;
        }
      });
    },
  };
}
