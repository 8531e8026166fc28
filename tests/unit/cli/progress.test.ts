import { describe, expect, it } from 'vitest';
import {
  ProgressRenderer,
  RateMeter,
  estimateEtaSeconds,
  formatBytes,
  formatDuration,
  formatPlainProgressLine,
  formatProgressLine,
  formatRate,
  progressPercent,
  renderBar,
} from '../../../cli/progress.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

describe('formatBytes / formatRate', () => {
  it.each([
    [0, '0 B'],
    [1023, '1023 B'],
    [1024, '1.00 KiB'],
    [1536, '1.50 KiB'],
    [10.25 * MiB, '10.3 MiB'],
    [123.4 * GiB, '123 GiB'],
    [1023.99 * KiB, '1.00 MiB'],
    [3 * 1024 * GiB, '3.00 TiB'],
  ])('%d bytes → %s', (bytes, text) => {
    expect(formatBytes(bytes)).toBe(text);
  });

  it('shows nonsense as ?', () => {
    expect(formatBytes(-1)).toBe('?');
    expect(formatBytes(Number.NaN)).toBe('?');
  });

  it('formats a rate per second', () => {
    expect(formatRate(45.3 * MiB)).toBe('45.3 MiB/s');
  });
});

describe('formatDuration', () => {
  it.each([
    [0, '0s'],
    [0.2, '1s'],
    [45, '45s'],
    [65, '1m 05s'],
    [3599, '59m 59s'],
    [3600, '1h 00m'],
    [3720, '1h 02m'],
    [2 * 86400 + 3 * 3600 + 59, '2d 03h'],
  ])('%d s → %s', (seconds, text) => {
    expect(formatDuration(seconds)).toBe(text);
  });
});

describe('percent and ETA', () => {
  it('rounds percent down so 100% means done', () => {
    expect(progressPercent(999, 1000)).toBe(99);
    expect(progressPercent(1000, 1000)).toBe(100);
    expect(progressPercent(5, 0)).toBeNull();
    expect(progressPercent(5, null)).toBeNull();
  });

  it('estimates the time left from the rate', () => {
    expect(estimateEtaSeconds(1 * GiB, 3 * GiB, 100 * MiB)).toBeCloseTo(20.48);
    expect(estimateEtaSeconds(3 * GiB, 3 * GiB, null)).toBe(0);
    expect(estimateEtaSeconds(1, 10, null)).toBeNull();
    expect(estimateEtaSeconds(1, 10, 0)).toBeNull();
    expect(estimateEtaSeconds(1, null, 5)).toBeNull();
  });
});

describe('RateMeter', () => {
  it('needs two samples over some time', () => {
    const m = new RateMeter();
    expect(m.rate()).toBeNull();
    m.add(1000, 0);
    expect(m.rate()).toBeNull();
    m.add(2000, 10 * MiB);
    expect(m.rate()).toBe(10 * MiB);
  });

  it('follows the recent speed, not the average since the start', () => {
    const m = new RateMeter(10_000);
    // 60 s at 1 MiB/s, then 20 s at 10 MiB/s.
    let bytes = 0;
    for (let t = 0; t <= 60; t++) m.add(t * 1000, (bytes = t * MiB));
    for (let t = 61; t <= 80; t++) m.add(t * 1000, (bytes += 10 * MiB));
    expect(m.rate()).toBeCloseTo(10 * MiB, -3);
  });

  it('starts over when the done count goes backwards (a retried task)', () => {
    const m = new RateMeter();
    m.add(0, 0);
    m.add(1000, 100);
    m.add(2000, 10);
    expect(m.rate()).toBeNull();
    m.add(3000, 110);
    expect(m.rate()).toBe(100);
  });
});

