import type { Migration } from './migration.js';

/**
 * What verify found about each backup: damaged (chunks or manifest unreadable) or missing
 * (its manifest is gone from the destination), when it was last verified intact, and why.
 */
export const migration: Migration = {
  id: '2026-12-06-0007-backup-verification',
  statements: [
    `ALTER TABLE backups MODIFY status ENUM('available','damaged','missing','removed') NOT NULL DEFAULT 'available'`,
    `ALTER TABLE backups ADD COLUMN IF NOT EXISTS verified_at DATETIME(3) NULL`,
    `ALTER TABLE backups ADD COLUMN IF NOT EXISTS damaged_chunks INT NULL`,
    `ALTER TABLE backups ADD COLUMN IF NOT EXISTS status_detail VARCHAR(1000) NULL`,
  ],
};
