/**
 * Schedule rules (pure, browser-safe): the text the CLI, the API and the UI share, e.g.
 * "incremental mon-fri 22:00", "full last fri 03:00", "incremental every 4h 08:00-20:00
 * window 1h", and for retention "daily 03:00". See parseScheduleSpec for the grammar, and
 * schedule-occurrences.ts for when rules fire (time zones and daylight saving time).
 */

export type BackupType = 'full' | 'incremental';

/** ISO weekday: 1 = Monday … 7 = Sunday. */
export type Weekday = 1 | 2 | 3 | 4 | 5 | 6 | 7;

export type ScheduleDays =
  /** The listed weekdays, ascending; all seven = every day. */
  | { kind: 'weekdays'; weekdays: readonly Weekday[] }
  /** The n-th (or last) given weekday of each month. */
  | { kind: 'nth-weekday'; nth: 1 | 2 | 3 | 4 | 'last'; weekday: Weekday };

export type ScheduleTimes =
  /** Minutes after local midnight, ascending, no duplicates. */
  | { kind: 'fixed'; minutes: readonly number[] }
  /** Every `everyMinutes` from `fromMinute` up to and including `toMinute` (minutes after local midnight). */
  | { kind: 'interval'; everyMinutes: number; fromMinute: number; toMinute: number };

export interface ScheduleRule {
  /** Canonical text: lower case, defaults left out ("incremental mon-fri 22:00"). */
  spec: string;
  backupType: BackupType | null;
  days: ScheduleDays;
  times: ScheduleTimes;
  /** How long after its time a run may still start; later, it is reported missed. */
  windowMinutes: number;
}

/** A schedule text that cannot be read; the message says which part and shows an example. */
export class ScheduleSpecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ScheduleSpecError';
  }
}

export interface Occurrence {
  /** Epoch milliseconds (UTC). */
  at: number;
  ruleIndex: number;
  /** The rule's canonical spec. */
  rule: string;
  backupType: BackupType | null;
  windowMinutes: number;
}

export interface ParseScheduleOptions {
  /** Policy schedules: 'required'; retention schedules: 'forbidden'. Default 'optional'. */
  backupType?: 'required' | 'forbidden' | 'optional';
}

export const MINUTE_MS = 60_000;
export const DAY_MS = 86_400_000;
export const DAY_MINUTES = 1_440;
const MIN_INTERVAL_MINUTES = 5;
const MAX_WINDOW_MINUTES = 7 * DAY_MINUTES;
const FIXED_DEFAULT_WINDOW_MINUTES = 240;
/** nextOccurrences looks this far ahead (about two years) before giving up. */
export const LOOKAHEAD_DAYS = 2 * 366;

const ALL_WEEKDAYS: readonly Weekday[] = [1, 2, 3, 4, 5, 6, 7];
const DAY_NAMES = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
const LONG_DAY_NAMES = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'] as const;
const ORDINALS: Record<string, 1 | 2 | 3 | 4 | 'last'> = {
  '1st': 1,
  first: 1,
  '2nd': 2,
  second: 2,
  '3rd': 3,
  third: 3,
  '4th': 4,
  fourth: 4,
  last: 'last',
};
const ORDINAL_TEXT = { 1: '1st', 2: '2nd', 3: '3rd', 4: '4th', last: 'last' } as const;

const DAYS_HELP = 'use daily, a day (mon … sun), a range (mon-fri, fri-mon), a list (mon,wed,fri) or a day of the month (1st sun … 4th sun, last fri)';
const TIME_HELP = 'use 24-hour HH:MM times, e.g. "22:00" or "08:00,12:30,18:00", or an interval, e.g. "every 4h 08:00-20:00"';

// ---------------------------------------------------------------------------------------------
// Parsing and formatting

/**
 * Reads a schedule rule. Grammar (case-insensitive, words separated by spaces):
 *   [full | incremental] [DAYS] TIMES [window DURATION]
 * DAYS: daily | mon … sun | a range mon-fri (fri-mon wraps) | a list mon,wed,fri (items may be
 * ranges) | 1st|2nd|3rd|4th|first|second|third|fourth|last followed by one day; default daily.
 * TIMES: HH:MM[,HH:MM…] | every DURATION [HH:MM-HH:MM] (at least 5 minutes, at most 24h;
 * default range 00:00-23:59, both ends inclusive, the same local day).
 * DURATION: e.g. 30m, 1h, 2h30m, 90m, 1d. The window is 1m … 7d; default 4h for fixed times,
 * the interval (at most 4h) for intervals.
 */
