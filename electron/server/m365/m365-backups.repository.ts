import { decodeTimeCursor, encodeTimeCursor, pageOf } from '../../../common/api/paging.js';
import type { M365Backup, M365BackupPart } from '../../../common/api/m365.js';
import type { Sql, SqlValue } from '../db/catalog.js';

export interface M365BackupRow {
  id: number;
  destination_id: number;
  destination_name: string;
  run_id: string;
  tenant_id: number | null;
  tenant_name: string | null;
  directory: string;
  subject_kind: 'user' | 'site';
  subject_graph_id: string;
  subject_name: string;
  user_id: number | null;
  site_id: number | null;
  kind: 'full' | 'incremental';
  created_at: Date;
  items: number | bigint;
  files: number | bigint;
  bytes: number | bigint;
  stored_bytes: number | bigint;
  warnings: string | string[] | null;
  parts: string | M365BackupPart[];
  status: 'available' | 'removed';
  task_id: number | null;
}

/** A backup as it goes into the catalog (from a finished M365_BACKUP, or re-imported). */
export interface M365BackupInput {
  destinationId: number;
  runId: string;
  tenantId: number | null;
  directory: string;
  subject: { kind: 'user' | 'site'; graphId: string; name: string; userId: number | null; siteId: number | null };
  createdAt: Date;
  parts: M365BackupPart[];
  warnings: string[];
  taskId: number | null;
}

const json = <T>(v: string | T | null): T | null => (typeof v === 'string' ? (JSON.parse(v) as T) : v);

export function toM365Backup(r: M365BackupRow): M365Backup {
  return {
    id: r.id,
    tenant: r.tenant_name,
    tenantId: r.tenant_id,
    subject: { kind: r.subject_kind, id: r.subject_kind === 'user' ? r.user_id : r.site_id, graphId: r.subject_graph_id, name: r.subject_name },
    destinationId: r.destination_id,
    destination: r.destination_name,
    createdAt: r.created_at.toISOString(),
    kind: r.kind,
    items: Number(r.items),
    files: Number(r.files),
    bytes: Number(r.bytes),
    storedBytes: Number(r.stored_bytes),
    warnings: json<string[]>(r.warnings) ?? [],
    parts: (json<M365BackupPart[]>(r.parts) ?? []).map((p) => ({ ...p, partKind: p.partKind ?? 'drive' })),
    status: r.status,
    taskId: r.task_id,
  };
}

const SELECT = `SELECT mb.*, d.name AS destination_name, t.name AS tenant_name
  FROM m365_backups mb JOIN destinations d ON d.id = mb.destination_id LEFT JOIN m365_tenants t ON t.id = mb.tenant_id`;

export interface M365BackupFilter {
  tenantId?: number;
  userId?: number;
  siteId?: number;
  destinationId?: number;
  limit: number;
  cursor?: string;
}

/** The catalog of Microsoft 365 backups: one row per backup of a user or a site, its drives' points in `parts`. */
export class M365BackupsRepository {
  constructor(private readonly sql: Sql) {}

