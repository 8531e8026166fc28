/**
 * Schedule rules (pure, browser-safe): the text the CLI, the API and the UI share, e.g.
 * "incremental mon-fri 22:00", "full last fri 03:00", "incremental every 4h 08:00-20:00
 * window 1h", and for retention "daily 03:00". See parseScheduleSpec for the grammar.
 *
 * Rules are local wall-clock times in the policy's IANA time zone. Daylight saving time:
 * - A local time that does not exist (inside the spring-forward gap, e.g. 02:30 in
 *   Europe/Berlin on the last Sunday of March) runs once, at the first instant after the gap
 *   (03:00 local = 01:00 UTC).
 * - A local time that exists twice (inside the fall-back overlap, e.g. 02:30 in Berlin on the
 *   last Sunday of October) runs once, at its first occurrence (still in summer time).
 * - Interval rules generate local wall times and follow the same two rules, so the repeated
 *   hour is not run twice, times inside the gap run at the gap's end, and when several times
 *   map to the same instant that instant runs once.
 * luxon's DateTime.fromObject does neither: it shifts a time in the gap forward by the gap's
 * length (02:30 → 03:30) and picks the later offset in an overlap (luxon 3.7), so wall times
 * are resolved here from the zone's offsets instead.
 *
 * When several rules fire at the same instant there is one occurrence: a full backup wins
 * over an incremental one, then the rule listed first.
 */
import { DateTime, IANAZone } from 'luxon';

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

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;
const DAY_MINUTES = 1_440;
const MIN_INTERVAL_MINUTES = 5;
const MAX_WINDOW_MINUTES = 7 * DAY_MINUTES;
const FIXED_DEFAULT_WINDOW_MINUTES = 240;
/** nextOccurrences looks this far ahead (about two years) before giving up. */
const LOOKAHEAD_DAYS = 2 * 366;

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

// ---------------------------------------------------------------------------------------------
// Time zones

export function isValidTimeZone(tz: string): boolean {
  return typeof tz === 'string' && tz.length > 0 && IANAZone.isValidZone(tz);
}

/** The host's IANA zone (Intl), falling back to 'UTC'. */
export function defaultTimeZone(): string {
  try {
    const zone = new Intl.DateTimeFormat().resolvedOptions().timeZone;
    return zone && isValidTimeZone(zone) ? zone : 'UTC';
  } catch {
    // Intl without time zone data (a trimmed ICU build): schedules are read in UTC.
    return 'UTC';
  }
}

function zoneOf(timeZone: string): IANAZone {
  if (!isValidTimeZone(timeZone)) {
    throw new ScheduleSpecError(`unknown time zone "${timeZone}"; use an IANA name such as "Europe/Berlin" or "UTC"`);
  }
  return IANAZone.create(timeZone);
}

/** The zone's offset from UTC in ms at an instant. */
function offsetMs(zone: IANAZone, at: number): number {
  return zone.offset(at) * MINUTE_MS;
}

/**
 * The instant of a local wall time (given as if it were UTC ms), by the rules in the header:
 * in an overlap the first occurrence, in a gap the first instant after the gap.
 */
function resolveWallTime(zone: IANAZone, wall: number): number {
  const before = offsetMs(zone, wall - DAY_MS);
  const after = offsetMs(zone, wall + DAY_MS);
  let best: number | undefined;
  for (const offset of before === after ? [before] : [before, after]) {
    const at = wall - offset;
    if (offsetMs(zone, at) === offset && (best === undefined || at < best)) best = at;
  }
  if (best !== undefined) return best;
  if (after > before) {
    // In the gap: the transition lies in (wall - after, wall - before]; find it to the second.
    let lo = wall - after; // offset here is still `before`
    let hi = wall - before; // offset here is already `after`
    while (hi - lo > 1000) {
      const mid = lo + Math.floor((hi - lo) / 2000) * 1000;
      if (offsetMs(zone, mid) === before) lo = mid;
      else hi = mid;
    }
    return hi;
  }
  // Neither offset fits (several transitions within two days): keep luxon's answer.
  const local = new Date(wall);
  return DateTime.fromObject(
    { year: local.getUTCFullYear(), month: local.getUTCMonth() + 1, day: local.getUTCDate(), hour: local.getUTCHours(), minute: local.getUTCMinutes() },
    { zone },
  ).toMillis();
}

/**
 * Resolves wall times of one local day. On a day without a transition (nearly all) one offset
 * serves every time; otherwise each time is resolved on its own.
 */
class DayResolver {
  private readonly offset: number | undefined;

  constructor(
    private readonly zone: IANAZone,
    private readonly midnight: number,
  ) {
    const start = resolveWallTime(zone, midnight);
    const lastMinute = midnight + (DAY_MINUTES - 1) * MINUTE_MS;
    const end = resolveWallTime(zone, lastMinute);
    const startOffset = offsetMs(zone, start);
    const uniform = start === midnight - startOffset && end === lastMinute - startOffset && offsetMs(zone, end) === startOffset;
    this.offset = uniform ? startOffset : undefined;
  }

