import { z } from 'zod';
import { IdCursorSchema, NextCursorSchema, RangeEndSchema, RangeStartSchema, TimeCursorSchema } from './paging.js';

export const TASK_STATES = ['QUEUED', 'RUNNING', 'FINISHED', 'FINISHED_WITH_WARNINGS', 'FAILED', 'CANCELLED'] as const;
export const TaskStateSchema = z.enum(TASK_STATES);
export type TaskState = z.infer<typeof TaskStateSchema>;
export const FINAL_TASK_STATES: readonly TaskState[] = ['FINISHED', 'FINISHED_WITH_WARNINGS', 'FAILED', 'CANCELLED'];
export const isFinalState = (s: TaskState): boolean => FINAL_TASK_STATES.includes(s);

/** Task types from the seed (data movement) plus maintenance types. */
export const TASK_TYPES = [
  'EXPORT',
  'STORE',
  'RESTORE',
  'IMPORT',
  'MOUNT',
  'FILE_RESTORE',
  'SNAPSHOT',
  'NODE_CHECK',
  'DESTINATION_CHECK',
  // Run by the server itself (no node yet, or about a node):
  'NODE_INSTALL',
  'NODE_UPGRADE',
  'NODE_REMOVE',
  'INVENTORY_SYNC',
  'VERIFY',
  'PRUNE',
  'GC',
  'REIMPORT',
  'BACKUP_DELETE',
  'M365_SYNC',
  'M365_BACKUP',
  'M365_RESTORE',
  'COPY',
] as const;
export const TaskTypeSchema = z.enum(TASK_TYPES);
export type TaskType = z.infer<typeof TaskTypeSchema>;

export const TaskProgressSchema = z.object({
  bytesDone: z.number().nonnegative(),
  bytesTotal: z.number().nonnegative().nullable(),
  /** 0–100, derived from bytes when a total is known. */
  percent: z.number().min(0).max(100).nullable(),
  /** Bytes per second, smoothed. */
  rate: z.number().nonnegative().nullable(),
  etaSeconds: z.number().nonnegative().nullable(),
  message: z.string().nullable(),
});
export type TaskProgress = z.infer<typeof TaskProgressSchema>;

/**
 * What a subject ("vm:web-1", "backup:12") names, for people: the server resolves a backup to
 * its VM and time, and the UI writes the time in the viewer's zone and language.
 */
export const SubjectInfoSchema = z.object({
  kind: z.string(),
  /** The VM, node, destination… by name; for a backup, its VM's name. */
  name: z.string(),
  /** A backup's time (ISO 8601); null for other kinds. */
  at: z.string().nullable(),
});
export type SubjectInfo = z.infer<typeof SubjectInfoSchema>;

export const TaskSchema = z.object({
  id: z.number().int(),
  type: TaskTypeSchema,
  state: TaskStateSchema,
  priority: z.number().int().min(0).max(100),
  workflowId: z.number().int().nullable(),
  /** The workflow step this one waits for. */
  dependsOn: z.number().int().nullable(),
  nodeId: z.number().int().nullable(),
  node: z.string().nullable().describe('node name'),
  /** What the task acts on, for people: "vm:prod-db", "node:office-1". */
  subject: z.string().nullable(),
  /** The subject for people (null when there is none, or a backup no longer in the catalog). */
  subjectInfo: SubjectInfoSchema.nullable(),
  params: z.record(z.string(), z.unknown()),
  progress: TaskProgressSchema,
  attempt: z.number().int(),
  maxAttempts: z.number().int(),
  cancelRequested: z.boolean(),
  error: z.string().nullable(),
  warnings: z.array(z.string()),
  result: z.record(z.string(), z.unknown()).nullable(),
  createdBy: z.string().nullable(),
  createdAt: z.string(),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
});
export type Task = z.infer<typeof TaskSchema>;

export const TaskLogLineSchema = z.object({
  id: z.number().int(),
  at: z.string(),
  level: z.enum(['debug', 'info', 'warn', 'error']),
  message: z.string(),
});
export type TaskLogLine = z.infer<typeof TaskLogLineSchema>;

/** The newest lines of the log (at most TASK_LOG_EMBEDDED); `logCursor` pages on to earlier ones (GET /api/tasks/:id/log). */
export const TaskDetailsSchema = TaskSchema.extend({
  log: z.array(TaskLogLineSchema),
  logCursor: NextCursorSchema.optional().describe('there are earlier lines: pass as cursor to GET /api/tasks/:id/log'),
});
export type TaskDetails = z.infer<typeof TaskDetailsSchema>;

/** Log lines a task's details carry; earlier ones are a page away. */
export const TASK_LOG_EMBEDDED = 1000;

export const TaskListQuerySchema = z.object({
  state: TaskStateSchema.optional(),
  type: TaskTypeSchema.optional(),
  node: z.string().max(128).optional().describe('node id or name: tasks that ran on it, must run on it, or are about it'),
  subject: z.string().min(1).max(255).optional().describe('exactly this subject, e.g. vm:web-1 or destination:nas'),
  from: RangeStartSchema.optional().describe('created at or after this instant (ISO 8601)'),
  to: RangeEndSchema.optional().describe('created before this instant (ISO 8601)'),
  limit: z.coerce.number().int().min(1).max(500).default(100),
  cursor: TimeCursorSchema.optional(),
});
export type TaskListQuery = z.infer<typeof TaskListQuerySchema>;

/** Newest first. No total: counting a year of tasks costs more than the page itself. */
export const TaskPageSchema = z.object({ tasks: z.array(TaskSchema), nextCursor: NextCursorSchema });
export type TaskPage = z.infer<typeof TaskPageSchema>;

/** A task's log, a page at a time, from the newest line back; each page is oldest first. */
export const TaskLogQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(5000).default(TASK_LOG_EMBEDDED),
  cursor: IdCursorSchema.optional().describe('the logCursor of the task, or the nextCursor of the later page'),
});
export type TaskLogQuery = z.infer<typeof TaskLogQuerySchema>;
export const TaskLogPageSchema = z.object({ lines: z.array(TaskLogLineSchema), nextCursor: NextCursorSchema });
export type TaskLogPage = z.infer<typeof TaskLogPageSchema>;

export const TaskIdParamsSchema = z.object({ id: z.coerce.number().int().positive() });

export const CancelTaskSchema = z.object({
  /** A second cancel of a task already being cancelled forces it. */
  force: z.boolean().optional(),
});

/** The only task a user creates directly so far; other types come from workflows. */
export const CreateNodeCheckSchema = z.object({
  node: z.string().min(1).max(128).describe('node id or name'),
  /** Bytes to write when measuring staging write speed. */
  sampleBytes: z.number().int().min(1024 * 1024).max(4 * 1024 * 1024 * 1024).default(256 * 1024 * 1024),
  priority: z.number().int().min(0).max(100).default(60),
});
