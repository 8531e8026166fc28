import { DateTime } from 'luxon';
import type { Logger } from 'pino';
import type { ChangePolicyVms, CreatePolicy, Policy, PolicyKind, PolicyPreview, PolicyPreviewRequest, PolicyRun, ScheduledRun, UpdatePolicy } from '../../../common/api/policies.js';
import { pageOf } from '../../../common/api/paging.js';
import type { PolicyRunPage, PolicyRunsQuery } from '../../../common/api/policies.js';
import type { Retention } from '../../../common/api/destinations.js';
import { applyRetention } from '../../../common/retention.js';
import { parseScheduleSpec, type ScheduleRule } from '../../../common/schedule.js';
import { defaultTimeZone, isValidTimeZone, nextOccurrences } from '../../../common/schedule-occurrences.js';
import type { AuditService } from '../auth/audit.service.js';
import type { Principal } from '../auth/auth.service.js';
import type { Clock } from '../clock.js';
import { copyUnreachable } from '../copies/copy-reach.js';
import type { Catalog } from '../db/catalog.js';
import type { DestinationsRepository } from '../destinations/destinations.repository.js';
import { badRequest, conflict, notFound } from '../errors.js';
import type { EventBus } from '../events/event-bus.js';
import type { InventoryRepository, VmRow } from '../inventory/inventory.repository.js';
import type { PolicyRunner } from '../scheduler/policy-runner.js';
import type { Scheduler } from '../scheduler/scheduler.js';
import { matchVm, planAssignments } from '../../../common/policy-assignment.js';
import type { M365PolicyMembers } from './m365-policy-members.js';
import { json, storedRetention, toPolicyRun, type PoliciesRepository, type PolicyFields, type PolicyRetention, type PolicyRow } from './policies.repository.js';

export interface PoliciesServiceDeps {
  catalog: Catalog;
  repo: PoliciesRepository;
  inventory: InventoryRepository;
  destinations: DestinationsRepository;
  runner: PolicyRunner;
  audit: AuditService;
  bus: EventBus;
  logger: Logger;
  clock: Clock;
  /** The users and sites of m365 policies (without it, m365 policies list none). */
  m365Members?: Pick<M365PolicyMembers, 'of'>;
}

/**
 * Backup, snapshot and Microsoft 365 policies: what they are, which VMs are in them (m365
 * policies: which users and sites, computed from their rules: M365PolicyMembers), and what they
 * would do (previews).
 */
export class PoliciesService {
  private scheduler: Scheduler | undefined;

  constructor(private readonly d: PoliciesServiceDeps) {}

  bindScheduler(scheduler: Scheduler): void {
    this.scheduler = scheduler;
  }

  async list(): Promise<Policy[]> {
    return Promise.all((await this.d.repo.list()).map((p) => this.toPolicy(p)));
  }

  async get(ref: string): Promise<Policy> {
    return this.toPolicy(await this.require(ref));
  }

  async create(req: CreatePolicy, by: Principal): Promise<Policy> {
    const same = await this.d.repo.byRef(req.name);
    if (same) throw conflict(`there is already a policy "${same.name}"`, 'name');
    const fields = await this.validate({ ...req, timeZone: req.timeZone ?? defaultTimeZone() }, req.kind);
    const id = await this.d.repo.insert(fields, new Date(this.d.clock.now()));
    await this.d.audit.record({ actor: by.user.username, action: 'policy.create', target: `policy:${req.name}`, details: { ...req } });
    await this.applyAutoAssignment(req.kind);
    this.changed();
    return this.toPolicy((await this.d.repo.byId(id))!);
  }

