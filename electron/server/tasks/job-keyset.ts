import type { SqlValue } from '../db/catalog.js';
import { badRequest } from '../errors.js';

/** Where a job's row lives: a workflow, a standalone task or a policy run. */
export type JobKey = 'w' | 't' | 'p';

/** A job in list order: newest first by creation, then by key (w, t, p), then by id. */
export interface JobRef {
  k: JobKey;
  id: number;
  createdAt: Date;
}

/** One table's jobs: its alias (with `id` and `created_at` columns), FROM clause and filters. */
export interface JobSource {
  k: JobKey;
  alias: string;
  from: string;
  where: string[];
  params: SqlValue[];
}

/** "<created ms>.<key><id>" of the last job shown. */
export const encodeJobCursor = (r: JobRef): string => `${r.createdAt.getTime()}.${r.k}${r.id}`;

export function decodeJobCursor(cursor: string): JobRef {
  const m = /^(\d{1,15})\.([wtp])([1-9]\d{0,15})$/.exec(cursor);
  if (!m) throw badRequest('pass the nextCursor of the previous page as it is', 'cursor');
  return { createdAt: new Date(Number(m[1])), k: m[2] as JobKey, id: Number(m[3]) };
}

/**
 * Rows of a source after the cursor in list order. Within one millisecond a source's key sorts
 * either wholly before the cursor's, wholly after it, or (the same key) by id; the range on
 * created_at is what the source's index reads backwards from.
 */
function afterCursor(s: JobSource, c: JobRef): { where: string; params: SqlValue[] } {
  const col = `${s.alias}.created_at`;
  if (s.k > c.k) return { where: `${col} < ?`, params: [c.createdAt] };
  if (s.k < c.k) return { where: `${col} <= ?`, params: [c.createdAt] };
  return { where: `${col} <= ? AND (${col} < ? OR ${s.alias}.id < ?)`, params: [c.createdAt, c.createdAt, c.id] };
}

/**
 * One page of job refs from several tables: each source reads at most `limit + 1` rows from
 * an index on (its filters…, created_at), newest first, and the union of those few rows is
 * ordered once more. No count and no offset, so a page costs the same at any depth.
 */
export function jobKeysetQuery(sources: readonly JobSource[], cursor: JobRef | undefined, limit: number): { sql: string; params: SqlValue[] } {
  const parts: string[] = [];
  const params: SqlValue[] = [];
  for (const s of sources) {
    const where = [...s.where];
    const values = [...s.params];
    if (cursor) {
      const after = afterCursor(s, cursor);
      where.push(after.where);
      values.push(...after.params);
    }
    const a = s.alias;
    parts.push(
      `(SELECT '${s.k}' AS k, ${a}.id AS id, ${a}.created_at AS created_at FROM ${s.from}${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY ${a}.created_at DESC, ${a}.id DESC LIMIT ?)`,
    );
    params.push(...values, limit + 1);
  }
  return { sql: `${parts.join(' UNION ALL ')} ORDER BY created_at DESC, k DESC, id DESC LIMIT ?`, params: [...params, limit + 1] };
}
