import type { Migration } from './migration.js';

/**
 * Scheduled verify for backup policies: its schedule, how many parts the chunks are split into
 * (a run checks one part, so `verify_parts` runs cover everything), and how many runs there were
 * (which part comes next). Policy runs get a third purpose.
 */
export const migration: Migration = {
  id: '2026-12-06-0008-policy-verify',
  statements: [
    `ALTER TABLE policies ADD COLUMN IF NOT EXISTS verify_schedule VARCHAR(200) NULL`,
    `ALTER TABLE policies ADD COLUMN IF NOT EXISTS verify_parts INT NOT NULL DEFAULT 1`,
    `ALTER TABLE policies ADD COLUMN IF NOT EXISTS verify_runs INT NOT NULL DEFAULT 0`,
    `ALTER TABLE policy_runs MODIFY purpose ENUM('run','retention','verify') NOT NULL`,
  ],
};