  async update(ref: string, req: UpdatePolicy, by: Principal): Promise<Policy> {
    const row = await this.require(ref);
    const current = this.fieldsOf(row);
    // Renaming to another spelling of its own name (case, accents) is fine; to another policy's name is not.
    const same = req.name === undefined ? undefined : await this.d.repo.byRef(req.name);
    if (same && same.id !== row.id) throw conflict(`there is already a policy "${same.name}"`, 'name');
    const merged = {
      name: req.name ?? current.name,
      destination: req.destination ?? (current.destinationId === null ? undefined : String(current.destinationId)),
      priority: req.priority ?? current.priority,
      enabled: req.enabled ?? current.enabled,
      timeZone: req.timeZone ?? current.timeZone,
      schedules: req.schedules ?? current.schedules,
      retention: req.retention === undefined ? (current.retention ?? undefined) : (req.retention ?? undefined),
      retentionSchedule: req.retentionSchedule === undefined ? current.retentionSchedule : req.retentionSchedule,
      verifySchedule: req.verifySchedule === undefined ? current.verifySchedule : req.verifySchedule,
      verifyParts: req.verifyParts ?? current.verifyParts,
      assignment: req.assignment ?? current.assignment,
      failRunAbovePercent: req.failRunAbovePercent === undefined ? current.failRunAbovePercent : req.failRunAbovePercent,
      copyTo: req.copyTo === undefined ? (current.copyDestinationId === null ? null : String(current.copyDestinationId)) : req.copyTo,
      // Stopping the copies drops their retention with them.
      copyRetention: req.copyRetention === undefined ? (req.copyTo === null ? null : current.copyRetention) : req.copyRetention,
    };
    const fields = await this.validate(merged, row.kind);
    await this.d.repo.update(row.id, fields);
    await this.d.audit.record({ actor: by.user.username, action: 'policy.update', target: `policy:${fields.name}`, details: { ...req } });
    await this.applyAutoAssignment(row.kind);
    this.changed();
    return this.toPolicy((await this.d.repo.byId(row.id))!);
  }

  async remove(ref: string, by: Principal): Promise<void> {
    const row = await this.require(ref);
    if ((await this.d.repo.runningRuns()).some((r) => r.policy_id === row.id)) throw conflict(`policy "${row.name}" is running; wait for the run to end or cancel its tasks first`);
    await this.d.repo.delete(row.id);
    await this.d.audit.record({ actor: by.user.username, action: 'policy.remove', target: `policy:${row.name}` });
    // Its VMs may now belong to another policy.
    await this.applyAutoAssignment(row.kind);
    this.changed();
  }

  /** Puts VMs in the policy by hand (a manual assignment is never undone by the rules). */
  async assign(ref: string, vmRefs: string[], by: Principal): Promise<Policy> {
    const row = this.takingVms(await this.require(ref));
    const vms = await Promise.all(vmRefs.map((v) => this.requireVm(v)));
    await this.d.catalog.transaction(async (tx) => {
      for (const vm of vms) await this.d.repo.assign(vm.id, row.kind, row.id, 'manual', tx);
    });
    await this.d.audit.record({ actor: by.user.username, action: 'policy.assign', target: `policy:${row.name}`, details: { vms: vms.map((v) => v.name) } });
    this.changed();
    return this.toPolicy(row);
  }

  async unassign(ref: string, vmRefs: string[], by: Principal): Promise<Policy> {
    const row = this.takingVms(await this.require(ref));
    const vms = await Promise.all(vmRefs.map((v) => this.requireVm(v)));
    const inPolicy = new Set((await this.d.repo.policyVms(row.id)).map((v) => v.vm_id));
    const stray = vms.find((v) => !inPolicy.has(v.id));
    if (stray) throw conflict(`VM "${stray.name}" is not in policy "${row.name}"`, 'vms');
    await this.d.catalog.transaction(async (tx) => {
      for (const vm of vms) await this.d.repo.unassign(vm.id, row.kind, tx);
    });
    await this.d.audit.record({ actor: by.user.username, action: 'policy.unassign', target: `policy:${row.name}`, details: { vms: vms.map((v) => v.name) } });
    this.changed();
    return this.toPolicy(row);
  }

