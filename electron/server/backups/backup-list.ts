import type { Backup, BackupStatus } from '../../../common/api/backups.js';
import { encodeTimeCursor, pageOf, type TimeKey } from '../../../common/api/paging.js';
import type { Sql, SqlValue } from '../db/catalog.js';

interface BackupRow {
  id: number;
  destination_id: number;
  destination_name: string;
  repo_backup_id: string;
  vm: string;
  type: 'full' | 'incremental' | null;
  status: BackupStatus;
  created_at: Date;
  logical_bytes: number;
  stored_bytes: number | null;
  verified_at: Date | null;
  damaged_chunks: number | null;
  status_detail: string | null;
  protected: number;
  notes: string | null;
  read_bytes: number | null;
  duration_seconds: number | null;
  vm_name: string | null;
}

/** What the backup list can be narrowed by (GET /api/backups). Newest first: created_at, then id, descending. */
export interface BackupListFilter {
  id?: number;
  destinationId?: number;
  vm?: string;
  status?: string;
  from?: string;
  to?: string;
  search?: string;
  protected?: boolean;
  limit: number;
  /** The rows after this one, by (created_at, id): a keyset page, as fast deep in the history as at its start. */
  cursor?: TimeKey;
  /** Rows to skip first; kept for older callers, it reads every row it skips. */
  offset?: number;
}

export interface BackupPage {
  backups: Backup[];
  nextCursor: string | null;
}

const escapeLike = (words: string): string => words.replace(/[\\%_]/g, (c) => `\\${c}`);

function toBackup(r: BackupRow): Backup {
  return {
    id: r.id,
    destinationId: r.destination_id,
    destination: r.destination_name,
    repoBackupId: r.repo_backup_id,
    vm: r.vm,
    vmName: r.vm_name,
    type: r.type,
    status: r.status,
    createdAt: r.created_at.toISOString(),
    logicalBytes: Number(r.logical_bytes),
    storedBytes: r.stored_bytes === null ? null : Number(r.stored_bytes),
    verifiedAt: r.verified_at ? r.verified_at.toISOString() : null,
    damagedChunks: r.damaged_chunks === null ? null : Number(r.damaged_chunks),
    statusDetail: r.status_detail,
    protected: Number(r.protected) === 1,
    notes: r.notes,
    readBytes: r.read_bytes === null ? null : Number(r.read_bytes),
    durationSeconds: r.duration_seconds === null ? null : Number(r.duration_seconds),
  };
}

const ORDER = 'ORDER BY created_at DESC, id DESC';
const DETAILS = `SELECT b.*, d.name AS destination_name, JSON_VALUE(b.source, '$.vm.name') AS vm_name
  FROM backups b JOIN destinations d ON d.id = b.destination_id`;

/**
 * The backup list's queries (migration 0013 has their indexes). The ids of a page are found in
 * the backups table alone, each filter read backwards from its (filter, created_at) index
 * with the page's start as a range (keyset: `(created_at, id) <` the cursor), then joined
 * with their details: the page costs the same on the first and the 300,000th row. A search
 * is the union of what each of its parts finds through its own index (the VMs whose name or
 * UUID matches, by their backups; notes, among the few backups that have any; a backup id
 * by its beginning), each part stopping at the page's size.
 */
export class BackupList {
  constructor(private readonly sql: Sql) {}

  async one(id: number): Promise<Backup | undefined> {
    const rows = await this.sql.query<BackupRow>(`${DETAILS} WHERE b.id = ?`, [id]);
    return rows[0] ? toBackup(rows[0]) : undefined;
  }

  async list(q: BackupListFilter): Promise<Backup[]> {
    const ids = await this.ids(q, q.limit);
    if (ids.length === 0) return [];
    const rows = await this.sql.query<BackupRow>(`${DETAILS} WHERE b.id IN (${ids.map(() => '?').join(',')}) ORDER BY b.created_at DESC, b.id DESC`, ids);
    return rows.map(toBackup);
  }

  /** A page and the cursor of the next one (null: there is none). */
  async page(q: BackupListFilter): Promise<BackupPage> {
    const { rows, nextCursor } = pageOf(await this.list({ ...q, limit: q.limit + 1 }), q.limit, (b) => encodeTimeCursor({ at: new Date(b.createdAt), id: b.id }));
    return { backups: rows, nextCursor };
  }

  /** The ids of the page, in list order. */
  private async ids(q: BackupListFilter, limit: number): Promise<number[]> {
    const where: string[] = [];
    const params: SqlValue[] = [];
    const add = (clause: string, ...values: SqlValue[]): void => {
      where.push(clause);
      params.push(...values);
    };
    if (q.id !== undefined) add('id = ?', q.id);
    if (q.destinationId !== undefined) add('destination_id = ?', q.destinationId);
    if (q.vm) add('vm = ?', q.vm);
    if (q.status) add('status = ?', q.status);
    if (q.from) add('created_at >= ?', new Date(q.from));
    if (q.to) add('created_at < ?', new Date(q.to));
    if (q.protected !== undefined) add('protected = ?', q.protected ? 1 : 0);
    if (q.cursor) add('(created_at < ? OR (created_at = ? AND id < ?))', q.cursor.at, q.cursor.at, q.cursor.id);
    const skip = q.cursor ? 0 : (q.offset ?? 0);
    const search = q.search?.trim();
    if (!search) {
      const rows = await this.sql.query<{ id: number }>(`SELECT id FROM backups ${whereOf(where)} ${ORDER} LIMIT ? OFFSET ?`, [...params, limit, skip]);
      return rows.map((r) => Number(r.id));
    }

    const contains = `%${escapeLike(search)}%`;
    // The VMs whose name (in the inventory, or in their newest backup) or UUID contains the words.
    const vms = (
      await this.sql.query<{ vm: string }>(
        `SELECT vm FROM vm_backup_summaries WHERE vm LIKE ? OR vm_name LIKE ?
         UNION SELECT s.vm FROM vms v JOIN vm_backup_summaries s ON s.vm = v.uuid WHERE v.name LIKE ?`,
        [contains, contains, contains],
      )
    ).map((r) => r.vm);
    const parts: { clause: string; values: SqlValue[] }[] = [
      { clause: 'notes IS NOT NULL AND notes LIKE ?', values: [contains] },
      { clause: 'repo_backup_id LIKE ?', values: [`${escapeLike(search)}%`] },
    ];
    if (vms.length > 0) parts.unshift({ clause: `vm IN (${vms.map(() => '?').join(',')})`, values: vms });
    const enough = limit + skip;
    const union = parts.map((p) => `(SELECT id, created_at FROM backups ${whereOf([...where, p.clause])} ${ORDER} LIMIT ${enough})`).join(' UNION ');
    const rows = await this.sql.query<{ id: number }>(
      `SELECT id FROM (${union}) u ${ORDER} LIMIT ? OFFSET ?`,
      [...parts.flatMap((p) => [...params, ...p.values]), limit, skip],
    );
    return rows.map((r) => Number(r.id));
  }
}

const whereOf = (where: string[]): string => (where.length > 0 ? `WHERE ${where.join(' AND ')}` : '');