describe('line formatting', () => {
  const state = { label: 'backup vm1', doneBytes: 1.2 * GiB, totalBytes: 3 * GiB, rate: 45.3 * MiB };

  it('renders a bar', () => {
    expect(renderBar(0.5, 12)).toBe('[#####-----]');
    expect(renderBar(1.5, 6)).toBe('[####]');
    expect(renderBar(-1, 6)).toBe('[----]');
  });

  it('shows percent, bar, bytes, rate and ETA on a terminal line', () => {
    const line = formatProgressLine(state, 100);
    expect(line).toMatch(/^backup vm1\s+40% \[#+-+\] {2}1\.20 GiB \/ 3\.00 GiB {2}45\.3 MiB\/s {2}ETA 41s$/);
    expect(line.length).toBeLessThan(100);
  });

  it('drops the bar on a narrow terminal and never exceeds the width', () => {
    const line = formatProgressLine(state, 60);
    expect(line).not.toContain('[');
    expect(line.length).toBeLessThan(60);
    expect(formatProgressLine(state, 20).length).toBeLessThan(20);
  });

  it('shows dashes while the rate is unknown', () => {
    expect(formatProgressLine({ ...state, rate: null }, 100)).toMatch(/--\/s {2}ETA --$/);
  });

  it('shows bytes and rate only when the total is unknown', () => {
    expect(formatProgressLine({ doneBytes: 5 * MiB, totalBytes: null, rate: MiB }, 80)).toBe('5.00 MiB  1.00 MiB/s');
  });

  it('writes a plain log line', () => {
    expect(formatPlainProgressLine(state)).toBe('backup vm1: 40%, 1.20 GiB of 3.00 GiB, 45.3 MiB/s, ETA 41s');
    expect(formatPlainProgressLine({ doneBytes: 0, totalBytes: null, rate: null })).toBe('0 B, rate unknown');
  });
});

describe('ProgressRenderer', () => {
  function fakeStream(isTTY: boolean): { write(s: string): void; isTTY: boolean; columns: number; text: string } {
    return {
      isTTY,
      columns: 100,
      text: '',
      write(s: string) {
        this.text += s;
      },
    };
  }

  it('redraws one line in place on a terminal, throttled', () => {
    let now = 0;
    const stream = fakeStream(true);
    const r = new ProgressRenderer({ stream, label: 'verify', now: () => now, ttyIntervalMs: 100 });
    r.update(0, 100 * MiB);
    now = 50;
    r.update(10 * MiB); // within 100 ms: not drawn
    now = 1000;
    r.update(50 * MiB);
    r.finish('Verified.');
    const frames = stream.text.split('\r').filter(Boolean);
    expect(frames).toHaveLength(3); // first, at 1 s, and the final one
    expect(frames[1]).toMatch(/^verify\s+50% \[/);
    expect(frames[1]).toContain('\x1b[K');
    expect(stream.text.endsWith('\nVerified.\n')).toBe(true);
    expect(stream.text.split('\n')).toHaveLength(3);
  });

  it('prints plain lines at most every interval off a terminal, and the final state', () => {
    let now = 0;
    const stream = fakeStream(false);
    const r = new ProgressRenderer({ stream, label: 'restore', now: () => now, plainIntervalMs: 5000 });
    for (let s = 0; s <= 12; s++) {
      now = s * 1000;
      r.update(s * 10 * MiB, 200 * MiB);
    }
    r.finish();
    const lines = stream.text.trimEnd().split('\n');
    expect(lines).toEqual([
      'restore: 0%, 0 B of 200 MiB, rate unknown, ETA --',
      'restore: 25%, 50.0 MiB of 200 MiB, 10.0 MiB/s, ETA 15s',
      'restore: 50%, 100 MiB of 200 MiB, 10.0 MiB/s, ETA 10s',
      'restore: 60%, 120 MiB of 200 MiB, 10.0 MiB/s, ETA 8s',
    ]);
    expect(stream.text).not.toContain('\r');
  });

  it('prints the completed state off a terminal as soon as the work is done', () => {
    let now = 0;
    const stream = fakeStream(false);
    const r = new ProgressRenderer({ stream, now: () => now, plainIntervalMs: 60_000 });
    r.update(0, 10);
    now = 1000;
    r.update(10, 10);
    r.finish();
    expect(stream.text.trimEnd().split('\n').at(-1)).toMatch(/^100%, 10 B of 10 B/);
    expect(stream.text.match(/100%/g)).toHaveLength(1);
  });

  it("uses the producer's rate when given one, and measures its own otherwise", () => {
    let now = 0;
    const stream = fakeStream(false);
    const r = new ProgressRenderer({ stream, now: () => now, plainIntervalMs: 0 });
    r.update(0, 100 * MiB, 7 * MiB);
    now = 1000;
    r.update(50 * MiB, 100 * MiB, null);
    now = 2000;
    r.update(60 * MiB, 100 * MiB);
    expect(stream.text.trimEnd().split('\n')).toEqual([
      '0%, 0 B of 100 MiB, 7.00 MiB/s, ETA 15s',
      '50%, 50.0 MiB of 100 MiB, rate unknown, ETA --',
      '60%, 60.0 MiB of 100 MiB, 30.0 MiB/s, ETA 2s',
    ]);
  });

  it('writes other lines above the bar on a terminal and draws the bar again', () => {
    const stream = fakeStream(true);
    const other = fakeStream(true);
    const r = new ProgressRenderer({ stream, label: 'task 3', now: () => 0 });
    r.interject('before any progress', other);
    expect(stream.text).toBe('');
    r.update(5, 10);
    const bar = stream.text;
    r.interject('a log line', other);
    expect(other.text).toBe('before any progress\na log line\n');
    expect(stream.text).toBe(`${bar}\r\x1b[K${bar}`);
    r.finish();
    r.interject('after the end', other);
    expect(stream.text.endsWith('\n')).toBe(true);
  });

  it('leaves nothing behind when no progress was ever shown', () => {
    const stream = fakeStream(true);
    new ProgressRenderer({ stream }).finish('Done.');
    expect(stream.text).toBe('Done.\n');
  });
});
