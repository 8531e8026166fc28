import { z } from 'zod';

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
  offset: z.coerce.number().int().min(0).default(0),
  actor: z.string().max(64).optional(),
  action: z.string().max(64).optional(),
});
export type AuditQuery = z.infer<typeof AuditQuerySchema>;

export const AuditPageSchema = z.object({
  total: z.number().int(),
  entries: z.array(AuditEntrySchema),
});
export type AuditPage = z.infer<typeof AuditPageSchema>;
