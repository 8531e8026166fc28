import { describe, expect, it } from 'vitest';
import { applyRetention, parseRetentionSpec } from '../../../node-service/repository/index.js';
import type { RetentionCandidate } from '../../../node-service/repository/retention.js';

const DAY = 86_400_000;
const NOW = Date.parse('2025-03-31T23:00:00Z');

/** One backup a day at 22:00 UTC for `days` days ending on 2025-03-31 (newest last). */
function daily(days: number, group = 'vm:a'): RetentionCandidate[] {
  const out: RetentionCandidate[] = [];
  for (let i = days - 1; i >= 0; i--) {
    const t = Date.parse('2025-03-31T22:00:00Z') - i * DAY;
    out.push({ id: `b-${new Date(t).toISOString().slice(0, 10)}`, group, createdAt: new Date(t).toISOString() });
  }
  return out;
}

const kept = (d: ReturnType<typeof applyRetention>): string[] =>
  d
    .filter((x) => x.keep)
    .map((x) => x.id)
    .sort();

describe('retention selection', () => {
  it('keeps a protected backup whatever the rules say, and does not count it for them', () => {
    const d = applyRetention(daily(10), { keepLast: 2 }, NOW, { isProtected: (id) => id === 'b-2025-03-22' || id === 'b-2025-03-31' });
    // The two protected ones stay, and keepLast still keeps two more (the newest unprotected).
    expect(kept(d)).toEqual(['b-2025-03-22', 'b-2025-03-29', 'b-2025-03-30', 'b-2025-03-31']);
    expect(d.find((x) => x.id === 'b-2025-03-22')?.reasons).toEqual(['protected (never removed by retention)']);
    // maxage removes old backups, never a protected one.
    const aged = applyRetention(daily(10), { maxAgeDays: 2 }, NOW, { isProtected: (id) => id === 'b-2025-03-22' });
    expect(kept(aged)).toContain('b-2025-03-22');
  });

  it('keeps the last N', () => {
    const d = applyRetention(daily(10), { keepLast: 3 }, NOW);
    expect(kept(d)).toEqual(['b-2025-03-29', 'b-2025-03-30', 'b-2025-03-31']);
    expect(d.find((x) => x.id === 'b-2025-03-31')?.reasons).toEqual(['last 1']);
    expect(d.find((x) => x.id === 'b-2025-03-25')?.reasons).toEqual(['not selected by any rule']);
  });

  it('keeps the newest backup of each of the last N days, ISO weeks, months and years', () => {
    const backups = daily(90);
    // A second backup on the last day: only the newer of the two counts for that day.
    backups.push({ id: 'b-2025-03-31-late', group: 'vm:a', createdAt: '2025-03-31T22:30:00.000Z' });
    const d = applyRetention(backups, { daily: 3, weekly: 3, monthly: 3, yearly: 1 }, NOW);
    expect(kept(d)).toEqual(
      [
        'b-2025-03-31-late', // daily 03-31, weekly W14, monthly 03, yearly 2025
        'b-2025-03-30', // daily, weekly 2025-W13 (Sunday 30 March ends W13)
        'b-2025-03-29', // daily
        'b-2025-03-23', // weekly 2025-W12 (Sunday)
        'b-2025-02-28', // monthly 02
        'b-2025-01-31', // monthly 01
      ].sort(),
    );
    const late = d.find((x) => x.id === 'b-2025-03-31-late');
    expect(late?.reasons).toEqual(['daily 2025-03-31', 'weekly 2025-W14', 'monthly 2025-03', 'yearly 2025']);
    expect(d.find((x) => x.id === 'b-2025-03-31')?.keep).toBe(false);
  });

  it('computes ISO weeks across a year boundary', () => {
    const d = applyRetention(
      [
        { id: 'a', group: 'g', createdAt: '2024-12-30T10:00:00Z' }, // Monday of 2025-W01
        { id: 'b', group: 'g', createdAt: '2024-12-29T10:00:00Z' }, // Sunday of 2024-W52
      ],
      { weekly: 2 },
      NOW,
    );
    expect(d.find((x) => x.id === 'a')?.reasons).toEqual(['weekly 2025-W01']);
    expect(d.find((x) => x.id === 'b')?.reasons).toEqual(['weekly 2024-W52']);
  });

  it('shifts calendar buckets by the site UTC offset', () => {
    const list = [
      { id: 'before-midnight', group: 'g', createdAt: '2025-03-30T22:30:00Z' }, // 00:30 on 03-31 at UTC+2
      { id: 'evening', group: 'g', createdAt: '2025-03-30T20:00:00Z' }, // 22:00 on 03-30 at UTC+2
    ];
    expect(kept(applyRetention(list, { daily: 1 }, NOW))).toEqual(['before-midnight']);
    expect(kept(applyRetention(list, { daily: 2 }, NOW, { utcOffsetMinutes: 120 }))).toEqual(['before-midnight', 'evening']);
    expect(kept(applyRetention(list, { daily: 2 }, NOW))).toEqual(['before-midnight']);
  });

  it('maxAgeDays caps the calendar rules but not keepLast, and alone keeps everything younger', () => {
    const backups = daily(30);
    expect(kept(applyRetention(backups, { daily: 30, maxAgeDays: 5 }, NOW))).toHaveLength(5);
    const alone = applyRetention(backups, { maxAgeDays: 7 }, NOW);
    expect(kept(alone)).toHaveLength(7);
    expect(alone.find((x) => x.id === 'b-2025-03-02')?.reasons[0]).toMatch(/older than 7 days/);
    const withLast = applyRetention(backups, { keepLast: 10, maxAgeDays: 2 }, NOW);
    expect(kept(withLast)).toHaveLength(10);
  });

  it('never removes the newest backup of a group, and treats groups independently', () => {
    const old = [{ id: 'only', group: 'vm:b', createdAt: '2024-01-01T00:00:00Z' }];
    const d = applyRetention([...daily(5), ...old], { maxAgeDays: 30 }, NOW);
    expect(d.find((x) => x.id === 'only')).toMatchObject({ keep: true, reasons: ['newest backup of its group (always kept)'] });
    expect(kept(d)).toHaveLength(6);
  });

  it('refuses a policy that keeps nothing', () => {
    expect(() => applyRetention(daily(3), {}, NOW)).toThrow(/keeps nothing/);
    expect(() => applyRetention(daily(3), { keepLast: 0 }, NOW)).toThrow(/keeps nothing/);
    expect(() => applyRetention(daily(3), { daily: -1 }, NOW)).toThrow(/whole number/);
  });

  it('parses the shared retention syntax', () => {
    expect(parseRetentionSpec('last=3 daily=14 weekly=8 monthly=12')).toEqual({ keepLast: 3, daily: 14, weekly: 8, monthly: 12 });
    expect(parseRetentionSpec(' yearly=2  maxage=90d ')).toEqual({ yearly: 2, maxAgeDays: 90 });
    expect(() => parseRetentionSpec('hourly=3')).toThrow(/cannot read retention "hourly=3"/);
    expect(() => parseRetentionSpec('daily=3d')).toThrow(/cannot read/);
    expect(() => parseRetentionSpec('')).toThrow(/keeps nothing/);
  });
});
