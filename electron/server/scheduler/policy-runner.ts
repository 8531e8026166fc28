import type { Logger } from 'pino';
import { DEFAULT_SNAPSHOTS_KEPT, type PolicyRun } from '../../../common/api/policies.js';
import { isFinalState, type Task } from '../../../common/api/tasks.js';
import type { Clock } from '../clock.js';
import type { EventBus } from '../events/event-bus.js';
import type { VmBackupsService } from '../inventory/vm-backups.service.js';
import type { M365BackupsRepository } from '../m365/m365-backups.repository.js';
import type { M365BackupsService } from '../m365/m365-backups.service.js';
import type { M365Protectable } from '../m365/m365-inventory.repository.js';
import type { M365PolicyMembers } from '../policies/m365-policy-members.js';
import type { NotificationsService } from '../notifications/notifications.service.js';
import { json, storedRetention, toPolicyRun, type PoliciesRepository, type PolicyRow, type PolicyRunRow, type VmAssignmentRow } from '../policies/policies.repository.js';
import type { JobsRepository } from '../tasks/jobs.repository.js';
import type { TaskEngine } from '../tasks/task-engine.service.js';
import type { TasksRepository } from '../tasks/tasks.repository.js';

export interface RunRequest {
  trigger: PolicyRun['trigger'];
  backupType: 'full' | 'incremental' | null;
  /** The schedule occurrence (null for "run now"). */
  scheduledFor: Date | null;
}

export interface PolicyRunnerDeps {
  repo: PoliciesRepository;
  vmBackups: VmBackupsService;
  engine: TaskEngine;
  tasks: TasksRepository;
  /** Keeps an ended run's totals for the jobs list. */
  jobs: Pick<JobsRepository, 'recordRunTotals'>;
  notifications: NotificationsService;
  bus: EventBus;
  logger: Logger;
  clock: Clock;
  /** Unreferenced chunks younger than this survive a policy's GC. */
  gcGraceHours: number;
  /** m365 policies: their members, the M365_BACKUP task of each, and the repository objects their backups have. */
  m365?: {
    members: Pick<M365PolicyMembers, 'of'>;
    backups: Pick<M365BackupsService, 'backupTask'>;
    catalog: Pick<M365BackupsRepository, 'objectKeysOf'>;
  };
}

const SUCCEEDED = new Set(['FINISHED', 'FINISHED_WITH_WARNINGS']);

/** Names of a snapshot policy's own snapshots start with this (and only they are rotated). */
export const snapshotPrefix = (policyId: number): string => `vplus-p${policyId}-`;

/**
 * Turns a policy run into work and follows it to the end: one backup workflow (EXPORT →
 * STORE) per VM in the policy (an m365 policy: one M365_BACKUP per user or site it owns now),
 * the "fail the rest above X %" rule, retention (PRUNE + GC on the destination) after a run
 * that backed something up, and notifications. The run's
 * record in the catalog is the truth, so a restarted server picks up where it stopped.
 */
export class PolicyRunner {
  constructor(private readonly deps: PolicyRunnerDeps) {
    deps.engine.listeners.onAny((task) => this.onTaskFinished(task));
  }