  /** Records a backup; one the catalog has (same destination and run) is left as it is. Returns its id. */
  async upsert(b: M365BackupInput, sql: Sql = this.sql): Promise<{ id: number; added: boolean }> {
    const sum = (k: 'items' | 'files' | 'bytes' | 'storedBytes') => b.parts.reduce((n, p) => n + p[k], 0);
    const kind = b.parts.some((p) => p.kind === 'incremental') ? 'incremental' : 'full';
    const r = await sql.execute(
      `INSERT IGNORE INTO m365_backups (destination_id, run_id, tenant_id, directory, subject_kind, subject_graph_id, subject_name, user_id, site_id, kind, created_at, items, files, bytes, stored_bytes, warnings, parts, task_id)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [
        b.destinationId, b.runId, b.tenantId, b.directory, b.subject.kind, b.subject.graphId, b.subject.name.slice(0, 320), b.subject.userId, b.subject.siteId,
        kind, b.createdAt, sum('items'), sum('files'), sum('bytes'), sum('storedBytes'), JSON.stringify(b.warnings.slice(0, 100)), JSON.stringify(b.parts), b.taskId,
      ],
    );
    if (r.affectedRows > 0) return { id: Number(r.insertId), added: true };
    const row = (await sql.query<{ id: number }>('SELECT id FROM m365_backups WHERE destination_id = ? AND run_id = ?', [b.destinationId, b.runId]))[0]!;
    return { id: row.id, added: false };
  }

  async byId(id: number): Promise<M365BackupRow | undefined> {
    return (await this.sql.query<M365BackupRow>(`${SELECT} WHERE mb.id = ?`, [id]))[0];
  }

  /** Newest first, by (time, id) cursor. */
  async page(f: M365BackupFilter): Promise<{ rows: M365BackupRow[]; nextCursor: string | null }> {
    const where: string[] = [];
    const params: SqlValue[] = [];
    const eq = (col: string, v: number | undefined) => {
      if (v === undefined) return;
      where.push(`${col} = ?`);
      params.push(v);
    };
    eq('mb.tenant_id', f.tenantId);
    eq('mb.user_id', f.userId);
    eq('mb.site_id', f.siteId);
    eq('mb.destination_id', f.destinationId);
    if (f.cursor) {
      const k = decodeTimeCursor(f.cursor);
      where.push('(mb.created_at < ? OR (mb.created_at = ? AND mb.id < ?))');
      params.push(k.at, k.at, k.id);
    }
    const rows = await this.sql.query<M365BackupRow>(
      `${SELECT} ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY mb.created_at DESC, mb.id DESC LIMIT ${f.limit + 1}`,
      params,
    );
    return pageOf(rows, f.limit, (r) => encodeTimeCursor({ at: r.created_at, id: r.id }));
  }

  /** The repository objects (drives) the available backups of these users and sites have on a destination. */
  async objectKeysOf(destinationId: number, members: { userIds: readonly number[]; siteIds: readonly number[] }): Promise<string[]> {
    const ors: string[] = [];
    const params: SqlValue[] = [destinationId];
    if (members.userIds.length > 0) {
      ors.push(`user_id IN (${members.userIds.map(() => '?').join(', ')})`);
      params.push(...members.userIds);
    }
    if (members.siteIds.length > 0) {
      ors.push(`site_id IN (${members.siteIds.map(() => '?').join(', ')})`);
      params.push(...members.siteIds);
    }
    if (ors.length === 0) return [];
    const rows = await this.sql.query<{ parts: string | M365BackupPart[] }>(`SELECT parts FROM m365_backups WHERE destination_id = ? AND status = 'available' AND (${ors.join(' OR ')})`, params);
    return [...new Set(rows.flatMap((r) => (json<M365BackupPart[]>(r.parts) ?? []).map((p) => p.objectKey)))].sort();
  }

  /** Point ids of the destination's backups open in a mount now: retention leaves them. */
  async mountedPoints(destinationId: number): Promise<string[]> {
    const rows = await this.sql.query<{ parts: string | M365BackupPart[] }>(
      `SELECT mb.parts FROM m365_backups mb
        WHERE mb.destination_id = ? AND mb.status = 'available'
          AND EXISTS (SELECT 1 FROM mounts m WHERE m.m365_backup_id = mb.id AND m.state IN ('MOUNTING','MOUNTED','CLOSING'))`,
      [destinationId],
    );
    return rows.flatMap((r) => (json<M365BackupPart[]>(r.parts) ?? []).map((p) => p.pointId));
  }

  /**
   * After a prune of the points of `objectKeys`: a backup is removed once none of its points is
   * left, that is each was removed now, or is of a pruned object and was not kept (removed by
   * an earlier prune). A backup with a point of an object outside the prune stays. Answers the
   * ids marked.
   */
  async markPruned(destinationId: number, pruned: { removed: ReadonlySet<string>; kept: ReadonlySet<string>; objectKeys: ReadonlySet<string> }): Promise<number[]> {
    if (pruned.removed.size === 0) return [];
    const rows = await this.sql.query<{ id: number; parts: string | M365BackupPart[] }>(`SELECT id, parts FROM m365_backups WHERE destination_id = ? AND status = 'available'`, [destinationId]);
    const gone = (p: M365BackupPart) => pruned.removed.has(p.pointId) || (pruned.objectKeys.has(p.objectKey) && !pruned.kept.has(p.pointId));
    const ids = rows
      .filter((r) => {
        const parts = json<M365BackupPart[]>(r.parts) ?? [];
        return parts.some((p) => pruned.removed.has(p.pointId)) && parts.every(gone);
      })
      .map((r) => Number(r.id));
    if (ids.length > 0) await this.sql.execute(`UPDATE m365_backups SET status = 'removed' WHERE id IN (${ids.map(() => '?').join(', ')})`, ids);
    return ids;
  }

}
