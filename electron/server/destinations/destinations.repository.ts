import type { Destination, DestinationKind, RepoBackup, RepositoryStatsView } from '../../../common/api/destinations.js';
import { S3PlaceSchema, type S3Place } from '../../../common/s3-location.js';
import type { Backup, BackupStatus } from '../../../common/api/backups.js';
import { canonicalName, looksLikeId, sameName } from '../../../common/names.js';
import { BackupList, type BackupListFilter } from '../backups/backup-list.js';
import { refreshVmSummaries, vmsOfBackups } from '../backups/vm-summaries.js';
import { recordFoundCopies } from '../copies/copies.repository.js';
import type { Sql } from '../db/catalog.js';

export interface DestinationRow {
  id: number;
  name: string;
  node_id: number;
  node_name: string;
  kind: DestinationKind;
  path: string;
  /** S3 destinations: the place and the access key id as JSON (S3StoredPlace). */
  s3_place: string | null;
  encrypted: number;
  status: Destination['status'];
  status_message: string | null;
  backups: number;
  logical_bytes: number;
  stored_bytes: number;
  dedup_ratio: number | null;
  compression_ratio: number | null;
  free_bytes: number | null;
  total_bytes: number | null;
  last_checked_at: Date | null;
  created_at: Date;
}

/** What the catalog keeps of an S3 destination besides its sealed secret key. */
export type S3StoredPlace = S3Place & { accessKeyId: string };

/** The S3 place of a destination row; null for a directory. */
export function s3PlaceOf(r: Pick<DestinationRow, 'kind' | 's3_place' | 'name'>): S3StoredPlace | null {
  if (r.kind !== 's3' || r.s3_place === null) return null;
  const raw = JSON.parse(r.s3_place) as Record<string, unknown>;
  const place = S3PlaceSchema.parse(raw);
  if (typeof raw.accessKeyId !== 'string') throw new Error(`destination "${r.name}" has no access key id in the catalog`);
  return { ...place, accessKeyId: raw.accessKeyId };
}

export function toDestination(r: DestinationRow): Destination {
  const s3 = s3PlaceOf(r);
  return {
    id: r.id,
    name: r.name,
    nodeId: r.node_id,
    node: r.node_name,
    kind: r.kind,
    path: r.path,
    s3: s3
      ? {
          ...(s3.endpoint !== undefined ? { endpoint: s3.endpoint } : {}),
          region: s3.region,
          bucket: s3.bucket,
          prefix: s3.prefix,
          forcePathStyle: s3.forcePathStyle,
          ...(s3.lock ? { lock: s3.lock } : {}),
          accessKeyId: s3.accessKeyId,
          customCa: s3.caPem !== undefined,
        }
      : null,
    encrypted: r.encrypted === 1,
    status: r.status,
    statusMessage: r.status_message,
    backups: r.backups,
    logicalBytes: Number(r.logical_bytes),
    storedBytes: Number(r.stored_bytes),
    dedupRatio: r.dedup_ratio,
    compressionRatio: r.compression_ratio,
    freeBytes: r.free_bytes === null ? null : Number(r.free_bytes),
    totalBytes: r.total_bytes === null ? null : Number(r.total_bytes),
    lastCheckedAt: r.last_checked_at ? r.last_checked_at.toISOString() : null,
    createdAt: r.created_at.toISOString(),
  };
}

const SELECT = 'SELECT d.*, n.name AS node_name FROM destinations d JOIN nodes n ON n.id = d.node_id';

export type { BackupListFilter } from '../backups/backup-list.js';

/** What one verify said about the backups of a destination (see reconcileVerify). */
export interface VerifyFindings {
  /** Every backup whose manifest verify read. */
  present: ReadonlySet<string>;
  /** Backups with damaged or missing chunks, and how many. */
  damagedChunks: ReadonlyMap<string, number>;
  /** Backups whose manifest cannot be read, and why. */
  damagedManifests: ReadonlyMap<string, string>;
  /** A full verify (not a subset): intact backups get a new verified_at. */
  complete: boolean;
  at: Date;
}

export class DestinationsRepository {
  constructor(private readonly sql: Sql) {}

  async list(): Promise<DestinationRow[]> {
    return this.sql.query<DestinationRow>(`${SELECT} ORDER BY d.name`);
  }

  /** By id, or by name (common/names.ts): never a destination whose name merely collates alike. */
  async byRef(ref: string): Promise<DestinationRow | undefined> {
    if (looksLikeId(ref)) {
      const rows = await this.sql.query<DestinationRow>(`${SELECT} WHERE d.id = ?`, [Number(ref)]);
      if (rows[0]) return rows[0];
    }
    return (await this.sql.query<DestinationRow>(`${SELECT} WHERE d.name = ?`, [canonicalName(ref)])).find((r) => sameName(r.name, ref));
  }

