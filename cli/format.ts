/** Pure formatting helpers shared by the commands and the progress renderer. */

import { formatBytes as bytes, formatRate as rate, formatShortDuration } from '../common/format.js';

/** 1536 → "1.5 KiB"; "?" for a value that cannot be shown. */
export const formatBytes = (n: number): string => bytes(n);
/** Bytes per second → "45.3 MiB/s". */
export const formatRate = (n: number): string => rate(n);
/** "45s", "3m 05s", "1h 02m", "2d 03h"; rounds up so an ETA never shows "0s" while work remains. */
export const formatDuration = (seconds: number): string => formatShortDuration(seconds);

/** ISO 8601 → "2025-01-31 14:03" in local time; "never" for null. */
export function formatTimestamp(iso: string | null | undefined): string {
  if (!iso) return 'never';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const pad = (n: number): string => String(n).padStart(2, '0');
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}`
  );
}

/** ISO 8601 → "14:03:05" in local time, for log lines of a running task. */
export function formatClock(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

/** ISO 8601 → "2025-01-31 14:03:05" in local time, for stored log lines. */
export function formatDateTime(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return `${formatTimestamp(iso).slice(0, 10)} ${formatClock(iso)}`;
}

/** Left-aligned columns separated by two spaces; no trailing blanks. */
export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    widths
      .map((w, i) => (cells[i] ?? '').padEnd(w))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

/** 3.24 → "3.2×", 142.6 → "143×"; "-" while there is nothing to compare (null). */
export function formatRatio(ratio: number | null | undefined): string {
  if (ratio === null || ratio === undefined || !Number.isFinite(ratio) || ratio <= 0) return '-';
  return `${ratio >= 99.95 ? Math.round(ratio) : ratio.toFixed(1)}×`;
}

const SPARK_LEVELS = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'] as const;

/**
 * Values → "▁▂▃▅▇█", one character each, at most `width` characters: longer
 * series are split into that many equal stretches, each shown by its last
 * value. The scale runs from the series' minimum to its maximum; a flat
 * series is a flat line (at the bottom when it is all zeros).
 */
export function sparkline(values: readonly number[], width = 40): string {
  if (values.length === 0) return '';
  const n = Math.min(values.length, Math.max(1, width));
  const sampled = Array.from({ length: n }, (_, i) => values[Math.floor(((i + 1) * values.length) / n) - 1]!);
  const min = Math.min(...sampled);
  const max = Math.max(...sampled);
  const top = SPARK_LEVELS.length - 1;
  const flat = max > 0 ? 3 : 0;
  return sampled.map((v) => SPARK_LEVELS[max === min ? flat : Math.round(((v - min) / (max - min)) * top)]).join('');
}
