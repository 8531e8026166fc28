import type { Backup } from '../../../common/api/backups.js';
import type { BackupCopy } from '../../../common/api/copies.js';
import { CopiesRepository } from '../copies/copies.repository.js';
import type { Sql } from '../db/catalog.js';
import { BackupList, type BackupListFilter, type BackupPage } from './backup-list.js';
import { refreshVmSummaries, vmsOfBackups } from './vm-summaries.js';

/** The backup browser's catalog: its pages, one backup; protection, notes, what a run took, forgetting one backup. */
export class BackupsRepository {
  private readonly list: BackupList;
  private readonly copies: CopiesRepository;

  constructor(private readonly sql: Sql) {
    this.list = new BackupList(sql);
    this.copies = new CopiesRepository(sql);
  }

  /** A page, each backup with its copies on other destinations. */
  async page(filter: BackupListFilter): Promise<BackupPage> {
    const page = await this.list.page(filter);
    const copies = await this.copies.ofBackups(page.backups.map((b) => b.id));
    return { ...page, backups: page.backups.map((b) => ({ ...b, copies: copies.get(b.id) ?? [] })) };
  }

  async byId(id: number): Promise<Backup | undefined> {
    const backup = await this.list.one(id);
    return backup ? { ...backup, copies: await this.copies.ofBackup(id) } : undefined;
  }

  copiesOf(id: number): Promise<BackupCopy[]> {
    return this.copies.ofBackup(id);
  }

  /** Its ok copies become backups of their own destinations (a delete that keeps the copies). */
  promoteCopies(id: number): Promise<number> {
    return this.copies.promote(id);
  }

  forgetCopy(id: number, destinationId: number): Promise<void> {
    return this.copies.remove(id, destinationId);
  }

  /** The catalog id of a destination's backup, by its repository id. */
  async idOf(destinationId: number, repoBackupId: string): Promise<number | undefined> {
    const rows = await this.sql.query<{ id: number }>('SELECT id FROM backups WHERE destination_id = ? AND repo_backup_id = ?', [destinationId, repoBackupId]);
    return rows[0] ? Number(rows[0].id) : undefined;
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
   * A protected backup's copies on the destination are kept too.
   */
  async protectedIds(destinationId: number): Promise<string[]> {
    const rows = await this.sql.query<{ repo_backup_id: string }>(
      `SELECT b.repo_backup_id FROM backups b
        WHERE b.destination_id = ? AND b.status <> 'removed'
          AND (b.protected = 1 OR EXISTS (SELECT 1 FROM mounts m WHERE m.backup_id = b.id AND m.state IN ('MOUNTING','MOUNTED','CLOSING')))
       UNION
       SELECT b.repo_backup_id FROM backup_copies c JOIN backups b ON b.id = c.backup_id
        WHERE c.destination_id = ? AND b.protected = 1
        ORDER BY repo_backup_id`,
      [destinationId, destinationId],
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
   * A backup deleted from its own destination while a copy of it remains (its copy's delete
   * failed, say under object lock, or has not ended yet): it stays in the catalog as `removed`,
   * as retention leaves one, restorable from the copy; the VM's chain on it is dropped as by forget().
   */
  async markDeleted(destinationId: number, repoBackupId: string): Promise<void> {
    const vms = await vmsOfBackups(this.sql, destinationId, [repoBackupId]);
    await this.sql.execute('DELETE FROM vm_chains WHERE destination_id = ? AND repo_backup_id = ?', [destinationId, repoBackupId]);
    await this.sql.execute("UPDATE backups SET status = 'removed' WHERE destination_id = ? AND repo_backup_id = ?", [destinationId, repoBackupId]);
    await refreshVmSummaries(this.sql, vms);
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