  /**
   * The form's VM checklist in one change: VMs put in by hand (a VM in another policy of the
   * same kind moves here, as with assign) and VMs taken out, in one transaction, or nothing
   * when any is refused. The rules are applied again afterwards, so a VM taken out that they
   * match is back at once as theirs rather than at the next inventory sync.
   */
  async changeVms(ref: string, change: ChangePolicyVms, by: Principal): Promise<Policy> {
    const row = this.takingVms(await this.require(ref));
    const assign = await this.resolveVms(change.assign, 'assign');
    const unassign = await this.resolveVms(change.unassign, 'unassign');
    const assigned = new Set(assign.map(({ vm }) => vm.id));
    const both = unassign.find(({ vm }) => assigned.has(vm.id));
    if (both) throw badRequest(`VM "${both.vm.name}" is both put in (assign) and taken out (unassign)`, `unassign.${both.index}`);
    const current = new Map((await this.d.repo.assignments(row.kind)).map((a) => [a.vm_id, a]));
    const stray = unassign.find(({ vm }) => current.get(vm.id)?.policy_id !== row.id);
    if (stray) throw conflict(`VM "${stray.vm.name}" is not in policy "${row.name}"`, `unassign.${stray.index}`);
    const names = new Map((await this.d.repo.list()).map((p) => [p.id, p.name]));
    const moved = assign.flatMap(({ vm }) => {
      const from = current.get(vm.id);
      return from && from.policy_id !== row.id ? [{ vm: vm.name, from: names.get(from.policy_id) ?? `policy ${from.policy_id}` }] : [];
    });
    await this.d.catalog.transaction(async (tx) => {
      for (const { vm } of assign) await this.d.repo.assign(vm.id, row.kind, row.id, 'manual', tx);
      for (const { vm } of unassign) await this.d.repo.unassign(vm.id, row.kind, tx);
    });
    const target = `policy:${row.name}`;
    if (assign.length > 0) await this.d.audit.record({ actor: by.user.username, action: 'policy.assign', target, details: { vms: assign.map(({ vm }) => vm.name), moved } });
    if (unassign.length > 0) await this.d.audit.record({ actor: by.user.username, action: 'policy.unassign', target, details: { vms: unassign.map(({ vm }) => vm.name) } });
    await this.applyAutoAssignment(row.kind);
    this.changed();
    return this.toPolicy(row);
  }

  async runNow(ref: string, backupType: 'full' | 'incremental' | undefined, by: Principal): Promise<PolicyRun> {
    const row = await this.require(ref);
    if ((await this.d.repo.runningRuns()).some((r) => r.policy_id === row.id && r.purpose === 'run')) throw conflict(`policy "${row.name}" is already running`);
    const run = await this.d.runner.start(row, { trigger: 'manual', backupType: backupType ?? null, scheduledFor: null }, by.user.username);
    await this.d.audit.record({ actor: by.user.username, action: 'policy.run', target: `policy:${row.name}`, details: { backupType: backupType ?? null, runId: run?.id ?? null } });
    return run!;
  }

  async retentionNow(ref: string, by: Principal): Promise<PolicyRun> {
    const row = await this.require(ref);
    if (!storedRetention(row.retention) || row.destination_id === null) throw conflict(`policy "${row.name}" has no retention rules`, 'retention');
    const run = await this.d.runner.retention(row, 'manual', null, by.user.username);
    await this.d.audit.record({ actor: by.user.username, action: 'policy.retention', target: `policy:${row.name}`, details: { runId: run?.id ?? null } });
    return run!;
  }

  /** Verifies the policy's destination now: the next part of its rotation (all of it with one part). */
  async verifyNow(ref: string, by: Principal): Promise<PolicyRun> {
    const row = await this.require(ref);
    if (row.kind === 'snapshot' || row.destination_id === null) throw conflict(`policy "${row.name}" keeps no backups to verify`, 'kind');
    const run = await this.d.runner.verify(row, 'manual', null, by.user.username);
    await this.d.audit.record({ actor: by.user.username, action: 'policy.verify', target: `policy:${row.name}`, details: { runId: run?.id ?? null } });
    return run!;
  }

  async runs(q: PolicyRunsQuery): Promise<PolicyRunPage> {
    const policyId = q.policy === undefined ? undefined : (await this.require(q.policy)).id;
    const page = pageOf(await this.d.repo.runs({ ...q, policyId }), q.limit, (r) => String(r.id));
    return { runs: page.rows.map(toPolicyRun), nextCursor: page.nextCursor };
  }


