import type { z } from 'zod';
import { InventorySyncParamsSchema, type InventorySyncResultSchema } from '../../../common/kvm-tasks.js';
import { KvmInventory, Virsh } from '../../platforms/kvm/index.js';
import type { TaskHandler, TaskRunContext } from '../task-handler.js';
import { kvmStep, parseOwn, type KvmHandlerDeps } from './kvm-task.js';

type InventorySyncResult = z.infer<typeof InventorySyncResultSchema>;

/** INVENTORY_SYNC: the host's domains with state, vCPUs, memory and disks (CD-ROMs and floppies left out). */
export function kvmInventoryHandler(deps: KvmHandlerDeps): TaskHandler {
  return {
    type: 'INVENTORY_SYNC',
    async run(ctx: TaskRunContext) {
      const { uri } = parseOwn(ctx, InventorySyncParamsSchema);
      const virsh = new Virsh(deps.runner!, uri);
      return kvmStep(ctx, deps, async () => {
        const libvirtVersion = await virsh.version();
        const vms = await new KvmInventory(virsh).list();
        ctx.signal.throwIfAborted();
        const result: InventorySyncResult = {
          libvirtVersion,
          domains: vms.map((vm) => ({
            name: vm.name,
            uuid: vm.uuid,
            state: vm.state,
            vcpus: vm.vcpus,
            memoryBytes: vm.memoryBytes,
            disks: vm.disks
              .filter((d) => d.device === 'disk')
              .map((d) => ({ target: d.target, path: d.path, format: d.format, virtualBytes: d.virtualBytes ?? 0, allocatedBytes: d.allocatedBytes })),
          })),
        };
        ctx.log('info', `${uri}: ${result.domains.length} virtual machines (${libvirtVersion ?? 'libvirt version unknown'})`);
        return { result };
      });
    },
  };
}
