import schedule from 'node-schedule';
import type { Logger } from 'pino';
import {
  DEFAULT_HISTORY_LIMITS,
  HistoryLimitsSchema,
  HistoryPruneSchema,
  type CatalogSize,
  type HistoryLimits,
  type HistoryPrune,
  type HistorySettings,
  type PrunedCounts,
} from '../../../common/api/history.js';
import type { AuditService } from '../auth/audit.service.js';
import type { Principal } from '../auth/auth.service.js';
import type { Clock } from '../clock.js';
import type { Sql } from '../db/catalog.js';
import { HistoryRepository, type AfterKey, type Reference } from './history.repository.js';

const LIMITS_SETTING = 'history.limits';
const LAST_PRUNE_SETTING = 'history.lastPrune';
const DAY_MS = 86_400_000;
/** The daily prune's time, server time: after the night's backups have mostly ended. */
export const PRUNE_TIME = { hour: 3, minute: 30 };
const FINAL = new Set(['FINISHED', 'FINISHED_WITH_WARNINGS', 'FAILED', 'CANCELLED']);

export interface HistoryPruneOptions {
  /** Rows per statement. */
  batch: number;
  /** The shortest pause after each batch deleted, so the catalog's other work goes first. */
  pauseMs: number;
  /**
   * A pause lasts at least this many times the work since the last one: with 2, a prune takes
   * at most a third of the catalog's time however slow its statements get under load (on the
   * scale fixture, removing 60,000 jobs with their tasks, list pages kept a p95 under 30 ms
   * and the dashboard's under 160 ms; with 1, 45 and 200 ms).
   */
  pauseFactor: number;
  /** How a pause is waited (tests hold it to act while a prune is under way). */
  pause?: (ms: number) => Promise<void>;
  /** Prune once a day (tests turn it off: their catalogs are pruned when they ask). */
  daily: boolean;
}

export const DEFAULT_PRUNE_OPTIONS: HistoryPruneOptions = { batch: 2_000, pauseMs: 50, pauseFactor: 2, daily: true };

export interface HistoryServiceDeps {
  sql: Sql;
  audit: AuditService;
  logger: Logger;
  clock: Clock;
  /** Whether this server holds the scheduler lock: only that one prunes daily. */
  isLeader: () => boolean;
  options?: Partial<HistoryPruneOptions>;
}

class PruneStopped extends Error {}

const zero = (): PrunedCounts => ({ taskLogs: 0, tasks: 0, workflows: 0, policyRuns: 0, audit: 0 });

/**
 * History within limits (issue 17): the limits (in the settings table), the daily prune on the
 * server that runs the schedules, and a prune on demand. A prune works oldest first in small
 * batches with a pause after each, so it never holds locks for long nor crowds out backups,
 * and it never touches what is queued or running, a backup, or anything a backup refers to.
 */
