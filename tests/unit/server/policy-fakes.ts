/**
 * Small in-memory stand-ins for what the Scheduler and the PolicyRunner are built with, so
 * their logic runs without MariaDB: a policies repository keeping rows in arrays, a task
 * engine that records workflows and lets the test end them, notifications that record what
 * they were told, and a clock the test moves. Each implements only what those two classes call.
 */
import pino from 'pino';
import type { PolicyRun } from '../../../common/api/policies.js';
import type { Task, TaskState, TaskType } from '../../../common/api/tasks.js';
import type { Clock } from '../../../electron/server/clock.js';
import type { Catalog } from '../../../electron/server/db/catalog.js';
import { EventBus } from '../../../electron/server/events/event-bus.js';
import type { VmBackupsService } from '../../../electron/server/inventory/vm-backups.service.js';
import type { NotificationEvent } from '../../../electron/server/notifications/notification-events.js';
import type { NotificationsService } from '../../../electron/server/notifications/notifications.service.js';
import type { M365Protectable } from '../../../electron/server/m365/m365-inventory.repository.js';
import type { PoliciesRepository, PolicyRow, PolicyRunRow, VmAssignmentRow } from '../../../electron/server/policies/policies.repository.js';
import { PolicyRunner } from '../../../electron/server/scheduler/policy-runner.js';
import { TaskListeners } from '../../../electron/server/tasks/task-contracts.js';
import type { TaskEngine } from '../../../electron/server/tasks/task-engine.service.js';
import { toTask, type NewTask, type TaskRow, type TasksRepository } from '../../../electron/server/tasks/tasks.repository.js';

export const silentLogger = pino({ level: 'silent' });

export class TestClock implements Clock {
  constructor(public ms: number) {}
  now(): number {
    return this.ms;
  }
  set(iso: string): void {
    this.ms = Date.parse(iso);
  }
}

let nextPolicyId = 1;

/** A policy row as the catalog returns it; the fields a test does not name are the defaults of a new backup policy. */
export type PolicyInit = Partial<Omit<PolicyRow, 'schedules'>> & { schedules?: string[] };

export function policyRow(p: PolicyInit & { name: string }): PolicyRow {
  const created = p.created_at ?? new Date('2027-01-01T00:00:00Z');
  return {
    id: nextPolicyId++,
    kind: 'backup',
    destination_id: 5,
    destination_name: 'nas',
    priority: 50,
    enabled: 1,
    time_zone: 'UTC',
    retention: null,
    retention_schedule: null,
    verify_schedule: null,
    verify_parts: 1,
    verify_runs: 0,
    assignment: { include: [], exclude: [], hypervisors: [], mode: 'assign-only' },
    fail_run_above_percent: null,
    copy_destination_id: null,
    copy_destination_name: null,
    copy_retention: null,
    evaluated_until: created,
    updated_at: created,
    ...p,
    created_at: created,
    schedules: JSON.stringify(p.schedules ?? []),
  };
}

export function vmRow(policy: PolicyRow, n: number, present = true): VmAssignmentRow {
  return {
    vm_id: 100 + n,
    vm_name: `vm-${n}`,
    vm_uuid: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
    present: present ? 1 : 0,
    hypervisor_name: 'kvm1',
    hypervisor_uri: 'qemu:///system',
    node_id: 7,
    policy_id: policy.id,
    source: 'auto',
  };
}

type InsertRun = Parameters<PoliciesRepository['insertRun']>[0];
type RunPatch = Parameters<PoliciesRepository['updateRun']>[1];

/** The workflows and their tasks, shared by the fake engine and the fake repositories (the catalog's workflows and tasks tables). */
export class WorkflowTable {
  readonly states = new Map<number, TaskState>();
  readonly tasks = new Map<number, TaskRow[]>();
}

/** PoliciesRepository in memory: the methods the Scheduler and the PolicyRunner use, with the occurrence key the table has. */
export class FakePoliciesRepo {
  readonly policies: PolicyRow[] = [];
  readonly runs: PolicyRunRow[] = [];
  readonly vms = new Map<number, VmAssignmentRow[]>();
  readonly destinationNodes = new Map<number, number>([[5, 9]]);

