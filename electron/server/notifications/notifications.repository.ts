import type { Sql } from '../db/catalog.js';

const SETTINGS_NAME = 'notifications';

export interface WorkflowRow {
  id: number;
  type: string;
  subject: string | null;
  state: string;
  created_by: string | null;
}

export interface ReportWorkflowRow {
  id: number;
  state: string;
  subject: string | null;
  finished_at: Date;
  failed_task_id: number | null;
  failed_error: string | null;
}

export interface ReportTaskRow {
  id: number;
  type: string;
  state: string;
  subject: string | null;
  error: string | null;
  finished_at: Date;
}

export interface ReportPolicyRunRow {
  state: string;
  policy: string;
  scheduled_for: Date | null;
  message: string | null;
}

export interface ReportDestinationRow {
  name: string;
  status: string;
  backups: number;
  stored_bytes: number;
  logical_bytes: number;
  free_bytes: number | null;
  total_bytes: number | null;
  stored_before: number | null;
}

/** The catalog side of notifications: the settings row, and what messages and the daily report read. */
export class NotificationsRepository {
  constructor(private readonly sql: Sql) {}

  async readSettings(): Promise<unknown> {
    const rows = await this.sql.query<{ value: unknown }>('SELECT value FROM settings WHERE name = ?', [SETTINGS_NAME]);
    const value = rows[0]?.value;
    // MariaDB's JSON is LONGTEXT: the driver hands back the text.
    return typeof value === 'string' ? (JSON.parse(value) as unknown) : value;
  }

  async writeSettings(value: unknown, sql: Sql = this.sql): Promise<void> {
    await sql.execute('INSERT INTO settings (name, value) VALUES (?, ?) ON DUPLICATE KEY UPDATE value = VALUES(value)', [SETTINGS_NAME, JSON.stringify(value)]);
  }

  async workflow(id: number): Promise<WorkflowRow | undefined> {
    return (await this.sql.query<WorkflowRow>('SELECT id, type, subject, state, created_by FROM workflows WHERE id = ?', [id]))[0];
  }

  /** The task's last warnings and errors, oldest first. */
  async problemLog(taskId: number, limit: number): Promise<{ level: string; message: string }[]> {
    const rows = await this.sql.query<{ level: string; message: string }>(
      "SELECT level, message FROM task_logs WHERE task_id = ? AND level IN ('warn','error') ORDER BY id DESC LIMIT ?",
      [taskId, limit],
    );
    return rows.reverse();
  }

  /** Backup workflows that ended in [from, to), each with its failed step if any. */
  async backupWorkflows(from: Date, to: Date): Promise<ReportWorkflowRow[]> {
    return this.sql.query<ReportWorkflowRow>(
      `SELECT w.id, w.state, w.subject, w.finished_at, f.id AS failed_task_id, f.error AS failed_error
         FROM workflows w
         LEFT JOIN tasks f ON f.id = (SELECT t.id FROM tasks t WHERE t.workflow_id = w.id AND t.state = 'FAILED' ORDER BY t.seq LIMIT 1)
        WHERE w.type = 'BACKUP' AND w.finished_at >= ? AND w.finished_at < ?
        ORDER BY w.finished_at`,
      [from, to],
    );
  }

  /** STORE tasks outside a workflow that ended in [from, to). */
  async standaloneStores(from: Date, to: Date): Promise<ReportTaskRow[]> {
    return this.sql.query<ReportTaskRow>(
      `SELECT id, type, state, subject, error, finished_at FROM tasks
        WHERE type = 'STORE' AND workflow_id IS NULL AND finished_at >= ? AND finished_at < ?
        ORDER BY finished_at`,
      [from, to],
    );
  }

  /** Failed tasks in [from, to) that are not backups (those are counted per workflow). */
  async otherFailedTasks(from: Date, to: Date, limit: number): Promise<ReportTaskRow[]> {
    return this.sql.query<ReportTaskRow>(
      `SELECT t.id, t.type, t.state, t.subject, t.error, t.finished_at
         FROM tasks t LEFT JOIN workflows w ON w.id = t.workflow_id
        WHERE t.state = 'FAILED' AND t.finished_at >= ? AND t.finished_at < ?
          AND (w.id IS NULL OR w.type <> 'BACKUP')
          AND NOT (t.type = 'STORE' AND t.workflow_id IS NULL)
        ORDER BY t.finished_at LIMIT ?`,
      [from, to, limit],
    );
  }

  /** Policy runs that ended in [from, to), and missed ones whose occurrence fell in it. */
  async policyRuns(from: Date, to: Date): Promise<ReportPolicyRunRow[]> {
    return this.sql.query<ReportPolicyRunRow>(
      `SELECT r.state, p.name AS policy, r.scheduled_for, r.message
         FROM policy_runs r JOIN policies p ON p.id = r.policy_id
        WHERE (r.state = 'missed' AND COALESCE(r.scheduled_for, r.created_at) >= ? AND COALESCE(r.scheduled_for, r.created_at) < ?)
           OR (r.state IN ('finished','finished_with_warnings','failed') AND r.finished_at >= ? AND r.finished_at < ?)
        ORDER BY COALESCE(r.scheduled_for, r.created_at)`,
      [from, to, from, to],
    );
  }

  /** Every destination now, with its stored bytes at `before` (the newest sample not after it). */
  async destinations(before: Date): Promise<ReportDestinationRow[]> {
    return this.sql.query<ReportDestinationRow>(
      `SELECT d.name, d.status, d.backups, d.stored_bytes, d.logical_bytes, d.free_bytes, d.total_bytes,
              (SELECT u.stored_bytes FROM destination_usage u WHERE u.destination_id = d.id AND u.at <= ? ORDER BY u.at DESC LIMIT 1) AS stored_before
         FROM destinations d ORDER BY d.name`,
      [before],
    );
  }
}
