import type { Coverage, DestinationSpace, Problem, RecentProblems, SetupProgress } from '../../../common/api/dashboard.js';
import type { Clock } from '../clock.js';
import type { Sql } from '../db/catalog.js';
import { daysUntilFull, growthPerDay } from './space-forecast.js';

const DAY_MS = 86_400_000;
const MAX_PROBLEMS = 20;

const TYPE_WORDS: Record<string, string> = { BACKUP: 'Backup', RESTORE: 'Restore', EXPORT: 'Export', STORE: 'Store', IMPORT: 'Import', VERIFY: 'Verify', PRUNE: 'Prune', GC: 'Garbage collection', SNAPSHOT: 'Snapshot', SYNC_INVENTORY: 'Inventory sync', MOUNT: 'Mount', FILE_RESTORE: 'File restore', RETENTION: 'Retention' };
const typeWord = (type: string): string => TYPE_WORDS[type] ?? type.charAt(0) + type.slice(1).toLowerCase().replace(/_/g, ' ');

function firstWarning(raw: unknown): string | null {
  const list: unknown = typeof raw === 'string' ? JSON.parse(raw) : raw;
  if (!Array.isArray(list) || list.length === 0) return null;
  const w: unknown = list[0];
  if (typeof w === 'string') return w;
  if (w && typeof w === 'object' && 'message' in w) return String(w.message);
  return JSON.stringify(w);
}

function workflowIds(raw: unknown): number[] {
  const list: unknown = typeof raw === 'string' ? JSON.parse(raw) : raw;
  return Array.isArray(list) ? list.filter((v): v is number => typeof v === 'number') : [];
}

/** The dashboard's "what needs attention" numbers: setup progress, recent problems, coverage, space. */
export class DashboardHealth {
  constructor(
    private readonly sql: Sql,
    private readonly clock: Clock,
  ) {}

  async setup(): Promise<SetupProgress> {
    const [row] = await this.sql.query<{ nodes: number; destinations: number; hypervisors: number; policies: number }>(
      `SELECT (SELECT COUNT(*) FROM nodes WHERE credential_hash IS NOT NULL) AS nodes,
              (SELECT COUNT(*) FROM destinations) AS destinations,
              (SELECT COUNT(*) FROM hypervisors) AS hypervisors,
              (SELECT COUNT(*) FROM policies) AS policies`,
    );
    return { nodes: Number(row?.nodes ?? 0), destinations: Number(row?.destinations ?? 0), hypervisors: Number(row?.hypervisors ?? 0), policies: Number(row?.policies ?? 0) };
  }

  /** Tasks that failed or ended with warnings, and policy runs that failed, warned or were missed, in the last 24 h. */
  async problems(): Promise<RecentProblems> {
    const since = new Date(this.clock.now() - DAY_MS);
    const tasks = await this.sql.query<{ id: number; type: string; state: string; subject: string | null; error: string | null; warnings: unknown; finished_at: Date }>(
      `SELECT id, type, state, subject, error, warnings, finished_at FROM tasks
        WHERE state IN ('FAILED','FINISHED_WITH_WARNINGS') AND finished_at >= ? ORDER BY finished_at DESC`,
      [since],
    );
    const runs = await this.sql.query<{ id: number; policy: string; state: string; message: string | null; at: Date; workflows: unknown }>(
      `SELECT r.id, p.name AS policy, r.state, r.message, r.workflows,
              IF(r.state = 'missed', COALESCE(r.scheduled_for, r.created_at), r.finished_at) AS at
         FROM policy_runs r JOIN policies p ON p.id = r.policy_id
        WHERE r.state IN ('failed','finished_with_warnings','missed')
          AND IF(r.state = 'missed', COALESCE(r.scheduled_for, r.created_at), r.finished_at) >= ?`,
      [since],
    );
    const items: Problem[] = tasks.map((t) => ({
      kind: 'task',
      id: Number(t.id),
      severity: t.state === 'FAILED' ? 'failed' : 'warning',
      title: `${typeWord(t.type)}${t.subject === null ? '' : ` · ${t.subject}`}`,
      message: t.state === 'FAILED' ? t.error : firstWarning(t.warnings),
      at: t.finished_at.toISOString(),
      taskId: Number(t.id),
      policy: null,
    }));
    for (const r of runs) {
      items.push({
        kind: 'policy-run',
        id: Number(r.id),
        severity: r.state === 'failed' ? 'failed' : r.state === 'missed' ? 'missed' : 'warning',
        title: `Policy ${r.policy}`,
        message: r.message,
        at: r.at.toISOString(),
        taskId: await this.firstFailedTask(workflowIds(r.workflows)),
        policy: r.policy,
      });
    }
    items.sort((a, b) => b.at.localeCompare(a.at));
    const count = (s: Problem['severity']): number => items.filter((p) => p.severity === s).length;
    return { since: since.toISOString(), failed: count('failed'), warnings: count('warning'), missed: count('missed'), items: items.slice(0, MAX_PROBLEMS) };
  }

