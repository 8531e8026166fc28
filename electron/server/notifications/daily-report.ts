import type { DailyReport } from '../../../common/api/notifications.js';
import type { NotificationsRepository } from './notifications.repository.js';

const DAY_MS = 24 * 3600_000;
const MAX_LISTED = 50;

/** The numbers of the 24 hours before `nowMs`, read from the catalog. */
export async function buildDailyReport(repo: NotificationsRepository, nowMs: number): Promise<DailyReport> {
  const to = new Date(nowMs);
  const from = new Date(nowMs - DAY_MS);
  const [workflows, stores, others, runs, destinations] = await Promise.all([
    repo.backupWorkflows(from, to),
    repo.standaloneStores(from, to),
    repo.otherFailedTasks(from, to, MAX_LISTED),
    repo.policyRuns(from, to),
    repo.destinations(from),
  ]);

  const outcomes = [
    ...workflows.map((w) => ({ state: w.state, failure: { workflowId: w.id, taskId: w.failed_task_id, subject: w.subject, error: w.failed_error, at: w.finished_at.toISOString() } })),
    ...stores.map((t) => ({ state: t.state, failure: { workflowId: null, taskId: t.id, subject: t.subject, error: t.error, at: t.finished_at.toISOString() } })),
  ];
  const count = (...states: string[]): number => outcomes.filter((o) => states.includes(o.state)).length;
  const missed = runs.filter((r) => r.state === 'missed');

  return {
    from: from.toISOString(),
    to: to.toISOString(),
    backups: {
      succeeded: count('FINISHED', 'FINISHED_WITH_WARNINGS'),
      withWarnings: count('FINISHED_WITH_WARNINGS'),
      failed: count('FAILED'),
      cancelled: count('CANCELLED'),
      failures: outcomes.filter((o) => o.state === 'FAILED').slice(0, MAX_LISTED).map((o) => o.failure),
    },
    otherFailedTasks: others.map((t) => ({ taskId: t.id, type: t.type, subject: t.subject, error: t.error, at: t.finished_at.toISOString() })),
    policyRuns: {
      finished: runs.filter((r) => r.state === 'finished' || r.state === 'finished_with_warnings').length,
      failed: runs.filter((r) => r.state === 'failed').length,
      missed: missed.length,
      missedRuns: missed.slice(0, MAX_LISTED).map((r) => ({ policy: r.policy, scheduledFor: r.scheduled_for?.toISOString() ?? null, message: r.message })),
    },
    destinations: destinations.map((d) => ({
      name: d.name,
      status: d.status,
      backups: Number(d.backups),
      storedBytes: Number(d.stored_bytes),
      logicalBytes: Number(d.logical_bytes),
      storedChangeBytes: d.stored_before === null ? null : Number(d.stored_bytes) - Number(d.stored_before),
      freeBytes: d.free_bytes === null ? null : Number(d.free_bytes),
      totalBytes: d.total_bytes === null ? null : Number(d.total_bytes),
    })),
  };
}
