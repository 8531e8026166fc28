import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';

/**
 * Boot configuration: what the server needs before it can reach its catalog.
 * Comes from CLI flags / environment (or the Electron first-run choice), is
 * validated once here, and fails fast with a message naming the bad setting.
 * Runtime settings live in the catalog instead.
 */
export const BootConfigSchema = z.object({
  dataDir: z.string().min(1),
  port: z.coerce.number().int().min(0).max(65535).default(8181),
  bind: z.string().min(1).default('0.0.0.0'),
  /** Remote catalog; when absent the server runs its own managed MariaDB. */
  dbUrl: z
    .string()
    .regex(/^mariadb:\/\//, 'the database URL must look like mariadb://user:pass@host:port/db')
    .optional(),
  adminPasswordFile: z.string().optional(),
  /** Serve the built admin UI from here (dist/renderer by default). */
  uiDir: z.string().optional(),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Managed MariaDB listens on TCP only when asked (for diagnostics). */
  managedDbTcpPort: z.coerce.number().int().min(1).max(65535).optional(),
  /** Nodes send a heartbeat this often; three missed ones end the connection. */
  nodeHeartbeatSeconds: z.coerce.number().min(0.2).max(300).default(10),
  /** A node gone this long loses its running tasks (they fail, or retry where allowed). */
  nodeLossTimeoutSeconds: z.coerce.number().min(0.5).max(3600).default(60),
  /** First retry delay of a retryable task; doubles per attempt. */
  taskRetryBaseSeconds: z.coerce.number().min(0.1).max(3600).default(10),
  /** GC after a policy's prune keeps unreferenced chunks younger than this (an interrupted backup's). */
  gcGraceHours: z.coerce.number().min(0).max(24 * 365).default(0),
  /** A stop gets this long; then what is left (supervised nodes, then mariadbd) is killed. Keep it under systemd's TimeoutStopSec. */
  stopTimeoutSeconds: z.coerce.number().min(5).max(3600).default(20),
});
export type BootConfig = z.infer<typeof BootConfigSchema>;
export type BootConfigInput = z.input<typeof BootConfigSchema>;

export function defaultDataDir(): string {
  if (process.env.VPLUS_DATA_DIR) return process.env.VPLUS_DATA_DIR;
  if (process.getuid?.() === 0) return '/var/lib/vplus';
  const base = process.env.XDG_DATA_HOME ?? path.join(os.homedir(), '.local', 'share');
  return path.join(base, 'vplus');
}

export class BootConfigError extends Error {
  readonly code = 'BOOT_CONFIG_INVALID';
}

export function parseBootConfig(input: Partial<BootConfigInput>): BootConfig {
  // Timing knobs are for operators (and tests) who know why; they come from the environment only.
  const fromEnv = stripUndefined({
    nodeHeartbeatSeconds: process.env.VPLUS_NODE_HEARTBEAT_SECONDS,
    nodeLossTimeoutSeconds: process.env.VPLUS_NODE_LOSS_TIMEOUT_SECONDS,
    taskRetryBaseSeconds: process.env.VPLUS_TASK_RETRY_BASE_SECONDS,
    gcGraceHours: process.env.VPLUS_GC_GRACE_HOURS,
    stopTimeoutSeconds: process.env.VPLUS_STOP_TIMEOUT_SECONDS,
  });
  const result = BootConfigSchema.safeParse({ dataDir: defaultDataDir(), ...fromEnv, ...stripUndefined(input) });
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new BootConfigError(`invalid ${issue.path.join('.') || 'setting'}: ${issue.message}`);
  }
  return { ...result.data, dataDir: path.resolve(result.data.dataDir) };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
