import type { Logger } from 'pino';
import type { Backup } from '../../../common/api/backups.js';
import type { Restore } from '../../../common/api/hypervisors.js';
import type { Task } from '../../../common/api/tasks.js';
import type { TaskParamsOf, TaskResultOf } from '../../../common/task-contracts.js';
import type { AuditService } from '../auth/audit.service.js';
import type { Principal } from '../auth/auth.service.js';
import type { CopiesRepository } from '../copies/copies.repository.js';
import type { DestinationRow, DestinationsRepository } from '../destinations/destinations.repository.js';
import { conflict, notFound } from '../errors.js';
import type { EventBus } from '../events/event-bus.js';
import type { NodeSessions } from '../nodes/node-sessions.js';
import type { NodesRepository } from '../nodes/nodes.repository.js';
import type { TaskEngine } from '../tasks/task-engine.service.js';
import { excludedOf, toVm, type InventoryRepository } from './inventory.repository.js';
import type { InventoryService } from './inventory.service.js';

/**
 * Backup and restore of VMs as workflows: EXPORT → STORE on the node serving
 * the VM's host, RESTORE (→ IMPORT) on the chosen node. Keeps the checkpoint
 * chain per VM and destination, so the next backup can be incremental.
 */
export class VmBackupsService {
  constructor(
    private readonly inventory: InventoryRepository,
    private readonly inventoryService: InventoryService,
    private readonly destinations: DestinationsRepository,
    private readonly nodes: NodesRepository,
    private readonly engine: TaskEngine,
    private readonly audit: AuditService,
    private readonly bus: EventBus,
    private readonly logger: Logger,
    /** Restores from a copy on another destination read the copy's state here. */
    private readonly copies?: Pick<CopiesRepository, 'one'>,
    /** Ends an export on its node when its STORE never ran (see `endUnreadExport`). */
    private readonly sessions?: Pick<NodeSessions, 'relay'>,
  ) {
    engine.listeners.on('STORE', (task, params, result) => this.onStored(task, params, result));
    engine.listeners.on('SNAPSHOT', async (_task, params) => {
      // The checkpoints are gone: every chain of this VM starts again with a full backup.
      if (params.op === 'revert' && params.discardCheckpoints === true && _task.state.startsWith('FINISHED')) await this.inventory.clearChains(params.vmId);
    });
    engine.listeners.on('IMPORT', async (task, params) => {
      // Show the new VM without waiting for the next periodic sync.
      if (!task.state.startsWith('FINISHED')) return;
      const h = await this.inventory.hypervisor(String(params.hypervisorId));
      if (h) await this.inventoryService.sync(h.name, 'system');
    });
    engine.listeners.onDispatch('EXPORT', async (_task, params) => (params.mode === 'auto' ? { previous: (await this.inventory.chain(params.vmId, params.destinationId)) ?? null } : {}));
    engine.listeners.onDispatch('STORE', async (_task, params) => ({ keepCheckpoints: await this.inventory.otherChainCheckpoints(params.vmId, params.destinationId) }));
  }

  // The chain a backup builds on is read again when its task is sent to the node (onDispatch
  // above), not only when the workflow was created: another backup of the same VM may have
  // finished in between, and its checkpoint is then the base to use (EXPORT) or to keep
  // (STORE's checkpoint cleanup). The task then shows what its node got.