  /**
   * Applies the auto-assignment rules of every policy of a kind to the whole inventory.
   * Called after an inventory sync and after a policy changes.
   */
  async applyAutoAssignment(kind: PolicyKind = 'backup'): Promise<{ assigned: number; removed: number }> {
    if (kind === 'm365') return { assigned: 0, removed: 0 }; // its members are computed at each run, never stored
    const policies = (await this.d.repo.list()).filter((p) => p.kind === kind).map((p) => ({ id: p.id, name: p.name, priority: p.priority, assignment: json(p.assignment) }));
    const current = new Map((await this.d.repo.assignments(kind)).map((a) => [a.vm_id, { policyId: a.policy_id, source: a.source }]));
    const vms = (await this.d.inventory.vms()).map((v) => ({ id: v.id, name: v.name, hypervisor: v.hypervisor_name, present: v.present === 1, current: current.get(v.id) ?? null }));
    const plan = planAssignments(policies, vms);
    if (plan.assign.length === 0 && plan.unassign.length === 0) return { assigned: 0, removed: 0 };
    await this.d.catalog.transaction(async (tx) => {
      for (const a of plan.assign) await this.d.repo.assign(a.vmId, kind, a.policyId, 'auto', tx);
      for (const vmId of plan.unassign) await this.d.repo.unassign(vmId, kind, tx);
    });
    this.d.logger.info({ kind, assigned: plan.assign.length, removed: plan.unassign.length }, 'policy auto-assignment applied');
    this.changed();
    return { assigned: plan.assign.length, removed: plan.unassign.length };
  }

  async preview(req: PolicyPreviewRequest): Promise<PolicyPreview> {
    const existing = req.policy ? await this.require(req.policy) : undefined;
    const base = existing ? this.fieldsOf(existing) : undefined;
    const kind = existing?.kind ?? req.kind ?? 'backup';
    const timeZone = req.timeZone ?? base?.timeZone ?? defaultTimeZone();
    if (!isValidTimeZone(timeZone)) throw badRequest(`"${timeZone}" is not a time zone; use an IANA name such as Europe/Berlin`, 'timeZone');
    const scheduleErrors: PolicyPreview['scheduleErrors'] = [];
    const rules: ScheduleRule[] = [];
    (req.schedules ?? base?.schedules ?? []).forEach((spec, index) => {
      try {
        rules.push(parseScheduleSpec(spec, { backupType: kind === 'snapshot' ? 'forbidden' : 'required' }));
      } catch (err) {
        scheduleErrors.push({ index, message: (err as Error).message });
      }
    });
    const nextRuns: ScheduledRun[] = nextOccurrences(rules, timeZone, this.d.clock.now(), req.count).map((o) => ({ at: new Date(o.at).toISOString(), backupType: o.backupType, rule: o.rule }));

    const assignmentRules = req.assignment ?? base?.assignment;
    const vms = await this.d.inventory.vms();
    const current = new Map((await this.d.repo.assignments(kind)).map((a) => [a.vm_id, a]));
    const names = new Map((await this.d.repo.list()).map((p) => [p.id, p.name]));
    const assignment: PolicyPreview['assignment'] = vms
      .filter((v) => v.present === 1 && kind !== 'm365')
      .map((v) => {
        const cur = current.get(v.id);
        const now = { vmId: v.id, currentPolicy: cur ? (names.get(cur.policy_id) ?? null) : null, currentPolicyId: cur?.policy_id ?? null, currentSource: cur?.source ?? null };
        const m = assignmentRules ? matchVm(assignmentRules, { name: v.name, hypervisor: v.hypervisor_name }) : { matches: false, reason: 'no assignment rules' };
        if (m.matches && cur && cur.policy_id !== existing?.id && cur.source === 'manual') {
          return { vm: v.name, hypervisor: v.hypervisor_name, matches: false, reason: `assigned by hand to policy "${now.currentPolicy}"`, ...now };
        }
        return { vm: v.name, hypervisor: v.hypervisor_name, matches: m.matches, reason: m.reason, ...now };
      });

    const retention = req.retention === null ? undefined : (req.retention ?? base?.retention ?? undefined);
    const destinationRef = req.destination ?? (base?.destinationId != null ? String(base.destinationId) : undefined);
    let retentionPreview: PolicyPreview['retention'] = [];
    if (retention && destinationRef && kind === 'backup') {
      const dest = await this.d.destinations.byRef(destinationRef);
      if (!dest) throw notFound(`there is no destination "${destinationRef}"`);
      // The VMs the policy covers: those in it now, or (for a new policy) those its rules match.
      const inPolicy = existing ? new Set((await this.d.repo.policyVms(existing.id)).map((v) => v.vm_uuid)) : new Set(vms.filter((v) => assignment.find((a) => a.vm === v.name && a.matches)).map((v) => v.uuid));
      retentionPreview = await this.retentionPreview(dest.id, retention, inPolicy, vms, timeZone);
    }
    return { nextRuns, scheduleErrors, assignment, retention: retentionPreview };
  }