  async byId(id: number): Promise<DestinationRow | undefined> {
    return (await this.sql.query<DestinationRow>(`${SELECT} WHERE d.id = ?`, [id]))[0];
  }

  async onNode(nodeId: number): Promise<DestinationRow[]> {
    return this.sql.query<DestinationRow>(`${SELECT} WHERE d.node_id = ?`, [nodeId]);
  }

  /** `s3`: an S3 destination's place (its secret key goes to the secrets); `path` is then how it is shown. */
  async insert(d: { name: string; nodeId: number; path: string; encrypted: boolean; s3?: S3StoredPlace }): Promise<number> {
    return (
      await this.sql.execute('INSERT INTO destinations (name, node_id, kind, path, s3_place, encrypted) VALUES (?, ?, ?, ?, ?, ?)', [
        canonicalName(d.name),
        d.nodeId,
        d.s3 ? 's3' : 'directory',
        d.path,
        d.s3 ? JSON.stringify(d.s3) : null,
        d.encrypted ? 1 : 0,
      ])
    ).insertId;
  }

  /** A rotated access key id (the secret key is sealed in the secrets). */
  async setS3AccessKey(id: number, accessKeyId: string): Promise<void> {
    await this.sql.execute("UPDATE destinations SET s3_place = JSON_SET(s3_place, '$.accessKeyId', ?) WHERE id = ? AND kind = 's3'", [accessKeyId, id]);
  }

  async rename(id: number, name: string): Promise<void> {
    await this.sql.execute('UPDATE destinations SET name = ? WHERE id = ?', [canonicalName(name), id]);
  }

  /** Its backups go with it (ON DELETE CASCADE), and with them their VMs' summaries. */
  async delete(id: number): Promise<void> {
    const vms = (await this.sql.query<{ vm: string }>('SELECT DISTINCT vm FROM backups WHERE destination_id = ?', [id])).map((r) => r.vm);
    await this.sql.execute('DELETE FROM destinations WHERE id = ?', [id]);
    await refreshVmSummaries(this.sql, vms);
  }

  async setStatus(id: number, status: Destination['status'], message: string | null): Promise<void> {
    await this.sql.execute('UPDATE destinations SET status = ?, status_message = ? WHERE id = ?', [status, message?.slice(0, 1000) ?? null, id]);
  }

  /** Records fresh numbers from the node and a point of the usage history. */
  async recordStats(id: number, stats: RepositoryStatsView, space?: { freeBytes: number | null; totalBytes: number | null }): Promise<void> {
    await this.sql.execute(
      `UPDATE destinations SET status = 'ok', status_message = NULL, backups = ?, logical_bytes = ?, stored_bytes = ?, dedup_ratio = ?, compression_ratio = ?,
              free_bytes = COALESCE(?, free_bytes), total_bytes = COALESCE(?, total_bytes), last_checked_at = CURRENT_TIMESTAMP(3)
        WHERE id = ?`,
      [stats.backups, Math.round(stats.logicalBytes), Math.round(stats.storedBytes), stats.dedupRatio, stats.compressionRatio, space?.freeBytes ?? null, space?.totalBytes ?? null, id],
    );
    await this.sql.execute('INSERT INTO destination_usage (destination_id, stored_bytes, logical_bytes, backups) VALUES (?, ?, ?, ?)', [
      id,
      Math.round(stats.storedBytes),
      Math.round(stats.logicalBytes),
      stats.backups,
    ]);
  }

  async usage(id: number): Promise<{ at: string; storedBytes: number; logicalBytes: number; backups: number }[]> {
    const rows = await this.sql.query<{ at: Date; stored_bytes: number; logical_bytes: number; backups: number }>(
      'SELECT at, stored_bytes, logical_bytes, backups FROM destination_usage WHERE destination_id = ? ORDER BY at, id LIMIT 5000',
      [id],
    );
    return rows.map((r) => ({ at: r.at.toISOString(), storedBytes: Number(r.stored_bytes), logicalBytes: Number(r.logical_bytes), backups: r.backups }));
  }

  // ---- backups known to the catalog ----

  /** Catalog entries for backups found on the destination (re-import); existing ones are refreshed, none duplicated. */
  async upsertBackups(destinationId: number, found: RepoBackup[]): Promise<number> {
    // A backup the catalog has on another destination is a copy of it there, not a new backup.
    const backups = await recordFoundCopies(this.sql, destinationId, found);
    let added = 0;
    for (const b of backups) {
      const declared = typeof b.source === 'object' && b.source !== null ? (b.source as Record<string, unknown>).type : undefined;
      const type = declared === 'full' || declared === 'incremental' ? declared : null;
      const res = await this.sql.execute(
        `INSERT INTO backups (destination_id, repo_backup_id, vm, type, status, created_at, logical_bytes, stored_bytes, source)
         VALUES (?, ?, ?, ?, 'available', ?, ?, ?, ?)
         ON DUPLICATE KEY UPDATE status = IF(status = 'missing' OR status = 'removed', 'available', status), logical_bytes = VALUES(logical_bytes),
           stored_bytes = COALESCE(VALUES(stored_bytes), stored_bytes)`,
        [destinationId, b.id, b.group, type, new Date(b.createdAt), Math.round(b.logicalBytes), b.storedBytes === undefined ? null : Math.round(b.storedBytes), b.source === undefined ? null : JSON.stringify(b.source)],
      );
      if (res.affectedRows === 1) added += 1;
    }
    await refreshVmSummaries(this.sql, backups.map((b) => b.group));
    return added;
  }

