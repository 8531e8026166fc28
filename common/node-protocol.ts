import { z } from 'zod';
import { NodeCapabilitiesSchema } from './api/nodes.js';
import { TaskTypeSchema } from './api/tasks.js';

/**
 * The node ↔ server WebSocket protocol (wss://server/api/node/connect, bearer
 * node credential, pinned server certificate). JSON messages, one per frame.
 */
export const NODE_PROTOCOL_VERSION = 1;

export const TaskOutcomeStateSchema = z.enum(['FINISHED', 'FINISHED_WITH_WARNINGS', 'FAILED', 'CANCELLED']);

export const AssignedTaskSchema = z.object({
  id: z.number().int(),
  type: TaskTypeSchema,
  params: z.record(z.string(), z.unknown()),
  attempt: z.number().int(),
});
export type AssignedTask = z.infer<typeof AssignedTaskSchema>;

export const NodeToServerSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('hello'),
    protocol: z.number().int(),
    version: z.string(),
    capabilities: NodeCapabilitiesSchema,
    /** Tasks this node is still running (after a reconnect or a server restart). */
    runningTaskIds: z.array(z.number().int()),
  }),
  z.object({ type: z.literal('heartbeat'), capabilities: NodeCapabilitiesSchema.optional() }),
  z.object({
    type: z.literal('task.progress'),
    taskId: z.number().int(),
    bytesDone: z.number().nonnegative(),
    bytesTotal: z.number().nonnegative().nullable(),
    message: z.string().max(500).nullable().optional(),
  }),
  z.object({
    type: z.literal('task.log'),
    taskId: z.number().int(),
    level: z.enum(['debug', 'info', 'warn', 'error']),
    message: z.string().max(4000),
  }),
  z.object({
    type: z.literal('task.finished'),
    taskId: z.number().int(),
    state: TaskOutcomeStateSchema,
    error: z.string().max(4000).nullable().optional(),
    warnings: z.array(z.string().max(2000)).optional(),
    result: z.record(z.string(), z.unknown()).nullable().optional(),
  }),
]);
export type NodeToServer = z.infer<typeof NodeToServerSchema>;

export const ServerToNodeSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('welcome'), nodeId: z.number().int(), name: z.string(), heartbeatSeconds: z.number().positive() }),
  z.object({ type: z.literal('task.assign'), task: AssignedTaskSchema }),
  /** Graceful first; `force` on a second request: stop now, report CANCELLED. */
  z.object({ type: z.literal('task.cancel'), taskId: z.number().int(), force: z.boolean() }),
  /** The server already has this task's final state; the node may forget it. */
  z.object({ type: z.literal('task.ack'), taskId: z.number().int() }),
]);
export type ServerToNode = z.infer<typeof ServerToNodeSchema>;
