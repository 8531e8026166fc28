/**
 * When schedule rules fire (pure, browser-safe). Rules are local wall-clock times in the policy's IANA time zone. Daylight saving time:
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
import { DAY_MINUTES, DAY_MS, LOOKAHEAD_DAYS, MINUTE_MS, ScheduleSpecError, type Occurrence, type ScheduleDays, type ScheduleRule, type Weekday } from './schedule.js';

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
