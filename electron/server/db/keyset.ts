import { decodeTimeCursor } from '../../../common/api/paging.js';
import type { SqlValue } from './catalog.js';

/**
 * The WHERE of a keyset page over (time, id), newest first: its filters, the date range and
 * "before the cursor". Written so that the range on the time column is what an index on
 * (filter…, time) reads backwards from; rows of the cursor's own millisecond are told apart
 * by id (InnoDB keeps the primary key in every index, after its columns).
 */
export class KeysetWhere {
  readonly conditions: string[] = [];
  readonly params: SqlValue[] = [];

  constructor(private readonly timeColumn: string) {}

  /** Adds `condition` with its one `?`, unless the value is undefined (no such filter). */
  add(condition: string, value: SqlValue): this {
    if (value === undefined) return this;
    this.conditions.push(condition);
    this.params.push(value);
    return this;
  }

  /** At or after `from`, before `to` (ISO 8601). */
  range(from: string | undefined, to: string | undefined): this {
    return this.add(`${this.timeColumn} >= ?`, from === undefined ? undefined : new Date(from)).add(`${this.timeColumn} < ?`, to === undefined ? undefined : new Date(to));
  }

  /** After the row a TimeCursorSchema cursor names, in newest-first order. */
  before(cursor: string | undefined, idColumn: string): this {
    if (cursor === undefined) return this;
    const key = decodeTimeCursor(cursor);
    this.conditions.push(`${this.timeColumn} <= ? AND (${this.timeColumn} < ? OR ${idColumn} < ?)`);
    this.params.push(key.at, key.at, key.id);
    return this;
  }

  /** "WHERE …", or "" without conditions; `extra` first. */
  sql(...extra: string[]): string {
    const all = [...extra, ...this.conditions];
    return all.length ? `WHERE ${all.join(' AND ')}` : '';
  }
}
