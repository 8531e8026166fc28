import type { TaskProgress, TaskState } from '@common/api/index.js';
import { formatBytes, formatPercent, formatRate, formatShortDuration } from './format.js';

export interface ProgressView {
  /** 0–100 for the bar; null means indeterminate (running, total unknown). */
  percent: number | null;
  /** Whether the bar should animate: the task is moving. */
  active: boolean;
  /** "42%", or null when there is nothing to count. */
  percentText: string | null;
  /** "1.2 GB of 3 GB", "1.2 GB" (total unknown), or null before any byte moved. */
  bytesText: string | null;
  rateText: string | null;
  /** "2m 10s": time left. */
  etaText: string | null;
  /** One line for screen readers and tooltips: "42%, 1.2 GB of 3 GB, 112 MB/s, 2m 10s left". */
  summary: string;
}

/**
 * What a progress bar shows for a task in a given state. Pure, so every bar in the UI (table
 * cell, details page, install view, dashboard) says the same thing about the same task.
 */
export function describeProgress(progress: TaskProgress, state: TaskState): ProgressView {
  const running = state === 'RUNNING';
  const done = state === 'FINISHED' || state === 'FINISHED_WITH_WARNINGS';
  const knownTotal = progress.bytesTotal !== null && progress.bytesTotal > 0;

  let percent: number | null;
  if (done) percent = 100;
  else if (progress.percent !== null) percent = progress.percent;
  else if (knownTotal) percent = (progress.bytesDone / (progress.bytesTotal ?? 1)) * 100;
  else percent = running ? null : 0;
  if (percent !== null) percent = Math.min(100, Math.max(0, percent));

  const percentText = percent === null || state === 'QUEUED' ? null : formatPercent(percent);
  let bytesText: string | null = null;
  if (knownTotal) bytesText = `${formatBytes(progress.bytesDone)} of ${formatBytes(progress.bytesTotal ?? 0)}`;
  else if (progress.bytesDone > 0) bytesText = formatBytes(progress.bytesDone);
  // Rate and ETA describe motion; once a task stopped they are history, not information.
  const rateText = running && progress.rate !== null && progress.rate > 0 ? formatRate(progress.rate) : null;
  const etaText = running && progress.etaSeconds !== null ? formatShortDuration(progress.etaSeconds) : null;

  const parts = [state === 'QUEUED' ? 'Waiting to start' : percentText ?? 'In progress', bytesText, rateText, etaText === null ? null : `${etaText} left`];
  return {
    percent,
    active: running,
    percentText,
    bytesText,
    rateText,
    etaText,
    summary: parts.filter((part): part is string => part !== null).join(', '),
  };
}
