import type { AuditEntry, AuditPage, AuditQuery } from '../../../common/api/audit.js';
import type { Sql } from '../db/catalog.js';

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

  async page(q: AuditQuery): Promise<AuditPage> {
    const where: string[] = [];
    const params: (string | number)[] = [];
    if (q.actor) {
      where.push('actor = ?');
      params.push(q.actor);
    }
    if (q.action) {
      where.push('action LIKE ?');
      params.push(`${q.action.replace(/[%_\\]/g, '\\$&')}%`);
    }
    const clause = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const total = await this.sql.query<{ n: number }>(`SELECT COUNT(*) AS n FROM audit_log ${clause}`, params);
    const rows = await this.sql.query<AuditRow>(`SELECT * FROM audit_log ${clause} ORDER BY id DESC LIMIT ? OFFSET ?`, [...params, q.limit, q.offset]);
    return { total: Number(total[0]?.n ?? 0), entries: rows.map(toEntry) };
  }
}
