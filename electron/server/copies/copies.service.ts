import type { Logger } from 'pino';
import type { BackupCopy, CopyListItem, CopyListQuery } from '../../../common/api/copies.js';
import type { Retention } from '../../../common/api/destinations.js';
import type { Task } from '../../../common/api/tasks.js';
import type { TaskParamsOf, TaskResultOf } from '../../../common/task-contracts.js';
import type { AuditService } from '../auth/audit.service.js';
import type { Principal } from '../auth/auth.service.js';
import type { BackupsRepository } from '../backups/backups.repository.js';
import type { DestinationsRepository, DestinationRow } from '../destinations/destinations.repository.js';
import type { DestinationsService } from '../destinations/destinations.service.js';
import { conflict, notFound } from '../errors.js';
import type { EventBus } from '../events/event-bus.js';
import { json, storedRetention, type PoliciesRepository } from '../policies/policies.repository.js';
import type { TaskEngine } from '../tasks/task-engine.service.js';
import type { NewTask } from '../tasks/tasks.repository.js';
import { copyUnreachable } from './copy-reach.js';
import type { CopiesRepository } from './copies.repository.js';

export interface CopiesServiceDeps {
  copies: CopiesRepository;
  backups: BackupsRepository;
  destinations: DestinationsRepository;
  /** Gives a COPY its `source` and `target` repositories at dispatch, as every destination task gets its own. */
  destinationsService: Pick<DestinationsService, 'repositoryOf'>;
  policies: PoliciesRepository;
  engine: TaskEngine;
  audit: AuditService;
  bus: EventBus;
  logger: Logger;
  /** Unreferenced chunks younger than this survive the GC after a policy's copy retention. */
  gcGraceHours: number;
}

const OK = (task: Task): boolean => task.state === 'FINISHED' || task.state === 'FINISHED_WITH_WARNINGS';

/**
 * Copies of VM backups on other destinations (issue 19). A copy is a COPY task on the node of
 * the backup's destination, which sends the target only the chunks it lacks; the catalog keeps
 * one row per backup and destination (copying, ok, failed). A backup policy with "copy to"
 * queues, after each of its backups, the copy and then its copy retention on the target
 * (PRUNE of that VM's copies there, then GC): one workflow, so a failed copy prunes nothing.
 * Copies pruned or deleted on their destination leave the catalog; a re-import of a
 * destination records the backups it finds that the catalog has elsewhere as copies
 * (copies.repository.ts, recordFoundCopies).
 */
export class CopiesService {
  constructor(private readonly d: CopiesServiceDeps) {
    const l = d.engine.listeners;
    l.onDispatch('COPY', async (_task, p) => {
      const backup = await d.backups.byId(p.backupId);
      return {
        source: await d.destinationsService.repositoryOf(p.sourceDestinationId),
        target: await d.destinationsService.repositoryOf(p.targetDestinationId),
        ...(backup ? { repoBackupId: backup.repoBackupId } : {}),
      };
    });
    l.on('COPY', (task, p, r) => this.copied(task, p, r));
    // After VmBackupsService's STORE listener (server.ts builds this later): the backup is in the catalog.
    l.on('STORE', (task, p, r) => this.stored(task, p, r));
    l.on('PRUNE', async (task, p, r) => {
      if (!OK(task) || !r || r.dryRun) return;
      const gone = await d.copies.forget(p.destinationId, r.removed.map((b) => b.id));
      if (gone.length > 0) this.changed(p.destinationId);
    });
    l.on('BACKUP_DELETE', async (task, p) => {
      if (!OK(task)) return;
      const backup = await d.backups.byId(p.catalogId);
      if (backup && backup.destinationId !== p.destinationId) {
        await d.copies.remove(p.catalogId, p.destinationId);
        this.changed(p.destinationId);
      }
    });
  }

  list(q: Omit<CopyListQuery, 'destination'> & { destinationId?: number }): Promise<CopyListItem[]> {
    return this.d.copies.list({ limit: q.limit, ...(q.backup !== undefined ? { backupId: q.backup } : {}), ...(q.destinationId !== undefined ? { destinationId: q.destinationId } : {}), ...(q.state ? { state: q.state } : {}) });
  }

  ofBackup(backupId: number): Promise<BackupCopy[]> {
    return this.d.copies.ofBackup(backupId);
  }

