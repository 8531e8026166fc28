import { describe, expect, it } from 'vitest';
import { parseScheduleSpec } from '../../../common/schedule.js';
import { builderFromRule, defaultBuilderValue, ruleFromBuilder, type ScheduleBuilderValue } from '../../../common/schedule-builder.js';

const rule = (value: ScheduleBuilderValue): string => {
  const result = ruleFromBuilder(value);
  if (!result.ok) throw new Error(result.message);
  return result.rule;
};

describe('schedule builder → rule text', () => {
  const backup = defaultBuilderValue('backup');

  it('writes the canonical text the text form and the API read', () => {
    expect(rule(backup)).toBe('incremental mon-fri 22:00');
    expect(rule({ ...backup, backupType: 'full', weekdays: [7], times: ['22:00'] })).toBe('full sun 22:00');
    expect(rule({ ...backup, weekdays: [1, 2, 3, 4, 5, 6, 7], times: ['03:00'] })).toBe('incremental daily 03:00');
    expect(rule({ ...backup, weekdays: [5, 1, 3], times: ['18:00', '08:00', ''] })).toBe('incremental mon,wed,fri 08:00,18:00');
    expect(rule({ ...backup, weekdays: [5, 6, 7, 1], times: ['01:00'] })).toBe('incremental fri-mon 01:00');
    expect(rule({ ...backup, mode: 'interval', everyHours: 4, from: '08:00', to: '20:00', windowMinutes: 60 })).toBe('incremental mon-fri every 4h 08:00-20:00 window 1h');
    expect(rule({ ...backup, weekdays: [1, 2, 3, 4, 5, 6, 7], mode: 'interval', everyHours: 4, windowMinutes: 60 })).toBe('incremental every 4h 08:00-20:00 window 1h');
    expect(rule({ ...backup, mode: 'interval', everyHours: 4, from: '00:00', to: '23:59', weekdays: [1, 2, 3, 4, 5, 6, 7] })).toBe('incremental every 4h');
    // A time input may give seconds.
    expect(rule({ ...backup, times: ['22:00:00'] })).toBe('incremental mon-fri 22:00');
    expect(rule({ ...defaultBuilderValue('snapshot'), weekdays: [1, 2, 3, 4, 5, 6, 7], times: ['12:00'] })).toBe('daily 12:00');
  });

  it('says what is missing instead of writing a rule', () => {
    expect(ruleFromBuilder({ ...backup, weekdays: [] })).toMatchObject({ ok: false, field: 'weekdays' });
    expect(ruleFromBuilder({ ...backup, times: ['', ' '] })).toMatchObject({ ok: false, field: 'times', message: 'Give at least one time' });
    expect(ruleFromBuilder({ ...backup, times: ['25:00'] })).toMatchObject({ ok: false, field: 'times' });
    expect(ruleFromBuilder({ ...backup, mode: 'interval', from: '20:00', to: '08:00' })).toMatchObject({ ok: false, field: 'interval' });
    expect(ruleFromBuilder({ ...backup, mode: 'interval', everyHours: 0 })).toMatchObject({ ok: false, field: 'interval' });
  });
});

describe('rule text → schedule builder', () => {
  it('shows the rules it can, and writes them back unchanged', () => {
    for (const spec of [
      'incremental mon-fri 22:00',
      'full sun 22:00',
      'incremental every 4h 08:00-20:00 window 1h',
      'incremental daily 08:00,12:30,18:00',
      'full fri-mon 01:00 window 30m',
      'incremental every 6h',
    ]) {
      const view = builderFromRule(spec, 'backup');
      expect(view.ok, spec).toBe(true);
      if (view.ok) expect(rule(view.value)).toBe(spec);
    }
    const snapshot = builderFromRule('mon-fri 07:00', 'snapshot');
    expect(snapshot.ok && rule(snapshot.value)).toBe('mon-fri 07:00');
  });

  it('reads loose text the way the parser does', () => {
    const view = builderFromRule('  INCREMENTAL  mon,tue,wed,thu,fri  8:00 ', 'backup');
    expect(view.ok && rule(view.value)).toBe(parseScheduleSpec('incremental mon-fri 08:00').spec);
  });

  it('an empty rule starts from the default', () => {
    expect(builderFromRule('', 'backup')).toEqual({ ok: true, value: defaultBuilderValue('backup') });
  });

  it('leaves the rules it cannot show as text, saying why', () => {
    expect(builderFromRule('full 1st sun 03:00', 'backup')).toMatchObject({ ok: false, reason: expect.stringContaining('day of the month') });
    expect(builderFromRule('incremental every 30m', 'backup')).toMatchObject({ ok: false, reason: expect.stringContaining('whole hours') });
    expect(builderFromRule('incremental mon 22:00 window 17m', 'backup')).toMatchObject({ ok: false, reason: expect.stringContaining('window') });
    expect(builderFromRule('full someday 03:00', 'backup')).toMatchObject({ ok: false, reason: expect.stringContaining('cannot be read') });
    // A backup policy's rule needs a type; a snapshot policy's has none.
    expect(builderFromRule('mon 22:00', 'backup').ok).toBe(false);
    expect(builderFromRule('full mon 22:00', 'snapshot').ok).toBe(false);
  });
});
