import { z } from 'zod';
import { AuditEntrySchema } from './audit.js';
import { CatalogInfoSchema } from './health.js';

/** Messages the server pushes on the WebSocket at /api/events. */
export const ServerEventSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('hello'), serverTime: z.string(), user: z.string() }),
  z.object({ type: z.literal('audit'), entry: AuditEntrySchema }),
  z.object({ type: z.literal('users.changed') }),
  z.object({ type: z.literal('catalog'), catalog: CatalogInfoSchema }),
]);
export type ServerEvent = z.infer<typeof ServerEventSchema>;
