import { InvalidArgumentError } from 'commander';

/**
 * Options the long lists share (task list, audit list, policy runs): a date range and the
 * cursor of the next page.
 */

/**
 * Commander parser for --since/--until: a day (YYYY-MM-DD, from midnight on this computer) or
 * an ISO 8601 time; the server gets an instant with its offset.
 */
export function dateOption(what: string): (value: string) => string {
  return (value) => {
    const day = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value.trim());
    const date = day ? new Date(Number(day[1]), Number(day[2]) - 1, Number(day[3])) : new Date(value.trim());
    const valid = !Number.isNaN(date.getTime()) && (!day || date.getDate() === Number(day[3]));
    if (!valid || !(day || /^\d{4}-\d{2}-\d{2}T/.test(value.trim()))) {
      throw new InvalidArgumentError(`${what} takes a day (2026-12-01) or a time (2026-12-01T22:00 or with an offset, 2026-12-01T22:00+01:00).`);
    }
    return date.toISOString();
  };
}

/** The note under a page that has a next one: how to ask for it. */
export function nextPageNote(what: string, shown: number, nextCursor: string | null): string | null {
  return nextCursor === null ? null : `There are older ${what}: add --cursor ${nextCursor} for the next ${shown}.`;
}