  /** `policyRunId`: the policy run this backup is part of. */
  async run(req: { vm: string; destination: string; full: boolean }, by: Principal | 'scheduler', priority = 50, policyRunId: number | null = null): Promise<{ workflowId: number; taskIds: number[] }> {
    const vm = await this.inventoryService.requireVm(req.vm);
    if (vm.present !== 1) throw conflict(`VM "${vm.name}" is no longer on its host; sync the hypervisor if it came back`);
    const dest = await this.destinations.byRef(req.destination);
    if (!dest) throw notFound(`there is no destination "${req.destination}"`);
    if (dest.node_id !== vm.node_id) {
      throw conflict(
        `destination "${dest.name}" is on node "${dest.node_name}", but VM "${vm.name}" is on a host served by another node; add a destination on that node (for example the same share mounted there)`,
        'destination',
      );
    }
    const previous = req.full ? null : ((await this.inventory.chain(vm.id, dest.id)) ?? null);
    // Each destination has its own chain: the checkpoint cleanup after STORE must keep their bases.
    const keepCheckpoints = await this.inventory.otherChainCheckpoints(vm.id, dest.id);
    const actor = by === 'scheduler' ? 'scheduler' : by.user.username;
    const subject = `vm:${vm.name}`;
    const vmRef = { uuid: vm.uuid, name: vm.name };
    const result = await this.engine.createWorkflow('BACKUP', subject, actor, [
      {
        type: 'EXPORT',
        params: { uri: vm.uri, vm: vmRef, destinationId: dest.id, mode: req.full ? 'full' : 'auto', previous, excludeDisks: excludedOf(vm), vmId: vm.id },
        requiredNodeId: vm.node_id,
        priority,
      },
      { type: 'STORE', params: { destinationId: dest.id, vm: vmRef, keepCheckpoints, vmId: vm.id }, requiredNodeId: vm.node_id, priority },
    ], policyRunId);
    if (by !== 'scheduler') await this.audit.record({ actor, action: 'backup.run', target: subject, details: { destination: dest.name, full: req.full, workflowId: result.workflowId } });
    return result;
  }

  async restore(req: Restore, by: Principal): Promise<{ workflowId: number; taskIds: number[] }> {
    const backups = await this.destinations.listBackups({ limit: 1, offset: 0, id: req.backup });
    const backup = backups[0];
    if (!backup) throw notFound(`there is no backup ${req.backup}`);
    const dest = req.fromDestinationId === undefined ? await this.ownDestination(backup) : await this.copyDestination(backup, req.fromDestinationId);
    const actor = by.user.username;
    if (req.mode === 'files') {
      const node = await this.nodes.byRef(req.node);
      if (!node) throw notFound(`there is no node "${req.node}"`);
      const result = await this.engine.createWorkflow('RESTORE', `backup:${backup.id}`, actor, [
        {
          type: 'RESTORE',
          params: { destinationId: dest.id, backupId: backup.repoBackupId, directory: req.path, format: req.format, ...(req.disks ? { disks: req.disks } : {}), overwrite: req.overwrite },
          requiredNodeId: node.id,
          priority: 80,
        },
      ]);
      await this.audit.record({ actor, action: 'restore.files', target: `backup:${backup.id}`, details: { node: node.name, path: req.path, format: req.format } });
      return result;
    }
    const h = await this.inventory.hypervisor(req.hypervisor);
    if (!h) throw notFound(`there is no hypervisor "${req.hypervisor}"`);
    // Refused before anything is written; the node checks again (the inventory may be stale).
    if (!req.overwrite && (await this.inventory.vms(h.id)).some((v) => v.present === 1 && v.name === req.name)) {
      throw conflict(`a VM named "${req.name}" already exists on hypervisor "${h.name}"; choose another name or allow overwriting it`, 'name');
    }
    const directory = `${(req.storageDir ?? '/var/lib/libvirt/images').replace(/\/+$/, '')}/${req.name}`;
    const keep = req.keepOnFailure === true ? { keepOnFailure: true } : {};
    const result = await this.engine.createWorkflow('RESTORE', `backup:${backup.id}`, actor, [
      // dirMode 0711: QEMU (another user) must pass through the directories made for the new VM's disks.
      {
        type: 'RESTORE',
        params: { destinationId: dest.id, backupId: backup.repoBackupId, directory, format: 'qcow2', overwrite: req.overwrite, dirMode: 0o711, importAs: { uri: h.uri, name: req.name }, ...keep },
        requiredNodeId: h.node_id,
        priority: 80,
      },
      { type: 'IMPORT', params: { uri: h.uri, name: req.name, start: req.start, overwrite: req.overwrite, hypervisorId: h.id, ...keep }, requiredNodeId: h.node_id, priority: 80 },
    ]);
    await this.audit.record({ actor, action: 'restore.import', target: `backup:${backup.id}`, details: { hypervisor: h.name, name: req.name, start: req.start } });
    return result;
  }

