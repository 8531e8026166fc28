import schedule from 'node-schedule';
import type { Logger } from 'pino';
import { parseScheduleSpec, type Occurrence, type ScheduleRule } from '../../../common/schedule.js';
import { nextOccurrences, occurrencesBetween } from '../../../common/schedule-occurrences.js';
import type { Clock } from '../clock.js';
import type { Catalog } from '../db/catalog.js';
import type { NotificationsService } from '../notifications/notifications.service.js';
import { json, type PoliciesRepository, type PolicyRow } from '../policies/policies.repository.js';
import type { PolicyRunner } from './policy-runner.js';

const LOCK_NAME = 'vplus.scheduler';
const REPORT_SETTING = 'scheduler.dailyReport.evaluatedUntil';
/** A run that starts later than this after its time is a catch-up, not an on-time run. */
const LATE_MS = 60_000;
/** Even with nothing due, look again this often (policy edits, clock jumps, lost timers). */
const SAFETY_TICK_MS = 60_000;

export interface SchedulerOptions {
  catalog: Catalog;
  repo: PoliciesRepository;
  runner: PolicyRunner;
  notifications: NotificationsService;
  logger: Logger;
  clock: Clock;
}

/**
 * The embedded scheduler. Schedules live in the catalog; each pass ("tick") looks at every
 * policy's occurrences since it last looked (`evaluated_until`): the newest one still inside
 * its start window runs (on time, or as a catch-up when the server was down or asleep), and
 * the others are recorded as missed. node-schedule wakes it at the next occurrence; a safety
 * tick every minute covers edits and clock jumps. Exactly one server schedules at a time: it
 * holds a MariaDB named lock on a connection of its own, and a standby server keeps trying.
 * Time comes from the injected clock, so tests can place "now" anywhere.
 */
export class Scheduler {
  private job: schedule.Job | undefined;
  private safety: NodeJS.Timeout | undefined;
  private stopped = false;
  private leader = false;
  private ticking: Promise<void> | undefined;
  private again = false;
  private releaseLock: (() => void) | undefined;
  private lockLoop: Promise<void> | undefined;

  constructor(private readonly o: SchedulerOptions) {}