  /** Starts a run; undefined when this occurrence already has a run (another server took it). */
  async start(policy: PolicyRow, req: RunRequest, actor: string): Promise<PolicyRun | undefined> {
    const { repo, clock } = this.deps;
    const runId = await repo.insertRun({
      policyId: policy.id,
      purpose: 'run',
      trigger: req.trigger,
      backupType: req.backupType,
      scheduledFor: req.scheduledFor,
      state: 'running',
      startedAt: new Date(clock.now()),
    });
    if (runId === undefined) return undefined;
    // What the run backs up (its counters count these, as VMs): each with how to start its workflow.
    const members: { name: string; start: () => Promise<number> }[] =
      policy.kind === 'm365'
        ? (await this.m365Members(policy)).map((m) => ({ name: m.name, start: () => this.m365Backup(policy, m, req, actor, runId) }))
        : (await repo.policyVms(policy.id))
            .filter((v) => v.present === 1)
            .map((vm) => ({ name: vm.vm_name, start: () => (policy.kind === 'snapshot' ? this.snapshot(policy, vm, actor, runId) : this.backup(policy, vm, req, runId)) }));
    const workflows: number[] = [];
    const problems: string[] = [];
    for (const member of members) {
      try {
        workflows.push(await member.start());
      } catch (err) {
        problems.push(`${member.name}: ${(err as Error).message}`);
      }
    }
    this.deps.logger.info({ policy: policy.name, runId, trigger: req.trigger, vms: members.length, started: workflows.length }, 'policy run started');
    await repo.updateRun(runId, {
      vms: members.length,
      failed: problems.length,
      workflows,
      message: members.length === 0 ? `${nothingIn(policy)} are in this policy` : problems.length ? `could not start: ${problems.join('; ')}` : null,
    });
    await this.refresh(runId);
    return this.publish(runId);
  }

  private async backup(policy: PolicyRow, vm: VmAssignmentRow, req: RunRequest, runId: number): Promise<number> {
    if (policy.destination_id === null) throw new Error('the policy has no destination');
    const started = await this.deps.vmBackups.run({ vm: String(vm.vm_id), destination: String(policy.destination_id), full: req.backupType === 'full' }, 'scheduler', policy.priority, runId);
    return started.workflowId;
  }

  /** An m365 policy's backup of one user or site: a workflow of one M365_BACKUP on the destination's node. */
  private async m365Backup(policy: PolicyRow, member: M365Protectable, req: RunRequest, actor: string, runId: number): Promise<number> {
    if (policy.destination_id === null) throw new Error('the policy has no destination');
    const task = await this.m365().backups.backupTask({ kind: member.kind, id: member.id }, policy.destination_id, req.backupType === 'full');
    const { workflowId } = await this.deps.engine.createWorkflow('M365_BACKUP', task.subject, actor, [{ ...task, priority: policy.priority }], runId);
    return workflowId;
  }

  private m365(): NonNullable<PolicyRunnerDeps['m365']> {
    if (!this.deps.m365) throw new Error('this server runs no Microsoft 365 policies');
    return this.deps.m365;
  }

  private m365Members(policy: PolicyRow): Promise<M365Protectable[]> {
    return this.m365().members.of(policy);
  }

  /**
   * A snapshot policy's run on one VM: a new hypervisor snapshot named after the policy and
   * the time, then the policy's oldest own snapshots beyond "keep last N" (default 7) are
   * deleted on the node. Snapshots the policy did not make are never touched.
   */
  private async snapshot(policy: PolicyRow, vm: VmAssignmentRow, actor: string, runId: number): Promise<number> {
    const retention = storedRetention(policy.retention);
    const prefix = snapshotPrefix(policy.id);
    const stamp = new Date(this.deps.clock.now()).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
    const { workflowId } = await this.deps.engine.createWorkflow('SNAPSHOT', `vm:${vm.vm_name}`, actor, [
      {
        type: 'SNAPSHOT',
        params: { uri: vm.hypervisor_uri, vm: { uuid: vm.vm_uuid, name: vm.vm_name }, op: 'create', name: `${prefix}${stamp}`, rotate: { prefix, keep: retention?.keepLast ?? DEFAULT_SNAPSHOTS_KEPT, ...(retention?.maxAgeDays ? { maxAgeDays: retention.maxAgeDays } : {}) }, vmId: vm.vm_id },
        requiredNodeId: vm.node_id,
        priority: policy.priority,
      },
    ], runId);
    return workflowId;
  }

  /** Records that an occurrence did not run, and tells whoever asked to hear about misses. */
  async recordMissed(policy: PolicyRow, req: RunRequest & { scheduledFor: Date }, message: string): Promise<void> {
    const now = new Date(this.deps.clock.now());
    const id = await this.deps.repo.insertRun({
      policyId: policy.id,
      purpose: 'run',
      trigger: req.trigger,
      backupType: req.backupType,
      scheduledFor: req.scheduledFor,
      state: 'missed',
      startedAt: null,
      finishedAt: now,
      message,
    });
    if (id === undefined) return;
    this.deps.logger.warn({ policy: policy.name, scheduledFor: req.scheduledFor.toISOString(), message }, 'policy run missed');
    const run = await this.publish(id);
    if (run) await this.deps.notifications.notify({ kind: 'policy.missed', run });
  }

