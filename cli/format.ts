/** Pure formatting helpers shared by the commands and the progress renderer. */

const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'] as const;

/** 1536 → "1.5 KiB". Three significant digits, binary units as disk tools print them. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '?';
  if (bytes < 1024) return `${Math.round(bytes)} B`;
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < BYTE_UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  // 1023.96 KiB would round to "1024 KiB"; show it as the next unit instead.
  if (value >= 999.95 && unit < BYTE_UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  const digits = value >= 100 ? 0 : value >= 10 ? 1 : 2;
  return `${value.toFixed(digits)} ${BYTE_UNITS[unit]}`;
}

/** Bytes per second → "45.3 MiB/s". */
export function formatRate(bytesPerSecond: number): string {
  if (!Number.isFinite(bytesPerSecond) || bytesPerSecond < 0) return '?/s';
  return `${formatBytes(bytesPerSecond)}/s`;
}

/**
 * A duration in the two largest units: "45s", "3m 05s", "1h 02m", "2d 03h".
 * Seconds are rounded up so an ETA never shows "0s" while work remains.
 */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const total = Math.ceil(seconds);
  const d = Math.floor(total / 86_400);
  const h = Math.floor((total % 86_400) / 3_600);
  const m = Math.floor((total % 3_600) / 60);
  const s = total % 60;
  const pad = (n: number): string => String(n).padStart(2, '0');
  if (d > 0) return `${d}d ${pad(h)}h`;
  if (h > 0) return `${h}h ${pad(m)}m`;
  if (m > 0) return `${m}m ${pad(s)}s`;
  return `${s}s`;
}

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
