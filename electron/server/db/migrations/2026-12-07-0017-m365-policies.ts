import type { Migration } from './migration.js';

/**
 * Microsoft 365 policies: a third kind of policy. Its members (users with a OneDrive, sites
 * with a document library) are not stored: they follow from its include/exclude rules and the
 * tenants' inventory at each run (electron/server/policies/m365-policy-members.ts), so
 * vm_policies keeps its two kinds.
 */
export const migration: Migration = {
  id: '2026-12-07-0017-m365-policies',
  statements: [`ALTER TABLE policies MODIFY kind ENUM('backup','snapshot','m365') NOT NULL`],
};