  constructor(private readonly workflows: WorkflowTable) {}

  add(policy: PolicyRow, vms: VmAssignmentRow[] = []): PolicyRow {
    this.policies.push(policy);
    this.vms.set(policy.id, vms);
    return policy;
  }

  async list(): Promise<PolicyRow[]> {
    return [...this.policies];
  }
  async byId(id: number): Promise<PolicyRow | undefined> {
    return this.policies.find((p) => p.id === id);
  }
  async setEvaluatedUntil(id: number, at: Date): Promise<void> {
    const p = this.policies.find((x) => x.id === id);
    if (p && (p.evaluated_until === null || p.evaluated_until < at)) p.evaluated_until = at;
  }
  async policyVms(policyId: number): Promise<VmAssignmentRow[]> {
    return this.vms.get(policyId) ?? [];
  }
  async nextVerifyPart(id: number): Promise<{ part: number; of: number }> {
    const p = this.policies.find((x) => x.id === id);
    if (!p) throw new Error(`policy ${id} is gone`);
    const of = Math.max(1, p.verify_parts);
    return { part: p.verify_runs++ % of, of };
  }
  async destinationNode(destinationId: number): Promise<number | undefined> {
    return this.destinationNodes.get(destinationId);
  }

  /** uq_policy_runs_occurrence (policy_id, purpose, scheduled_for): NULLs never collide. */
  async insertRun(r: InsertRun): Promise<number | undefined> {
    const at = r.scheduledFor?.getTime();
    if (at !== undefined && this.runs.some((x) => x.policy_id === r.policyId && x.purpose === r.purpose && x.scheduled_for?.getTime() === at)) return undefined;
    const id = this.runs.length + 1;
    this.runs.push({
      id,
      policy_id: r.policyId,
      policy_name: this.policies.find((p) => p.id === r.policyId)?.name ?? '?',
      purpose: r.purpose,
      trigger: r.trigger,
      backup_type: r.backupType,
      scheduled_for: r.scheduledFor,
      started_at: r.startedAt,
      finished_at: r.finishedAt ?? null,
      state: r.state,
      vms: 0,
      succeeded: 0,
      failed: 0,
      cancelled: 0,
      message: r.message ?? null,
      workflows: '[]',
      threshold_cancelled: 0,
    });
    return id;
  }
  async run(id: number): Promise<PolicyRunRow | undefined> {
    const r = this.runs.find((x) => x.id === id);
    return r ? { ...r } : undefined;
  }
  async runningRuns(): Promise<PolicyRunRow[]> {
    return this.runs.filter((r) => r.state === 'running').map((r) => ({ ...r }));
  }
  async updateRun(id: number, f: RunPatch): Promise<void> {
    const r = this.runs.find((x) => x.id === id);
    if (!r) return;
    if (f.state !== undefined) r.state = f.state;
    if (f.vms !== undefined) r.vms = f.vms;
    if (f.succeeded !== undefined) r.succeeded = f.succeeded;
    if (f.failed !== undefined) r.failed = f.failed;
    if (f.cancelled !== undefined) r.cancelled = f.cancelled;
    if (f.message !== undefined) r.message = f.message;
    if (f.workflows !== undefined) r.workflows = JSON.stringify(f.workflows);
    if (f.finishedAt !== undefined) r.finished_at = f.finishedAt;
    if (f.thresholdCancelled !== undefined) r.threshold_cancelled = f.thresholdCancelled ? 1 : 0;
  }
  async workflowStates(ids: readonly number[]): Promise<Map<number, string>> {
    return new Map(ids.flatMap((id) => (this.workflows.states.has(id) ? [[id, this.workflows.states.get(id)!] as const] : [])));
  }

  runsOf(policy: PolicyRow): PolicyRunRow[] {
    return this.runs.filter((r) => r.policy_id === policy.id);
  }
}

export interface CreatedWorkflow {
  id: number;
  type: string;
  subject: string | null;
  createdBy: string | null;
  steps: NewTask[];
}