  async markRemoved(destinationId: number, repoBackupIds: string[]): Promise<void> {
    if (!repoBackupIds.length) return;
    await this.sql.execute(`UPDATE backups SET status = 'removed' WHERE destination_id = ? AND repo_backup_id IN (${repoBackupIds.map(() => '?').join(',')})`, [
      destinationId,
      ...repoBackupIds,
    ]);
    await refreshVmSummaries(this.sql, await vmsOfBackups(this.sql, destinationId, repoBackupIds));
  }

  /**
   * Writes what a verify found into the catalog: each backup of the destination the catalog
   * still lists becomes damaged, missing or available (verified at `at` after a full verify).
   * Returns the repository ids verify found that the catalog does not know.
   */
  async reconcileVerify(destinationId: number, f: VerifyFindings): Promise<{ unknown: string[]; damaged: string[]; missing: string[]; intact: number }> {
    const rows = await this.sql.query<{ id: number; repo_backup_id: string; status: BackupStatus; vm: string }>(
      'SELECT id, repo_backup_id, status, vm FROM backups WHERE destination_id = ?',
      [destinationId],
    );
    // The VMs whose backups change state: their summaries count available and damaged ones.
    const changed = new Set<string>();
    const known = new Set(rows.map((r) => r.repo_backup_id));
    const out = { unknown: [...f.present, ...f.damagedManifests.keys()].filter((id) => !known.has(id)).sort(), damaged: [] as string[], missing: [] as string[], intact: 0 };
    const intact: number[] = [];
    for (const r of rows) {
      if (r.status === 'removed') continue;
      const manifestProblem = f.damagedManifests.get(r.repo_backup_id);
      const chunks = f.damagedChunks.get(r.repo_backup_id);
      if (manifestProblem !== undefined || chunks !== undefined) {
        const detail = manifestProblem !== undefined ? `its manifest cannot be read: ${manifestProblem}` : `${chunks} damaged or missing chunk${chunks === 1 ? '' : 's'} (verify ${f.at.toISOString()})`;
        await this.sql.execute("UPDATE backups SET status = 'damaged', damaged_chunks = ?, status_detail = ? WHERE id = ?", [chunks ?? null, detail.slice(0, 1000), r.id]);
        if (r.status !== 'damaged') changed.add(r.vm);
        out.damaged.push(r.repo_backup_id);
      } else if (!f.present.has(r.repo_backup_id)) {
        await this.sql.execute("UPDATE backups SET status = 'missing', damaged_chunks = NULL, status_detail = ? WHERE id = ?", [
          `its manifest is gone from the destination (verify ${f.at.toISOString()})`,
          r.id,
        ]);
        if (r.status !== 'missing') changed.add(r.vm);
        out.missing.push(r.repo_backup_id);
      } else {
        if (r.status !== 'available') changed.add(r.vm);
        intact.push(r.id);
      }
    }
    for (let i = 0; i < intact.length; i += 1000) {
      const ids = intact.slice(i, i + 1000);
      await this.sql.execute(
        `UPDATE backups SET status = 'available', damaged_chunks = NULL, status_detail = NULL${f.complete ? ', verified_at = ?' : ''} WHERE id IN (${ids.map(() => '?').join(',')})`,
        [...(f.complete ? [f.at] : []), ...ids],
      );
    }
    out.intact = intact.length;
    await refreshVmSummaries(this.sql, changed);
    return out;
  }

  /** The destination's backup count from the catalog (after a backup, a prune or a verify), without waiting for its next check. */
  async refreshBackupCount(destinationId: number): Promise<void> {
    await this.sql.execute(
      "UPDATE destinations SET backups = (SELECT COUNT(*) FROM backups WHERE destination_id = ? AND status IN ('available','damaged')) WHERE id = ?",
      [destinationId, destinationId],
    );
  }

  async countBackups(destinationId: number): Promise<number> {
    const rows = await this.sql.query<{ n: number }>("SELECT COUNT(*) AS n FROM backups WHERE destination_id = ? AND status = 'available'", [destinationId]);
    return Number(rows[0]?.n ?? 0);
  }

  /** The backups a filter selects, newest first (backups/backup-list.ts). */
  async listBackups(q: BackupListFilter): Promise<Backup[]> {
    return new BackupList(this.sql).list(q);
  }
}
