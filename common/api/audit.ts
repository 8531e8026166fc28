import { z } from 'zod';
import { NextCursorSchema, RangeEndSchema, RangeStartSchema, TimeCursorSchema } from './paging.js';

export const AuditEntrySchema = z.object({
  id: z.number().int(),
  at: z.string(),
  actor: z.string().describe('username, "system" or "node:<name>"'),
  action: z.string().describe('e.g. user.create'),
  target: z.string().nullable(),
  details: z.record(z.string(), z.unknown()).nullable(),
  ip: z.string().nullable(),
});
export type AuditEntry = z.infer<typeof AuditEntrySchema>;

export const AuditQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(100),
  cursor: TimeCursorSchema.optional(),
  actor: z.string().max(64).optional().describe('exactly this user (or "system", "node:<name>")'),
  action: z.string().max(64).optional().describe('actions starting with this, e.g. "user." or "policy.update"'),
  from: RangeStartSchema.optional(),
  to: RangeEndSchema.optional(),
});
export type AuditQuery = z.infer<typeof AuditQuerySchema>;

/** Newest first. No total: counting years of entries costs more than the page itself. */
export const AuditPageSchema = z.object({
  entries: z.array(AuditEntrySchema),
  nextCursor: NextCursorSchema,
});
export type AuditPage = z.infer<typeof AuditPageSchema>;