  /** Dashboard: the next scheduled run of each enabled policy, soonest first. */
  async nextRuns(limit: number): Promise<(ScheduledRun & { policy: string; policyId: number })[]> {
    const now = this.d.clock.now();
    const all = (await this.d.repo.list())
      .filter((p) => p.enabled === 1)
      .flatMap((p) => nextOccurrences(this.rules(p), p.time_zone, now, limit).map((o) => ({ at: new Date(o.at).toISOString(), backupType: o.backupType, rule: o.rule, policy: p.name, policyId: p.id })));
    return all.sort((a, b) => a.at.localeCompare(b.at)).slice(0, limit);
  }

  private async retentionPreview(destinationId: number, retention: PolicyRetention, groups: Set<string>, vms: VmRow[], timeZone: string): Promise<PolicyPreview['retention']> {
    const backups = (await this.d.destinations.listBackups({ destinationId, status: 'available', limit: 100_000, offset: 0 })).filter((b) => groups.has(b.vm));
    const present = new Set(vms.filter((v) => v.present === 1).map((v) => v.uuid));
    const protectedIds = new Set(backups.filter((b) => b.protected).map((b) => String(b.id)));
    const { keepLatestOfExistingVm, ...rules } = retention;
    const now = this.d.clock.now();
    const decisions = applyRetention(
      backups.map((b) => ({ id: String(b.id), group: b.vm, createdAt: b.createdAt })),
      rules,
      now,
      {
        utcOffsetMinutes: DateTime.fromMillis(now, { zone: timeZone }).offset,
        protectNewest: (g) => !keepLatestOfExistingVm || present.has(g),
        // The node keeps them too: each PRUNE gets the protected backups when it is sent (BackupsService).
        isProtected: (id) => protectedIds.has(id),
      },
    );
    const vmName = new Map(vms.map((v) => [v.uuid, v.name]));
    return decisions
      .map((d) => ({ backupId: Number(d.id), vm: vmName.get(d.group) ?? d.group, createdAt: d.createdAt, keep: d.keep, reasons: d.reasons }))
      .sort((a, b) => a.vm.localeCompare(b.vm) || b.createdAt.localeCompare(a.createdAt));
  }

  private rules(p: PolicyRow): ScheduleRule[] {
    return this.scheduler ? this.scheduler.rulesOf(p) : [];
  }

