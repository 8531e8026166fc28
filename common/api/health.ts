import { z } from 'zod';

export const CatalogInfoSchema = z.object({
  engine: z.string().describe('e.g. MariaDB'),
  version: z.string().describe('e.g. 10.11.6'),
  mode: z.enum(['managed', 'remote']),
  ok: z.boolean(),
});
export type CatalogInfo = z.infer<typeof CatalogInfoSchema>;

export const HealthSchema = z.object({
  status: z.enum(['ok', 'degraded']),
  version: z.string(),
  catalog: CatalogInfoSchema,
  tlsFingerprint: z.string().describe('SHA-256 of the server certificate, colon-separated hex'),
  setupRequired: z.boolean().describe('true until the first admin exists'),
  setupCodeFile: z.string().nullable().describe("while setup is required: the file on the server's machine that holds the setup code"),
  time: z.string(),
});
export type Health = z.infer<typeof HealthSchema>;

export const StatusSchema = HealthSchema.extend({
  startedAt: z.string(),
  uptimeSeconds: z.number(),
  dataDir: z.string(),
  users: z.number().int(),
  migrations: z.array(z.string()),
  nodes: z.object({ total: z.number().int(), online: z.number().int() }),
  tasks: z.object({ queued: z.number().int(), running: z.number().int() }),
});
export type Status = z.infer<typeof StatusSchema>;
