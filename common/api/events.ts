import { z } from 'zod';
import { AuditEntrySchema } from './audit.js';
import { DestinationSchema } from './destinations.js';
import { HypervisorSchema, VmSchema } from './hypervisors.js';
import { MountSchema } from './mounts.js';
import { CatalogInfoSchema } from './health.js';
import { NodeSchema } from './nodes.js';
import { PolicyRunSchema } from './policies.js';
import { TaskSchema } from './tasks.js';

/** Messages the server pushes on the WebSocket at /api/events. */
export const ServerEventSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('hello'), serverTime: z.string(), user: z.string() }),
  z.object({ type: z.literal('audit'), entry: AuditEntrySchema }),
  z.object({ type: z.literal('users.changed') }),
  z.object({ type: z.literal('catalog'), catalog: CatalogInfoSchema }),
  /** A task was created or changed state/progress (progress updates are throttled). */
  z.object({ type: z.literal('task'), task: TaskSchema }),
  z.object({ type: z.literal('task.log'), taskId: z.number().int(), line: z.object({ id: z.number().int(), at: z.string(), level: z.string(), message: z.string() }) }),
  z.object({ type: z.literal('node'), node: NodeSchema }),
  z.object({ type: z.literal('node.removed'), nodeId: z.number().int() }),
  z.object({ type: z.literal('destination'), destination: DestinationSchema }),
  z.object({ type: z.literal('destination.removed'), destinationId: z.number().int() }),
  z.object({ type: z.literal('backups.changed'), destinationId: z.number().int() }),
  z.object({ type: z.literal('hypervisor'), hypervisor: HypervisorSchema }),
  z.object({ type: z.literal('vm'), vm: VmSchema }),
  /** A policy was created, changed, removed or its VM set changed: refetch policies. */
  z.object({ type: z.literal('policies.changed') }),
  z.object({ type: z.literal('mount'), mount: MountSchema }),
  z.object({ type: z.literal('policy.run'), run: PolicyRunSchema }),
]);
export type ServerEvent = z.infer<typeof ServerEventSchema>;
