import { z } from 'zod';

/**
 * How long the catalog keeps what is finished (issue 17). Backups and their metadata are kept
 * for ever, whatever these say: only the history of the work is pruned, and never what is
 * still queued or running. A limit is a number of days, or null to keep for ever.
 */
export const HISTORY_LIMIT_FIELDS = ['taskLogsDays', 'tasksDays', 'workflowsDays', 'policyRunsDays', 'auditDays'] as const;
export type HistoryLimitField = (typeof HISTORY_LIMIT_FIELDS)[number];

/** The shortest each may be: a week of task logs; a month of the rest, which the dashboard's 30 days read. */
export const HISTORY_MINIMUM_DAYS: Record<HistoryLimitField, number> = {
  taskLogsDays: 7,
  tasksDays: 30,
  workflowsDays: 30,
  policyRunsDays: 30,
  auditDays: 30,
};
export const HISTORY_MAXIMUM_DAYS = 36_500;

/** What each limit keeps, in words (the UI's labels, the messages). */
export const HISTORY_LIMIT_LABELS: Record<HistoryLimitField, string> = {
  taskLogsDays: 'task logs',
  tasksDays: 'tasks outside jobs',
  workflowsDays: 'jobs (backups, restores) with their steps',
  policyRunsDays: 'policy runs',
  auditDays: 'audit entries',
};

const days = (field: HistoryLimitField) =>
  z
    .number()
    .int(`${field} is a whole number of days`)
    .min(HISTORY_MINIMUM_DAYS[field], `keep ${HISTORY_LIMIT_LABELS[field]} at least ${HISTORY_MINIMUM_DAYS[field]} days (or for ever: null)`)
    .max(HISTORY_MAXIMUM_DAYS, `at most ${HISTORY_MAXIMUM_DAYS} days; null keeps them for ever`)
    .nullable();

export const HistoryLimitsSchema = z.object({
  /** Log lines of tasks that ended this many days ago or more (a task keeps its own row). */
  taskLogsDays: days('taskLogsDays').describe('days the log lines of a finished task are kept; null: for ever'),
  /** Tasks outside any job's workflow (checks, installs, syncs, verify, prune, mounts…), with their logs. */
  tasksDays: days('tasksDays').describe('days a finished task that is not a step of a workflow is kept; null: for ever'),
  /** Workflows (a backup's EXPORT and STORE, a restore…) with their tasks and logs. */
  workflowsDays: days('workflowsDays').describe('days a finished workflow is kept with its steps; null: for ever'),
  /** Policy runs and misses; a run stays while a workflow it started does. */
  policyRunsDays: days('policyRunsDays').describe('days a policy run is kept; null: for ever'),
  auditDays: days('auditDays').describe('days an audit entry is kept; null: for ever'),
});
export type HistoryLimits = z.infer<typeof HistoryLimitsSchema>;

export const DEFAULT_HISTORY_LIMITS: HistoryLimits = {
  taskLogsDays: 90,
  tasksDays: 365,
  workflowsDays: 365,
  policyRunsDays: 365,
  auditDays: 365,
};

export const PrunedCountsSchema = z.object({
  taskLogs: z.number().int(),
  tasks: z.number().int(),
  workflows: z.number().int(),
  policyRuns: z.number().int(),
  audit: z.number().int(),
});
export type PrunedCounts = z.infer<typeof PrunedCountsSchema>;

export const HistoryPruneSchema = z.object({
  startedAt: z.string(),
  /** Null while it runs. */
  finishedAt: z.string().nullable(),
  /** Who asked: a user, or "system" for the daily run. */
  by: z.string(),
  /** Rows removed (so far, while it runs). */
  removed: PrunedCountsSchema,
  /** Why it stopped short, if it did. */
  error: z.string().nullable(),
});
export type HistoryPrune = z.infer<typeof HistoryPruneSchema>;

export const HistorySettingsSchema = z.object({
  limits: HistoryLimitsSchema,
  /** The prune going on now, else the last one; null before the first. */
  lastPrune: HistoryPruneSchema.nullable(),
  pruning: z.boolean(),
  /** When the daily prune runs next (server time), on the server that runs the schedules. */
  nextPruneAt: z.string().nullable(),
});
export type HistorySettings = z.infer<typeof HistorySettingsSchema>;

/**
 * What the catalog's tables hold, as MariaDB reports it (row counts are its estimates): data
 * and indexes in use, and the space pruning freed inside the files, which new rows fill before
 * the files grow.
 */
export const CatalogSizeSchema = z.object({
  totalBytes: z.number().describe('data and indexes of every table'),
  freeBytes: z.number().describe('free inside the tables\' files, reused before they grow'),
  tables: z.array(
    z.object({
      name: z.string(),
      rows: z.number().describe('estimated'),
      dataBytes: z.number(),
      indexBytes: z.number(),
      freeBytes: z.number(),
    }),
  ),
});
export type CatalogSize = z.infer<typeof CatalogSizeSchema>;
