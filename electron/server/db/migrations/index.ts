import type { Migration } from './migration.js';
import { migration as m0001 } from './2026-11-25-0001-users-sessions-audit.js';
import { migration as m0002 } from './2026-11-25-0002-secrets-settings.js';
import { migration as m0003 } from './2026-11-25-0003-nodes-tasks.js';
import { migration as m0004 } from './2026-11-25-0004-destinations-backups.js';
import { migration as m0005 } from './2026-11-25-0005-hypervisors-vms.js';
import { migration as m0006 } from './2026-11-25-0006-policies-scheduler.js';
import { migration as m0007 } from './2026-12-06-0007-backup-verification.js';
import { migration as m0008 } from './2026-12-06-0008-policy-verify.js';
import { migration as m0009 } from './2026-12-06-0009-policy-run-threshold.js';
import { migration as m0010 } from './2026-12-07-0010-mounts.js';
import { migration as m0011 } from './2026-12-07-0011-backup-protect-notes.js';
import { migration as m0012 } from './2026-12-07-0012-policy-run-jobs.js';
import { migration as m0013 } from './2026-12-07-0013-catalog-at-scale.js';
import { migration as m0014 } from './2026-12-07-0014-history-paging.js';
import { migration as m0015 } from './2026-12-07-0015-m365-tenants.js';
import { migration as m0016 } from './2026-12-07-0016-m365-backups.js';
import { migration as m0017 } from './2026-12-07-0017-m365-policies.js';
import { migration as m0018 } from './2026-12-07-0018-m365-mailboxes.js';
import { migration as m0019 } from './2026-12-07-0019-s3-destinations.js';
import { migration as m0020 } from './2026-12-07-0020-backup-copies.js';

/** All migrations in the order they apply. Append new ones; never reorder. */
export const MIGRATIONS: readonly Migration[] = [m0001, m0002, m0003, m0004, m0005, m0006, m0007, m0008, m0009, m0010, m0011, m0012, m0013, m0014, m0015, m0016, m0017, m0018, m0019, m0020];
