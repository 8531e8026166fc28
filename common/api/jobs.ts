import { z } from 'zod';
import { SubjectInfoSchema, TaskLogLineSchema, TaskSchema, TaskStateSchema } from './tasks.js';

/**
 * A job is what a person started or a policy ran: a backup (EXPORT → STORE), a restore
 * (RESTORE → IMPORT), a mount, a snapshot, a retention or verify run. Workflows are jobs of
 * their steps; a task of a job type started on its own (a mount, a snapshot) is a job of one
 * step. Id "w<workflow id>" or "t<task id>".
 */
export const JobIdSchema = z.string().regex(/^[wt][1-9]\d{0,15}$/);

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
  /** The failed step's error. */
  error: z.string().nullable(),
});
export type JobSummary = z.infer<typeof JobSummarySchema>;

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
  steps: z.array(TaskSchema),
  summary: JobSummarySchema,
});
export type Job = z.infer<typeof JobSchema>;

export const JobLogLineSchema = TaskLogLineSchema.extend({ taskId: z.number().int(), step: z.string() });
export type JobLogLine = z.infer<typeof JobLogLineSchema>;

/** A job with the log of all its steps, in order. */
export const JobDetailsSchema = JobSchema.extend({ log: z.array(JobLogLineSchema) });
export type JobDetails = z.infer<typeof JobDetailsSchema>;

export const JobListQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  offset: z.coerce.number().int().min(0).default(0),
});
export type JobListQuery = z.infer<typeof JobListQuerySchema>;

export const JobPageSchema = z.object({ total: z.number().int(), jobs: z.array(JobSchema) });
export type JobPage = z.infer<typeof JobPageSchema>;

export const JobIdParamsSchema = z.object({ id: JobIdSchema });
