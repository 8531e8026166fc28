/**
 * Retention for the repository: the selection itself is shared with the server (common/
 * retention.ts, so the UI's retention preview and the node's prune agree); here its errors
 * become the library's InvalidArgumentError.
 */
import {
  applyRetention as applyRetentionRules,
  RetentionRuleError,
  validatePolicy as validateRules,
  type RetentionCandidate,
  type RetentionDecision,
  type RetentionOptions,
  type RetentionPolicy,
} from '../../common/retention.js';
import { InvalidArgumentError } from './errors.js';

export type { RetentionCandidate, RetentionDecision, RetentionOptions, RetentionPolicy };

function libraryErrors<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof RetentionRuleError) throw new InvalidArgumentError(err.message);
    throw err;
  }
}

export function validatePolicy(policy: RetentionPolicy): void {
  libraryErrors(() => validateRules(policy));
}

export function applyRetention(
  backups: readonly RetentionCandidate[],
  policy: RetentionPolicy,
  nowMs: number,
  options: RetentionOptions = {},
): RetentionDecision[] {
  return libraryErrors(() => applyRetentionRules(backups, policy, nowMs, options));
}

/**
 * Parses the shared retention syntax (CLI.md): "last=3 daily=14 weekly=8 monthly=12
 * yearly=2 maxage=90d" (maxage in days; the "d" is optional).
 */
export function parseRetentionSpec(spec: string): RetentionPolicy {
  const policy: RetentionPolicy = {};
  const names: Record<string, keyof RetentionPolicy> = {
    last: 'keepLast',
    daily: 'daily',
    weekly: 'weekly',
    monthly: 'monthly',
    yearly: 'yearly',
    maxage: 'maxAgeDays',
  };
  for (const part of spec.trim().split(/\s+/).filter(Boolean)) {
    const m = /^([a-z]+)=(\d+)(d?)$/.exec(part);
    const field = m ? names[m[1] ?? ''] : undefined;
    if (!m || !field || (m[3] === 'd' && field !== 'maxAgeDays')) {
      throw new InvalidArgumentError(
        `cannot read retention "${part}"; write it like "last=3 daily=14 weekly=8 monthly=12 yearly=2 maxage=90d"`,
      );
    }
    policy[field] = Number(m[2]);
  }
  validatePolicy(policy);
  return policy;
}