  private async firstFailedTask(workflows: number[]): Promise<number | null> {
    if (workflows.length === 0) return null;
    const [row] = await this.sql.query<{ id: number }>(
      `SELECT id FROM tasks WHERE workflow_id IN (${workflows.map(() => '?').join(',')}) AND state = 'FAILED' ORDER BY id LIMIT 1`,
      workflows,
    );
    return row ? Number(row.id) : null;
  }

  /** VMs on their hosts, and those without an available backup in the last `days` days. */
  async coverage(days: number): Promise<Coverage> {
    const vms = await this.sql.query<{ id: number; uuid: string; name: string; last_backup_at: Date | null }>(
      `SELECT v.id, v.uuid, v.name, s.last_backup_at FROM vms v LEFT JOIN vm_backup_summaries s ON s.vm = v.uuid WHERE v.present = 1`,
    );
    const cutoff = this.clock.now() - days * DAY_MS;
    const stale = vms
      .filter((v) => v.last_backup_at === null || v.last_backup_at.getTime() < cutoff)
      .sort((a, b) => (a.last_backup_at?.getTime() ?? -Infinity) - (b.last_backup_at?.getTime() ?? -Infinity) || a.name.localeCompare(b.name))
      .map((v) => ({ id: Number(v.id), uuid: v.uuid, name: v.name, lastBackupAt: v.last_backup_at?.toISOString() ?? null }));
    return { days, total: vms.length, covered: vms.length - stale.length, stale };
  }

  /** Each destination's space, and when it is full at the growth of its last 30 days. */
  async space(): Promise<DestinationSpace[]> {
    const dests = await this.sql.query<{ id: number; name: string; stored_bytes: number; free_bytes: number | null; total_bytes: number | null }>(
      'SELECT id, name, stored_bytes, free_bytes, total_bytes FROM destinations ORDER BY name',
    );
    const readings = await this.sql.query<{ destination_id: number; at: Date; stored_bytes: number }>(
      'SELECT destination_id, at, stored_bytes FROM destination_usage WHERE at >= ? ORDER BY at',
      [new Date(this.clock.now() - 30 * DAY_MS)],
    );
    return dests.map((d) => {
      const growth = growthPerDay(readings.filter((r) => Number(r.destination_id) === Number(d.id)).map((r) => ({ at: r.at.getTime(), bytes: Number(r.stored_bytes) })));
      const free = d.free_bytes === null ? null : Number(d.free_bytes);
      return {
        destination: d.name,
        storedBytes: Number(d.stored_bytes),
        freeBytes: free,
        totalBytes: d.total_bytes === null ? null : Number(d.total_bytes),
        growthBytesPerDay: growth,
        daysUntilFull: daysUntilFull(free, growth),
      };
    });
  }
}
