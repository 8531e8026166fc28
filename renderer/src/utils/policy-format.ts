import type { AssignmentRules, Policy, PolicyRun } from '@common/api/index.js';

export type PolicyRunState = PolicyRun['state'];

export const POLICY_RUN_STATE_LABELS: Record<PolicyRunState, string> = {
  running: 'Running',
  finished: 'Finished',
  finished_with_warnings: 'Finished with warnings',
  failed: 'Failed',
  cancelled: 'Cancelled',
  missed: 'Missed',
};

/** The same colours as task states, so "failed" reads the same everywhere; a miss is its own warning. */
export const POLICY_RUN_STATE_COLORS: Record<PolicyRunState, string> = {
  running: 'blue',
  finished: 'green',
  finished_with_warnings: 'yellow',
  failed: 'red',
  cancelled: 'gray',
  missed: 'orange',
};

export const POLICY_RUN_TRIGGER_LABELS: Record<PolicyRun['trigger'], string> = {
  schedule: 'Schedule',
  'catch-up': 'Catch-up',
  manual: 'Manual',
  retention: 'Retention',
};

export const POLICY_KIND_LABELS: Record<Policy['kind'], string> = { backup: 'Backup', snapshot: 'Snapshot', m365: 'Microsoft 365' };
export const POLICY_KIND_COLORS: Record<Policy['kind'], string> = { backup: 'blue', snapshot: 'teal', m365: 'grape' };

export const ASSIGN_MODE_LABELS: Record<AssignmentRules['mode'], string> = {
  'assign-only': 'Assign only',
  'assign-and-remove': 'Assign and remove',
};

const RETENTION_WORDS: readonly [keyof NonNullable<Policy['retention']>, (n: number) => string][] = [
  ['keepLast', (n) => `last ${n}`],
  ['daily', (n) => `${n} daily`],
  ['weekly', (n) => `${n} weekly`],
  ['monthly', (n) => `${n} monthly`],
  ['yearly', (n) => `${n} yearly`],
  ['maxAgeDays', (n) => `at most ${n} ${n === 1 ? 'day' : 'days'} old`],
];

/** "last 3, 7 daily, 4 weekly" — or "Keep everything" when the policy has no retention rules. */
export function describeRetention(retention: Policy['retention']): string {
  if (retention === null) return 'Keep every backup';
  const parts = RETENTION_WORDS.flatMap(([key, word]) => {
    const value = retention[key];
    return typeof value === 'number' ? [word(value)] : [];
  });
  return parts.length === 0 ? 'Keep every backup' : `Keep ${parts.join(', ')}`;
}

const runTime = new Intl.DateTimeFormat(undefined, { weekday: 'short', day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit' });

/** "Mon, 12 May 2025, 22:00" in the browser's time zone: when a run happens, for the person reading. */
export function formatRunTime(iso: string): string {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : runTime.format(date);
}

/** The browser's IANA zone, to say which clock the listed times are on. */
export function browserTimeZone(): string {
  return new Intl.DateTimeFormat().resolvedOptions().timeZone;
}

/** Every IANA zone this browser knows, for the time zone picker. */
export function knownTimeZones(): string[] {
  try {
    return Intl.supportedValuesOf('timeZone');
  } catch {
    return [browserTimeZone(), 'UTC'];
  }
}