  private async validate(
    r: Omit<CreatePolicy, 'kind' | 'timeZone'> & { timeZone: string; retention?: PolicyRetention | undefined; retentionSchedule?: string | null | undefined; verifySchedule?: string | null | undefined },
    kind: PolicyKind,
  ): Promise<PolicyFields> {
    if (!isValidTimeZone(r.timeZone)) throw badRequest(`"${r.timeZone}" is not a time zone; use an IANA name such as Europe/Berlin`, 'timeZone');
    r.schedules.forEach((spec, i) => {
      try {
        parseScheduleSpec(spec, { backupType: kind === 'snapshot' ? 'forbidden' : 'required' });
      } catch (err) {
        throw badRequest(`schedule ${i + 1} ("${spec}"): ${(err as Error).message}`, `schedules.${i}`);
      }
    });
    if (r.retentionSchedule) {
      try {
        parseScheduleSpec(r.retentionSchedule, { backupType: 'forbidden' });
      } catch (err) {
        throw badRequest(`retention schedule ("${r.retentionSchedule}"): ${(err as Error).message}`, 'retentionSchedule');
      }
    }
    if (r.verifySchedule) {
      try {
        parseScheduleSpec(r.verifySchedule, { backupType: 'forbidden' });
      } catch (err) {
        throw badRequest(`verify schedule ("${r.verifySchedule}"): ${(err as Error).message}`, 'verifySchedule');
      }
      if (kind === 'snapshot') throw badRequest('snapshot policies keep no backups to verify; they have no verify schedule', 'verifySchedule');
    }
    let destinationId: number | null = null;
    if (kind === 'm365' && r.assignment.hypervisors.length > 0) {
      throw badRequest('a Microsoft 365 policy takes users and sites by their principal name or site name (include, exclude), not by hypervisor: leave hypervisors empty', 'assignment.hypervisors');
    }
    if (kind !== 'snapshot') {
      if (!r.destination) throw badRequest(`a ${kind === 'm365' ? 'Microsoft 365' : 'backup'} policy needs a destination`, 'destination');
      const dest = await this.d.destinations.byRef(r.destination);
      if (!dest) throw notFound(`there is no destination "${r.destination}"`, 'destination');
      destinationId = dest.id;
    }
    if (r.retentionSchedule && !r.retention) throw badRequest('a retention schedule needs retention rules', 'retentionSchedule');
    if (kind === 'snapshot') {
      if (r.retentionSchedule) throw badRequest('snapshot policies rotate their snapshots at each run; they have no retention schedule', 'retentionSchedule');
      const { keepLatestOfExistingVm: _keep, keepLast, maxAgeDays: _age, ...others } = r.retention ?? { keepLatestOfExistingVm: true };
      void _keep;
      void _age;
      if (Object.values(others).some((v) => v !== undefined) || (r.retention && keepLast === undefined)) {
        throw badRequest('a snapshot policy keeps the last N snapshots of each VM (keepLast), optionally none older than maxAgeDays; other retention rules do not apply', 'retention');
      }
    }
    const copyDestinationId = await this.copyTarget(r.copyTo ?? null, destinationId, kind);
    if (r.copyRetention && copyDestinationId === null) throw badRequest('a copy retention needs a destination to copy to (copyTo)', 'copyRetention');
    return {
      name: r.name,
      kind,
      destinationId,
      priority: r.priority,
      enabled: r.enabled,
      timeZone: r.timeZone,
      schedules: r.schedules.map((s) => parseScheduleSpec(s).spec),
      retention: r.retention ?? null,
      retentionSchedule: r.retentionSchedule ? parseScheduleSpec(r.retentionSchedule).spec : null,
      verifySchedule: r.verifySchedule ? parseScheduleSpec(r.verifySchedule).spec : null,
      verifyParts: r.verifyParts,
      assignment: r.assignment,
      failRunAbovePercent: r.failRunAbovePercent,
      copyDestinationId,
      copyRetention: copyDestinationId === null ? null : (r.copyRetention ?? null),
    };
  }

  /** The destination a backup policy copies each backup to: another one, reachable from the policy's destination's node. */
  private async copyTarget(ref: string | null, destinationId: number | null, kind: PolicyKind): Promise<number | null> {
    if (ref === null || ref.trim() === '') return null;
    if (kind !== 'backup') throw badRequest(`only backup policies copy their backups; a ${kind === 'm365' ? 'Microsoft 365' : kind} policy cannot`, 'copyTo');
    const target = await this.d.destinations.byRef(ref);
    if (!target) throw notFound(`there is no destination "${ref}"`, 'copyTo');
    const source = destinationId === null ? undefined : await this.d.destinations.byId(destinationId);
    if (!source) return target.id;
    if (source.id === target.id) throw badRequest(`copies go to another destination than the policy's own ("${source.name}")`, 'copyTo');
    const unreachable = copyUnreachable(source, target);
    if (unreachable) throw conflict(unreachable, 'copyTo');
    return target.id;
  }

