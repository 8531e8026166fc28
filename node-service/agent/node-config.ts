import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

export const NodeConfigSchema = z.object({
  serverUrl: z.string().url(),
  /** SHA-256 of the server certificate; the node talks to no other server. */
  fingerprint: z.string(),
  nodeId: z.number().int(),
  name: z.string(),
  credential: z.string().min(16),
  stagingDir: z.string(),
  maxConcurrentTasks: z.number().int().min(1).max(64).default(2),
  /** Where iSCSI exports of mounts listen (host:port; default 0.0.0.0:3260). */
  iscsiPortal: z
    .string()
    .regex(/^[\w.:[\]-]+:\d{1,5}$/, 'host:port, e.g. 0.0.0.0:3260')
    .optional(),
});
export type NodeConfig = z.infer<typeof NodeConfigSchema>;

export class NodeConfigError extends Error {
  readonly code = 'NODE_CONFIG_INVALID';
}

/**
 * What names this node's runtime directories (KVM export sockets and records), so two nodes on
 * one host never share them: its id, plus the start of its server's certificate fingerprint
 * (ids are per server; two nodes of two servers can both be node 1).
 */
export function nodeRuntimeKey(config: Pick<NodeConfig, 'nodeId' | 'fingerprint'>): string {
  return `node-${config.nodeId}-${config.fingerprint.replace(/[^0-9a-fA-F]/g, '').slice(0, 8).toLowerCase()}`;
}

export const DEFAULT_NODE_CONFIG = '/etc/vplus-node/node.json';

export async function loadNodeConfig(file: string): Promise<NodeConfig> {
  let raw: string;
  try {
    raw = await fs.promises.readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new NodeConfigError(
      code === 'ENOENT' ? `no node configuration at ${file}; enrol first with "vplus node-service enroll"` : `cannot read ${file}: ${code ?? (err as Error).message}`,
    );
  }
  const parsed = NodeConfigSchema.safeParse(JSON.parse(raw));
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new NodeConfigError(`the node configuration ${file} is invalid: ${issue.path.join('.')}: ${issue.message}`);
  }
  return parsed.data;
}

/** Written temp + fsync + rename, mode 0600: it holds the node's credential. */
export async function saveNodeConfig(file: string, config: NodeConfig): Promise<void> {
  const dir = path.dirname(file);
  await fs.promises.mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.tmp`);
  const fh = await fs.promises.open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(JSON.stringify(config, null, 2) + '\n');
    await fh.sync();
  } finally {
    await fh.close();
  }
  await fs.promises.rename(tmp, file);
}
