import { z } from 'zod';
import { ID_LIKE_NAME_MESSAGE, notIdLike } from '../names.js';

export const NODE_STATUSES = ['online', 'offline', 'installing', 'error'] as const;
export const NodeStatusSchema = z.enum(NODE_STATUSES);
export type NodeStatus = z.infer<typeof NodeStatusSchema>;

export const NodeCapabilitiesSchema = z.object({
  os: z.string().describe('e.g. "Debian GNU/Linux 12 (bookworm)"'),
  arch: z.string(),
  kernel: z.string(),
  nodeVersion: z.string(),
  hostname: z.string(),
  libvirt: z.object({ available: z.boolean(), version: z.string().nullable() }),
  qemuImg: z.object({ available: z.boolean(), version: z.string().nullable() }),
  staging: z.object({ path: z.string(), freeBytes: z.number(), totalBytes: z.number() }),
  /** Task types this node can run. */
  taskTypes: z.array(z.string()),
  maxConcurrentTasks: z.number().int().min(1),
});
export type NodeCapabilities = z.infer<typeof NodeCapabilitiesSchema>;

export const InstallMethodSchema = z.enum(['local-systemd', 'local-supervised', 'ssh-systemd', 'ssh-supervised', 'manual']);
export type InstallMethod = z.infer<typeof InstallMethodSchema>;

export const NodeSchema = z.object({
  id: z.number().int(),
  name: z.string(),
  host: z.string().describe('host name or address the node runs on'),
  status: NodeStatusSchema,
  version: z.string().nullable(),
  installMethod: InstallMethodSchema,
  capabilities: NodeCapabilitiesSchema.nullable(),
  runningTasks: z.number().int(),
  lastSeenAt: z.string().nullable(),
  statusMessage: z.string().nullable().describe('why it is offline or in error'),
  ssh: z
    .object({ host: z.string(), port: z.number().int(), user: z.string(), hostKeyFingerprint: z.string(), auth: z.enum(['password', 'key']) })
    .nullable(),
  createdAt: z.string(),
});
export type Node = z.infer<typeof NodeSchema>;

export const NodeRefParamsSchema = z.object({ node: z.string().min(1).max(128) });

export const EnrollmentTokenSchema = z.object({
  token: z.string(),
  expiresAt: z.string(),
  /** The server certificate fingerprint the node must pin. */
  fingerprint: z.string(),
});
export type EnrollmentToken = z.infer<typeof EnrollmentTokenSchema>;

export const NodeNameSchema = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'node names may contain letters, digits, ".", "_" and "-"')
  .refine(notIdLike, ID_LIKE_NAME_MESSAGE);

/** Node → server (public route, authenticated by the one-time token). */
export const EnrollRequestSchema = z.object({
  token: z.string().min(16).max(256),
  name: NodeNameSchema,
  host: z.string().min(1).max(255),
  version: z.string().max(64),
});
export const EnrollResponseSchema = z.object({
  nodeId: z.number().int(),
  name: z.string(),
  /** The node's long-lived credential; shown once, stored hashed on the server. */
  credential: z.string(),
});
export type EnrollResponse = z.infer<typeof EnrollResponseSchema>;

export const SshTargetSchema = z.object({
  host: z.string().min(1).max(255),
  port: z.number().int().min(1).max(65535).default(22),
});

export const SshProbeResponseSchema = z.object({
  /** OpenSSH form, as `ssh-keygen -lf` prints it: "SHA256:base64…" */
  hostKeyFingerprint: z.string(),
  keyType: z.string(),
});

export const InstallNodeSchema = z.discriminatedUnion('method', [
  z.object({
    method: z.literal('local'),
    name: NodeNameSchema.optional(),
  }),
  z.object({
    method: z.literal('ssh'),
    name: NodeNameSchema.optional(),
    host: z.string().min(1).max(255),
    port: z.number().int().min(1).max(65535).default(22),
    user: z.string().min(1).max(64),
    password: z.string().min(1).max(1024).optional(),
    privateKey: z.string().min(1).max(16384).optional(),
    passphrase: z.string().max(1024).optional(),
    /** Must match the host key the server sees, or nothing is sent. */
    hostKeyFingerprint: z.string().regex(/^SHA256:[A-Za-z0-9+/]{43}=?$/, 'give the host key fingerprint as SHA256:… (ssh-keygen -lf)'),
    /** Address the node uses to reach this server; default: our side of the SSH connection. */
    serverAddress: z.string().max(255).optional(),
  }),
]);
export type InstallNode = z.infer<typeof InstallNodeSchema>;

export const InstallNodeResponseSchema = z.object({
  node: NodeSchema,
  /** The install runs as a task; follow it for progress and log. */
  taskId: z.number().int(),
});
