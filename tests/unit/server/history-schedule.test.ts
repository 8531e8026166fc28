import { describe, expect, it } from 'vitest';
import { isPruneDue, lastPruneTime, PRUNE_TIME } from '../../../electron/server/history/history.service.js';

/** When the daily history prune is due: once a day after PRUNE_TIME (server time), and at once after a day the server was off. */
describe('daily history prune', () => {
  const at = (day: number, hour: number, minute = 0): number => new Date(2026, 11, day, hour, minute).getTime();
  const started = (ms: number) => ({ startedAt: new Date(ms).toISOString() });

  it('the latest prune time is today after it, yesterday before it', () => {
    expect(lastPruneTime(at(7, 12)).getTime()).toBe(at(7, PRUNE_TIME.hour, PRUNE_TIME.minute));
    expect(lastPruneTime(at(7, 1)).getTime()).toBe(at(6, PRUNE_TIME.hour, PRUNE_TIME.minute));
    expect(lastPruneTime(at(7, PRUNE_TIME.hour, PRUNE_TIME.minute)).getTime()).toBe(at(7, PRUNE_TIME.hour, PRUNE_TIME.minute));
  });

  it('is due before the first prune, once after each prune time, and after days off', () => {
    expect(isPruneDue(at(7, 12), null)).toBe(true);
    // Pruned at 03:30 today: not again until tomorrow's.
    expect(isPruneDue(at(7, 23), started(at(7, 3, 30)))).toBe(false);
    expect(isPruneDue(at(8, 3, 29), started(at(7, 3, 30)))).toBe(false);
    expect(isPruneDue(at(8, 3, 30), started(at(7, 3, 30)))).toBe(true);
    // Pruned by hand at 02:00: the 03:30 prune still runs.
    expect(isPruneDue(at(7, 4), started(at(7, 2)))).toBe(true);
    // Off for three days: due as soon as the server looks.
    expect(isPruneDue(at(10, 9), started(at(7, 3, 30)))).toBe(true);
  });
});