  /** Prune by the policy's retention, then GC, on its destination. */
  async retention(policy: PolicyRow, trigger: 'retention' | 'schedule' | 'catch-up' | 'manual', scheduledFor: Date | null, actor: string): Promise<PolicyRun | undefined> {
    const retention = storedRetention(policy.retention);
    if (policy.kind === 'snapshot' || !retention || policy.destination_id === null) return undefined;
    const { repo, clock } = this.deps;
    const runId = await repo.insertRun({ policyId: policy.id, purpose: 'retention', trigger, backupType: null, scheduledFor, state: 'running', startedAt: new Date(clock.now()) });
    if (runId === undefined) return undefined;
    if (policy.kind === 'm365') return this.m365Retention(policy, retention, actor, runId);
    const vms = await repo.policyVms(policy.id);
    if (vms.length === 0) {
      await repo.updateRun(runId, { state: 'finished', finishedAt: new Date(clock.now()), message: 'no virtual machines are in this policy; nothing to prune' });
      return this.publish(runId);
    }
    const { keepLatestOfExistingVm, ...rules } = retention;
    // The newest backup of a VM still on its host is always kept; with keepLatestOfExistingVm
    // off, even deleted VMs keep their newest backup (the repository's own default).
    const unprotectedGroups = keepLatestOfExistingVm ? vms.filter((v) => v.present !== 1).map((v) => v.vm_uuid) : [];
    const dest = policy.destination_id;
    try {
      const node = await this.destinationNode(dest);
      const { workflowId } = await this.deps.engine.createWorkflow('RETENTION', `policy:${policy.name}`, actor, [
        { type: 'PRUNE', params: { destinationId: dest, retention: rules, dryRun: false, groups: vms.map((v) => v.vm_uuid), unprotectedGroups }, requiredNodeId: node, priority: 30 },
        { type: 'GC', params: { destinationId: dest, graceHours: this.deps.gcGraceHours }, requiredNodeId: node, priority: 30 },
      ], runId);
      await repo.updateRun(runId, { vms: vms.length, workflows: [workflowId] });
    } catch (err) {
      // A run that could not even start still ends, and says why.
      this.deps.logger.error({ err, policy: policy.name }, 'retention could not start');
      await repo.updateRun(runId, { state: 'failed', finishedAt: new Date(clock.now()), message: `retention could not start: ${(err as Error).message}` });
    }
    return this.publish(runId);
  }

  /**
   * An m365 policy's retention: a PRUNE of the backup points of the drives its members' backups
   * have on the destination (each drive on its own: keep last 2 keeps the last 2 points of every
   * drive), then GC. Users and sites no longer in the policy keep their backups.
   */
  private async m365Retention(policy: PolicyRow, retention: NonNullable<ReturnType<typeof storedRetention>>, actor: string, runId: number): Promise<PolicyRun | undefined> {
    const { repo, clock } = this.deps;
    const dest = policy.destination_id!;
    const { keepLatestOfExistingVm: _keep, ...rules } = retention; // a drive's newest point is always kept
    void _keep;
    try {
      const members = await this.m365Members(policy);
      const objectKeys = await this.m365().catalog.objectKeysOf(dest, { userIds: members.filter((m) => m.kind === 'user').map((m) => m.id), siteIds: members.filter((m) => m.kind === 'site').map((m) => m.id) });
      if (objectKeys.length === 0) {
        const message = members.length === 0 ? `${nothingIn(policy)} are in this policy; nothing to prune` : `no backups of this policy's users and sites are on its destination yet; nothing to prune`;
        await repo.updateRun(runId, { vms: members.length, state: 'finished', finishedAt: new Date(clock.now()), message });
        return this.publish(runId);
      }
      const node = await this.destinationNode(dest);
      const { workflowId } = await this.deps.engine.createWorkflow('RETENTION', `policy:${policy.name}`, actor, [
        { type: 'PRUNE', params: { destinationId: dest, retention: rules, dryRun: false, objectKeys }, requiredNodeId: node, priority: 30 },
        { type: 'GC', params: { destinationId: dest, graceHours: this.deps.gcGraceHours }, requiredNodeId: node, priority: 30 },
      ], runId);
      await repo.updateRun(runId, { vms: members.length, workflows: [workflowId] });
    } catch (err) {
      this.deps.logger.error({ err, policy: policy.name }, 'retention could not start');
      await repo.updateRun(runId, { state: 'failed', finishedAt: new Date(clock.now()), message: `retention could not start: ${(err as Error).message}` });
    }
    return this.publish(runId);
  }

