import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import { ScheduleSpecError, formatScheduleRule, parseScheduleSpec, type Occurrence, type ScheduleRule } from '../../../common/schedule.js';
import { defaultTimeZone, isValidTimeZone, nextOccurrences, occurrencesBetween } from '../../../common/schedule-occurrences.js';

const BERLIN = 'Europe/Berlin';
const NEW_YORK = 'America/New_York';

const rules = (...specs: string[]): ScheduleRule[] => specs.map((s) => parseScheduleSpec(s));
const iso = (occurrences: Occurrence[]): string[] => occurrences.map((o) => new Date(o.at).toISOString());
const local = (o: Occurrence, zone: string, format = "yyyy-MM-dd HH:mm ccc"): string => DateTime.fromMillis(o.at, { zone }).toFormat(format);
/** Occurrences from local midnight of `from` up to (excluding) local midnight of `to`. */
function between(specs: string[], zone: string, from: string, to: string): Occurrence[] {
  const start = DateTime.fromISO(from, { zone }).toMillis();
  const end = DateTime.fromISO(to, { zone }).toMillis();
  return occurrencesBetween(rules(...specs), zone, start - 1, end - 1);
}

describe('parseScheduleSpec', () => {
  const canonical: [string, string][] = [
    ['incremental mon-fri 22:00', 'incremental mon-fri 22:00'],
    ['full sun 22:00', 'full sun 22:00'],
    ['incremental every 4h 08:00-20:00 window 1h', 'incremental every 4h 08:00-20:00 window 1h'],
    ['daily 03:00', 'daily 03:00'],
    ['sun 04:30', 'sun 04:30'],
    ['  FULL   Last   FRI   3:00 ', 'full last fri 03:00'],
    ['22:00', 'daily 22:00'],
    ['mon,tue,wed,thu,fri,sat,sun 22:00', 'daily 22:00'],
    ['fri-mon 01:00', 'fri-mon 01:00'],
    ['sun,mon 01:00', 'mon,sun 01:00'],
    ['mon,wed-fri,sun 1:00', 'mon,wed-fri,sun 01:00'],
    ['wed,fri-mon 01:00', 'wed,fri-mon 01:00'],
    ['fri,mon,wed,mon 10:00', 'mon,wed,fri 10:00'],
    ['sat-sun 10:00', 'sat,sun 10:00'],
    ['monday,Friday 10:00', 'mon,fri 10:00'],
    ['first sun 10:00', '1st sun 10:00'],
    ['second mon 10:00', '2nd mon 10:00'],
    ['third tue 10:00', '3rd tue 10:00'],
    ['fourth fri 10:00', '4th fri 10:00'],
    ['4th fri 10:00', '4th fri 10:00'],
    ['18:00,08:00,12:30,08:00', 'daily 08:00,12:30,18:00'],
    ['every 90m', 'every 1h30m'],
    ['daily every 30m 00:00-23:59', 'every 30m'],
    ['incremental every 4h window 4h', 'incremental every 4h'],
    ['every 6h', 'every 6h'],
    ['every 5m window 2h30m', 'every 5m window 2h30m'],
    ['22:00 window 240m', 'daily 22:00'],
    ['22:00 window 90m', 'daily 22:00 window 1h30m'],
    ['22:00 window 7d', 'daily 22:00 window 7d'],
    ['22:00 window 1d2h', 'daily 22:00 window 1d2h'],
  ];
  for (const [input, spec] of canonical) {
    it(`reads "${input}" as "${spec}" and round-trips`, () => {
      const rule = parseScheduleSpec(input);
      expect(rule.spec).toBe(spec);
      expect(formatScheduleRule(rule)).toBe(spec);
      expect(parseScheduleSpec(formatScheduleRule(rule))).toEqual(rule);
    });
  }

  it('gives the parts their structure', () => {
    expect(parseScheduleSpec('incremental mon-fri 22:00')).toEqual({
      spec: 'incremental mon-fri 22:00',
      backupType: 'incremental',
      days: { kind: 'weekdays', weekdays: [1, 2, 3, 4, 5] },
      times: { kind: 'fixed', minutes: [1320] },
      windowMinutes: 240,
    });
    expect(parseScheduleSpec('fri-mon 01:00').days).toEqual({ kind: 'weekdays', weekdays: [1, 5, 6, 7] });
    expect(parseScheduleSpec('full last fri 03:00').days).toEqual({ kind: 'nth-weekday', nth: 'last', weekday: 5 });
    expect(parseScheduleSpec('incremental every 4h 08:00-20:00 window 1h')).toMatchObject({
      times: { kind: 'interval', everyMinutes: 240, fromMinute: 480, toMinute: 1200 },
      windowMinutes: 60,
    });
    expect(parseScheduleSpec('every 5m').times).toEqual({ kind: 'interval', everyMinutes: 5, fromMinute: 0, toMinute: 1439 });
  });

  it('defaults the window to 4h for fixed times and to the interval, at most 4h, for intervals', () => {
    expect(parseScheduleSpec('daily 03:00').windowMinutes).toBe(240);
    expect(parseScheduleSpec('every 30m').windowMinutes).toBe(30);
    expect(parseScheduleSpec('every 1h').windowMinutes).toBe(60);
    expect(parseScheduleSpec('every 4h').windowMinutes).toBe(240);
    expect(parseScheduleSpec('every 6h').windowMinutes).toBe(240);
    expect(parseScheduleSpec('every 6h window 1m').windowMinutes).toBe(1);
  });

  it('requires or forbids the backup type as asked', () => {
    expect(parseScheduleSpec('full sun 22:00', { backupType: 'required' }).backupType).toBe('full');
    expect(parseScheduleSpec('daily 03:00', { backupType: 'forbidden' }).backupType).toBeNull();
    expect(parseScheduleSpec('daily 03:00').backupType).toBeNull();
    expect(parseScheduleSpec('incremental daily 03:00').backupType).toBe('incremental');
    expect(() => parseScheduleSpec('mon-fri 22:00', { backupType: 'required' })).toThrow(
      'schedule "mon-fri 22:00": the backup type is missing; start with "full" or "incremental", e.g. "incremental mon-fri 22:00"',
    );
    expect(() => parseScheduleSpec('full daily 03:00', { backupType: 'forbidden' })).toThrow(
      'schedule "full daily 03:00": this schedule takes no backup type (retention schedules and snapshot policies run without one), leave out "full"; write it like "daily 03:00" or "sun 04:30"',
    );
  });

  const rejected: [string, string][] = [
    ['', 'the schedule is empty; write it like "incremental mon-fri 22:00"'],
    ['   ', 'the schedule is empty'],
    ['incremental', 'schedule "incremental": the time is missing; use 24-hour HH:MM times, e.g. "22:00"'],
    ['incremental mon-fri', 'the time is missing'],
    ['mnday 22:00', 'could not read "mnday" as days; use daily, a day (mon … sun), a range (mon-fri, fri-mon), a list (mon,wed,fri) or a day of the month (1st sun … 4th sun, last fri)'],
    ['mon,,fri 22:00', 'could not read "" in "mon,,fri" as days'],
    ['mon-wed-fri 22:00', 'could not read "mon-wed-fri" as days'],
    ['mon-xyz 22:00', 'could not read "mon-xyz" as days'],
    ['mon-mon 22:00', 'the range "mon-mon" starts and ends on the same day'],
    ['5th sun 22:00', 'could not read "5th": only 1st to 4th and last exist in every month, e.g. "last fri"'],
    ['last 22:00', '"last" must be followed by one day, e.g. "last sun", got "22:00"'],
    ['1st mon-fri 22:00', '"1st" must be followed by one day, e.g. "1st sun", got "mon-fri"'],
    ['25:00', 'could not read the time "25:00"; use 24-hour HH:MM times'],
    ['22:60', 'could not read the time "22:60"'],
    ['8am', 'could not read the time "8am"'],
    ['22:00,', 'could not read the time "22:00,"'],
    ['mon wed 22:00', 'could not read "wed" as days or a time'],
    ['22:00 mon', 'could not read "mon" at the end; days come before the time, e.g. "incremental mon-fri 22:00"'],
    ['incremental full 22:00', 'the backup type ("full") comes first'],
    ['22:00 full', 'could not read "full" at the end; the backup type comes first'],
    ['22:00 23:00', 'could not read "23:00" at the end; the order is [full|incremental] [days] time [window DURATION]'],
    ['every', '"every" must be followed by an interval such as 4h or 30m, got nothing'],
    ['every 4', '"every" must be followed by an interval such as 4h or 30m, got "4"'],
    ['every 0h', 'the interval "0h" is shorter than the minimum of 5 minutes'],
    ['every 4m', 'the interval "4m" is shorter than the minimum of 5 minutes'],
    ['every 25h', 'the interval "25h" is longer than a day'],
    ['every 4h 08:00', 'could not read "08:00" as the hours the interval runs in; use HH:MM-HH:MM'],
    ['every 4h 20:00-08:00', 'the interval\'s hours "20:00-08:00" must start before they end on the same day'],
    ['every 4h 08:00-24:00', 'could not read "08:00-24:00" as the hours the interval runs in'],
    ['22:00 window', '"window" must be followed by a duration such as 30m, 1h or 2h30m, got nothing'],
    ['22:00 window soon', '"window" must be followed by a duration such as 30m, 1h or 2h30m, got "soon"'],
    ['22:00 window 0m', 'the window "0m" must be from 1m to 7d'],
    ['22:00 window 7d1m', 'the window "7d1m" must be from 1m to 7d'],
    ['22:00 window 1h extra', 'could not read "extra" at the end'],
  ];
  for (const [input, message] of rejected) {
    it(`rejects "${input}" saying what it could not read`, () => {
      let error: unknown;
      try {
        parseScheduleSpec(input);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ScheduleSpecError);
      expect((error as Error).message).toContain(message);
    });
  }

  it('shows a retention example when the backup type is forbidden', () => {
    expect(() => parseScheduleSpec('', { backupType: 'forbidden' })).toThrow('the schedule is empty; write it like "daily 03:00" or "sun 04:30"');
  });
});

