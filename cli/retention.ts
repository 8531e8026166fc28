import { RETENTION_LIMITS, type Retention } from '../common/api/index.js';
import { UsageError } from './errors.js';

/**
 * `--retention SPEC` as CLI.md writes it, the same in the CLI, the API and the
 * UI: space-separated RULE=N, e.g. "last=3 daily=14 weekly=8 monthly=12
 * yearly=2 maxage=365". `maxage` is in days (a trailing "d" is allowed).
 */
export const RETENTION_EXAMPLE = 'last=3 daily=14 weekly=8 monthly=12 yearly=2 maxage=365';

type RetentionField = keyof Retention;

/** Spec words → API fields, in the order they are written back. */
const RULES: readonly (readonly [string, RetentionField])[] = [
  ['last', 'keepLast'],
  ['daily', 'daily'],
  ['weekly', 'weekly'],
  ['monthly', 'monthly'],
  ['yearly', 'yearly'],
  ['maxage', 'maxAgeDays'],
];

/**
 * "last=3 daily=14" → { keepLast: 3, daily: 14 }. Every mistake is a usage
 * error (exit 2) naming the token that is wrong.
 */
export function parseRetentionSpec(spec: string): Retention {
  const wrong = (why: string): UsageError => new UsageError(`--retention: ${why}; write it like "${RETENTION_EXAMPLE}"`);
  const tokens = spec.trim().split(/\s+/).filter(Boolean);
  if (tokens.length === 0) throw wrong('no rules given');
  const retention: Retention = {};
  for (const token of tokens) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(token);
    if (!m) throw wrong(`"${token}" is not RULE=N`);
    const word = m[1]!.toLowerCase();
    const rule = RULES.find(([w]) => w === word);
    if (!rule) throw wrong(`"${token}": there is no rule "${m[1]}" (rules: ${RULES.map(([w]) => w).join(', ')})`);
    const field = rule[1];
    if (retention[field] !== undefined) throw wrong(`"${token}": ${word} is given twice`);
    const isAge = field === 'maxAgeDays';
    const value = isAge ? m[2]!.replace(/d$/i, '') : m[2]!;
    // The API's limits: every rule keeps at least 1 (a 0 is refused, not read as "no rule").
    const { min, max } = RETENTION_LIMITS[field];
    if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
      throw wrong(`"${token}": ${word} must be a whole number from ${min} to ${max}${isAge ? ' (days)' : ''}`);
    }
    retention[field] = Number(value);
  }
  return retention;
}

/** { keepLast: 3, daily: 14 } → "last=3 daily=14", the way the spec is written. */
export function formatRetention(retention: Retention): string {
  return RULES.filter(([, field]) => retention[field] !== undefined)
    .map(([word, field]) => `${word}=${retention[field]}`)
    .join(' ');
}