/** The task engine's surface the runner uses: createWorkflow, cancel and the finished-task listeners. The test ends workflows. */
export class FakeEngine {
  readonly listeners = new TaskListeners(silentLogger);
  readonly created: CreatedWorkflow[] = [];
  readonly cancels: { taskId: number; force: boolean; by: string }[] = [];
  private nextTaskId = 1;

  constructor(private readonly workflows: WorkflowTable) {}

  async createWorkflow(type: string, subject: string | null, createdBy: string | null, steps: NewTask[]): Promise<{ workflowId: number; taskIds: number[] }> {
    const id = this.created.length + 1;
    this.created.push({ id, type, subject, createdBy, steps });
    const rows = steps.map((s, seq) => taskRow(this.nextTaskId++, id, seq, s.type, 'QUEUED'));
    this.workflows.states.set(id, 'QUEUED');
    this.workflows.tasks.set(id, rows);
    return { workflowId: id, taskIds: rows.map((r) => r.id) };
  }

  async cancel(taskId: number, force: boolean, by: string): Promise<Task> {
    this.cancels.push({ taskId, force, by });
    return toTask([...this.workflows.tasks.values()].flat().find((t) => t.id === taskId)!);
  }

  /**
   * Ends a workflow as the engine would: FINISHED ends every step; FAILED fails the first open
   * step with `error` and cancels the rest; CANCELLED cancels every open step. Then the
   * finished-task listeners hear of the last step, as they do of every task.
   */
  async finish(workflowId: number, state: 'FINISHED' | 'FINISHED_WITH_WARNINGS' | 'FAILED' | 'CANCELLED', error?: string): Promise<void> {
    const rows = this.workflows.tasks.get(workflowId) ?? [];
    let failedOne = false;
    for (const t of rows) {
      if (t.state !== 'QUEUED' && t.state !== 'RUNNING') continue;
      if (state === 'FAILED' && !failedOne) {
        failedOne = true;
        t.state = 'FAILED';
        t.error = error ?? null;
      } else {
        t.state = state === 'FAILED' ? 'CANCELLED' : state;
      }
    }
    this.workflows.states.set(workflowId, state);
    const last = rows.at(-1);
    if (last) await this.listeners.emitFinished(toTask(last));
  }
}

export function taskRow(id: number, workflowId: number, seq: number, type: TaskType, state: TaskState): TaskRow {
  return {
    id,
    workflow_id: workflowId,
    seq,
    depends_on: null,
    type,
    state,
    priority: 50,
    node_id: null,
    required_node_id: null,
    subject: null,
    params: {},
    result: null,
    error: null,
    warnings: null,
    bytes_done: 0,
    bytes_total: null,
    rate: null,
    progress_message: null,
    attempt: 1,
    max_attempts: 1,
    not_before: null,
    cancel_requested: 0,
    created_by: null,
    created_at: new Date(0),
    started_at: null,
    finished_at: null,
  };
}

export class FakeNotifications {
  readonly events: NotificationEvent[] = [];
  readonly dailyReports: number[] = [];
  dailyReport: { spec: string; timeZone: string } | null = null;

  async notify(event: NotificationEvent): Promise<void> {
    this.events.push(event);
  }
  async dailyReportSchedule(): Promise<{ spec: string; timeZone: string } | null> {
    return this.dailyReport;
  }
  async runDailyReport(nowMs: number): Promise<void> {
    this.dailyReports.push(nowMs);
  }
  kinds(): string[] {
    return this.events.map((e) => `${e.kind} ${e.kind === 'task.failed' ? e.task.id : `${e.run.policy}/${e.run.state}`}`);
  }
}

/**
 * The catalog as the Scheduler uses it: a connection on which GET_LOCK succeeds (or, with
 * `lockFree = false`, is someone else's), and the settings table for the daily report's mark.
 */
export class FakeCatalog {
  readonly settings = new Map<string, string>();
  lockFree = true;
  readonly lockStatements: string[] = [];

