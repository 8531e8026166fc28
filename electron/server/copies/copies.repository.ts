import type { BackupCopy, CopyListItem, CopyState } from '../../../common/api/copies.js';
import type { RepoBackup } from '../../../common/api/destinations.js';
import type { Sql, SqlValue } from '../db/catalog.js';

interface CopyRow {
  id: number;
  backup_id: number;
  destination_id: number;
  destination_name: string;
  state: CopyState;
  task_id: number | null;
  stored_bytes: number | null;
  created_at: Date;
  finished_at: Date | null;
  error: string | null;
}

interface CopyListRow extends CopyRow {
  vm: string;
  vm_name: string | null;
  source_destination_name: string;
  backup_created_at: Date;
  repo_backup_id: string;
}

function toCopy(r: CopyRow): BackupCopy {
  return {
    id: Number(r.id),
    backupId: Number(r.backup_id),
    destinationId: Number(r.destination_id),
    destination: r.destination_name,
    state: r.state,
    taskId: r.task_id === null ? null : Number(r.task_id),
    storedBytes: r.stored_bytes === null ? null : Number(r.stored_bytes),
    createdAt: r.created_at.toISOString(),
    finishedAt: r.finished_at ? r.finished_at.toISOString() : null,
    error: r.error,
  };
}

const SELECT = `SELECT c.*, d.name AS destination_name FROM backup_copies c JOIN destinations d ON d.id = c.destination_id`;
const LIST = `SELECT c.*, d.name AS destination_name, b.vm, JSON_VALUE(b.source, '$.vm.name') AS vm_name, sd.name AS source_destination_name,
       b.created_at AS backup_created_at, b.repo_backup_id
  FROM backup_copies c JOIN destinations d ON d.id = c.destination_id JOIN backups b ON b.id = c.backup_id JOIN destinations sd ON sd.id = b.destination_id`;

/** The catalog's copies of backups on other destinations (table backup_copies, migration 0020). */
export class CopiesRepository {
  constructor(private readonly sql: Sql) {}

  async ofBackup(backupId: number): Promise<BackupCopy[]> {
    return (await this.sql.query<CopyRow>(`${SELECT} WHERE c.backup_id = ? ORDER BY c.created_at, c.id`, [backupId])).map(toCopy);
  }

  /** The copies of these backups, by backup (for a page of the backup list). */
  async ofBackups(backupIds: readonly number[]): Promise<Map<number, BackupCopy[]>> {
    const out = new Map<number, BackupCopy[]>();
    if (backupIds.length === 0) return out;
    const rows = await this.sql.query<CopyRow>(`${SELECT} WHERE c.backup_id IN (${backupIds.map(() => '?').join(',')}) ORDER BY c.created_at, c.id`, [...backupIds]);
    for (const r of rows.map(toCopy)) out.set(r.backupId, [...(out.get(r.backupId) ?? []), r]);
    return out;
  }

  async one(backupId: number, destinationId: number): Promise<BackupCopy | undefined> {
    const rows = await this.sql.query<CopyRow>(`${SELECT} WHERE c.backup_id = ? AND c.destination_id = ?`, [backupId, destinationId]);
    return rows[0] ? toCopy(rows[0]) : undefined;
  }

  async list(q: { backupId?: number; destinationId?: number; state?: CopyState; limit: number }): Promise<CopyListItem[]> {
    const where: string[] = [];
    const params: SqlValue[] = [];
    const add = (clause: string, value: SqlValue): void => {
      where.push(clause);
      params.push(value);
    };
    if (q.backupId !== undefined) add('c.backup_id = ?', q.backupId);
    if (q.destinationId !== undefined) add('c.destination_id = ?', q.destinationId);
    if (q.state !== undefined) add('c.state = ?', q.state);
    const rows = await this.sql.query<CopyListRow>(`${LIST} ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY c.created_at DESC, c.id DESC LIMIT ?`, [...params, q.limit]);
    return rows.map((r) => ({
      ...toCopy(r),
      vm: r.vm,
      vmName: r.vm_name,
      sourceDestination: r.source_destination_name,
      backupCreatedAt: r.backup_created_at.toISOString(),
      repoBackupId: r.repo_backup_id,
    }));
  }

  /** A copy being made by `taskId` (a new row, or a failed one tried again). */
  async starting(backupId: number, destinationId: number, taskId: number): Promise<void> {
    await this.sql.execute(
      `INSERT INTO backup_copies (backup_id, destination_id, state, task_id) VALUES (?, ?, 'copying', ?)
       ON DUPLICATE KEY UPDATE state = 'copying', task_id = VALUES(task_id), error = NULL, finished_at = NULL, created_at = CURRENT_TIMESTAMP(3)`,
      [backupId, destinationId, taskId],
    );
  }

  /** A copy that could not even start (a policy's target unreachable now): failed, with why. */
  async refused(backupId: number, destinationId: number, error: string): Promise<void> {
    await this.sql.execute(
      `INSERT INTO backup_copies (backup_id, destination_id, state, error, finished_at) VALUES (?, ?, 'failed', ?, CURRENT_TIMESTAMP(3))
       ON DUPLICATE KEY UPDATE state = IF(state = 'ok', 'ok', 'failed'), error = IF(state = 'ok', error, VALUES(error)), finished_at = CURRENT_TIMESTAMP(3)`,
      [backupId, destinationId, error.slice(0, 2000)],
    );
  }