describe('time zones', () => {
  it('knows IANA names', () => {
    expect(isValidTimeZone(BERLIN)).toBe(true);
    expect(isValidTimeZone('UTC')).toBe(true);
    expect(isValidTimeZone('Mars/Olympus_Mons')).toBe(false);
    expect(isValidTimeZone('')).toBe(false);
    expect(isValidTimeZone(defaultTimeZone())).toBe(true);
  });

  it('refuses an unknown zone with a sentence', () => {
    expect(() => occurrencesBetween(rules('daily 03:00'), 'Mars/Olympus_Mons', 0, 1)).toThrow(
      'unknown time zone "Mars/Olympus_Mons"; use an IANA name such as "Europe/Berlin" or "UTC"',
    );
  });
});

describe('schedule rule evaluation', () => {
  it('runs weekday ranges, including ones that wrap past Sunday', () => {
    // 2027-01-04 is a Monday.
    const weekdays = between(['incremental mon-fri 22:00'], 'UTC', '2027-01-04', '2027-01-18');
    expect(weekdays.map((o) => local(o, 'UTC'))).toEqual([
      '2027-01-04 22:00 Mon',
      '2027-01-05 22:00 Tue',
      '2027-01-06 22:00 Wed',
      '2027-01-07 22:00 Thu',
      '2027-01-08 22:00 Fri',
      '2027-01-11 22:00 Mon',
      '2027-01-12 22:00 Tue',
      '2027-01-13 22:00 Wed',
      '2027-01-14 22:00 Thu',
      '2027-01-15 22:00 Fri',
    ]);
    const wrapping = between(['fri-mon 01:00'], 'UTC', '2027-01-04', '2027-01-12');
    expect(iso(wrapping)).toEqual(['2027-01-04T01:00:00.000Z', '2027-01-08T01:00:00.000Z', '2027-01-09T01:00:00.000Z', '2027-01-10T01:00:00.000Z', '2027-01-11T01:00:00.000Z']);
    const list = between(['mon,wed-thu,sun 06:00,18:30'], 'UTC', '2027-01-04', '2027-01-11');
    expect(list.map((o) => local(o, 'UTC'))).toEqual([
      '2027-01-04 06:00 Mon',
      '2027-01-04 18:30 Mon',
      '2027-01-06 06:00 Wed',
      '2027-01-06 18:30 Wed',
      '2027-01-07 06:00 Thu',
      '2027-01-07 18:30 Thu',
      '2027-01-10 06:00 Sun',
      '2027-01-10 18:30 Sun',
    ]);
  });

  it('takes the n-th and the last weekday of the month, whether the month has four or five of them', () => {
    // January 2027 has five Fridays (1 … 29), February four (5 … 26).
    const fridays = ['1st', '2nd', '3rd', '4th', 'last'].map((n) => between([`${n} fri 12:00`], 'UTC', '2027-01-01', '2027-03-01').map((o) => local(o, 'UTC', 'MM-dd')));
    expect(fridays).toEqual([
      ['01-01', '02-05'],
      ['01-08', '02-12'],
      ['01-15', '02-19'],
      ['01-22', '02-26'],
      ['01-29', '02-26'],
    ]);
    // February 2028 (leap year) starts on a Tuesday: five Tuesdays, the last on the 29th.
    const feb2028 = (spec: string): string[] => between([spec], 'UTC', '2028-02-01', '2028-03-01').map((o) => local(o, 'UTC', 'MM-dd'));
    expect(feb2028('last tue 12:00')).toEqual(['02-29']);
    expect(feb2028('4th tue 12:00')).toEqual(['02-22']);
    expect(feb2028('1st tue 12:00')).toEqual(['02-01']);
    expect(feb2028('last mon 12:00')).toEqual(['02-28']);
    expect(feb2028('last wed 12:00')).toEqual(['02-23']);
  });

  it('runs intervals inside their hours, both ends included, with their windows', () => {
    const run = between(['incremental every 4h 08:00-20:00 window 1h'], BERLIN, '2027-01-04', '2027-01-05');
    expect(iso(run)).toEqual(['2027-01-04T07:00:00.000Z', '2027-01-04T11:00:00.000Z', '2027-01-04T15:00:00.000Z', '2027-01-04T19:00:00.000Z']);
    expect(run.map((o) => [o.backupType, o.windowMinutes, o.rule])).toEqual(Array(4).fill(['incremental', 60, 'incremental every 4h 08:00-20:00 window 1h']));
    const ninety = between(['every 90m 09:00-12:00'], 'UTC', '2027-01-04', '2027-01-05');
    expect(iso(ninety)).toEqual(['2027-01-04T09:00:00.000Z', '2027-01-04T10:30:00.000Z', '2027-01-04T12:00:00.000Z']);
    expect(ninety[0]!.windowMinutes).toBe(90);
    expect(between(['every 5m'], 'UTC', '2027-01-04', '2027-01-05')).toHaveLength(288);
    expect(between(['every 7h'], 'UTC', '2027-01-04', '2027-01-06').map((o) => local(o, 'UTC', 'dd HH:mm'))).toEqual([
      '04 00:00',
      '04 07:00',
      '04 14:00',
      '04 21:00',
      '05 00:00',
      '05 07:00',
      '05 14:00',
      '05 21:00',
    ]);
  });

  it('makes one occurrence per instant: full beats incremental, then the rule listed first', () => {
    // 2027-01-10 is a Sunday.
    const week = between(['incremental daily 22:00', 'full sun 22:00'], 'UTC', '2027-01-08', '2027-01-11');
    expect(week.map((o) => [local(o, 'UTC'), o.backupType, o.ruleIndex, o.rule])).toEqual([
      ['2027-01-08 22:00 Fri', 'incremental', 0, 'incremental daily 22:00'],
      ['2027-01-09 22:00 Sat', 'incremental', 0, 'incremental daily 22:00'],
      ['2027-01-10 22:00 Sun', 'full', 1, 'full sun 22:00'],
    ]);
    const sameType = between(['incremental mon-fri 22:00', 'incremental daily 22:00', 'incremental sat 22:00'], 'UTC', '2027-01-08', '2027-01-11');
    expect(sameType.map((o) => o.ruleIndex)).toEqual([0, 1, 1]);
    const twoFull = between(['incremental daily 22:00', 'full sun 22:00', 'full 1st sun 22:00 window 8h'], 'UTC', '2027-01-03', '2027-01-04');
    expect(twoFull.map((o) => [o.ruleIndex, o.windowMinutes])).toEqual([[1, 240]]);
  });

  it('counts fromMs exclusive and toMs inclusive', () => {
    const at = Date.parse('2027-01-04T22:00:00Z');
    const r = rules('daily 22:00');
    expect(iso(occurrencesBetween(r, 'UTC', at, at + 1000))).toEqual([]);
    expect(iso(occurrencesBetween(r, 'UTC', at - 1000, at))).toEqual(['2027-01-04T22:00:00.000Z']);
    expect(occurrencesBetween(r, 'UTC', at, at)).toEqual([]);
    expect(occurrencesBetween([], 'UTC', 0, at)).toEqual([]);
  });
});

