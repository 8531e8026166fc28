import type { Sql } from '../db/catalog.js';

/**
 * Each VM's backup summary (vm_backup_summaries, migration 0013): its newest available backup,
 * how many are available, damaged and protected, its name in its newest backup. The VMs list,
 * a VM's page and the dashboard's coverage read these rows instead of going over every backup
 * of every VM on each request.
 *
 * Kept up to date by the repositories that write backups (every insert, status change,
 * protection and delete calls refreshVmSummaries for the VMs it touched), not by triggers:
 * MariaDB runs no trigger for rows a foreign key's ON DELETE CASCADE removes (a destination
 * removed with its backups), and a per-row trigger would make a verify that marks thousands of
 * backups, or a re-import, pay once per row. Refreshing recomputes a VM's row from its
 * backups through the (vm, created_at) index — a few hundred index entries for a year of
 * nightly backups — so it cannot drift, whatever wrote before. In the catalog's REPEATABLE
 * READ, INSERT … SELECT reads the backups with shared locks: a write racing with a refresh
 * waits for it, then refreshes again itself, so the last refresh sees the last write.
 */

const SUMMARY = `SELECT s.vm,
       (SELECT JSON_VALUE(n.source, '$.vm.name') FROM backups n WHERE n.vm = s.vm ORDER BY n.created_at DESC, n.id DESC LIMIT 1) AS vm_name,
       s.available, s.damaged, s.protected, l.id, l.created_at, l.type
  FROM (SELECT vm, SUM(status = 'available') AS available, SUM(status = 'damaged') AS damaged, SUM(protected) AS protected
          FROM backups WHERE %WHERE% GROUP BY vm) s
  LEFT JOIN backups l ON l.id = (SELECT a.id FROM backups a WHERE a.vm = s.vm AND a.status = 'available' ORDER BY a.created_at DESC, a.id DESC LIMIT 1)`;

const UPSERT = `INSERT INTO vm_backup_summaries (vm, vm_name, backups, damaged, protected, last_backup_id, last_backup_at, last_backup_type)
  ${SUMMARY}
  ON DUPLICATE KEY UPDATE vm_name = VALUES(vm_name), backups = VALUES(backups), damaged = VALUES(damaged), protected = VALUES(protected),
    last_backup_id = VALUES(last_backup_id), last_backup_at = VALUES(last_backup_at), last_backup_type = VALUES(last_backup_type)`;

/** VMs per statement: an IN list the (vm, created_at) index answers range by range. */
const BATCH = 500;

/** Recomputes the summaries of these VMs (values of backups.vm) from their backups; a VM left without backups loses its row. */
export async function refreshVmSummaries(sql: Sql, vms: Iterable<string>): Promise<void> {
  const all = [...new Set(vms)];
  for (let i = 0; i < all.length; i += BATCH) {
    const batch = all.slice(i, i + BATCH);
    const list = batch.map(() => '?').join(',');
    await sql.execute(UPSERT.replace('%WHERE%', `vm IN (${list})`), batch);
    await sql.execute(`DELETE FROM vm_backup_summaries WHERE vm IN (${list}) AND NOT EXISTS (SELECT 1 FROM backups b WHERE b.vm = vm_backup_summaries.vm)`, batch);
  }
}

/** Every VM's summary again (after a bulk load such as the scale fixture). */
export async function refreshAllVmSummaries(sql: Sql): Promise<void> {
  await sql.execute(UPSERT.replace('%WHERE%', '1'));
  await sql.execute('DELETE FROM vm_backup_summaries WHERE NOT EXISTS (SELECT 1 FROM backups b WHERE b.vm = vm_backup_summaries.vm)');
}

/** The VMs (backups.vm) of some backups of a destination, by repository id: before they change or go. */
export async function vmsOfBackups(sql: Sql, destinationId: number, repoBackupIds: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < repoBackupIds.length; i += BATCH) {
    const batch = repoBackupIds.slice(i, i + BATCH);
    const rows = await sql.query<{ vm: string }>(`SELECT DISTINCT vm FROM backups WHERE destination_id = ? AND repo_backup_id IN (${batch.map(() => '?').join(',')})`, [destinationId, ...batch]);
    out.push(...rows.map((r) => r.vm));
  }
  return out;
}