  /** Starts a copy of one backup to another destination (POST /api/backups/:id/copies). */
  async create(backupId: number, to: string, by: Principal): Promise<Task> {
    const backup = await this.d.backups.byId(backupId);
    if (!backup) throw notFound(`there is no backup ${backupId}`);
    const target = await this.d.destinations.byRef(to);
    if (!target) throw notFound(`there is no destination "${to}"`, 'to');
    const source = await this.d.destinations.byId(backup.destinationId);
    if (!source) throw notFound(`there is no destination ${backup.destinationId}`);
    if (target.id === source.id) throw conflict(`backup ${backupId} is on destination "${source.name}" already; copy it to another one`, 'to');
    if (backup.status !== 'available') throw conflict(`backup ${backupId} is ${backup.status}${backup.statusDetail ? ` (${backup.statusDetail})` : ''}; only an available backup can be copied`);
    const existing = await this.d.copies.one(backupId, target.id);
    if (existing?.state === 'ok') throw conflict(`destination "${target.name}" holds a copy of backup ${backupId} already`, 'to');
    if (existing?.state === 'copying') throw conflict(`backup ${backupId} is being copied to "${target.name}" now (task ${existing.taskId ?? '?'})`, 'to');
    const unreachable = copyUnreachable(source, target);
    if (unreachable) throw conflict(unreachable, 'to');
    const task = await this.queue(backupId, source, target, by.user.username, 60);
    await this.d.audit.record({
      actor: by.user.username,
      action: 'backup.copy',
      target: `backup:${backupId}`,
      details: { vm: backup.vm, from: source.name, to: target.name, repoBackupId: backup.repoBackupId, taskId: task.id },
    });
    return task;
  }

  private async queue(backupId: number, source: DestinationRow, target: DestinationRow, actor: string, priority: number): Promise<Task> {
    const task = await this.d.engine.create({
      type: 'COPY',
      params: { backupId, sourceDestinationId: source.id, targetDestinationId: target.id },
      requiredNodeId: source.node_id,
      subject: `backup:${backupId}`,
      priority,
      createdBy: actor,
    });
    await this.d.copies.starting(backupId, target.id, task.id);
    this.changed(source.id);
    return task;
  }

  /** A backup of a policy with "copy to": its copy, then the copy retention there. */
  private async stored(task: Task, p: TaskParamsOf<'STORE'>, r: TaskResultOf<'STORE'> | null): Promise<void> {
    if (!OK(task) || !r || task.workflowId === null) return;
    const policy = await this.d.policies.ofWorkflow(task.workflowId);
    if (!policy || policy.copy_destination_id === null || policy.kind !== 'backup') return;
    const backupId = await this.d.backups.idOf(p.destinationId, r.backupId);
    if (backupId === undefined) return;
    const source = await this.d.destinations.byId(p.destinationId);
    const target = await this.d.destinations.byId(policy.copy_destination_id);
    if (!source || !target || source.id === target.id) return;
    const unreachable = copyUnreachable(source, target);
    if (unreachable) {
      this.d.logger.warn({ policy: policy.name, backupId, target: target.name }, 'a policy copy could not start');
      await this.d.copies.refused(backupId, target.id, `policy "${policy.name}" could not copy this backup: ${unreachable}`);
      this.changed(source.id);
      return;
    }
    const retention = policy.copy_retention ? json<Retention>(policy.copy_retention) : copyRulesOf(storedRetention(policy.retention));
    const params = { backupId, sourceDestinationId: source.id, targetDestinationId: target.id, policyId: policy.id };
    const steps: NewTask[] = [{ type: 'COPY', params, requiredNodeId: source.node_id, priority: policy.priority }];
    if (retention) {
      steps.push(
        { type: 'PRUNE', params: { destinationId: target.id, retention, dryRun: false, groups: [p.vm.uuid] }, requiredNodeId: target.node_id, priority: 30 },
        { type: 'GC', params: { destinationId: target.id, graceHours: this.d.gcGraceHours }, requiredNodeId: target.node_id, priority: 30 },
      );
    }
    const { taskIds } = await this.d.engine.createWorkflow('COPY', `backup:${backupId}`, 'scheduler', steps);
    await this.d.copies.starting(backupId, target.id, taskIds[0]!);
    this.d.logger.info({ policy: policy.name, backupId, target: target.name, taskId: taskIds[0] }, 'policy copy queued');
    this.changed(source.id);
  }

  private async copied(task: Task, p: TaskParamsOf<'COPY'>, r: TaskResultOf<'COPY'> | null): Promise<void> {
    if (!(task.state === 'FINISHED' || task.state === 'FINISHED_WITH_WARNINGS' || task.state === 'FAILED' || task.state === 'CANCELLED')) return;
    const outcome =
      OK(task) && r
        ? { ok: true as const, storedBytes: r.bytesSent }
        : { ok: false as const, error: task.state === 'CANCELLED' ? `cancelled${task.error ? `: ${task.error}` : ''}` : (task.error ?? 'the copy failed; see its task') };
    if (!(await this.d.copies.finished(p.backupId, p.targetDestinationId, task.id, outcome))) return;
    this.d.logger.info({ backupId: p.backupId, target: p.targetDestinationId, taskId: task.id, ok: outcome.ok, copiedChunks: r?.copiedChunks, skippedChunks: r?.skippedChunks }, 'copy ended');
    this.changed(p.sourceDestinationId);
    this.changed(p.targetDestinationId);
  }

  private changed(destinationId: number): void {
    this.d.bus.publish({ type: 'backups.changed', destinationId });
  }
}

/** A policy's retention as a copy's: its rules, without "keep the newest of an existing VM" (the repository keeps each VM's newest copy). */
function copyRulesOf(r: ReturnType<typeof storedRetention>): Retention | null {
  if (!r) return null;
  const { keepLatestOfExistingVm: _keep, ...rules } = r;
  void _keep;
  return rules;
}
