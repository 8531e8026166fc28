import type { Backup } from '../../../common/api/backups.js';
import type { Sql } from '../db/catalog.js';
import { BackupList, type BackupListFilter, type BackupPage } from './backup-list.js';
import { refreshVmSummaries, vmsOfBackups } from './vm-summaries.js';

/** The backup browser's catalog: its pages, one backup; protection, notes, what a run took, forgetting one backup. */
export class BackupsRepository {
  private readonly list: BackupList;

  constructor(private readonly sql: Sql) {
    this.list = new BackupList(sql);
  }

  page(filter: BackupListFilter): Promise<BackupPage> {
    return this.list.page(filter);
  }

  byId(id: number): Promise<Backup | undefined> {
    return this.list.one(id);
  }

  async setProtected(id: number, value: boolean): Promise<void> {
    await this.sql.execute('UPDATE backups SET protected = ? WHERE id = ?', [value ? 1 : 0, id]);
    await refreshVmSummaries(this.sql, (await this.sql.query<{ vm: string }>('SELECT vm FROM backups WHERE id = ?', [id])).map((r) => r.vm));
  }

  /** The mounts holding the backup open now. */
  async openMounts(id: number): Promise<number[]> {
    const rows = await this.sql.query<{ id: number }>("SELECT id FROM mounts WHERE backup_id = ? AND state IN ('MOUNTING','MOUNTED','CLOSING') ORDER BY id", [id]);
    return rows.map((r) => Number(r.id));
  }

  async setNotes(id: number, notes: string | null): Promise<void> {
    await this.sql.execute('UPDATE backups SET notes = ? WHERE id = ?', [notes, id]);
  }

  /**
   * Repository ids of the destination's backups a PRUNE must keep: the protected ones, and
   * those open in a mount (being browsed, restored from or exported over iSCSI right now).
   */
  async protectedIds(destinationId: number): Promise<string[]> {
    const rows = await this.sql.query<{ repo_backup_id: string }>(
      `SELECT b.repo_backup_id FROM backups b
        WHERE b.destination_id = ? AND b.status <> 'removed'
          AND (b.protected = 1 OR EXISTS (SELECT 1 FROM mounts m WHERE m.backup_id = b.id AND m.state IN ('MOUNTING','MOUNTED','CLOSING')))
        ORDER BY b.repo_backup_id`,
      [destinationId],
    );
    return rows.map((r) => r.repo_backup_id);
  }

  /** What a backup's run read and how long it took (from its EXPORT's start to its STORE's end). */
  async recordRun(destinationId: number, repoBackupId: string, run: { readBytes: number; durationSeconds: number | null }): Promise<void> {
    await this.sql.execute('UPDATE backups SET read_bytes = ?, duration_seconds = COALESCE(?, duration_seconds) WHERE destination_id = ? AND repo_backup_id = ?', [
      Math.round(run.readBytes),
      run.durationSeconds,
      destinationId,
      repoBackupId,
    ]);
  }

  /**
   * Forgets a deleted backup; a VM's chain that builds on it is dropped too, so the next backup
   * of that VM to this destination is a full one (not an incremental on a missing base).
   */
  async forget(destinationId: number, repoBackupId: string): Promise<void> {
    const vms = await vmsOfBackups(this.sql, destinationId, [repoBackupId]);
    await this.sql.execute('DELETE FROM vm_chains WHERE destination_id = ? AND repo_backup_id = ?', [destinationId, repoBackupId]);
    await this.sql.execute('DELETE FROM backups WHERE destination_id = ? AND repo_backup_id = ?', [destinationId, repoBackupId]);
    await refreshVmSummaries(this.sql, vms);
  }
}
