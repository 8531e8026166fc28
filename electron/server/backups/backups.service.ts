import type { Logger } from 'pino';
import type { Backup, UpdateBackup } from '../../../common/api/backups.js';
import type { Task } from '../../../common/api/tasks.js';
import type { TaskParamsOf, TaskResultOf } from '../../../common/task-contracts.js';
import type { AuditService } from '../auth/audit.service.js';
import type { Principal } from '../auth/auth.service.js';
import { toDestination, type DestinationsRepository } from '../destinations/destinations.repository.js';
import { conflict, notFound } from '../errors.js';
import type { EventBus } from '../events/event-bus.js';
import type { TaskEngine } from '../tasks/task-engine.service.js';
import type { TasksRepository } from '../tasks/tasks.repository.js';
import type { BackupListFilter, BackupPage } from './backup-list.js';
import type { BackupsRepository } from './backups.repository.js';

/**
 * The backup browser: one backup at a time — protect it from retention, note something about
 * it, delete it (a BACKUP_DELETE task on its destination's node). Every PRUNE, whoever started
 * it (a destination's prune, a policy's retention run), gets the destination's protected
 * backups when it is sent to its node: what was protected up to that moment is kept.
 */
export class BackupsService {
  constructor(
    private readonly destinations: DestinationsRepository,
    private readonly backups: BackupsRepository,
    private readonly engine: TaskEngine,
    private readonly tasks: TasksRepository,
    private readonly audit: AuditService,
    private readonly bus: EventBus,
    private readonly logger: Logger,
  ) {
    const l = engine.listeners;
    l.onDispatch('PRUNE', async (_task, params) => {
      const ids = await this.backups.protectedIds(params.destinationId);
      return ids.length > 0 ? { protectedBackups: ids } : {};
    });
    l.on('BACKUP_DELETE', (task, params, result) => this.deleted(task, params, result));
    l.on('STORE', async (task, params, result) => {
      if (!task.state.startsWith('FINISHED') || !result) return;
      await this.backups.recordRun(params.destinationId, result.backupId, { readBytes: result.bytesRead, durationSeconds: await this.runSeconds(task) });
    });
  }

  list(filter: BackupListFilter): Promise<BackupPage> {
    return this.backups.page(filter);
  }

  async get(id: number): Promise<Backup> {
    const backup = await this.backups.byId(id);
    if (!backup) throw notFound(`there is no backup ${id}`);
    return backup;
  }

  async update(id: number, change: UpdateBackup, by: Principal): Promise<Backup> {
    const before = await this.get(id);
    const actor = by.user.username;
    const target = `backup:${id}`;
    const details = { vm: before.vm, destination: before.destination, repoBackupId: before.repoBackupId };
    if (change.protected !== undefined && change.protected !== before.protected) {
      await this.backups.setProtected(id, change.protected);
      await this.audit.record({ actor, action: change.protected ? 'backup.protect' : 'backup.unprotect', target, details });
    }
    if (change.notes !== undefined) {
      const notes = change.notes === null || change.notes.trim() === '' ? null : change.notes;
      if (notes !== before.notes) {
        await this.backups.setNotes(id, notes);
        await this.audit.record({ actor, action: 'backup.notes', target, details: { ...details, notes } });
      }
    }
    this.bus.publish({ type: 'backups.changed', destinationId: before.destinationId });
    return this.get(id);
  }

