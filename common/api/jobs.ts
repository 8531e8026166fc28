import { z } from 'zod';
import { PolicyRunSchema } from './policies.js';
import { SubjectInfoSchema, TaskLogLineSchema, TaskSchema, TaskStateSchema, TaskTypeSchema } from './tasks.js';

/**
 * A job is what a person started or a policy ran: a backup (EXPORT → STORE), a restore
 * (RESTORE → IMPORT), a mount, a snapshot, a retention or verify run. Workflows are jobs of
 * their steps; a task of a job type started on its own (a mount, a snapshot) is a job of one
 * step; a policy run is one job whose lines are its VMs' workflows (each also a job of its
 * own). Id "w<workflow id>", "t<task id>" or "p<policy run id>".
 */
export const JobIdSchema = z.string().regex(/^[wtp][1-9]\d{0,15}$/);

/** The kind of a policy run's job; its `run` says what for (backups or snapshots, retention, verify). */
export const POLICY_RUN_KIND = 'POLICY_RUN';

export const JobSummarySchema = z.object({
  /** Bytes the job read from its source (a backup: from the VM's disks, only the changed ones for an incremental). */
  bytesRead: z.number().nullable(),
  /** Bytes it added to the destination (new chunks as stored). */
  bytesStored: z.number().nullable(),
  /** From the first step's start to the last step's end (null until it ended). */
  durationSeconds: z.number().nullable(),
  /** bytesRead per second of the job's duration. */
  rate: z.number().nullable(),
  warnings: z.array(z.string()),
  /** How many warnings: a policy run in a list carries the count only (its page has the texts). */
  warningCount: z.number().int(),
  /** The failed step's error (a policy run: why it failed). */
  error: z.string().nullable(),
});
export type JobSummary = z.infer<typeof JobSummarySchema>;

/**
 * A policy run's job: the policy, what the run was for (backups or snapshots of its VMs, a
 * retention run, a verify), how far its VMs got, and what the run says about itself.
 */
export const JobRunSchema = PolicyRunSchema.pick({ id: true, policyId: true, policy: true, purpose: true, trigger: true, backupType: true, succeeded: true, failed: true, cancelled: true, message: true }).extend({
  /** VMs in a backup run (retention and verify: their workflows). */
  total: z.number().int(),
});
export type JobRun = z.infer<typeof JobRunSchema>;

/** The policy run a VM's job is part of. */
export const JobParentSchema = z.object({ id: JobIdSchema, policy: z.string() });

export const JobSchema = z.object({
  id: JobIdSchema,
  /** BACKUP, RESTORE, SNAPSHOT, RETENTION, VERIFY, MOUNT, FILE_RESTORE… */
  kind: z.string(),
  state: TaskStateSchema,
  subject: z.string().nullable(),
  subjectInfo: SubjectInfoSchema.nullable(),
  createdBy: z.string().nullable(),
  createdAt: z.string(),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
  /** Its tasks in order; none for a policy run (its VMs' jobs have them). */
  steps: z.array(TaskSchema),
  summary: JobSummarySchema,
  /** Set on a policy run's job. */
  run: JobRunSchema.nullable(),
  /** Set on a VM's job that a policy run started. */
  parent: JobParentSchema.nullable(),
});
export type Job = z.infer<typeof JobSchema>;

export const JobLogLineSchema = TaskLogLineSchema.extend({
  taskId: z.number().int(),
  step: TaskTypeSchema,
  /** In a policy run's log: the VM's (or other subject's) name the line is about. */
  about: z.string().nullable(),
});
export type JobLogLine = z.infer<typeof JobLogLineSchema>;

/**
 * A job with one log of all its steps, in order. A policy run's `lines` are its VMs' jobs (with
 * their steps), its log their warnings and errors.
 */
export const JobDetailsSchema = JobSchema.extend({ log: z.array(JobLogLineSchema), lines: z.array(JobSchema) });
export type JobDetails = z.infer<typeof JobDetailsSchema>;

/** Where the next page starts: the last job shown, as "<created ms>.<job id>". Opaque to clients. */
export const JobCursorSchema = z
  .string()
  .regex(/^\d{1,15}\.[wtp][1-9]\d{0,15}$/, 'pass the nextCursor of the previous page as it is')
  .describe('the nextCursor of the previous page');

export const JobListQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: JobCursorSchema.optional(),
  kind: z
    .string()
    .regex(/^[A-Z_]{1,32}$/)
    .optional()
    .describe('BACKUP, RESTORE, POLICY_RUN, MOUNT, SNAPSHOT, RETENTION, VERIFY, FILE_RESTORE…'),
  state: TaskStateSchema.optional(),
  /** One VM's (or other subject's) own jobs, those a policy ran included, e.g. "vm:web-1". */
  subject: z.string().min(1).max(255).optional().describe('exactly this subject, e.g. vm:web-1; lists the jobs policy runs made one by one'),
  /** "1": the jobs policy runs made one by one, instead of one job per run. */
  flat: z.enum(['0', '1']).optional().describe('1: list each VM\'s job of a policy run, not the run'),
});
export type JobListQuery = z.infer<typeof JobListQuerySchema>;

/** Newest first. There is no total: counting a year of jobs would cost more than the page. */
export const JobPageSchema = z.object({
  jobs: z.array(JobSchema),
  nextCursor: z.string().nullable().describe('pass as cursor for the next page; null: this was the last page'),
});
export type JobPage = z.infer<typeof JobPageSchema>;

export const JobIdParamsSchema = z.object({ id: JobIdSchema });
