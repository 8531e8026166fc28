import type { AuditEntry, AuditPage, AuditQuery } from '../../../common/api/audit.js';
import { encodeTimeCursor, pageOf } from '../../../common/api/paging.js';
import type { Sql } from '../db/catalog.js';
import { KeysetWhere } from '../db/keyset.js';

interface AuditRow {
  id: number;
  at: Date;
  actor: string;
  action: string;
  target: string | null;
  details: string | Record<string, unknown> | null;
  ip: string | null;
}

export interface AuditRecordInput {
  actor: string;
  action: string;
  target?: string | null;
  details?: Record<string, unknown> | null;
  ip?: string | null;
}

function toEntry(r: AuditRow): AuditEntry {
  const details = typeof r.details === 'string' ? (JSON.parse(r.details) as Record<string, unknown>) : r.details;
  return { id: r.id, at: r.at.toISOString(), actor: r.actor, action: r.action, target: r.target, details, ip: r.ip };
}

export class AuditRepository {
  constructor(private readonly sql: Sql) {}

  async append(e: AuditRecordInput, sql: Sql = this.sql): Promise<AuditEntry> {
    const res = await sql.execute('INSERT INTO audit_log (actor, action, target, details, ip) VALUES (?, ?, ?, ?, ?)', [
      e.actor,
      e.action,
      e.target ?? null,
      e.details ? JSON.stringify(e.details) : null,
      e.ip ?? null,
    ]);
    const rows = await sql.query<AuditRow>('SELECT * FROM audit_log WHERE id = ?', [res.insertId]);
    return toEntry(rows[0]!);
  }

  /** Newest first by (at, id) from the cursor on: the actor's or the action's index (column, at), or (at), read backwards. */
  async page(q: AuditQuery): Promise<AuditPage> {
    const w = new KeysetWhere('at')
      .add('actor = ?', q.actor)
      .add('action LIKE ?', q.action === undefined ? undefined : `${q.action.replace(/[%_\\]/g, '\\$&')}%`)
      .range(q.from, q.to)
      .before(q.cursor, 'id');
    // Keys first, from the index alone: with whole rows to read, the optimizer would rather walk all of an actor's entries.
    // With an action too it still would (every entry of the actor newer than the cursor): the actor's index is named.
    const keys = `SELECT id FROM audit_log${q.actor === undefined ? '' : ' FORCE INDEX (ix_audit_actor_at)'} ${w.sql()} ORDER BY at DESC, id DESC LIMIT ?`;
    const rows = await this.sql.query<AuditRow>(`SELECT a.* FROM (${keys}) k JOIN audit_log a ON a.id = k.id ORDER BY a.at DESC, a.id DESC`, [...w.params, q.limit + 1]);
    const page = pageOf(rows, q.limit, (r) => encodeTimeCursor({ at: r.at, id: r.id }));
    return { entries: page.rows.map(toEntry), nextCursor: page.nextCursor };
  }
}
