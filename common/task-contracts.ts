/**
 * The task registry: for every task type, what its parameters are (as the server stores
 * them when it creates the task), what its result is (as the node or the server handler
 * returns it), where it runs, and whether a failed attempt may be retried. The server
 * checks params when it creates a task and results when a task ends (a result of the wrong
 * shape fails the task with a clear message); its listeners get typed params and results;
 * the node parses what it receives with the same schemas.
 *
 * What a node needs that is only known at dispatch (a chain base, the destination's path and
 * password) is added by the server when it sends the task, on top of these params.
 */
import { z } from 'zod';
import {
  DestinationCheckResultSchema,
  GcRequestSchema,
  GcResultSchema,
  PruneTaskParamsSchema,
  PruneResultSchema,
  ReimportResultSchema,
  VerifyRequestSchema,
  VerifyResultSchema,
} from './api/destinations.js';
import { CopyParamsSchema, CopyResultSchema } from './copy-tasks.js';
import { BackupDeleteParamsSchema, BackupDeleteResultSchema } from './api/backups.js';
import type { TaskType } from './api/tasks.js';
import {
  ExportParamsSchema,
  ExportResultSchema,
  ImportParamsSchema,
  ImportResultSchema,
  InventorySyncParamsSchema,
  InventorySyncResultSchema,
  RestoreParamsSchema,
  RestoreResultSchema,
  SnapshotParamsSchema,
  SnapshotResultSchema,
  StoreParamsSchema,
  StoreResultSchema,
} from './kvm-tasks.js';
import { M365BackupParamsSchema, M365BackupResultSchema, M365RestoreParamsSchema, M365RestoreResultSchema, M365SyncParamsSchema, M365SyncResultSchema } from './m365-tasks.js';
import { FileRestoreParamsSchema, FileRestoreResultSchema, MountParamsSchema, MountResultSchema } from './mount-tasks.js';

export interface TaskContract<P extends z.ZodType = z.ZodType, R extends z.ZodType = z.ZodType> {
  params: P;
  result: R;
  /** 'server': the server runs it itself (it manages nodes, so no node can). */
  runsOn: 'node' | 'server';
  /** Whether a failed attempt may run again (only where a repeat is harmless). */
  retry: boolean;
}

const destination = z.object({ destinationId: z.number().int() });
/** Catalog ids the server keeps in a task for its own bookkeeping (which VM, which hypervisor). */
const vmRef = z.object({ vmId: z.number().int() });

export const NodeCheckParamsSchema = z.object({ sampleBytes: z.number().int().positive().optional() });
export const NodeCheckResultSchema = z.object({
  stagingPath: z.string(),
  freeBytes: z.number(),
  totalBytes: z.number(),
  writeBytesPerSecond: z.number(),
  sampleBytes: z.number(),
});
export const NodeTaskParamsSchema = z.object({ nodeId: z.number().int(), force: z.boolean().optional() });
export const NodeInstallResultSchema = z.object({ nodeId: z.number().int(), host: z.string(), method: z.string() });
const NoResult = z.object({});

export const TASK_CONTRACTS = {
  EXPORT: { params: ExportParamsSchema.extend(vmRef.shape), result: ExportResultSchema, runsOn: 'node', retry: false },
  STORE: { params: StoreParamsSchema.extend(vmRef.shape), result: StoreResultSchema, runsOn: 'node', retry: false },
  RESTORE: { params: RestoreParamsSchema, result: RestoreResultSchema, runsOn: 'node', retry: false },
  IMPORT: { params: ImportParamsSchema.extend({ hypervisorId: z.number().int() }), result: ImportResultSchema, runsOn: 'node', retry: false },
  MOUNT: { params: MountParamsSchema, result: MountResultSchema, runsOn: 'node', retry: false },
  FILE_RESTORE: { params: FileRestoreParamsSchema, result: FileRestoreResultSchema, runsOn: 'node', retry: false },
  SNAPSHOT: { params: SnapshotParamsSchema.extend(vmRef.shape), result: SnapshotResultSchema, runsOn: 'node', retry: false },
  NODE_CHECK: { params: NodeCheckParamsSchema, result: NodeCheckResultSchema, runsOn: 'node', retry: true },
  DESTINATION_CHECK: { params: destination.extend({ create: z.boolean(), probe: z.boolean().optional() }), result: DestinationCheckResultSchema, runsOn: 'node', retry: false },
  NODE_INSTALL: { params: NodeTaskParamsSchema, result: NodeInstallResultSchema, runsOn: 'server', retry: false },
  NODE_UPGRADE: { params: NodeTaskParamsSchema, result: NoResult, runsOn: 'server', retry: false },
  NODE_REMOVE: { params: NodeTaskParamsSchema, result: NoResult, runsOn: 'server', retry: false },
  INVENTORY_SYNC: { params: InventorySyncParamsSchema.extend({ hypervisorId: z.number().int() }), result: InventorySyncResultSchema, runsOn: 'node', retry: true },
  VERIFY: { params: destination.extend(VerifyRequestSchema.shape), result: VerifyResultSchema, runsOn: 'node', retry: false },
  PRUNE: { params: destination.extend(PruneTaskParamsSchema.shape), result: PruneResultSchema, runsOn: 'node', retry: false },
  GC: { params: destination.extend(GcRequestSchema.shape), result: GcResultSchema, runsOn: 'node', retry: false },
  REIMPORT: { params: destination, result: ReimportResultSchema, runsOn: 'node', retry: false },
  BACKUP_DELETE: { params: BackupDeleteParamsSchema, result: BackupDeleteResultSchema, runsOn: 'node', retry: false },
  M365_SYNC: { params: M365SyncParamsSchema, result: M365SyncResultSchema, runsOn: 'node', retry: true },
  M365_BACKUP: { params: M365BackupParamsSchema, result: M365BackupResultSchema, runsOn: 'node', retry: false },
  M365_RESTORE: { params: M365RestoreParamsSchema, result: M365RestoreResultSchema, runsOn: 'node', retry: false },
  COPY: { params: CopyParamsSchema, result: CopyResultSchema, runsOn: 'node', retry: false },
} as const satisfies Record<TaskType, TaskContract>;

export type TaskParamsOf<T extends TaskType> = z.output<(typeof TASK_CONTRACTS)[T]['params']>;
export type TaskResultOf<T extends TaskType> = z.output<(typeof TASK_CONTRACTS)[T]['result']>;

/** The types the server runs itself. */
export const SERVER_RUN_TASK_TYPES: readonly TaskType[] = (Object.keys(TASK_CONTRACTS) as TaskType[]).filter((t) => TASK_CONTRACTS[t].runsOn === 'server');

/** "vm.uuid: Required" — the first problem of a failed parse, naming the field. */
export function firstIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid';
  const where = issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
  return `${where}${issue.message}`;
}