export function parseScheduleSpec(spec: string, options: ParseScheduleOptions = {}): ScheduleRule {
  const typeMode = options.backupType ?? 'optional';
  const example = typeMode === 'forbidden' ? '"daily 03:00" or "sun 04:30"' : '"incremental mon-fri 22:00"';
  const text = spec.trim().replace(/\s+/g, ' ');
  if (text === '') throw new ScheduleSpecError(`the schedule is empty; write it like ${example}`);
  const fail: (problem: string) => never = (problem) => {
    throw new ScheduleSpecError(`schedule "${text}": ${problem}`);
  };
  const tokens = text.toLowerCase().split(' ');
  let i = 0;
  const peek = (): string | undefined => tokens[i];

  let backupType: BackupType | null = null;
  const first = peek();
  if (first === 'full' || first === 'incremental') {
    backupType = first;
    i++;
    if (typeMode === 'forbidden') fail(`this schedule takes no backup type (retention schedules and snapshot policies run without one), leave out "${first}"; write it like ${example}`);
  } else if (typeMode === 'required') {
    fail(`the backup type is missing; start with "full" or "incremental", e.g. "incremental mon-fri 22:00"`);
  }

  // Days.
  let days: ScheduleDays = { kind: 'weekdays', weekdays: ALL_WEEKDAYS };
  const dayToken = peek();
  if (dayToken !== undefined && !startsTimes(dayToken) && dayToken !== 'window') {
    i++;
    if (dayToken === 'full' || dayToken === 'incremental') {
      fail(`the backup type ("${dayToken}") comes first, e.g. "incremental mon-fri 22:00"`);
    }
    const nth = ORDINALS[dayToken];
    if (nth !== undefined) {
      const weekdayToken = peek();
      const weekday = weekdayToken === undefined ? undefined : dayNumber(weekdayToken);
      if (weekday === undefined) {
        fail(`"${dayToken}" must be followed by one day, e.g. "${dayToken} sun", got ${weekdayToken === undefined ? 'nothing' : `"${weekdayToken}"`}`);
      }
      i++;
      days = { kind: 'nth-weekday', nth, weekday };
    } else if (/^\d+(st|nd|rd|th)$/.test(dayToken)) {
      fail(`could not read "${dayToken}": only 1st to 4th and last exist in every month, e.g. "last fri"`);
    } else if (dayToken === 'daily') {
      days = { kind: 'weekdays', weekdays: ALL_WEEKDAYS };
    } else {
      days = { kind: 'weekdays', weekdays: parseDayList(dayToken, fail) };
    }
  }

  // Times.
  let times: ScheduleTimes;
  const timeToken = peek();
  if (timeToken === undefined || timeToken === 'window') {
    return fail(`the time is missing; ${TIME_HELP}`);
  }
  i++;
  if (timeToken === 'every') {
    const durationToken = peek();
    const every = durationToken === undefined ? undefined : parseDuration(durationToken);
    if (every === undefined) {
      fail(`"every" must be followed by an interval such as 4h or 30m, got ${durationToken === undefined ? 'nothing' : `"${durationToken}"`}`);
    }
    i++;
    if (every < MIN_INTERVAL_MINUTES) fail(`the interval "${durationToken}" is shorter than the minimum of 5 minutes`);
    if (every > DAY_MINUTES) fail(`the interval "${durationToken}" is longer than a day; for fewer runs use days and a fixed time, e.g. "full sun 22:00"`);
    let fromMinute = 0;
    let toMinute = DAY_MINUTES - 1;
    const rangeToken = peek();
    if (rangeToken !== undefined && /^\d/.test(rangeToken)) {
      i++;
      const m = /^([^-]+)-([^-]+)$/.exec(rangeToken);
      const from = m ? parseClock(m[1] ?? '') : undefined;
      const to = m ? parseClock(m[2] ?? '') : undefined;
      if (from === undefined || to === undefined) {
        fail(`could not read "${rangeToken}" as the hours the interval runs in; use HH:MM-HH:MM, e.g. "every 4h 08:00-20:00"`);
      }
      if (from > to) fail(`the interval's hours "${rangeToken}" must start before they end on the same day, e.g. "08:00-20:00"`);
      fromMinute = from;
      toMinute = to;
    }
    times = { kind: 'interval', everyMinutes: every, fromMinute, toMinute };
  } else {
    const minutes: number[] = [];
    for (const part of timeToken.split(',')) {
      const minute = parseClock(part);
      if (minute === undefined) {
        fail(/^[a-z]/.test(timeToken) ? `could not read "${timeToken}" as days or a time; ${DAYS_HELP}, then the time, e.g. ${example}` : `could not read the time "${timeToken}"; ${TIME_HELP}`);
      }
      minutes.push(minute);
    }
    times = { kind: 'fixed', minutes: [...new Set(minutes)].sort((a, b) => a - b) };
  }

  // Window.
  let windowMinutes = defaultWindowMinutes(times);
  if (peek() === 'window') {
    i++;
    const durationToken = peek();
    const window = durationToken === undefined ? undefined : parseDuration(durationToken);
    if (window === undefined) {
      fail(`"window" must be followed by a duration such as 30m, 1h or 2h30m, got ${durationToken === undefined ? 'nothing' : `"${durationToken}"`}`);
    }
    i++;
    if (window < 1 || window > MAX_WINDOW_MINUTES) fail(`the window "${durationToken}" must be from 1m to 7d`);
    windowMinutes = window;
  }

  const rest = tokens.slice(i);
  if (rest.length > 0) {
    const word = rest[0] ?? '';
    const hint =
      word === 'full' || word === 'incremental'
        ? `the backup type comes first, e.g. "incremental mon-fri 22:00"`
        : /^[a-z]/.test(word) && word !== 'window' && word !== 'every'
          ? `days come before the time, e.g. ${example}`
          : `the order is [full|incremental] [days] time [window DURATION], e.g. "incremental every 4h 08:00-20:00 window 1h"`;
    fail(`could not read "${rest.join(' ')}" at the end; ${hint}`);
  }

  const structure = { backupType, days, times, windowMinutes };
  return { spec: formatScheduleRule(structure), ...structure };
}