  /** Starts trying to become the scheduling server; resolves after the first attempt (and its catch-up pass). */
  async start(): Promise<void> {
    this.stopped = false;
    await this.o.runner.recover();
    let first: () => void = () => undefined;
    const attempted = new Promise<void>((resolve) => (first = resolve));
    this.lockLoop = this.holdLock(first);
    await attempted;
    this.safety = setInterval(() => void this.tick(), SAFETY_TICK_MS);
    this.safety.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.safety) clearInterval(this.safety);
    this.job?.cancel();
    this.job = undefined;
    await this.ticking;
    this.releaseLock?.();
    await this.lockLoop;
  }

  isLeader(): boolean {
    return this.leader;
  }

  /** Runs a pass now (also after a policy changed, or the machine woke up). */
  tick(): Promise<void> {
    if (!this.leader || this.stopped) return Promise.resolve();
    if (this.ticking) {
      this.again = true;
      return this.ticking;
    }
    this.ticking = (async () => {
      try {
        do {
          this.again = false;
          await this.pass();
        } while (this.again && !this.stopped);
      } catch (err) {
        this.o.logger.error({ err }, 'scheduler pass failed; trying again at the next tick');
      } finally {
        this.ticking = undefined;
        this.arm();
      }
    })();
    return this.ticking;
  }

  /** The rules of a policy that parse (a bad one, which validation should have stopped, is logged and skipped). */
  rulesOf(policy: PolicyRow): ScheduleRule[] {
    return json<string[]>(policy.schedules).flatMap((spec) => {
      try {
        return [parseScheduleSpec(spec)];
      } catch (err) {
        this.o.logger.error({ policy: policy.name, spec, err }, 'a stored schedule rule does not parse; it is skipped');
        return [];
      }
    });
  }

  private retentionRules(policy: PolicyRow): ScheduleRule[] {
    return optionalRule(policy.retention_schedule);
  }

  private verifyRules(policy: PolicyRow): ScheduleRule[] {
    return policy.kind === 'snapshot' ? [] : optionalRule(policy.verify_schedule);
  }

  private async pass(): Promise<void> {
    const now = this.o.clock.now();
    for (const policy of await this.o.repo.list()) {
      const from = (policy.evaluated_until ?? policy.created_at).getTime();
      if (from >= now) continue;
      if (policy.enabled === 1) {
        await this.handleOccurrences(policy, occurrencesBetween(this.rulesOf(policy), policy.time_zone, from, now), now);
        for (const occ of latestPerRule(occurrencesBetween(this.retentionRules(policy), policy.time_zone, from, now))) {
          if (now - occ.at > occ.windowMinutes * 60_000) continue; // retention simply waits for its next time
          await this.o.runner.retention(policy, now - occ.at > LATE_MS ? 'catch-up' : 'schedule', new Date(occ.at), 'scheduler');
        }
        for (const occ of latestPerRule(occurrencesBetween(this.verifyRules(policy), policy.time_zone, from, now))) {
          if (now - occ.at > occ.windowMinutes * 60_000) continue; // like retention, verify waits for its next time
          await this.o.runner.verify(policy, now - occ.at > LATE_MS ? 'catch-up' : 'schedule', new Date(occ.at), 'scheduler');
        }
      }
      await this.o.repo.setEvaluatedUntil(policy.id, new Date(now));
    }
    await this.dailyReport(now);
  }

  private async handleOccurrences(policy: PolicyRow, occurrences: Occurrence[], now: number): Promise<void> {
    if (occurrences.length === 0) return;
    const inWindow = occurrences.filter((o) => now - o.at <= o.windowMinutes * 60_000);
    const chosen = inWindow.at(-1);
    const busy = chosen ? (await this.o.repo.runningRuns()).some((r) => r.policy_id === policy.id && r.purpose === 'run') : false;
    for (const occ of occurrences) {
      const req = { trigger: now - occ.at > LATE_MS ? ('catch-up' as const) : ('schedule' as const), backupType: occ.backupType, scheduledFor: new Date(occ.at) };
      if (occ !== chosen) {
        const why =
          now - occ.at > occ.windowMinutes * 60_000
            ? `not started within its ${formatWindow(occ.windowMinutes)} window (the server was not running at ${new Date(occ.at).toISOString()})`
            : `superseded by the later run at ${new Date(chosen!.at).toISOString()}`;
        await this.o.runner.recordMissed(policy, req, why);
      } else if (busy) {
        await this.o.runner.recordMissed(policy, req, 'the previous run of this policy was still going');
      } else {
        await this.o.runner.start(policy, req, 'scheduler');
      }
    }
  }

  private async dailyReport(now: number): Promise<void> {
    const report = await this.o.notifications.dailyReportSchedule();
    const stored = await this.o.catalog.query<{ value: string | number }>('SELECT value FROM settings WHERE name = ?', [REPORT_SETTING]);
    const from = stored[0] ? Number(json<number>(stored[0].value)) : now;
    if (report && from < now) {
      const due = occurrencesBetween([parseScheduleSpec(report.spec)], report.timeZone, from, now).at(-1);
      if (due && now - due.at <= due.windowMinutes * 60_000) {
        await this.o.notifications.runDailyReport(now).catch((err: unknown) => this.o.logger.error({ err }, 'daily report failed'));
      }
    }
    await this.o.catalog.execute('INSERT INTO settings (name, value) VALUES (?, ?) ON DUPLICATE KEY UPDATE value = VALUES(value)', [REPORT_SETTING, JSON.stringify(now)]);
  }

  /** Sets the node-schedule job for the earliest next occurrence of anything. */
  private arm(): void {
    if (this.stopped || !this.leader) return;
    void this.nextWakeUp()
      .then((at) => {
        this.job?.cancel();
        this.job = undefined;
        if (at === undefined || this.stopped) return;
        // node-schedule runs on real time; with an injected clock the wake-up is where that clock says.
        const delay = Math.max(0, at - this.o.clock.now());
        this.job = schedule.scheduleJob(new Date(Date.now() + delay + 50), () => void this.tick()) ?? undefined;
      })
      .catch((err: unknown) => this.o.logger.error({ err }, 'could not compute the next scheduler wake-up'));
  }

  private async nextWakeUp(): Promise<number | undefined> {
    const now = this.o.clock.now();
    let best: number | undefined;
    for (const p of await this.o.repo.list()) {
      if (p.enabled !== 1) continue;
      const next = nextOccurrences([...this.rulesOf(p), ...this.retentionRules(p), ...this.verifyRules(p)], p.time_zone, now, 1)[0];
      if (next && (best === undefined || next.at < best)) best = next.at;
    }
    const report = await this.o.notifications.dailyReportSchedule();
    if (report) {
      const next = nextOccurrences([parseScheduleSpec(report.spec)], report.timeZone, now, 1)[0];
      if (next && (best === undefined || next.at < best)) best = next.at;
    }
    return best;
  }

  /** Holds the scheduler lock on a connection of its own while this server runs; retries when it is someone else's or lost. */
  private async holdLock(firstAttempt: () => void): Promise<void> {
    while (!this.stopped) {
      try {
        await this.o.catalog.withConnection(async (conn) => {
          const [row] = await conn.query<{ got: number | null }[]>('SELECT GET_LOCK(?, 0) AS got', [LOCK_NAME]);
          if (row?.got !== 1) return;
          this.leader = true;
          this.o.logger.info('this server runs the schedules');
          await this.tick();
          firstAttempt();
          // Hold the connection (and so the lock) until stop, checking it is still alive.
          while (!this.stopped) {
            const stop = new Promise<void>((resolve) => (this.releaseLock = resolve));
            const wait = new Promise<void>((resolve) => setTimeout(resolve, 15_000).unref());
            await Promise.race([stop, wait]);
            if (this.stopped) break;
            await conn.query('SELECT 1');
          }
          this.leader = false;
          // Should this fail, the lock stays until its connection closes, and no other server schedules until then.
          await conn
            .query('SELECT RELEASE_LOCK(?)', [LOCK_NAME])
            .catch((err: unknown) => this.o.logger.warn({ err, lock: LOCK_NAME }, 'could not release the scheduler lock'));
        });
      } catch (err) {
        if (this.leader) this.o.logger.warn({ err }, 'lost the scheduler lock (catalog connection dropped); taking it again');
        this.leader = false;
      }
      firstAttempt();
      if (this.stopped) break;
      await new Promise<void>((resolve) => {
        this.releaseLock = resolve;
        setTimeout(resolve, 15_000).unref();
      });
    }
    this.leader = false;
  }
}

function latestPerRule(occurrences: Occurrence[]): Occurrence[] {
  const last = occurrences.at(-1);
  return last ? [last] : [];
}

function formatWindow(minutes: number): string {
  return minutes % 60 === 0 ? `${minutes / 60} h` : `${minutes} min`;
}

/** A policy's optional extra schedule (retention, verify); one that does not parse is skipped. */
function optionalRule(spec: string | null): ScheduleRule[] {
  if (!spec) return [];
  try {
    return [parseScheduleSpec(spec)];
  } catch {
    return [];
  }
}
