/**
 * Human formatting shared by the CLI and the admin UI, so a task reads the same in
 * both. Browser-safe. `invalid` is what each surface prints for a value it cannot show.
 */

const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'] as const;

/** 1536 → "1.50 KiB". Three significant digits, binary units as disk tools print them. */
export function formatBytes(bytes: number, invalid = '?'): string {
  if (!Number.isFinite(bytes) || bytes < 0) return invalid;
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
export function formatRate(bytesPerSecond: number, invalid = '?'): string {
  if (!Number.isFinite(bytesPerSecond) || bytesPerSecond < 0) return `${invalid}/s`;
  return `${formatBytes(bytesPerSecond, invalid)}/s`;
}

/**
 * A duration in the two largest units: "45s", "3m 05s", "1h 02m", "2d 03h".
 * Seconds are rounded up so an ETA never shows "0s" while work remains.
 */
export function formatShortDuration(seconds: number, invalid = '?'): string {
  if (!Number.isFinite(seconds) || seconds < 0) return invalid;
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