describe('DST: a time in the spring gap runs at the gap end, a repeated time at its first occurrence', () => {
  it('Europe/Berlin', () => {
    const spring = between(['daily 02:30'], BERLIN, '2027-03-27', '2027-03-30');
    expect(iso(spring)).toEqual(['2027-03-27T01:30:00.000Z', '2027-03-28T01:00:00.000Z', '2027-03-29T00:30:00.000Z']);
    const autumn = between(['daily 02:30'], BERLIN, '2027-10-30', '2027-11-02');
    expect(iso(autumn)).toEqual(['2027-10-30T00:30:00.000Z', '2027-10-31T00:30:00.000Z', '2027-11-01T01:30:00.000Z']);
  });

  it('America/New_York', () => {
    const spring = between(['daily 02:30'], NEW_YORK, '2027-03-13', '2027-03-16');
    expect(iso(spring)).toEqual(['2027-03-13T07:30:00.000Z', '2027-03-14T07:00:00.000Z', '2027-03-15T06:30:00.000Z']);
    // New York falls back at 02:00 EDT to 01:00 EST: 02:30 exists once (EST), 01:30 twice.
    const autumn = between(['daily 02:30'], NEW_YORK, '2027-11-06', '2027-11-09');
    expect(iso(autumn)).toEqual(['2027-11-06T06:30:00.000Z', '2027-11-07T07:30:00.000Z', '2027-11-08T07:30:00.000Z']);
    const repeated = between(['daily 01:30'], NEW_YORK, '2027-11-06', '2027-11-09');
    expect(iso(repeated)).toEqual(['2027-11-06T05:30:00.000Z', '2027-11-07T05:30:00.000Z', '2027-11-08T06:30:00.000Z']);
  });

  it('interval times in the gap collapse onto its end', () => {
    const run = between(['every 30m 01:00-04:00'], BERLIN, '2027-03-28', '2027-03-29');
    expect(run.map((o) => local(o, BERLIN, 'HH:mm'))).toEqual(['01:00', '01:30', '03:00', '03:30', '04:00']);
    expect(iso(run)).toEqual(['2027-03-28T00:00:00.000Z', '2027-03-28T00:30:00.000Z', '2027-03-28T01:00:00.000Z', '2027-03-28T01:30:00.000Z', '2027-03-28T02:00:00.000Z']);
  });

  it('a half-hour shift (Australia/Lord_Howe)', () => {
    // 2027-10-03 02:00 +10:30 → 02:30 +11:00; 2027-04-04 02:00 +11:00 → 01:30 +10:30.
    expect(iso(between(['daily 02:15'], 'Australia/Lord_Howe', '2027-10-03', '2027-10-04'))).toEqual(['2027-10-02T15:30:00.000Z']);
    expect(iso(between(['daily 01:45'], 'Australia/Lord_Howe', '2027-04-04', '2027-04-05'))).toEqual(['2027-04-03T14:45:00.000Z']);
  });

  it('a day that does not exist (Pacific/Apia skipped 2011-12-30)', () => {
    const run = occurrencesBetween(rules('daily 10:00'), 'Pacific/Apia', Date.parse('2011-12-28T00:00:00Z'), Date.parse('2012-01-01T00:00:00Z'));
    // 12-29 10:00 −10:00; 12-30 → the first instant after the gap (12-31 00:00 +14:00); 12-31 and 01-01 10:00 +14:00.
    expect(iso(run)).toEqual(['2011-12-28T20:00:00.000Z', '2011-12-29T20:00:00.000Z', '2011-12-30T10:00:00.000Z', '2011-12-30T20:00:00.000Z', '2011-12-31T20:00:00.000Z']);
  });
});

