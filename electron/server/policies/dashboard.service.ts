import { DateTime } from 'luxon';
import type { Dashboard } from '../../../common/api/policies.js';
import { defaultTimeZone } from '../../../common/schedule-occurrences.js';
import type { Clock } from '../clock.js';
import type { Sql } from '../db/catalog.js';
import { DashboardHealth } from './dashboard-health.js';
import type { PoliciesService } from './policies.service.js';

const DAYS = 30;

function jsonIds(raw: unknown): number[] {
  const list: unknown = typeof raw === 'string' ? JSON.parse(raw) : raw;
  return Array.isArray(list) ? list.filter((v): v is number => typeof v === 'number') : [];
}

/**
 * The dashboard's numbers: next runs, last night, backups per day, stored size per day, and
 * what needs attention (setup left to do, problems of the last 24 h, coverage, space).
 */
export class DashboardService {
  private readonly health: DashboardHealth;

  constructor(
    private readonly sql: Sql,
    private readonly policies: PoliciesService,
    private readonly clock: Clock,
  ) {
    this.health = new DashboardHealth(sql, clock);
  }

  async get(options: { coverageDays: number } = { coverageDays: 7 }): Promise<Dashboard> {
    const zone = defaultTimeZone();
    const now = DateTime.fromMillis(this.clock.now(), { zone });
    // "Last night": since 18:00 yesterday (or today, once it is past 18:00).
    const since = (now.hour >= 18 ? now : now.minus({ days: 1 })).set({ hour: 18, minute: 0, second: 0, millisecond: 0 });
    const firstDay = now.startOf('day').minus({ days: DAYS - 1 });

    // Backups per day as the index on (type, created_at, state, finished_at) has them, counted by
    // quarter hour in the database (the days are the viewer's zone's, which the database does not know).
    const buckets = await this.sql.query<{ bucket: number; state: string; n: number }>(
      `SELECT FLOOR(UNIX_TIMESTAMP(COALESCE(finished_at, created_at)) / 900) AS bucket, state, COUNT(*) AS n
         FROM workflows WHERE type = 'BACKUP' AND created_at >= ? AND state IN ('FINISHED','FINISHED_WITH_WARNINGS','FAILED')
        GROUP BY bucket, state`,
      [new Date(firstDay.toMillis())],
    );
    // "Last night" asks whether the schedule worked, so it counts only the backups of runs the
    // scheduler started (on time or caught up); a backup run by hand at 19:00 is not one of them.
    // A run started a day before `since` may still have backups ending after it.
    const scheduledRuns = await this.sql.query<{ workflows: unknown }>(
      "SELECT workflows FROM policy_runs WHERE purpose = 'run' AND `trigger` IN ('schedule','catch-up') AND created_at >= ?",
      [new Date(since.minus({ days: 1 }).toMillis())],
    );
    const scheduled = [...new Set(scheduledRuns.flatMap((r) => jsonIds(r.workflows)))];
    const lastNightBackups =
      scheduled.length === 0
        ? []
        : await this.sql.query<{ state: string; finished_at: Date | null; created_at: Date }>(
            `SELECT state, finished_at, created_at FROM workflows WHERE id IN (${scheduled.map(() => '?').join(',')}) AND type = 'BACKUP' AND created_at >= ?`,
            [...scheduled, new Date(Math.min(firstDay.toMillis(), since.toMillis()))],
          );
    const missed = await this.sql.query<{ scheduled_for: Date | null; created_at: Date }>(
      `SELECT scheduled_for, created_at FROM policy_runs WHERE state = 'missed' AND created_at >= ?`,
      [new Date(Math.min(firstDay.toMillis(), since.toMillis()))],
    );
    const dayOf = (d: Date): string => DateTime.fromJSDate(d, { zone }).toISODate() ?? '';
    const daily = new Map<string, { succeeded: number; failed: number; missed: number }>();
    for (let i = 0; i < DAYS; i++) daily.set(firstDay.plus({ days: i }).toISODate() ?? '', { succeeded: 0, failed: 0, missed: 0 });
    const lastNight = { since: since.toUTC().toISO() ?? '', succeeded: 0, failed: 0, missed: 0, running: 0 };
    for (const b of buckets) {
      const day = daily.get(dayOf(new Date(Number(b.bucket) * 900_000)));
      if (!day) continue;
      if (b.state === 'FAILED') day.failed += Number(b.n);
      else day.succeeded += Number(b.n);
    }
    for (const b of lastNightBackups) {
      if ((b.finished_at ?? b.created_at).getTime() < since.toMillis()) continue;
      if (b.state === 'FINISHED' || b.state === 'FINISHED_WITH_WARNINGS') lastNight.succeeded++;
      else if (b.state === 'FAILED') lastNight.failed++;
      else if (b.state === 'QUEUED' || b.state === 'RUNNING') lastNight.running++;
    }
    for (const m of missed) {
      const at = m.scheduled_for ?? m.created_at;
      const day = daily.get(dayOf(at));
      if (day) day.missed++;
      if (at.getTime() >= since.toMillis()) lastNight.missed++;
    }

    // Stored size per day: each destination's last reading of the day, summed; days without a
    // reading carry the previous value forward.
    // The readings of the window, plus each destination's last one before it (carried in).
    const from = new Date(firstDay.toMillis());
    const usage = await this.sql.query<{ destination_id: number; at: Date; stored_bytes: number; logical_bytes: number }>(
      `SELECT destination_id, at, stored_bytes, logical_bytes FROM destination_usage WHERE at >= ?
       UNION ALL
       SELECT u.destination_id, u.at, u.stored_bytes, u.logical_bytes FROM destination_usage u
         JOIN (SELECT destination_id, MAX(at) AS at FROM destination_usage WHERE at < ? GROUP BY destination_id) l
           ON l.destination_id = u.destination_id AND l.at = u.at
       ORDER BY at`,
      [from, from],
    );
    const latest = new Map<number, { stored: number; logical: number }>();
    const storage: Dashboard['storage'] = [];
    let u = 0;
    for (let i = 0; i < DAYS; i++) {
      const end = firstDay.plus({ days: i + 1 }).toMillis();
      for (; u < usage.length && usage[u]!.at.getTime() < end; u++) {
        const r = usage[u]!;
        latest.set(r.destination_id, { stored: Number(r.stored_bytes), logical: Number(r.logical_bytes) });
      }
      let storedBytes = 0;
      let logicalBytes = 0;
      for (const v of latest.values()) {
        storedBytes += v.stored;
        logicalBytes += v.logical;
      }
      storage.push({ day: firstDay.plus({ days: i }).toISODate() ?? '', storedBytes, logicalBytes });
    }
    return {
      nextRuns: await this.policies.nextRuns(10),
      lastNight,
      daily: [...daily.entries()].map(([day, v]) => ({ day, ...v })),
      storage,
      setup: await this.health.setup(),
      problems: await this.health.problems(),
      coverage: await this.health.coverage(options.coverageDays),
      space: await this.health.space(),
    };
  }
}
