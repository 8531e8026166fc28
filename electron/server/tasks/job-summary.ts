import type { JobSummary } from '../../../common/api/jobs.js';
import type { Task, TaskState } from '../../../common/api/tasks.js';

const succeeded = (s: TaskState): boolean => s === 'FINISHED' || s === 'FINISHED_WITH_WARNINGS';

/**
 * A job's state from its steps: the first failed or cancelled step ends it (the later ones never
 * run); it finished when every step did (with warnings when any had some); it runs while a step runs.
 */
export function jobState(steps: readonly Pick<Task, 'state'>[]): TaskState {
  const stopped = steps.find((t) => t.state === 'FAILED' || t.state === 'CANCELLED');
  if (stopped) return stopped.state;
  if (steps.length > 0 && steps.every((t) => succeeded(t.state))) return steps.some((t) => t.state === 'FINISHED_WITH_WARNINGS') ? 'FINISHED_WITH_WARNINGS' : 'FINISHED';
  return steps.some((t) => t.state !== 'QUEUED') ? 'RUNNING' : 'QUEUED';
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** What a job did, from its steps' results: read, stored, how long, how fast, what went wrong. */
export function jobSummary(steps: readonly Task[]): JobSummary {
  let bytesRead: number | null = null;
  let bytesStored: number | null = null;
  for (const step of steps) {
    const read = num(step.result?.bytesRead);
    if (read !== null) bytesRead = (bytesRead ?? 0) + read;
    const backup = step.result?.backup;
    const stored = typeof backup === 'object' && backup !== null ? num((backup as Record<string, unknown>).storedBytes) : null;
    if (stored !== null) bytesStored = (bytesStored ?? 0) + stored;
  }
  const warnings = steps.flatMap((t) => t.warnings);
  const state = jobState(steps);
  const final = state !== 'QUEUED' && state !== 'RUNNING';
  const starts = steps.map((t) => t.startedAt).filter((s): s is string => s !== null);
  const ends = steps.map((t) => t.finishedAt).filter((s): s is string => s !== null);
  let durationSeconds: number | null = null;
  if (final && starts.length > 0 && ends.length > 0) {
    const ms = Math.max(...ends.map(Date.parse)) - Math.min(...starts.map(Date.parse));
    durationSeconds = Math.max(0, Math.round(ms / 100) / 10);
  }
  return {
    bytesRead,
    bytesStored,
    durationSeconds,
    rate: bytesRead !== null && durationSeconds !== null && durationSeconds > 0 ? bytesRead / durationSeconds : null,
    warnings,
    warningCount: warnings.length,
    error: steps.find((t) => t.state === 'FAILED' || t.state === 'CANCELLED')?.error ?? null,
  };
}
