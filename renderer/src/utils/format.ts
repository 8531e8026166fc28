import { formatBytes as sharedBytes, formatRate as sharedRate, formatShortDuration as sharedDuration } from '@common/format.js';
import { formatFingerprint } from '@common/fingerprint.js';

/** "3d 4h 12m"; seconds only matter in the first minute after a restart. */
export function formatDuration(totalSeconds: number): string {
  const seconds = Math.max(0, Math.floor(totalSeconds));
  if (seconds < 60) return `${seconds}s`;
  const days = Math.floor(seconds / 86_400);
  const hours = Math.floor((seconds % 86_400) / 3_600);
  const minutes = Math.floor((seconds % 3_600) / 60);
  const parts = [days > 0 ? `${days}d` : '', days > 0 || hours > 0 ? `${hours}h` : '', `${minutes}m`];
  return parts.filter((part) => part !== '').join(' ');
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

export function formatDateTime(iso: string | null, never = 'Never'): string {
  if (iso === null) return never;
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : dateTime.format(date);
}

/** The server sends colon-separated hex already; normalise case, and show what came if it is odd. */
export function displayFingerprint(fingerprint: string): string {
  try {
    return formatFingerprint(fingerprint);
  } catch {
    return fingerprint;
  }
}

/** Audit details as "key: value" pairs on one line, for a table cell. */
export function formatDetails(details: Record<string, unknown> | null): string {
  if (details === null) return '';
  return Object.entries(details)
    .map(([key, value]) => `${key}: ${typeof value === 'string' ? value : JSON.stringify(value)}`)
    .join(', ');
}


/** 1536 → "1.50 KiB", as the CLI and the node's log lines print it ("—" when unknown). */
export const formatBytes = (bytes: number): string => sharedBytes(bytes, '—');

/** 117e6 → "112 MiB/s". */
export const formatRate = (bytesPerSecond: number): string => sharedRate(bytesPerSecond, '—');

/** Short, for ETAs and task durations: "45s", "2m 10s", "1h 05m", "3d 04h". */
export const formatShortDuration = (totalSeconds: number): string => sharedDuration(totalSeconds, '—');

/** Seconds between two instants; an open end counts up to `nowMs`. Null when never started. */
export function elapsedSeconds(startIso: string | null, endIso: string | null, nowMs: number): number | null {
  if (startIso === null) return null;
  const start = Date.parse(startIso);
  const end = endIso === null ? nowMs : Date.parse(endIso);
  if (Number.isNaN(start) || Number.isNaN(end)) return null;
  return Math.max(0, (end - start) / 1000);
}

/** "just now", "5 min ago", "in 15 min", "2 days ago"; the exact time belongs in a tooltip. */
export function formatRelativeTime(iso: string | null, nowMs: number, never = 'Never'): string {
  if (iso === null) return never;
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return iso;
  const delta = Math.round((nowMs - at) / 1000);
  const seconds = Math.abs(delta);
  if (seconds < 10) return 'just now';
  let span: string;
  if (seconds < 60) span = `${seconds}s`;
  else if (seconds < 3_600) span = `${Math.floor(seconds / 60)} min`;
  else if (seconds < 86_400) span = `${Math.floor(seconds / 3_600)} h`;
  else span = Math.floor(seconds / 86_400) === 1 ? '1 day' : `${Math.floor(seconds / 86_400)} days`;
  return delta > 0 ? `${span} ago` : `in ${span}`;
}

/** "42%" with one decimal below 10%, where a whole number would sit at 0% for a long time. */
export function formatPercent(percent: number): string {
  const clamped = Math.min(100, Math.max(0, percent));
  return clamped < 10 && clamped > 0 ? `${Number(clamped.toFixed(1))}%` : `${Math.floor(clamped)}%`;
}

/**
 * Axis ticks for a byte scale on whole binary units: 0, 512 MiB, 1 GiB, 1.5 GiB… rather than
 * the decimal steps a chart library picks (which print as 1.86 GiB). About `count` ticks.
 */
export function binaryByteTicks(max: number, count = 5): number[] {
  if (!Number.isFinite(max) || max <= 0) return [0];
  let unit = 1;
  while (max / unit >= 1024) unit *= 1024;
  const raw = max / unit / Math.max(1, count - 1);
  const steps = [0.25, 0.5, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];
  const step = (steps.find((candidate) => candidate >= raw) ?? 1024) * unit;
  const ticks: number[] = [];
  for (let value = 0; value < max + step; value += step) ticks.push(value);
  return ticks;
}