  /** Where a restore reads a backup from by default: its own destination, when it is restorable there. */
  private async ownDestination(backup: Backup): Promise<DestinationRow> {
    const id = backup.id;
    if (backup.status === 'removed') throw conflict(`backup ${id} was removed by retention`);
    if (backup.status === 'missing') throw conflict(`backup ${id} is missing from destination ${backup.destination}: ${backup.statusDetail ?? 'its manifest is gone'}`);
    if (backup.status === 'damaged') {
      throw conflict(
        `backup ${id} is damaged (${backup.statusDetail ?? 'verify found damaged chunks'}); back up the VM again (that stores the damaged chunks again from the VM), verify destination ${backup.destination}, then restore, or restore another backup`,
      );
    }
    return (await this.destinations.byId(backup.destinationId))!;
  }

  /** A restore from the backup's copy on another destination (fromDestinationId): the copy must be complete there. */
  private async copyDestination(backup: Backup, destinationId: number): Promise<DestinationRow> {
    if (destinationId === backup.destinationId) return this.ownDestination(backup);
    const dest = await this.destinations.byId(destinationId);
    if (!dest) throw notFound(`there is no destination ${destinationId}`, 'fromDestinationId');
    const copy = await this.copies?.one(backup.id, destinationId);
    if (!copy || copy.state !== 'ok') {
      const why = !copy ? 'has no copy of it' : copy.state === 'copying' ? 'is still receiving its copy' : `has only a failed copy of it (${copy.error ?? 'see its COPY task'})`;
      throw conflict(`destination "${dest.name}" ${why}; restore from "${backup.destination}" or from a complete copy`, 'fromDestinationId');
    }
    return dest;
  }

  /** A finished STORE is a backup: record it and move the chain forward. */
  private async onStored(task: Task, params: TaskParamsOf<'STORE'>, r: TaskResultOf<'STORE'> | null): Promise<void> {
    if (task.startedAt === null) void this.endUnreadExport(task);
    if (!task.state.startsWith('FINISHED') || !r) return;
    const { destinationId, vmId } = params;
    const vm = await this.inventory.vmById(vmId);
    if (!vm || !(await this.destinations.byId(destinationId))) return;
    // The node's entry, made from the manifest as REIMPORT makes it; nodes of older versions send none.
    const entry = r.backup ?? { id: r.backupId, createdAt: task.startedAt ?? new Date().toISOString(), group: vm.uuid, logicalBytes: r.logicalBytes, disks: r.disks.map((d) => ({ name: d.target, size: d.size })), source: { type: r.type, vm: { name: vm.name, uuid: vm.uuid } } };
    await this.destinations.upsertBackups(destinationId, [entry]);
    await this.inventory.setChain(vmId, destinationId, r.checkpoint ? { checkpoint: r.checkpoint, backupId: r.backupId } : null);
    await this.destinations.refreshBackupCount(destinationId);
    this.bus.publish({ type: 'backups.changed', destinationId });
    const updated = await this.inventory.vmById(vmId);
    if (updated) this.bus.publish({ type: 'vm', vm: toVm(updated) });
  }

  /**
   * A STORE that ended without reaching its node (cancelled while queued: a user, or a policy
   * run over its failure threshold) leaves the export its EXPORT opened: a backup job that
   * blocks the VM's next backup, or qemu-nbd servers that keep a shut-off VM from starting.
   * The node is told to end it at once instead of when it expires (12 h) or stops.
   */
  private async endUnreadExport(store: Task): Promise<void> {
    try {
      if (store.dependsOn === null || !this.sessions) return;
      const exp = await this.engine.get(store.dependsOn);
      const exportId = (exp.result as Partial<TaskResultOf<'EXPORT'>> | null)?.exportId;
      if (exp.type !== 'EXPORT' || !exp.state.startsWith('FINISHED') || exp.nodeId === null || typeof exportId !== 'string') return;
      const { ended } = await this.sessions.relay.nodeCall(exp.nodeId, { op: 'kvm.endExport', args: { exportId } }, 60_000);
      if (ended) await this.engine.appendLog(store.id, 'info', `the export ${exportId} that EXPORT task ${exp.id} left open was ended on its node`);
    } catch (err) {
      this.logger.warn({ err, taskId: store.id }, 'could not end the export of a STORE that never ran; the node ends it when it expires or the node restarts');
    }
  }
}
