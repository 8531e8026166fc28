import type { Logger } from 'pino';
import type { Hypervisor, Vm } from '../../../common/api/hypervisors.js';
import type { Task } from '../../../common/api/tasks.js';
import type { TaskResultOf } from '../../../common/task-contracts.js';
import type { AuditService } from '../auth/audit.service.js';
import type { Principal } from '../auth/auth.service.js';
import { AppError, conflict, notFound } from '../errors.js';
import type { EventBus } from '../events/event-bus.js';
import type { NodeSessions } from '../nodes/node-sessions.js';
import type { NodesRepository } from '../nodes/nodes.repository.js';
import type { TaskEngine } from '../tasks/task-engine.service.js';
import { toHypervisor, toVm, type HypervisorRow, type InventoryRepository, type VmRow } from './inventory.repository.js';

const SYNC_TIMEOUT_MS = 120_000;
const PERIODIC_SYNC_MS = 15 * 60_000;

/** Hypervisor hosts (each served by the node running on it) and the VMs they hold. */
export class InventoryService {
  private readonly timer: NodeJS.Timeout;

  private readonly syncedListeners: (() => Promise<void>)[] = [];
  /** Hypervisors being added: not in the list and not announced until their first sync succeeded. */
  private readonly adding = new Set<number>();

  constructor(
    private readonly inventory: InventoryRepository,
    private readonly nodes: NodesRepository,
    private readonly sessions: NodeSessions,
    private readonly engine: TaskEngine,
    private readonly audit: AuditService,
    private readonly bus: EventBus,
    private readonly logger: Logger,
  ) {
    engine.listeners.on('INVENTORY_SYNC', (task, params, result) => this.applySync(task, params.hypervisorId, result));
    // The inventory is refreshed on demand and periodically, so VMs created on the host show up.
    this.timer = setInterval(() => void this.syncAll().catch((err: unknown) => this.logger.warn({ err }, 'periodic inventory sync failed')), PERIODIC_SYNC_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  async hypervisors(): Promise<Hypervisor[]> {
    return (await this.inventory.hypervisors()).filter((row) => !this.adding.has(row.id)).map(toHypervisor);
  }

  async addHypervisor(req: { name: string; node: string; uri: string }, by: Principal): Promise<Hypervisor> {
    const node = await this.nodes.byRef(req.node);
    if (!node) throw notFound(`there is no node "${req.node}"`);
    if (!this.sessions.get(node.id)) throw conflict(`node "${node.name}" is offline; start it first`, 'node');
    if (await this.inventory.hypervisor(req.name)) throw conflict(`a hypervisor named "${req.name}" already exists`, 'name');
    const id = await this.inventory.insertHypervisor({ name: req.name, nodeId: node.id, uri: req.uri });
    this.adding.add(id);
    try {
      const task = await this.syncTask(id, node.id, req.uri, req.name, by.user.username);
      const done = await this.engine.waitForEnd(task.id, SYNC_TIMEOUT_MS);
      if (done.state !== 'FINISHED' && done.state !== 'FINISHED_WITH_WARNINGS') {
        // virsh's own words go behind "details"; the sentence says what to check.
        const message = `node "${node.name}" could not connect to libvirt at ${req.uri}: check the URI, and that libvirt runs on that host`;
        throw new AppError(400, 'HYPERVISOR_UNREACHABLE', message, 'uri').withDetail(done.error ?? undefined);
      }
    } catch (err) {
      // A refused hypervisor leaves no trace: no row, and it was never announced.
      await this.inventory.deleteHypervisor(id);
      throw err;
    } finally {
      this.adding.delete(id);
    }
    await this.audit.record({ actor: by.user.username, action: 'hypervisor.create', target: `hypervisor:${req.name}`, details: { node: node.name, uri: req.uri } });
    return this.publish(id);
  }

  async sync(ref: string, actor: string): Promise<Task> {
    const h = await this.requireHypervisor(ref);
    return this.syncTask(h.id, h.node_id, h.uri, h.name, actor);
  }

  async removeHypervisor(ref: string, by: Principal): Promise<void> {
    const h = await this.requireHypervisor(ref);
    await this.inventory.deleteHypervisor(h.id);
    await this.audit.record({ actor: by.user.username, action: 'hypervisor.remove', target: `hypervisor:${h.name}` });
  }

  async vms(hypervisor?: string): Promise<Vm[]> {
    const h = hypervisor ? await this.requireHypervisor(hypervisor) : undefined;
    return (await this.inventory.vms(h?.id)).map(toVm);
  }

  async vm(ref: string): Promise<Vm> {
    return toVm(await this.requireVm(ref));
  }

  async requireVm(ref: string): Promise<VmRow> {
    const found = await this.inventory.vm(ref);
    if (!found) throw notFound(`there is no VM "${ref}"`);
    if (Array.isArray(found)) throw conflict(`${found.length} VMs are named "${ref}" (on ${found.map((v) => v.hypervisor_name).join(', ')}); use the UUID`);
    return found;
  }

  async setExcludedDisks(ref: string, disks: string[], by: Principal): Promise<Vm> {
    const vm = await this.requireVm(ref);
    const known = new Set(toVm(vm).disks.map((d) => d.target));
    const unknown = disks.filter((d) => !known.has(d));
    if (unknown.length) throw new AppError(400, 'VALIDATION_FAILED', `VM "${vm.name}" has no disk ${unknown.join(', ')}; its disks are ${[...known].join(', ')}`, 'excludedDisks');
    await this.inventory.setExcludedDisks(vm.id, [...new Set(disks)]);
    await this.audit.record({ actor: by.user.username, action: 'vm.exclude_disks', target: `vm:${vm.name}`, details: { excludedDisks: disks } });
    const updated = toVm((await this.inventory.vmById(vm.id))!);
    this.bus.publish({ type: 'vm', vm: updated });
    return updated;
  }

  private async syncAll(): Promise<void> {
    for (const h of await this.inventory.hypervisors()) {
      if (this.sessions.get(h.node_id)) await this.syncTask(h.id, h.node_id, h.uri, h.name, 'scheduler');
    }
  }

  private syncTask(hypervisorId: number, nodeId: number, uri: string, name: string, by: string): Promise<Task> {
    return this.engine.create({ type: 'INVENTORY_SYNC', params: { uri, hypervisorId }, requiredNodeId: nodeId, subject: `hypervisor:${name}`, priority: 70, createdBy: by });
  }

  /** Called after every inventory sync that changed the catalog (policy auto-assignment listens). */
  onSynced(listener: () => Promise<void>): void {
    this.syncedListeners.push(listener);
  }

  private async applySync(task: Task, id: number, result: TaskResultOf<'INVENTORY_SYNC'> | null): Promise<void> {
    if (!(await this.inventory.hypervisor(String(id)))) return;
    if (task.state === 'FAILED' || task.state === 'CANCELLED' || !result) {
      await this.inventory.setHypervisorStatus(id, 'error', task.error ?? 'the inventory sync was cancelled');
    } else {
      const vmIds = await this.inventory.applyInventory(id, result.domains);
      await this.inventory.setHypervisorStatus(id, 'ok', null);
      for (const listener of this.syncedListeners) await listener().catch((err: unknown) => this.logger.error({ err }, 'a listener of inventory syncs failed'));
      for (const vmId of vmIds) {
        const row = await this.inventory.vmById(vmId);
        if (row) this.bus.publish({ type: 'vm', vm: toVm(row) });
      }
    }
    // The first sync of a hypervisor being added: adding it answers (and announces it) or removes it.
    if (!this.adding.has(id)) await this.publish(id);
  }

  private async requireHypervisor(ref: string): Promise<HypervisorRow> {
    const h = await this.inventory.hypervisor(ref);
    if (!h) throw notFound(`there is no hypervisor "${ref}"`);
    return h;
  }

  private async publish(id: number): Promise<Hypervisor> {
    const h = toHypervisor((await this.inventory.hypervisor(String(id)))!);
    this.bus.publish({ type: 'hypervisor', hypervisor: h });
    return h;
  }
}
