import type { Job, JobSummary } from '@common/api/index.js';
import { formatBytes, formatRate, formatShortDuration } from '../../utils/format.js';
import { subjectLabel } from '../../utils/subject-label.js';
import { TASK_TYPE_LABELS } from '../../utils/task-labels.js';

const KIND_LABELS: Record<string, string> = {
  BACKUP: 'Backup',
  RESTORE: 'Restore',
  SNAPSHOT: 'Snapshot',
  RETENTION: 'Retention',
  VERIFY: 'Verify',
  MOUNT: 'Mount',
  FILE_RESTORE: 'File restore',
};

export const jobKindLabel = (kind: string): string => KIND_LABELS[kind] ?? kind.charAt(0) + kind.slice(1).toLowerCase().replace(/_/g, ' ');

/** "Backup of VM web-1". */
export function jobTitle(job: Job): string {
  const subject = subjectLabel(job);
  return subject === null ? jobKindLabel(job.kind) : `${jobKindLabel(job.kind)} · ${subject}`;
}

/** "Export → Store". */
export const jobStepsLabel = (job: Job): string => job.steps.map((s) => TASK_TYPE_LABELS[s.type]).join(' → ');

/** The summary's facts in words, those the job has. */
export function summaryFacts(summary: JobSummary): Array<[string, string]> {
  const facts: Array<[string, string]> = [];
  if (summary.bytesRead !== null) facts.push(['Read', formatBytes(summary.bytesRead)]);
  if (summary.bytesStored !== null) facts.push(['Stored', formatBytes(summary.bytesStored)]);
  if (summary.durationSeconds !== null) facts.push(['Duration', formatShortDuration(summary.durationSeconds)]);
  if (summary.rate !== null) facts.push(['Rate', formatRate(summary.rate)]);
  if (summary.warnings.length > 0) facts.push(['Warnings', String(summary.warnings.length)]);
  return facts;
}
