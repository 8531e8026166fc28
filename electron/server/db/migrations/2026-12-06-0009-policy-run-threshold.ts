import type { Migration } from './migration.js';

/** A run cut short by its policy's failure threshold says so in a column, not only in its message. */
export const migration: Migration = {
  id: '2026-12-06-0009-policy-run-threshold',
  statements: [`ALTER TABLE policy_runs ADD COLUMN IF NOT EXISTS threshold_cancelled TINYINT(1) NOT NULL DEFAULT 0`],
};