  /**
   * Verifies the policy's destination: one VERIFY task checking the next part of the policy's
   * rotation (every chunk with one part). What it finds marks the catalog's backups; damage
   * fails the run (and notifies, as any failed run does).
   */
  async verify(policy: PolicyRow, trigger: 'schedule' | 'catch-up' | 'manual', scheduledFor: Date | null, actor: string): Promise<PolicyRun | undefined> {
    if (policy.kind === 'snapshot' || policy.destination_id === null) return undefined;
    const { repo, clock } = this.deps;
    const runId = await repo.insertRun({ policyId: policy.id, purpose: 'verify', trigger, backupType: null, scheduledFor, state: 'running', startedAt: new Date(clock.now()) });
    if (runId === undefined) return undefined;
    const dest = policy.destination_id;
    try {
      const node = await this.destinationNode(dest);
      const subset = await repo.nextVerifyPart(policy.id);
      const { workflowId } = await this.deps.engine.createWorkflow('VERIFY', `policy:${policy.name}`, actor, [
        { type: 'VERIFY', params: { destinationId: dest, ...(subset.of > 1 ? { subset } : {}) }, requiredNodeId: node, priority: 40 },
      ], runId);
      const part = subset.of > 1 ? `part ${subset.part + 1} of ${subset.of} of the chunks` : 'every chunk';
      await repo.updateRun(runId, { workflows: [workflowId], message: `verifying ${part}` });
    } catch (err) {
      this.deps.logger.error({ err, policy: policy.name }, 'verify could not start');
      await repo.updateRun(runId, { state: 'failed', finishedAt: new Date(clock.now()), message: `verify could not start: ${(err as Error).message}` });
    }
    return this.publish(runId);
  }

  /** After a restart: runs whose work ended while the server was down are finished now. */
  async recover(): Promise<void> {
    for (const run of await this.deps.repo.runningRuns()) await this.refresh(run.id);
  }

  private async destinationNode(destinationId: number): Promise<number | null> {
    const rows = await this.deps.repo.destinationNode(destinationId);
    return rows ?? null;
  }

  private async onTaskFinished(task: Task): Promise<void> {
    if (task.workflowId === null || !isFinalState(task.state)) return;
    for (const run of await this.deps.repo.runningRuns()) {
      if (json<number[]>(run.workflows).includes(task.workflowId)) await this.refresh(run.id);
    }
  }