  at(minute: number): number {
    const wall = this.midnight + minute * MINUTE_MS;
    return this.offset === undefined ? resolveWallTime(this.zone, wall) : wall - this.offset;
  }
}

// ---------------------------------------------------------------------------------------------
// Occurrences

interface Candidate {
  at: number;
  ruleIndex: number;
}

interface Prepared {
  rules: readonly ScheduleRule[];
  wallMinutes: readonly (readonly number[])[];
  zone: IANAZone;
}

function prepare(rules: readonly ScheduleRule[], timeZone: string): Prepared {
  const wallMinutes = rules.map((rule) => {
    const t = rule.times;
    if (t.kind === 'fixed') return t.minutes;
    const out: number[] = [];
    for (let m = t.fromMinute; m <= t.toMinute; m += Math.max(1, t.everyMinutes)) out.push(m);
    return out;
  });
  return { rules, wallMinutes, zone: zoneOf(timeZone) };
}

/** Days since 1970-01-01 of the local calendar date at an instant. */
function localDayNumber(zone: IANAZone, at: number): number {
  const local = DateTime.fromMillis(at, { zone });
  return Math.floor(Date.UTC(local.year, local.month - 1, local.day) / DAY_MS);
}

function dayMatches(days: ScheduleDays, date: Date): boolean {
  const weekday = (((date.getUTCDay() + 6) % 7) + 1) as Weekday;
  if (days.kind === 'weekdays') return days.weekdays.includes(weekday);
  if (weekday !== days.weekday) return false;
  const dayOfMonth = date.getUTCDate();
  if (days.nth !== 'last') return Math.ceil(dayOfMonth / 7) === days.nth;
  const daysInMonth = new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 0)).getUTCDate();
  return dayOfMonth + 7 > daysInMonth;
}

/** Every rule's times on one local day, unmerged. */
function candidatesOnDay(p: Prepared, dayNumber: number, out: Candidate[]): void {
  const midnight = dayNumber * DAY_MS;
  const date = new Date(midnight);
  let resolver: DayResolver | undefined;
  p.rules.forEach((rule, ruleIndex) => {
    if (!dayMatches(rule.days, date)) return;
    resolver ??= new DayResolver(p.zone, midnight);
    for (const minute of p.wallMinutes[ruleIndex] ?? []) out.push({ at: resolver.at(minute), ruleIndex });
  });
}

/** Sorts by time and keeps one occurrence per instant: full first, then the lower rule index. */
function merge(p: Prepared, candidates: Candidate[]): Occurrence[] {
  const rank = (c: Candidate): number => (p.rules[c.ruleIndex]?.backupType === 'full' ? 0 : 1);
  candidates.sort((a, b) => a.at - b.at || rank(a) - rank(b) || a.ruleIndex - b.ruleIndex);
  const out: Occurrence[] = [];
  let last: number | undefined;
  for (const c of candidates) {
    if (c.at === last) continue;
    last = c.at;
    const rule = p.rules[c.ruleIndex];
    if (rule === undefined) continue;
    out.push({ at: c.at, ruleIndex: c.ruleIndex, rule: rule.spec, backupType: rule.backupType, windowMinutes: rule.windowMinutes });
  }
  return out;
}

/** All occurrences with fromMs < at <= toMs, sorted by time. When several rules fire at the same instant, one occurrence: a 'full' wins over 'incremental', then the lower ruleIndex. */
export function occurrencesBetween(rules: readonly ScheduleRule[], timeZone: string, fromMs: number, toMs: number): Occurrence[] {
  const p = prepare(rules, timeZone);
  if (!(toMs > fromMs) || rules.length === 0) return [];
  // One day of margin each side: wall times resolve monotonically, but a gap at midnight can
  // move a time onto the neighbouring local date.
  const firstDay = localDayNumber(p.zone, fromMs) - 1;
  const lastDay = localDayNumber(p.zone, toMs) + 1;
  const candidates: Candidate[] = [];
  for (let day = firstDay; day <= lastDay; day++) candidatesOnDay(p, day, candidates);
  return merge(
    p,
    candidates.filter((c) => c.at > fromMs && c.at <= toMs),
  );
}

/** The next `count` occurrences strictly after `afterMs`, looking up to about two years ahead. */
export function nextOccurrences(rules: readonly ScheduleRule[], timeZone: string, afterMs: number, count: number): Occurrence[] {
  const p = prepare(rules, timeZone);
  if (count <= 0 || rules.length === 0) return [];
  const firstDay = localDayNumber(p.zone, afterMs) - 1;
  const candidates: Candidate[] = [];
  const instants = new Set<number>();
  let enoughSince: number | undefined;
  for (let day = firstDay; day <= firstDay + LOOKAHEAD_DAYS; day++) {
    const today: Candidate[] = [];
    candidatesOnDay(p, day, today);
    for (const c of today) {
      if (c.at <= afterMs) continue;
      candidates.push(c);
      instants.add(c.at);
    }
    // One more day once there are enough, in case it holds the same instant (a gap at midnight).
    if (enoughSince === undefined && instants.size >= count) enoughSince = day;
    if (enoughSince !== undefined && day > enoughSince) break;
  }
  return merge(p, candidates).slice(0, count);
}