  async withConnection<T>(fn: (conn: unknown) => Promise<T>): Promise<T> {
    const conn = {
      query: async (sql: string): Promise<unknown[]> => {
        this.lockStatements.push(sql.split('(')[0]!);
        return sql.startsWith('SELECT GET_LOCK') ? [{ got: this.lockFree ? 1 : 0 }] : [];
      },
    };
    return fn(conn);
  }
  async query<T>(sql: string, params: unknown[]): Promise<T[]> {
    if (!sql.startsWith('SELECT value FROM settings')) throw new Error(`unexpected query: ${sql}`);
    const v = this.settings.get(String(params[0]));
    return (v === undefined ? [] : [{ value: v }]) as T[];
  }
  async execute(sql: string, params: unknown[]): Promise<{ affectedRows: number; insertId: number }> {
    if (!sql.startsWith('INSERT INTO settings')) throw new Error(`unexpected statement: ${sql}`);
    this.settings.set(String(params[0]), String(params[1]));
    return { affectedRows: 1, insertId: 0 };
  }
}

/** Everything a PolicyRunner needs, faked, and the runner itself. */
export function runnerWorld(clock = new TestClock(Date.parse('2027-01-12T22:00:00Z'))) {
  const workflows = new WorkflowTable();
  const repo = new FakePoliciesRepo(workflows);
  const engine = new FakeEngine(workflows);
  const notifications = new FakeNotifications();
  const bus = new EventBus();
  const published: PolicyRun[] = [];
  bus.subscribe((e) => {
    if (e.type === 'policy.run') published.push(e.run);
  });
  const backups: { vm: string; destination: string; full: boolean; priority: number | undefined }[] = [];
  const failingVms = new Set<string>();
  // The real service builds EXPORT → STORE; the runner only sees the workflow id.
  const vmBackups = {
    run: async (req: { vm: string; destination: string; full: boolean }, _by: unknown, priority?: number) => {
      if (failingVms.has(req.vm)) throw new Error('the hypervisor does not answer');
      backups.push({ ...req, priority });
      return engine.createWorkflow('BACKUP', `vm:${req.vm}`, 'scheduler', [
        { type: 'EXPORT', params: {} },
        { type: 'STORE', params: {} },
      ]);
    },
  };
  const tasks = { workflowTasks: async (id: number) => workflows.tasks.get(id) ?? [] };
  // m365 policies: members per policy id; the real M365BackupsService makes each task (here: its shape).
  const m365Members = new Map<number, M365Protectable[]>();
  const m365ObjectKeys: { destinationId: number; userIds: readonly number[]; siteIds: readonly number[] }[] = [];
  const m365 = {
    members: { of: async (p: { id: number }) => m365Members.get(p.id) ?? [] },
    backups: {
      backupTask: async (ref: { kind: 'user' | 'site'; id: number }, destinationId: number, full: boolean) => {
        if (ref.id === 666) throw new Error('has no OneDrive to back up');
        return { type: 'M365_BACKUP' as const, params: { m365TenantId: 1, destinationId, subject: ref, runId: `run-${ref.kind}-${ref.id}`, full }, requiredNodeId: 9, subject: `m365-${ref.kind}:${ref.id}` };
      },
    },
    catalog: {
      objectKeysOf: async (destinationId: number, members: { userIds: readonly number[]; siteIds: readonly number[] }) => {
        m365ObjectKeys.push({ destinationId, ...members });
        return [...members.userIds.map((id) => `m365:t:drive:u${id}`), ...members.siteIds.map((id) => `m365:t:drive:s${id}`)];
      },
    },
  };
  const runner = new PolicyRunner({
    repo: repo as unknown as PoliciesRepository,
    vmBackups: vmBackups as unknown as VmBackupsService,
    engine: engine as unknown as TaskEngine,
    tasks: tasks as unknown as TasksRepository,
    // The totals a list reads are the catalog's business (tests/integration/tasks/jobs-*.test.ts).
    jobs: { recordRunTotals: async () => {} },
    notifications: notifications as unknown as NotificationsService,
    bus,
    logger: silentLogger,
    clock,
    gcGraceHours: 24,
    m365,
  });
  return { clock, workflows, repo, engine, notifications, published, backups, failingVms, runner, m365Members, m365ObjectKeys };
}

export const asCatalog = (c: FakeCatalog): Catalog => c as unknown as Catalog;
