import type { Destination } from '@common/api/index.js';
import { formatBytes } from './format.js';

/** 3.24 → "3.2×"; ratios are null until the repository holds data. */
export function formatRatio(ratio: number | null): string {
  if (ratio === null || !Number.isFinite(ratio) || ratio <= 0) return '—';
  return `${ratio >= 100 ? Math.round(ratio) : ratio.toFixed(1)}×`;
}

export interface FreeSpaceView {
  /** 0–100 of the filesystem in use, for the bar. */
  usedPercent: number;
  color: string;
  /** "120 GiB free of 1.00 TiB" */
  text: string;
}

/** Free space of the filesystem under the destination, as the last destination task saw it. */
export function describeFreeSpace(destination: Pick<Destination, 'freeBytes' | 'totalBytes'>): FreeSpaceView | null {
  const { freeBytes, totalBytes } = destination;
  if (freeBytes === null || totalBytes === null || totalBytes <= 0) return null;
  const usedPercent = Math.min(100, Math.max(0, ((totalBytes - freeBytes) / totalBytes) * 100));
  return {
    usedPercent,
    color: usedPercent > 90 ? 'red' : usedPercent > 75 ? 'yellow' : 'teal',
    text: `${formatBytes(freeBytes)} free of ${formatBytes(totalBytes)}`,
  };
}

export const DESTINATION_STATUS_LABELS: Record<Destination['status'], string> = {
  ok: 'OK',
  error: 'Error',
  unknown: 'Not checked',
};

/** Tasks about a destination carry its id in their parameters and its name in their subject. */
export function isTaskOfDestination(task: { params: Record<string, unknown>; subject: string | null }, destination: Pick<Destination, 'id' | 'name'>): boolean {
  const id = task.params['destinationId'];
  if (typeof id === 'number' || typeof id === 'string') return Number(id) === destination.id;
  return task.subject === `destination:${destination.name}`;
}
