/**
 * The policy form's schedule builder ↔ rule text (pure, browser-safe). The builder shows the
 * rules most people write (days of the week, fixed times or every N hours in a range, a backup
 * type, a common window); it writes the same canonical text the text form, the CLI and the API
 * read (schedule.ts), so switching between the builder and the text keeps the rule. A rule it
 * cannot show (a day of the month, an interval in minutes, an unusual window) stays as text.
 */
import { DAY_MINUTES, defaultWindowMinutes, formatScheduleRule, parseScheduleSpec, ScheduleSpecError, type BackupType, type ScheduleTimes, type Weekday } from './schedule.js';

export interface ScheduleBuilderValue {
  /** null: snapshot policies, whose rules have no type. */
  backupType: BackupType | null;
  /** ISO weekdays (1 = Monday), any order; all seven = daily. */
  weekdays: Weekday[];
  mode: 'times' | 'interval';
  /** 'times': HH:MM each; empty entries are left out. */
  times: string[];
  /** 'interval': every N hours (1–24) from `from` to `to` (HH:MM, the same day). */
  everyHours: number;
  from: string;
  to: string;
  /** How long after its time a run may still start; null: the default (4h, or the interval). */
  windowMinutes: number | null;
}

/** The windows the builder offers; a rule with another one stays as text. */
export const BUILDER_WINDOWS: readonly number[] = [15, 30, 60, 120, 240, 480, 720, 1440];

export type BuilderResult = { ok: true; value: ScheduleBuilderValue } | { ok: false; reason: string };

export type RuleResult = { ok: true; rule: string } | { ok: false; field: 'weekdays' | 'times' | 'interval'; message: string };

/** What a new builder rule starts as: weeknights at 22:00 (no type for snapshot policies). */
export function defaultBuilderValue(kind: 'backup' | 'snapshot' | 'm365'): ScheduleBuilderValue {
  return {
    backupType: kind === 'snapshot' ? null : 'incremental',
    weekdays: [1, 2, 3, 4, 5],
    mode: 'times',
    times: ['22:00'],
    everyHours: 4,
    from: '08:00',
    to: '20:00',
    windowMinutes: null,
  };
}

/**
 * The builder's view of a rule; `reason` says why the builder cannot show it (the text form
 * can). An empty rule is the default one.
 */
export function builderFromRule(spec: string, kind: 'backup' | 'snapshot' | 'm365'): BuilderResult {
  if (spec.trim() === '') return { ok: true, value: defaultBuilderValue(kind) };
  let rule;
  try {
    rule = parseScheduleSpec(spec, { backupType: kind === 'snapshot' ? 'forbidden' : 'required' });
  } catch (err) {
    if (err instanceof ScheduleSpecError) return { ok: false, reason: `the rule cannot be read: ${err.message}` };
    throw err;
  }
  if (rule.days.kind !== 'weekdays') return { ok: false, reason: 'it runs on a day of the month (such as the first Sunday), which the builder does not show' };
  const base = defaultBuilderValue(kind);
  const window = rule.windowMinutes === defaultWindowMinutes(rule.times) ? null : rule.windowMinutes;
  if (window !== null && !BUILDER_WINDOWS.includes(window)) return { ok: false, reason: `its window (${rule.windowMinutes} minutes) is not one the builder offers` };
  const value: ScheduleBuilderValue = { ...base, backupType: rule.backupType, weekdays: [...rule.days.weekdays], windowMinutes: window };
  if (rule.times.kind === 'fixed') return { ok: true, value: { ...value, mode: 'times', times: rule.times.minutes.map(clockText) } };
  if (rule.times.everyMinutes % 60 !== 0) return { ok: false, reason: 'it repeats every few minutes; the builder repeats in whole hours' };
  return {
    ok: true,
    value: { ...value, mode: 'interval', everyHours: rule.times.everyMinutes / 60, from: clockText(rule.times.fromMinute), to: clockText(rule.times.toMinute) },
  };
}

/** The canonical rule text the builder's choices make, or what is missing, by builder field. */
export function ruleFromBuilder(value: ScheduleBuilderValue): RuleResult {
  const weekdays = [...new Set(value.weekdays)].sort((a, b) => a - b);
  if (weekdays.length === 0) return { ok: false, field: 'weekdays', message: 'Choose at least one day' };
  let times: ScheduleTimes;
  if (value.mode === 'times') {
    const minutes: number[] = [];
    for (const text of value.times) {
      if (text.trim() === '') continue;
      const minute = clockMinutes(text);
      if (minute === undefined) return { ok: false, field: 'times', message: `"${text}" is not a time; use HH:MM, e.g. 22:00` };
      minutes.push(minute);
    }
    if (minutes.length === 0) return { ok: false, field: 'times', message: 'Give at least one time' };
    times = { kind: 'fixed', minutes: [...new Set(minutes)].sort((a, b) => a - b) };
  } else {
    const from = clockMinutes(value.from);
    const to = clockMinutes(value.to);
    if (!Number.isInteger(value.everyHours) || value.everyHours < 1 || value.everyHours > 24) {
      return { ok: false, field: 'interval', message: 'Every 1 to 24 hours' };
    }
    if (from === undefined || to === undefined) return { ok: false, field: 'interval', message: 'Give the hours it runs in as HH:MM, e.g. 08:00 to 20:00' };
    if (from > to) return { ok: false, field: 'interval', message: 'The hours must start before they end, on the same day' };
    times = { kind: 'interval', everyMinutes: value.everyHours * 60, fromMinute: from, toMinute: to };
  }
  const windowMinutes = value.windowMinutes ?? defaultWindowMinutes(times);
  return { ok: true, rule: formatScheduleRule({ backupType: value.backupType, days: { kind: 'weekdays', weekdays }, times, windowMinutes }) };
}

function clockText(minute: number): string {
  return `${String(Math.floor(minute / 60)).padStart(2, '0')}:${String(minute % 60).padStart(2, '0')}`;
}

/** "8:05", "08:05" or a time input's "08:05:00" → 485. */
function clockMinutes(text: string): number | undefined {
  const m = /^(\d{1,2}):(\d{2})(?::\d{2})?$/.exec(text.trim());
  if (!m) return undefined;
  const minute = Number(m[1]) * 60 + Number(m[2]);
  return Number(m[1]) > 23 || Number(m[2]) > 59 || minute >= DAY_MINUTES ? undefined : minute;
}