/** The canonical text of a rule (from its structure, not its `spec`); parses back to the same rule. */
export function formatScheduleRule(rule: Omit<ScheduleRule, 'spec'> & { spec?: string }): string {
  const parts: string[] = [];
  if (rule.backupType !== null) parts.push(rule.backupType);
  const { days, times } = rule;
  if (days.kind === 'nth-weekday') {
    parts.push(ORDINAL_TEXT[days.nth], DAY_NAMES[days.weekday - 1] ?? '?');
  } else if (days.weekdays.length < 7) {
    parts.push(formatDayList(days.weekdays));
  } else if (times.kind === 'fixed') {
    // "daily 03:00" reads better than a bare time; "every 4h" needs no "daily".
    parts.push('daily');
  }
  if (times.kind === 'fixed') {
    parts.push(times.minutes.map(formatClock).join(','));
  } else {
    parts.push('every', formatDuration(times.everyMinutes));
    if (times.fromMinute !== 0 || times.toMinute !== DAY_MINUTES - 1) {
      parts.push(`${formatClock(times.fromMinute)}-${formatClock(times.toMinute)}`);
    }
  }
  if (rule.windowMinutes !== defaultWindowMinutes(times)) parts.push('window', formatDuration(rule.windowMinutes));
  return parts.join(' ');
}

/** 4h for fixed times; for intervals the interval, at most 4h. */
export function defaultWindowMinutes(times: ScheduleTimes): number {
  return times.kind === 'fixed' ? FIXED_DEFAULT_WINDOW_MINUTES : Math.min(times.everyMinutes, FIXED_DEFAULT_WINDOW_MINUTES);
}

