import { z } from 'zod';

/**
 * Keyset (cursor) paging for lists that grow without end (tasks, audit, policy runs, a task's
 * log). A page answers `nextCursor`: pass it back as `cursor` for the page after; null means
 * there is none. A page costs the same at any depth, and rows added while someone pages never
 * shift the pages still to come. Clients treat a cursor as opaque: lists newest first by time
 * write "<ms>.<id>" of the last row shown, lists by id alone its id.
 */
const CURSOR_MESSAGE = 'pass the nextCursor of the previous page as it is';

/** The cursor of a list ordered by (time, id), newest first. */
export const TimeCursorSchema = z
  .string()
  .regex(/^\d{1,15}\.[1-9]\d{0,15}$/, CURSOR_MESSAGE)
  .describe('the nextCursor of the previous page');

/** The cursor of a list ordered by id alone. */
export const IdCursorSchema = z
  .string()
  .regex(/^[1-9]\d{0,15}$/, CURSOR_MESSAGE)
  .describe('the nextCursor of the previous page');

export const NextCursorSchema = z.string().nullable().describe('pass as cursor for the next page; null: this was the last page');

/** A date range's ends as the lists take them: ISO 8601 with an offset; `from` inclusive, `to` exclusive. */
export const RangeStartSchema = z.iso.datetime({ offset: true }).describe('at or after this instant (ISO 8601)');
export const RangeEndSchema = z.iso.datetime({ offset: true }).describe('before this instant (ISO 8601)');

/** Where a (time, id) list stands: the last row shown. */
export interface TimeKey {
  at: Date;
  id: number;
}

export const encodeTimeCursor = (key: TimeKey): string => `${key.at.getTime()}.${key.id}`;

/** A cursor TimeCursorSchema accepted. */
export function decodeTimeCursor(cursor: string): TimeKey {
  const [ms, id] = cursor.split('.');
  return { at: new Date(Number(ms)), id: Number(id) };
}

/**
 * One page from `limit + 1` rows read in page order: the extra row only says that another
 * page follows, and the cursor is that of the last row shown.
 */
export function pageOf<T>(rows: readonly T[], limit: number, cursorOf: (row: T) => string): { rows: T[]; nextCursor: string | null } {
  if (rows.length <= limit) return { rows: [...rows], nextCursor: null };
  const shown = rows.slice(0, limit);
  return { rows: shown, nextCursor: cursorOf(shown[shown.length - 1]!) };
}