  /** Counts the run's workflows; applies the failure threshold; finishes the run when all ended. */
  private async refresh(runId: number): Promise<void> {
    const { repo, clock } = this.deps;
    const run = await repo.run(runId);
    if (!run || run.state !== 'running') return;
    const ids = json<number[]>(run.workflows);
    const states = await repo.workflowStates(ids);
    const startFailures = run.purpose === 'run' ? run.vms - ids.length : 0;
    let succeeded = 0;
    let failed = startFailures;
    let cancelled = 0;
    const open: number[] = [];
    for (const id of ids) {
      const state = states.get(id) ?? 'CANCELLED';
      if (SUCCEEDED.has(state)) succeeded++;
      else if (state === 'FAILED') failed++;
      else if (state === 'CANCELLED') cancelled++;
      else open.push(id);
    }
    const policy = await repo.byId(run.policy_id);
    let message = run.message;
    const limit = policy?.fail_run_above_percent ?? null;
    if (run.purpose === 'run' && open.length > 0 && limit !== null && run.vms > 0 && (failed * 100) / run.vms > limit) {
      message = joinMessage(message, `${failed} of ${run.vms} backups failed, more than the policy's ${limit} %: the rest of the run was cancelled`);
      await repo.updateRun(runId, { message, thresholdCancelled: true });
      for (const id of open) await this.cancelWorkflow(id);
      return; // the cancellations come back through onTaskFinished and finish the run
    }
    if (open.length > 0) {
      await repo.updateRun(runId, { succeeded, failed, cancelled });
      await this.publish(runId);
      return;
    }
    const total = run.purpose === 'run' ? run.vms : ids.length;
    const state: PolicyRun['state'] =
      total === 0 ? 'finished' : failed === total || run.threshold_cancelled === 1 ? 'failed' : failed > 0 || cancelled > 0 ? 'finished_with_warnings' : 'finished';
    // A failed retention run says why (its steps' errors); any failed run at least how much failed.
    if (run.purpose !== 'run' && failed > 0) message = joinMessage(message, await this.failureReasons(ids));
    if (state === 'failed' && !message) message = `${failed} of ${total} ${run.purpose === 'run' ? 'backups' : `${run.purpose} steps`} failed`;
    // Its jobs list row then reads the sums once kept, not every task of the run again.
    await this.deps.jobs.recordRunTotals(runId).catch((err: unknown) => this.deps.logger.warn({ err, runId }, 'could not keep the totals of a policy run'));
    await repo.updateRun(runId, { succeeded, failed, cancelled, state, finishedAt: new Date(clock.now()), message });
    const finished = await this.publish(runId);
    this.deps.logger.info({ policy: run.policy_name, runId, purpose: run.purpose, state, succeeded, failed, cancelled }, 'policy run ended');
    if (!finished || !policy) return;
    if (state !== 'finished') await this.deps.notifications.notify({ kind: 'policy.failed', run: finished });
    if (run.purpose === 'run' && succeeded > 0) {
      await this.retention(policy, 'retention', null, 'scheduler').catch((err: unknown) => this.deps.logger.error({ err, policy: policy.name }, 'retention after the policy run could not start'));
    }
  }

  /** "PRUNE failed: <its error>" for every failed task of these workflows. */
  private async failureReasons(workflowIds: number[]): Promise<string> {
    const reasons: string[] = [];
    for (const id of workflowIds) {
      for (const t of await this.deps.tasks.workflowTasks(id)) {
        if (t.state === 'FAILED') reasons.push(`${t.type} failed: ${t.error?.trim() || 'the node gave no reason; see the task log'}`);
      }
    }
    return reasons.length > 0 ? reasons.join('; ') : 'a step failed; see its task';
  }

  private async cancelWorkflow(workflowId: number): Promise<void> {
    for (const t of await this.deps.tasks.workflowTasks(workflowId)) {
      if (isFinalState(t.state)) continue;
      await this.deps.engine.cancel(t.id, false, 'scheduler').catch((err: unknown) => this.deps.logger.warn({ err, taskId: t.id }, 'could not cancel a task of a policy run'));
    }
  }

  private async publish(runId: number): Promise<PolicyRun | undefined> {
    const row: PolicyRunRow | undefined = await this.deps.repo.run(runId);
    if (!row) return undefined;
    const run = toPolicyRun(row);
    this.deps.bus.publish({ type: 'policy.run', run });
    return run;
  }
}

/** What an empty policy has none of. */
function nothingIn(policy: PolicyRow): string {
  return policy.kind === 'm365' ? 'no Microsoft 365 users or sites' : 'no virtual machines';
}

function joinMessage(a: string | null, b: string): string {
  return a ? `${a}; ${b}` : b;
}