/** Whether a word begins the times: "every", or a digit that is not an ordinal ("1st"). */
function startsTimes(token: string): boolean {
  return token === 'every' || (/^\d/.test(token) && !/^\d+(st|nd|rd|th)$/.test(token));
}

function dayNumber(token: string): Weekday | undefined {
  let index = (DAY_NAMES as readonly string[]).indexOf(token);
  if (index < 0) index = (LONG_DAY_NAMES as readonly string[]).indexOf(token);
  return index < 0 ? undefined : ((index + 1) as Weekday);
}

function parseDayList(token: string, fail: (problem: string) => never): Weekday[] {
  const set = new Set<Weekday>();
  for (const item of token.split(',')) {
    const bounds = item.split('-');
    const from = dayNumber(bounds[0] ?? '');
    const to = bounds.length === 2 ? dayNumber(bounds[1] ?? '') : from;
    if (item === '' || bounds.length > 2 || from === undefined || to === undefined) {
      const what = token === item ? `"${token}"` : `"${item}" in "${token}"`;
      return fail(`could not read ${what} as days; ${DAYS_HELP}`);
    }
    if (bounds.length === 2 && from === to) fail(`the range "${item}" starts and ends on the same day; write the day alone or use daily`);
    // Ranges may wrap past Sunday: fri-mon is fri,sat,sun,mon.
    for (let d = from; ; d = ((d % 7) + 1) as Weekday) {
      set.add(d);
      if (d === to) break;
    }
  }
  return [...set].sort((a, b) => a - b);
}

/** Ascending ISO weekdays → "mon-fri", "mon,wed,fri", "fri-mon", "tue,thu-sat", "mon,wed-fri,sun". */
function formatDayList(weekdays: readonly Weekday[]): string {
  const has = new Set(weekdays);
  // Runs of consecutive days, walking the week circularly from a day that is not in the set,
  // so a run over Sunday→Monday stays one range ("fri-mon").
  const gap = ALL_WEEKDAYS.find((d) => !has.has(d)) ?? 7;
  const runs: Weekday[][] = [];
  let current: Weekday[] = [];
  for (let k = 1; k <= 7; k++) {
    const d = (((gap - 1 + k) % 7) + 1) as Weekday;
    if (has.has(d)) {
      current.push(d);
    } else if (current.length > 0) {
      runs.push(current);
      current = [];
    }
  }
  if (current.length > 0) runs.push(current);
  const name = (d: Weekday): string => DAY_NAMES[d - 1] ?? '?';
  // Runs of three or more days read as a range; shorter ones as single days, Monday first.
  const items: { first: Weekday; text: string }[] = [];
  for (const run of runs) {
    const start = run[0];
    const end = run[run.length - 1];
    if (start !== undefined && end !== undefined && run.length >= 3) items.push({ first: start, text: `${name(start)}-${name(end)}` });
    else for (const d of run) items.push({ first: d, text: name(d) });
  }
  return items
    .sort((a, b) => a.first - b.first)
    .map((item) => item.text)
    .join(',');
}

/** "8:05" or "08:05" → 485. */
function parseClock(text: string): number | undefined {
  const m = /^(\d{1,2}):(\d{2})$/.exec(text);
  if (!m) return undefined;
  const h = Number(m[1]);
  const min = Number(m[2]);
  if (h > 23 || min > 59) return undefined;
  return h * 60 + min;
}

function formatClock(minute: number): string {
  return `${String(Math.floor(minute / 60)).padStart(2, '0')}:${String(minute % 60).padStart(2, '0')}`;
}

/** "1d", "2h30m", "90m" → minutes; undefined when unreadable. */
function parseDuration(text: string): number | undefined {
  const m = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?$/.exec(text);
  if (!m || text === '') return undefined;
  const minutes = Number(m[1] ?? 0) * DAY_MINUTES + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0);
  return Number.isSafeInteger(minutes) ? minutes : undefined;
}

function formatDuration(minutes: number): string {
  const d = Math.floor(minutes / DAY_MINUTES);
  const h = Math.floor((minutes % DAY_MINUTES) / 60);
  const m = minutes % 60;
  return `${d > 0 ? `${d}d` : ''}${h > 0 ? `${h}h` : ''}${m > 0 || minutes === 0 ? `${m}m` : ''}`;
}