describe('schedule rule evaluation over a simulated year', () => {
  const zones: [string, { start: string; end: string; springDay: string; springUtc: string; fallDay: string; fallUtc: string }][] = [
    [BERLIN, { start: '2027-01-01', end: '2028-01-01', springDay: '2027-03-28', springUtc: '2027-03-28T01:00:00.000Z', fallDay: '2027-10-31', fallUtc: '2027-10-31T00:30:00.000Z' }],
    [NEW_YORK, { start: '2027-01-01', end: '2028-01-01', springDay: '2027-03-14', springUtc: '2027-03-14T07:00:00.000Z', fallDay: '2027-11-07', fallUtc: '2027-11-07T07:30:00.000Z' }],
  ];

  for (const [zone, y] of zones) {
    describe(zone, () => {
      it('incremental mon-fri 22:00: one run per weekday (261 in 2027), each at 22:00 local', () => {
        const run = between(['incremental mon-fri 22:00'], zone, y.start, y.end);
        expect(run).toHaveLength(261);
        expect(new Set(run.map((o) => local(o, zone, 'HH:mm')))).toEqual(new Set(['22:00']));
        expect(new Set(run.map((o) => local(o, zone, 'ccc')))).toEqual(new Set(['Mon', 'Tue', 'Wed', 'Thu', 'Fri']));
        expect(new Set(run.map((o) => local(o, zone, 'yyyy-MM-dd'))).size).toBe(261);
        expect(local(run[0]!, zone)).toBe('2027-01-01 22:00 Fri');
        expect(local(run[260]!, zone)).toBe('2027-12-31 22:00 Fri');
        expect(run.every((o) => o.backupType === 'incremental' && o.ruleIndex === 0 && o.windowMinutes === 240)).toBe(true);
      });

      it('daily 02:30: 365 runs, one per local date, the spring day at 03:00, the fall day at the first 02:30', () => {
        const run = between(['daily 02:30'], zone, y.start, y.end);
        expect(run).toHaveLength(365);
        expect(new Set(run.map((o) => local(o, zone, 'yyyy-MM-dd'))).size).toBe(365);
        const notAt0230 = run.filter((o) => local(o, zone, 'HH:mm') !== '02:30').map((o) => local(o, zone));
        expect(notAt0230).toEqual([`${y.springDay} 03:00 Sun`]);
        expect(iso(run.filter((o) => local(o, zone, 'yyyy-MM-dd') === y.springDay))).toEqual([y.springUtc]);
        expect(iso(run.filter((o) => local(o, zone, 'yyyy-MM-dd') === y.fallDay))).toEqual([y.fallUtc]);
        const gaps = run.slice(1).map((o, k) => (o.at - run[k]!.at) / 60_000);
        // Successive runs are 24h apart, except 23h30 twice around the spring day and 25h into the day after the fall day.
        expect(gaps.filter((g) => g !== 1440)).toEqual([1410, 1410, 1500]);
      });

      it('every 1h: 24 runs on the fall-back day, 23 on the spring-forward day, 8759 in the year', () => {
        expect(between(['every 1h'], zone, y.fallDay, DateTime.fromISO(y.fallDay).plus({ days: 1 }).toISODate()!)).toHaveLength(24);
        expect(between(['every 1h'], zone, y.springDay, DateTime.fromISO(y.springDay).plus({ days: 1 }).toISODate()!)).toHaveLength(23);
        expect(between(['every 1h'], zone, y.start, y.end)).toHaveLength(8759);
      });

      it('1st sun and last fri: 12 each, on the right dates', () => {
        const firstSundays = between(['full 1st sun 03:00'], zone, y.start, y.end);
        expect(firstSundays.map((o) => local(o, zone, 'MM-dd HH:mm'))).toEqual([
          '01-03 03:00',
          '02-07 03:00',
          '03-07 03:00',
          '04-04 03:00',
          '05-02 03:00',
          '06-06 03:00',
          '07-04 03:00',
          '08-01 03:00',
          '09-05 03:00',
          '10-03 03:00',
          '11-07 03:00',
          '12-05 03:00',
        ]);
        const lastFridays = between(['last fri 22:00'], zone, y.start, y.end);
        expect(lastFridays.map((o) => local(o, zone, 'MM-dd'))).toEqual(['01-29', '02-26', '03-26', '04-30', '05-28', '06-25', '07-30', '08-27', '09-24', '10-29', '11-26', '12-31']);
      });
    });
  }

  it('on the fall-back day every 1h skips the repeated hour (Berlin: no run at 01:00Z)', () => {
    const run = between(['every 1h'], BERLIN, '2027-10-31', '2027-11-01');
    expect(iso(run).slice(0, 5)).toEqual(['2027-10-30T22:00:00.000Z', '2027-10-30T23:00:00.000Z', '2027-10-31T00:00:00.000Z', '2027-10-31T02:00:00.000Z', '2027-10-31T03:00:00.000Z']);
    expect(iso(run).at(-1)).toBe('2027-10-31T22:00:00.000Z');
  });
});

