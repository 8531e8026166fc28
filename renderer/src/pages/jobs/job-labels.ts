import type { Job, JobRun, JobSummary } from '@common/api/index.js';
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
  POLICY_RUN: 'Policy run',
};

const RUN_LABELS: Record<JobRun['purpose'], string> = { run: 'Policy run', retention: 'Retention run', verify: 'Verify run' };

export const jobKindLabel = (kind: string): string => KIND_LABELS[kind] ?? kind.charAt(0) + kind.slice(1).toLowerCase().replace(/_/g, ' ');

/** "Policy run", "Retention run", "Verify run". */
export const runKindLabel = (run: JobRun): string => RUN_LABELS[run.purpose];

/** "Backup · VM web-1"; a policy run: "Policy run · nightly". */
export function jobTitle(job: Job): string {
  if (job.run !== null) return `${runKindLabel(job.run)} · ${job.run.policy}`;
  const subject = subjectLabel(job);
  return subject === null ? jobKindLabel(job.kind) : `${jobKindLabel(job.kind)} · ${subject}`;
}

/** A VM's line in its policy run: the VM's name (or what else the workflow is about). */
export const lineTitle = (job: Job): string => job.subjectInfo?.name ?? subjectLabel(job) ?? jobKindLabel(job.kind);

/** "Export → Store". */
export const jobStepsLabel = (job: Job): string => job.steps.map((s) => TASK_TYPE_LABELS[s.type]).join(' → ');

/** VMs of a run that ended, whatever way. */
export const runEnded = (run: JobRun): number => run.succeeded + run.failed + run.cancelled;

/** "12/20 VMs" of a backup run (a retention or verify run: "1/1 steps"). */
export function runCountLabel(run: JobRun): string {
  return `${runEnded(run)}/${run.total} ${run.purpose === 'run' ? 'VMs' : run.total === 1 ? 'step' : 'steps'}`;
}

/** "20 VMs · 18 ok · 2 failed" for a run's list row. */
export function runOutcomeLabel(run: JobRun): string {
  if (run.total === 0) return run.purpose === 'run' ? 'No VMs' : 'Nothing to do';
  const parts = [`${run.total} ${run.purpose === 'run' ? (run.total === 1 ? 'VM' : 'VMs') : run.total === 1 ? 'step' : 'steps'}`, `${run.succeeded} ok`];
  if (run.failed > 0) parts.push(`${run.failed} failed`);
  if (run.cancelled > 0) parts.push(`${run.cancelled} cancelled`);
  return parts.join(' · ');
}

/** The summary's facts in words, those the job has. */
export function summaryFacts(summary: JobSummary): Array<[string, string]> {
  const facts: Array<[string, string]> = [];
  if (summary.bytesRead !== null) facts.push(['Read', formatBytes(summary.bytesRead)]);
  if (summary.bytesStored !== null) facts.push(['Stored', formatBytes(summary.bytesStored)]);
  if (summary.durationSeconds !== null) facts.push(['Duration', formatShortDuration(summary.durationSeconds)]);
  if (summary.rate !== null) facts.push(['Rate', formatRate(summary.rate)]);
  if (summary.warningCount > 0) facts.push(['Warnings', String(summary.warningCount)]);
  return facts;
}