  /** The COPY task's end; only the row that task owns changes (a newer attempt may have taken it over). */
  async finished(backupId: number, destinationId: number, taskId: number, outcome: { ok: true; storedBytes: number | null } | { ok: false; error: string }): Promise<boolean> {
    const res = outcome.ok
      ? await this.sql.execute("UPDATE backup_copies SET state = 'ok', stored_bytes = ?, error = NULL, finished_at = CURRENT_TIMESTAMP(3) WHERE backup_id = ? AND destination_id = ? AND task_id = ?", [
          outcome.storedBytes === null ? null : Math.round(outcome.storedBytes),
          backupId,
          destinationId,
          taskId,
        ])
      : await this.sql.execute("UPDATE backup_copies SET state = 'failed', error = ?, finished_at = CURRENT_TIMESTAMP(3) WHERE backup_id = ? AND destination_id = ? AND task_id = ?", [
          outcome.error.slice(0, 2000),
          backupId,
          destinationId,
          taskId,
        ]);
    return res.affectedRows > 0;
  }

  /** Copies gone from a destination (pruned there, deleted): the catalog forgets them. Returns the backups whose copy went. */
  async forget(destinationId: number, repoBackupIds: readonly string[]): Promise<number[]> {
    if (repoBackupIds.length === 0) return [];
    const marks = repoBackupIds.map(() => '?').join(',');
    const rows = await this.sql.query<{ backup_id: number }>(
      `SELECT c.backup_id FROM backup_copies c JOIN backups b ON b.id = c.backup_id WHERE c.destination_id = ? AND b.repo_backup_id IN (${marks})`,
      [destinationId, ...repoBackupIds],
    );
    if (rows.length === 0) return [];
    const ids = rows.map((r) => Number(r.backup_id));
    await this.sql.execute(`DELETE FROM backup_copies WHERE destination_id = ? AND backup_id IN (${ids.map(() => '?').join(',')})`, [destinationId, ...ids]);
    return ids;
  }

  async remove(backupId: number, destinationId: number): Promise<void> {
    await this.sql.execute('DELETE FROM backup_copies WHERE backup_id = ? AND destination_id = ?', [backupId, destinationId]);
  }

  /**
   * Keeps a backup's copies as backups of their own (its deletion from its own destination
   * with keepCopies): each ok copy becomes a catalog backup on its destination, with the
   * original's metadata, and stops being a copy.
   */
  async promote(backupId: number): Promise<number> {
    const res = await this.sql.execute(
      `INSERT IGNORE INTO backups (destination_id, repo_backup_id, vm, type, status, created_at, logical_bytes, stored_bytes, source, notes, read_bytes, duration_seconds)
       SELECT c.destination_id, b.repo_backup_id, b.vm, b.type, 'available', b.created_at, b.logical_bytes, c.stored_bytes, b.source, b.notes, b.read_bytes, b.duration_seconds
         FROM backup_copies c JOIN backups b ON b.id = c.backup_id WHERE c.backup_id = ? AND c.state = 'ok'`,
      [backupId],
    );
    await this.sql.execute("DELETE FROM backup_copies WHERE backup_id = ? AND state = 'ok'", [backupId]);
    return res.affectedRows;
  }
}

/**
 * Re-import (and every way backups enter the catalog) finds a backup the catalog already has
 * on another destination: that is a copy of it, recorded as an ok copy, not a new backup.
 * Returns the backups that are not copies (to record as backups of this destination).
 */
export async function recordFoundCopies(sql: Sql, destinationId: number, backups: readonly RepoBackup[]): Promise<RepoBackup[]> {
  if (backups.length === 0) return [];
  const originals = new Map<string, number>();
  for (let i = 0; i < backups.length; i += 1000) {
    const ids = backups.slice(i, i + 1000).map((b) => b.id);
    const rows = await sql.query<{ id: number; repo_backup_id: string }>(
      `SELECT id, repo_backup_id FROM backups WHERE destination_id <> ? AND repo_backup_id IN (${ids.map(() => '?').join(',')})
         AND NOT EXISTS (SELECT 1 FROM backups o WHERE o.destination_id = ? AND o.repo_backup_id = backups.repo_backup_id)`,
      [destinationId, ...ids, destinationId],
    );
    for (const r of rows) if (!originals.has(r.repo_backup_id)) originals.set(r.repo_backup_id, Number(r.id));
  }
  const rest: RepoBackup[] = [];
  for (const b of backups) {
    const original = originals.get(b.id);
    if (original === undefined) {
      rest.push(b);
      continue;
    }
    await sql.execute(
      `INSERT INTO backup_copies (backup_id, destination_id, state, stored_bytes, finished_at) VALUES (?, ?, 'ok', ?, CURRENT_TIMESTAMP(3))
       ON DUPLICATE KEY UPDATE state = 'ok', error = NULL, stored_bytes = COALESCE(stored_bytes, VALUES(stored_bytes)), finished_at = COALESCE(finished_at, VALUES(finished_at))`,
      [original, destinationId, b.storedBytes === undefined ? null : Math.round(b.storedBytes)],
    );
  }
  return rest;
}
