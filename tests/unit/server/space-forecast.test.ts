import { describe, expect, it } from 'vitest';
import { daysUntilFull, growthPerDay } from '../../../electron/server/policies/space-forecast.js';

const DAY = 86_400_000;

describe('space forecast', () => {
  it('fits a line through the readings, noise and all', () => {
    const readings = [0, 1, 2, 3, 4].map((d) => ({ at: d * DAY, bytes: 1000 + 100 * d + (d % 2 ? 10 : -10) }));
    expect(growthPerDay(readings)).toBeCloseTo(100, 6);
  });

  it('says nothing with one reading or readings within half a day', () => {
    expect(growthPerDay([{ at: 0, bytes: 5 }])).toBeNull();
    expect(growthPerDay([{ at: 0, bytes: 5 }, { at: DAY / 4, bytes: 500 }])).toBeNull();
  });

  it('is never full when it does not grow or the free space is unknown', () => {
    expect(daysUntilFull(1000, 100)).toBe(10);
    expect(daysUntilFull(1000, 0)).toBeNull();
    expect(daysUntilFull(1000, -5)).toBeNull();
    expect(daysUntilFull(null, 100)).toBeNull();
  });
});