export class HistoryService {
  private readonly repo: HistoryRepository;
  private readonly options: HistoryPruneOptions;
  private job: schedule.Job | undefined;
  private current: HistoryPrune | null = null;
  /** When the prune under way last went back to work (after its start or a pause). */
  private workingSince = 0;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly deps: HistoryServiceDeps) {
    this.repo = new HistoryRepository(deps.sql);
    this.options = { ...DEFAULT_PRUNE_OPTIONS, ...deps.options };
  }

  /** Looks every hour whether the daily prune is due (it is after PRUNE_TIME when none ran since). */
  start(): void {
    this.stopped = false;
    const look = (): void => void this.pruneIfDue().catch((err: unknown) => this.deps.logger.warn({ err }, 'could not look whether the history prune is due; looking again in an hour'));
    if (this.options.daily) this.job = schedule.scheduleJob({ minute: PRUNE_TIME.minute }, look) ?? undefined;
  }

  /** No prune starts any more; one under way ends after its current statement. */
  stop(): void {
    this.stopped = true;
    this.job?.cancel();
    this.job = undefined;
  }

  /** Resolves once a prune under way has ended (for shutdown and tests). */
  async idle(): Promise<void> {
    await this.running;
  }

  async limits(): Promise<HistoryLimits> {
    const stored = await this.read(LIMITS_SETTING);
    const parsed = HistoryLimitsSchema.partial().safeParse(stored ?? {});
    return { ...DEFAULT_HISTORY_LIMITS, ...(parsed.success ? parsed.data : {}) };
  }

  async settings(): Promise<HistorySettings> {
    const last = this.current ?? (await this.lastPrune());
    return { limits: await this.limits(), lastPrune: last, pruning: this.current !== null, nextPruneAt: this.nextPruneAt(last) };
  }

  async update(limits: HistoryLimits, by: Principal): Promise<HistorySettings> {
    const before = await this.limits();
    await this.write(LIMITS_SETTING, limits);
    await this.deps.audit.record({ actor: by.user.username, action: 'history.update', target: 'settings:history', details: { before, after: limits } });
    return this.settings();
  }

  /** Starts a prune now unless one is under way (any server may, on demand). */
  async pruneNow(by: Principal): Promise<HistorySettings> {
    if (this.current === null) {
      await this.deps.audit.record({ actor: by.user.username, action: 'history.prune', target: 'settings:history', details: { limits: await this.limits() } });
      this.begin(by.user.username);
    }
    return this.settings();
  }

  /** The daily run: on the scheduling server, when due. */
  async pruneIfDue(): Promise<void> {
    if (this.stopped || !this.deps.isLeader() || this.current !== null) return;
    const last = await this.lastPrune();
    if (!isPruneDue(this.deps.clock.now(), last)) return;
    this.begin('system');
    await this.running;
  }

  catalogSize(): Promise<CatalogSize> {
    return this.repo.size();
  }

  private begin(by: string): void {
    const record: HistoryPrune = { startedAt: new Date(this.deps.clock.now()).toISOString(), finishedAt: null, by, removed: zero(), error: null };
    this.current = record;
    this.running = this.prune(record).finally(() => {
      this.current = null;
      this.running = undefined;
    });
  }

  private async prune(record: HistoryPrune): Promise<void> {
    const log = this.deps.logger;
    const started = Date.now();
    this.workingSince = started;
    try {
      await this.write(LAST_PRUNE_SETTING, record);
      const limits = await this.limits();
      // The limits count back from when the prune started, as its record says.
      const now = Date.parse(record.startedAt);
      const cutoff = (days: number | null): Date | null => (days === null ? null : new Date(now - days * DAY_MS));
      const refs = await this.repo.references();
      log.info({ limits, by: record.by }, 'pruning the history');
      const removed = record.removed;
      const logs = cutoff(limits.taskLogsDays);
      if (logs) await this.pruneTaskLogs(logs, removed);
      const workflows = cutoff(limits.workflowsDays);
      if (workflows) await this.pruneWorkflows(workflows, refs, removed);
      const tasks = cutoff(limits.tasksDays);
      if (tasks) await this.pruneStandaloneTasks(tasks, refs, removed);
      const runs = cutoff(limits.policyRunsDays);
      if (runs) await this.prunePolicyRuns(runs, refs, removed);
      const audit = cutoff(limits.auditDays);
      if (audit) await this.pruneBatches((after) => this.repo.oldAuditEntries(audit, after, this.options.batch), (r) => r.at, async (ids) => (removed.audit += await this.repo.deleteAuditEntries(ids)));
    } catch (err) {
      record.error = err instanceof PruneStopped ? 'stopped: the server is stopping' : (err as Error).message;
      log.error({ err }, 'pruning the history stopped short; the next prune goes on from where it is');
    }
    record.finishedAt = new Date(this.deps.clock.now()).toISOString();
    log.info({ removed: record.removed, seconds: (Date.now() - started) / 1000, error: record.error }, 'history pruned');
    await this.write(LAST_PRUNE_SETTING, record).catch((err: unknown) => log.warn({ err }, 'could not record the history prune'));
  }

  /**
   * Log lines of tasks that ended before the cutoff. The tasks that still have lines are read
   * in id order from the log's index (those already pruned are skipped by the index itself).
   */
  private async pruneTaskLogs(cutoff: Date, removed: PrunedCounts): Promise<void> {
    let after = 0;
    for (;;) {
      this.check();
      const tasks = await this.repo.tasksWithLogs(after, Math.max(1, Math.floor(this.options.batch / 4)));
      const last = tasks.at(-1);
      if (!last) return;
      const done = tasks.filter((t) => FINAL.has(t.state) && t.finished_at !== null && t.finished_at < cutoff).map((t) => t.id);
      removed.taskLogs += await this.deleteLogsOf(done);
      after = last.id;
    }
  }

  /**
   * Workflows that ended before the cutoff: their steps' logs, their steps, then them. Not one
   * with a step still queued or running, or that something refers to, or a step of which is.
   */
  private async pruneWorkflows(cutoff: Date, refs: Map<string, Reference[]>, removed: PrunedCounts): Promise<void> {
    // About two steps each: a batch of workflows makes about a batch of tasks.
    const batch = Math.max(1, Math.floor(this.options.batch / 2));
    await this.pruneBatches(
      (after) => this.repo.oldWorkflows(cutoff, after, batch),
      (w) => w.finished_at,
      async (ids) => {
        const steps = await this.repo.stepsOf(ids);
        const kept = await this.repo.referenced('workflows', ids, refs);
        const referencedSteps = await this.repo.referenced('tasks', steps.map((t) => t.id), refs);
        for (const t of steps) if (!FINAL.has(t.state) || referencedSteps.has(t.id)) kept.add(t.workflow_id);
        const gone = ids.filter((id) => !kept.has(id));
        const goneSteps = steps.filter((t) => !kept.has(t.workflow_id)).map((t) => t.id);
        for (let i = 0; i < goneSteps.length; i += this.options.batch) {
          const part = goneSteps.slice(i, i + this.options.batch);
          removed.taskLogs += await this.deleteLogsOf(part);
          removed.tasks += await this.repo.deleteTasks(part);
        }
        removed.workflows += await this.repo.deleteWorkflows(gone);
      },
    );
  }

  /** Finished tasks outside any workflow that ended before the cutoff, with their logs; not one something refers to. */
  private async pruneStandaloneTasks(cutoff: Date, refs: Map<string, Reference[]>, removed: PrunedCounts): Promise<void> {
    await this.pruneBatches(
      (after) => this.repo.oldStandaloneTasks(cutoff, after, this.options.batch),
      (t) => t.finished_at,
      async (ids) => {
        const kept = await this.repo.referenced('tasks', ids, refs);
        const gone = ids.filter((id) => !kept.has(id));
        removed.taskLogs += await this.deleteLogsOf(gone);
        removed.tasks += await this.repo.deleteTasks(gone);
      },
    );
  }

  /** Policy runs started before the cutoff; a run stays while a workflow of its (the job of one of its VMs) does. */
  private async prunePolicyRuns(cutoff: Date, refs: Map<string, Reference[]>, removed: PrunedCounts): Promise<void> {
    await this.pruneBatches(
      (after) => this.repo.oldPolicyRuns(cutoff, after, this.options.batch),
      (r) => r.created_at,
      async (ids) => {
        const kept = await this.repo.referenced('policy_runs', ids, refs);
        removed.policyRuns += await this.repo.deletePolicyRuns(ids.filter((id) => !kept.has(id)));
      },
    );
  }

  /** Reads a batch of keys oldest first, removes them, pauses, and goes on after the last key read. */
  private async pruneBatches<R extends { id: number }>(read: (after: AfterKey | null) => Promise<R[]>, timeOf: (row: R) => Date, remove: (ids: number[]) => Promise<unknown>): Promise<void> {
    let after: AfterKey | null = null;
    for (;;) {
      this.check();
      const rows = await read(after);
      const last = rows.at(-1);
      if (!last) return;
      await remove(rows.map((r) => r.id));
      await this.pause();
      after = { at: timeOf(last), id: last.id };
    }
  }

  /** All log lines of these tasks, a batch per statement. */
  private async deleteLogsOf(taskIds: readonly number[]): Promise<number> {
    let total = 0;
    for (;;) {
      this.check();
      const n = await this.repo.deleteLogsOf(taskIds, this.options.batch);
      total += n;
      if (n > 0) await this.pause();
      if (n < this.options.batch) return total;
    }
  }

  private check(): void {
    if (this.stopped) throw new PruneStopped();
  }

  private async pause(): Promise<void> {
    const ms = Math.max(this.options.pauseMs, Math.round((Date.now() - this.workingSince) * this.options.pauseFactor));
    await (this.options.pause ? this.options.pause(ms) : new Promise((resolve) => setTimeout(resolve, ms)));
    this.workingSince = Date.now();
  }

  private nextPruneAt(last: HistoryPrune | null): string | null {
    if (!this.options.daily || !this.deps.isLeader()) return null;
    const now = this.deps.clock.now();
    // Due: at the next hourly look; else at the prune time tomorrow.
    if (isPruneDue(now, last)) {
      const next = new Date(now);
      next.setMinutes(PRUNE_TIME.minute, 0, 0);
      if (next.getTime() <= now) next.setHours(next.getHours() + 1);
      return next.toISOString();
    }
    const next = lastPruneTime(now);
    next.setDate(next.getDate() + 1);
    return next.toISOString();
  }

  private async lastPrune(): Promise<HistoryPrune | null> {
    const parsed = HistoryPruneSchema.safeParse(await this.read(LAST_PRUNE_SETTING));
    return parsed.success ? parsed.data : null;
  }

  private async read(name: string): Promise<unknown> {
    const rows = await this.deps.sql.query<{ value: unknown }>('SELECT value FROM settings WHERE name = ?', [name]);
    const value = rows[0]?.value;
    // MariaDB's JSON is LONGTEXT: the driver hands back the text.
    return typeof value === 'string' ? (JSON.parse(value) as unknown) : (value ?? null);
  }

  private async write(name: string, value: unknown): Promise<void> {
    await this.deps.sql.execute('INSERT INTO settings (name, value) VALUES (?, ?) ON DUPLICATE KEY UPDATE value = VALUES(value)', [name, JSON.stringify(value)]);
  }
}

/** The latest PRUNE_TIME (server time) at or before `now`. */
export function lastPruneTime(now: number): Date {
  const at = new Date(now);
  at.setHours(PRUNE_TIME.hour, PRUNE_TIME.minute, 0, 0);
  if (at.getTime() > now) at.setDate(at.getDate() - 1);
  return at;
}

/** Due when no prune started since the latest PRUNE_TIME: once a day, and as soon as can be after a day the server was off. */
export function isPruneDue(now: number, last: Pick<HistoryPrune, 'startedAt'> | null): boolean {
  return last === null || Date.parse(last.startedAt) < lastPruneTime(now).getTime();
}
