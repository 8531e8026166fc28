import { z } from 'zod';

/**
 * The parts of the dashboard that answer a new admin's questions: what is left to set up,
 * what went wrong in the last 24 hours, which VMs have no recent backup, and how long each
 * destination has before it is full.
 */

/** How many of each thing the getting-started checklist asks for exist (enrolled nodes only). */
export const SetupProgressSchema = z.object({
  nodes: z.number().int(),
  destinations: z.number().int(),
  hypervisors: z.number().int(),
  policies: z.number().int(),
});
export type SetupProgress = z.infer<typeof SetupProgressSchema>;

/** A failed or warned task, or a failed, warned or missed policy run. */
export const ProblemSchema = z.object({
  kind: z.enum(['task', 'policy-run']),
  /** The task's or the policy run's id. */
  id: z.number().int(),
  severity: z.enum(['failed', 'warning', 'missed']),
  /** "Backup · vm:web1", "Policy nightly". */
  title: z.string(),
  message: z.string().nullable(),
  at: z.string(),
  /** The task to open: the task itself, or a policy run's first failed task. */
  taskId: z.number().int().nullable(),
  /** A policy run's policy (its page lists the runs). */
  policy: z.string().nullable(),
});
export type Problem = z.infer<typeof ProblemSchema>;

export const RecentProblemsSchema = z.object({
  since: z.string(),
  failed: z.number().int(),
  warnings: z.number().int(),
  missed: z.number().int(),
  /** Newest first, at most 20. */
  items: z.array(ProblemSchema),
});
export type RecentProblems = z.infer<typeof RecentProblemsSchema>;

export const CoverageSchema = z.object({
  /** A VM counts as covered with an available backup younger than this. */
  days: z.number().int(),
  /** VMs still on their hosts. */
  total: z.number().int(),
  covered: z.number().int(),
  /** The others, never backed up first, then the oldest backup first. */
  stale: z.array(z.object({ id: z.number().int(), uuid: z.string(), name: z.string(), lastBackupAt: z.string().nullable() })),
});
export type Coverage = z.infer<typeof CoverageSchema>;

export const DestinationSpaceSchema = z.object({
  destination: z.string(),
  storedBytes: z.number(),
  freeBytes: z.number().nullable(),
  totalBytes: z.number().nullable(),
  /** Growth of the stored bytes, a least-squares line over the last 30 days' readings; null with too few. */
  growthBytesPerDay: z.number().nullable(),
  /** Free space divided by that growth; null when it does not grow or the free space is unknown. */
  daysUntilFull: z.number().nullable(),
});
export type DestinationSpace = z.infer<typeof DestinationSpaceSchema>;

export const DashboardQuerySchema = z.object({
  coverageDays: z.coerce.number().int().min(1).max(365).default(7),
});
