import type { NodeCapabilities } from '../../../common/api/nodes.js';
import type { TaskType } from '../../../common/api/tasks.js';
import type { ServerToNode } from '../../../common/node-protocol.js';
import { SERVER_RUN_TASK_TYPES } from '../../../common/task-contracts.js';

/** Task types the server runs itself (the registry says which): they manage nodes, so no node can run them. */
export const SERVER_TASK_TYPES: ReadonlySet<TaskType> = new Set<TaskType>(SERVER_RUN_TASK_TYPES);

/** A connected node, as the dispatcher sees it. */
export interface NodeChannel {
  nodeId: number;
  name: string;
  capabilities: NodeCapabilities;
  /** Returns false when the connection is already gone. */
  send(message: ServerToNode): boolean;
}

export interface NodeDirectory {
  connected(): NodeChannel[];
  get(nodeId: number): NodeChannel | undefined;
}

export interface ServerTaskContext {
  taskId: number;
  params: Record<string, unknown>;
  log(level: 'info' | 'warn' | 'error', message: string): void;
  progress(bytesDone: number, bytesTotal: number | null, message?: string): void;
  signal: AbortSignal;
}

export interface ServerTaskResult {
  warnings?: string[];
  result?: Record<string, unknown>;
}

export type ServerTaskHandler = (ctx: ServerTaskContext) => Promise<ServerTaskResult | void>;

export interface TaskTiming {
  /** Delay before the first retry of a retryable task; doubles per attempt. */
  retryBaseMs: number;
  retryMaxMs: number;
  /** How often the dispatcher looks for work even without a trigger. */
  pollMs: number;
  /** Persist progress to the catalog at most this often per task. */
  progressPersistMs: number;
  /** Publish progress events at most this often per task. */
  progressPublishMs: number;
}

export const DEFAULT_TASK_TIMING: TaskTiming = {
  retryBaseMs: 10_000,
  retryMaxMs: 10 * 60_000,
  pollMs: 2_000,
  progressPersistMs: 2_000,
  progressPublishMs: 500,
};
