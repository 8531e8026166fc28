import type { Snapshot } from '../../../common/api/hypervisors.js';
import type { Task } from '../../../common/api/tasks.js';
import type { AuditService } from '../auth/audit.service.js';
import type { Principal } from '../auth/auth.service.js';
import { AppError, conflict } from '../errors.js';
import { RelayError } from '../nodes/node-relay.js';
import type { NodeSessions } from '../nodes/node-sessions.js';
import type { TaskEngine } from '../tasks/task-engine.service.js';
import type { VmRow } from './inventory.repository.js';
import type { InventoryService } from './inventory.service.js';

/** How long GET …/snapshots waits for the node to list them. */
const LIST_TIMEOUT_MS = 20_000;

/**
 * A VM's libvirt snapshots on the node serving the VM's host. Listing is a read: the server
 * asks the node over its connection and waits (no task; snapshots live in libvirt, not in the
 * catalog). Create, revert and delete change the VM: each is a SNAPSHOT task to follow.
 */
export class SnapshotsService {
  constructor(
    private readonly inventory: InventoryService,
    private readonly sessions: NodeSessions,
    private readonly engine: TaskEngine,
    private readonly audit: AuditService,
  ) {}

  async list(ref: string): Promise<Snapshot[]> {
    const vm = await this.requireVm(ref);
    const call = { op: 'snapshots.list', args: { uri: vm.uri, vm: { uuid: vm.uuid, name: vm.name } } } as const;
    try {
      return (await this.sessions.relay.nodeCall(vm.node_id, call, LIST_TIMEOUT_MS)).snapshots;
    } catch (err) {
      if (!(err instanceof RelayError)) throw err;
      switch (err.code) {
        case 'NODE_OFFLINE':
          throw new AppError(503, 'NODE_OFFLINE', `the node serving hypervisor "${vm.hypervisor_name}" is offline, so the snapshots of VM "${vm.name}" cannot be listed; start it first`);
        case 'NODE_TIMEOUT':
          throw new AppError(504, 'NODE_TIMEOUT', `the node serving hypervisor "${vm.hypervisor_name}" did not list the snapshots of VM "${vm.name}" within ${LIST_TIMEOUT_MS / 1000} s; try again`);
        default:
          throw new AppError(502, 'SNAPSHOT_LIST_FAILED', `the snapshots of VM "${vm.name}" could not be listed: ${err.message}`);
      }
    }
  }

  async create(ref: string, name: string | undefined, by: Principal): Promise<Task> {
    const vm = await this.requireVm(ref);
    const task = await this.task(vm, 'create', name, by.user.username);
    await this.audit.record({ actor: by.user.username, action: 'snapshot.create', target: `vm:${vm.name}`, details: { name: name ?? null, taskId: task.id } });
    return task;
  }

  async revert(ref: string, name: string, discardCheckpoints: boolean, by: Principal): Promise<Task> {
    const vm = await this.requireVm(ref);
    const task = await this.task(vm, 'revert', name, by.user.username, 60, discardCheckpoints ? { discardCheckpoints: true } : {});
    await this.audit.record({ actor: by.user.username, action: 'snapshot.revert', target: `vm:${vm.name}`, details: { name, discardCheckpoints, taskId: task.id } });
    return task;
  }

  async remove(ref: string, name: string, by: Principal): Promise<Task> {
    const vm = await this.requireVm(ref);
    const task = await this.task(vm, 'delete', name, by.user.username);
    await this.audit.record({ actor: by.user.username, action: 'snapshot.delete', target: `vm:${vm.name}`, details: { name, taskId: task.id } });
    return task;
  }

  private async requireVm(ref: string): Promise<VmRow> {
    const vm = await this.inventory.requireVm(ref);
    if (vm.present !== 1) throw conflict(`VM "${vm.name}" is no longer on its host; sync the hypervisor if it came back`);
    return vm;
  }

  private task(vm: VmRow, op: 'create' | 'revert' | 'delete', name: string | undefined, by: string, priority = 60, extra: Record<string, unknown> = {}): Promise<Task> {
    return this.engine.create({
      type: 'SNAPSHOT',
      params: { uri: vm.uri, vm: { uuid: vm.uuid, name: vm.name }, op, ...(name !== undefined ? { name } : {}), vmId: vm.id, ...extra },
      requiredNodeId: vm.node_id,
      subject: `vm:${vm.name}`,
      priority,
      createdBy: by,
    });
  }
}
