/**
 * Retention selection (pure; the node prunes with it, the server previews with it): which
 * backups a policy keeps, and why. Semantics follow restic's `forget`, per group (one group
 * per VM):
 * - keepLast N keeps the N newest backups.
 * - daily/weekly/monthly/yearly N keep the newest backup of each of the N most recent
 *   days/ISO weeks/months/years that have a backup.
 * - maxAgeDays D: backups older than D days are removed unless keepLast keeps them; with no
 *   daily..yearly rule, every backup younger than D days is kept.
 * - The newest backup of a group is always kept: retention never deletes a VM's last copy,
 *   unless `protectNewest` says a group's newest may go (a VM deleted from its host whose
 *   backups have aged out, when the policy keeps only the latest backup of existing VMs).
 * - A protected backup (`isProtected`) is always kept and set aside before the rules run:
 *   it does not count for them (as Proxmox Backup Server's protected snapshots).
 * Calendar buckets are computed in UTC shifted by `utcOffsetMinutes` (the site's time zone).
 */

/** A retention policy that cannot be applied (a negative count, or no rule at all). */
export class RetentionRuleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RetentionRuleError';
  }
}

export interface RetentionPolicy {
  keepLast?: number;
  daily?: number;
  weekly?: number;
  monthly?: number;
  yearly?: number;
  maxAgeDays?: number;
}

export interface RetentionCandidate {
  id: string;
  group: string;
  createdAt: string;
}

export interface RetentionDecision extends RetentionCandidate {
  keep: boolean;
  /** Why it is kept (every rule that selects it), or why it goes. */
  reasons: string[];
}

export interface RetentionOptions {
  utcOffsetMinutes?: number;
  /** Whether a group's newest backup is always kept; default: yes, for every group. */
  protectNewest?: (group: string) => boolean;
  /** Backups an admin protected: kept whatever the rules say. */
  isProtected?: (id: string) => boolean;
}

export const PROTECTED_REASON = 'protected (never removed by retention)';

const DAY_MS = 86_400_000;
const BUCKETS = ['daily', 'weekly', 'monthly', 'yearly'] as const;
type Bucket = (typeof BUCKETS)[number];

export function validatePolicy(policy: RetentionPolicy): void {
  const fields: (keyof RetentionPolicy)[] = ['keepLast', 'daily', 'weekly', 'monthly', 'yearly', 'maxAgeDays'];
  let any = false;
  for (const f of fields) {
    const v = policy[f];
    if (v === undefined) continue;
    if (!Number.isInteger(v) || v < 0) throw new RetentionRuleError(`retention ${f} must be a whole number ≥ 0, got ${String(v)}`);
    if (v > 0) any = true;
  }
  if (!any) {
    throw new RetentionRuleError(
      'the retention policy keeps nothing (no rule set); refusing to prune. Set at least one of last, daily, weekly, monthly, yearly or maxage',
    );
  }
}

function bucketKey(bucket: Bucket, ms: number): string {
  const d = new Date(ms);
  const y = d.getUTCFullYear();
  const m = String(d.getUTCMonth() + 1).padStart(2, '0');
  switch (bucket) {
    case 'daily':
      return `${y}-${m}-${String(d.getUTCDate()).padStart(2, '0')}`;
    case 'weekly': {
      // ISO 8601: weeks start on Monday; week 1 holds the year's first Thursday.
      const thursdayOf = (t: Date): Date =>
        new Date(Date.UTC(t.getUTCFullYear(), t.getUTCMonth(), t.getUTCDate() - ((t.getUTCDay() + 6) % 7) + 3));
      const thursday = thursdayOf(d);
      const isoYear = thursday.getUTCFullYear();
      const firstThursday = thursdayOf(new Date(Date.UTC(isoYear, 0, 4)));
      const week = 1 + Math.round((thursday.getTime() - firstThursday.getTime()) / (7 * DAY_MS));
      return `${isoYear}-W${String(week).padStart(2, '0')}`;
    }
    case 'monthly':
      return `${y}-${m}`;
    case 'yearly':
      return String(y);
  }
}

export function applyRetention(
  backups: readonly RetentionCandidate[],
  policy: RetentionPolicy,
  nowMs: number,
  options: RetentionOptions = {},
): RetentionDecision[] {
  validatePolicy(policy);
  const shift = (options.utcOffsetMinutes ?? 0) * 60_000;
  const groups = new Map<string, RetentionCandidate[]>();
  for (const b of backups) {
    const list = groups.get(b.group) ?? [];
    list.push(b);
    groups.set(b.group, list);
  }
  const decisions: RetentionDecision[] = [];
  for (const all of groups.values()) {
    const isProtected = options.isProtected ?? (() => false);
    for (const b of all) if (isProtected(b.id)) decisions.push({ ...b, keep: true, reasons: [PROTECTED_REASON] });
    const list = all.filter((b) => !isProtected(b.id));
    // Newest first; ties broken by id so the result is deterministic.
    const sorted = [...list].sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt) || (a.id < b.id ? 1 : -1));
    const reasons = new Map<string, string[]>(sorted.map((b) => [b.id, []]));
    const add = (id: string, why: string): void => void reasons.get(id)?.push(why);

    sorted.slice(0, policy.keepLast ?? 0).forEach((b, i) => add(b.id, `last ${i + 1}`));

    const maxAgeMs = policy.maxAgeDays ? policy.maxAgeDays * DAY_MS : undefined;
    const young = (b: RetentionCandidate): boolean => maxAgeMs === undefined || nowMs - Date.parse(b.createdAt) <= maxAgeMs;
    const hasBucketRule = BUCKETS.some((k) => (policy[k] ?? 0) > 0);
    for (const bucket of BUCKETS) {
      const want = policy[bucket] ?? 0;
      if (want === 0) continue;
      let seen = 0;
      let lastKey: string | null = null;
      for (const b of sorted) {
        if (seen >= want) break;
        if (!young(b)) break;
        const key = bucketKey(bucket, Date.parse(b.createdAt) + shift);
        if (key === lastKey) continue;
        lastKey = key;
        seen++;
        add(b.id, `${bucket} ${key}`);
      }
    }
    if (maxAgeMs !== undefined && !hasBucketRule) {
      for (const b of sorted) if (young(b)) add(b.id, `within ${policy.maxAgeDays} days`);
    }
    const newest = sorted[0];
    const protect = options.protectNewest?.(newest?.group ?? '') ?? true;
    if (newest && protect && reasons.get(newest.id)?.length === 0) add(newest.id, 'newest backup of its group (always kept)');

    for (const b of sorted) {
      const why = reasons.get(b.id) ?? [];
      if (why.length > 0) decisions.push({ ...b, keep: true, reasons: why });
      else
        decisions.push({
          ...b,
          keep: false,
          reasons: [young(b) ? 'not selected by any rule' : `older than ${policy.maxAgeDays} days and not among the last ${policy.keepLast ?? 0}`],
        });
    }
  }
  return decisions;
}