  private fieldsOf(p: PolicyRow): PolicyFields {
    return {
      name: p.name,
      kind: p.kind,
      destinationId: p.destination_id,
      priority: p.priority,
      enabled: p.enabled === 1,
      timeZone: p.time_zone,
      schedules: json<string[]>(p.schedules),
      retention: storedRetention(p.retention),
      retentionSchedule: p.retention_schedule,
      verifySchedule: p.verify_schedule,
      verifyParts: p.verify_parts,
      assignment: json(p.assignment),
      failRunAbovePercent: p.fail_run_above_percent,
      copyDestinationId: p.copy_destination_id,
      copyRetention: p.copy_retention ? json<Retention>(p.copy_retention) : null,
    };
  }

  private async toPolicy(p: PolicyRow): Promise<Policy> {
    const f = this.fieldsOf(p);
    const next = p.enabled === 1 ? nextOccurrences(this.rules(p), p.time_zone, this.d.clock.now(), 1)[0] : undefined;
    const last = await this.d.repo.lastRun(p.id);
    return {
      id: p.id,
      name: p.name,
      kind: p.kind,
      destinationId: p.destination_id,
      destination: p.destination_name,
      priority: p.priority,
      enabled: f.enabled,
      timeZone: p.time_zone,
      schedules: f.schedules,
      retention: f.retention,
      retentionSchedule: f.retentionSchedule,
      verifySchedule: f.verifySchedule,
      verifyParts: f.verifyParts,
      assignment: f.assignment,
      failRunAbovePercent: f.failRunAbovePercent,
      copyDestinationId: f.copyDestinationId,
      copyDestination: p.copy_destination_name,
      copyRetention: f.copyRetention,
      vms: (await this.d.repo.policyVms(p.id)).map((v) => ({ id: v.vm_id, name: v.vm_name, source: v.source })),
      ...(p.kind === 'm365' ? { m365Members: ((await this.d.m365Members?.of(p)) ?? []).map((m) => ({ kind: m.kind, id: m.id, name: m.name, tenant: m.tenant })) } : {}),
      nextRun: next ? { at: new Date(next.at).toISOString(), backupType: next.backupType, rule: next.rule } : null,
      lastRun: last ? toPolicyRun(last) : null,
      createdAt: p.created_at.toISOString(),
      updatedAt: p.updated_at.toISOString(),
    };
  }

  /** VMs go into backup and snapshot policies only; an m365 policy's members follow from its rules. */
  private takingVms(row: PolicyRow): PolicyRow {
    if (row.kind === 'm365') throw badRequest(`policy "${row.name}" backs up Microsoft 365 users and sites, chosen by its include and exclude rules; it takes no VMs`, 'vms');
    return row;
  }

  private changed(): void {
    this.d.bus.publish({ type: 'policies.changed' });
    void this.scheduler?.tick();
  }

  private async require(ref: string): Promise<PolicyRow> {
    const row = await this.d.repo.byRef(ref);
    if (!row) throw notFound(`there is no policy "${ref}"`);
    return row;
  }

  /** Each VM of a list once, with the position it was first named at (a refusal names "list.N"). */
  private async resolveVms(refs: readonly string[], list: string): Promise<{ vm: VmRow; index: number }[]> {
    const resolved = new Map<number, { vm: VmRow; index: number }>();
    for (const [index, ref] of refs.entries()) {
      const vm = await this.requireVm(ref, `${list}.${index}`);
      if (!resolved.has(vm.id)) resolved.set(vm.id, { vm, index });
    }
    return [...resolved.values()];
  }

  private async requireVm(ref: string, field = 'vms'): Promise<VmRow> {
    const found = await this.d.inventory.vm(ref);
    if (!found) throw notFound(`there is no VM "${ref}"`, field);
    if (Array.isArray(found)) throw conflict(`more than one VM is called "${ref}"; use its UUID`, field);
    return found;
  }
}