  /**
   * Starts the removal of one backup; a protected one is refused. "Delete" means the backup
   * everywhere: its destination and every copy (a BACKUP_DELETE on each copy's destination;
   * failed copies, which have no manifest, are only forgotten: GC frees what they sent).
   * With `keepCopies` only its own destination loses it, and each complete copy becomes a
   * backup of its own destination in the catalog. Answers with the task on its own destination
   * (or, for a backup retention removed already, on its first copy's).
   */
  async remove(id: number, by: Principal, opts: { keepCopies?: boolean } = {}): Promise<Task> {
    const backup = await this.get(id);
    if (backup.protected) throw conflict(`backup ${id} is protected; unprotect it first if it really should go`);
    const copies = backup.copies ?? [];
    const copying = copies.find((c) => c.state === 'copying');
    if (copying) throw conflict(`backup ${id} is being copied to "${copying.destination}" now (task ${copying.taskId ?? '?'}); wait for the copy to end or cancel it first`);
    const complete = copies.filter((c) => c.state === 'ok');
    const removed = backup.status === 'removed';
    if (removed && (opts.keepCopies || complete.length === 0)) throw conflict(`backup ${id} was already removed by retention`);
    const mounts = await this.backups.openMounts(id);
    if (mounts.length > 0) throw conflict(`backup ${id} is open in mount ${mounts.join(', ')}; close the mount first (vplus mount stop ${mounts[0]}, or Mounts → Close)`);
    const dest = await this.destinations.byId(backup.destinationId);
    if (!dest) throw notFound(`there is no destination ${backup.destinationId}`);
    const actor = by.user.username;
    const deleteOn = (destinationId: number, nodeId: number): Promise<Task> =>
      this.engine.create({
        type: 'BACKUP_DELETE',
        params: { destinationId, backupId: backup.repoBackupId, catalogId: backup.id },
        requiredNodeId: nodeId,
        subject: `backup:${id}`,
        priority: 50,
        createdBy: actor,
      });
    let kept = 0;
    if (opts.keepCopies) kept = await this.backups.promoteCopies(id);
    for (const c of copies.filter((c) => c.state === 'failed')) await this.backups.forgetCopy(id, c.destinationId);
    const tasks: Task[] = [];
    if (!removed) tasks.push(await deleteOn(dest.id, dest.node_id));
    if (!opts.keepCopies) {
      for (const c of complete) {
        const where = await this.destinations.byId(c.destinationId);
        if (where) tasks.push(await deleteOn(where.id, where.node_id));
      }
    }
    await this.audit.record({
      actor,
      action: 'backup.delete',
      target: `backup:${id}`,
      details: {
        vm: backup.vm,
        destination: dest.name,
        repoBackupId: backup.repoBackupId,
        createdAt: backup.createdAt,
        taskId: tasks[0]?.id ?? null,
        ...(copies.length > 0 ? { copies: opts.keepCopies ? `kept as backups (${kept})` : complete.map((c) => c.destination), copyTaskIds: tasks.slice(removed ? 0 : 1).map((t) => t.id) } : {}),
      },
    });
    if (kept > 0) for (const c of complete) this.bus.publish({ type: 'backups.changed', destinationId: c.destinationId });
    return tasks[0]!;
  }

  /** A finished delete: the catalog forgets the backup and takes the destination's new numbers. */
  private async deleted(task: Task, params: TaskParamsOf<'BACKUP_DELETE'>, result: TaskResultOf<'BACKUP_DELETE'> | null): Promise<void> {
    if (!task.state.startsWith('FINISHED') || !result) return;
    const { destinationId } = params;
    if (!(await this.destinations.byId(destinationId))) return;
    const backup = await this.backups.byId(params.catalogId);
    if (!backup) {
      await this.backups.forget(destinationId, params.backupId);
    } else {
      // One of its copies went, or the original did; the catalog forgets it once the original is
      // gone and no copy is left. Until then it stays `removed`, restorable from a copy (whose
      // delete has not ended yet, or failed: under object lock, say). The deletes on the original
      // and on each copy may end at the same moment: each looks again after its own write, so the
      // last one to write sees the others'.
      if (backup.destinationId !== destinationId) await this.backups.forgetCopy(backup.id, destinationId);
      else await this.backups.markDeleted(destinationId, params.backupId);
      const now = await this.backups.byId(backup.id);
      if (now && now.status === 'removed' && (now.copies ?? []).length === 0) await this.backups.forget(now.destinationId, now.repoBackupId);
    }
    await this.destinations.recordStats(destinationId, result.stats);
    await this.destinations.refreshBackupCount(destinationId);
    this.logger.info({ destinationId, backupId: params.backupId, removed: result.removed, taskId: task.id }, 'backup deleted');
    const row = await this.destinations.byId(destinationId);
    if (row) this.bus.publish({ type: 'destination', destination: toDestination(row) });
    this.bus.publish({ type: 'backups.changed', destinationId });
  }

  /** From the start of the workflow's first task (the EXPORT) to the STORE's end. */
  private async runSeconds(store: Task): Promise<number | null> {
    if (store.finishedAt === null) return null;
    let started = store.startedAt;
    if (store.workflowId !== null) {
      const starts = (await this.tasks.workflowTasks(store.workflowId)).map((s) => s.started_at).filter((s): s is Date => s !== null);
      if (starts.length > 0) started = new Date(Math.min(...starts.map((d) => d.getTime()))).toISOString();
    }
    if (started === null) return null;
    const seconds = (Date.parse(store.finishedAt) - Date.parse(started)) / 1000;
    return Number.isFinite(seconds) && seconds >= 0 ? seconds : null;
  }
}