describe('nextOccurrences', () => {
  it('returns the next runs strictly after the instant', () => {
    const r = rules('incremental mon-fri 22:00', 'full sun 22:00');
    const after = Date.parse('2027-01-08T21:00:00Z'); // Friday 22:00 in Berlin
    expect(nextOccurrences(r, BERLIN, after, 4).map((o) => [local(o, BERLIN), o.backupType])).toEqual([
      ['2027-01-10 22:00 Sun', 'full'],
      ['2027-01-11 22:00 Mon', 'incremental'],
      ['2027-01-12 22:00 Tue', 'incremental'],
      ['2027-01-13 22:00 Wed', 'incremental'],
    ]);
    expect(iso(nextOccurrences(r, BERLIN, after - 1, 1))).toEqual(['2027-01-08T21:00:00.000Z']);
  });

  it('finds sparse rules months ahead and stops after about two years', () => {
    const r = rules('last fri 10:00');
    const start = Date.parse('2027-01-01T00:00:00Z');
    expect(iso(nextOccurrences(r, 'UTC', start, 3))).toEqual(['2027-01-29T10:00:00.000Z', '2027-02-26T10:00:00.000Z', '2027-03-26T10:00:00.000Z']);
    const all = nextOccurrences(r, 'UTC', start, 1000);
    expect(all).toHaveLength(24);
    expect(iso(all).at(-1)).toBe('2028-12-29T10:00:00.000Z');
  });

  it('agrees with occurrencesBetween and merges the same instant once', () => {
    const r = rules('incremental every 4h', 'full sat 08:00', 'incremental daily 08:00');
    const start = Date.parse('2027-03-26T00:00:00Z');
    // 03-26 04:00 … 20:00 local (5), six a day from 03-27 to 04-02 (42), 04-03 00:00, 04:00, 08:00 (3).
    const next = nextOccurrences(r, BERLIN, start, 50);
    expect(next).toHaveLength(50);
    expect(new Set(next.map((o) => o.at)).size).toBe(50);
    expect(local(next[0]!, BERLIN)).toBe('2027-03-26 04:00 Fri');
    expect(local(next[49]!, BERLIN)).toBe('2027-04-03 08:00 Sat');
    expect(next).toEqual(occurrencesBetween(r, BERLIN, start, next[49]!.at));
    expect(next.filter((o) => o.backupType === 'full').map((o) => [local(o, BERLIN), o.ruleIndex])).toEqual([
      ['2027-03-27 08:00 Sat', 1],
      ['2027-04-03 08:00 Sat', 1],
    ]);
    expect(next.filter((o) => local(o, BERLIN, 'HH:mm') === '08:00' && o.backupType === 'incremental').map((o) => o.ruleIndex)).toEqual([0, 0, 0, 0, 0, 0, 0]);
  });

  it('returns nothing for no rules or a count of 0', () => {
    expect(nextOccurrences([], 'UTC', 0, 5)).toEqual([]);
    expect(nextOccurrences(rules('daily 03:00'), 'UTC', 0, 0)).toEqual([]);
  });
});
