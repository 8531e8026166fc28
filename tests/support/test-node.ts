import path from 'node:path';
import pino from 'pino';
import { enrollNode } from '../../node-service/agent/enroll.js';
import { NodeAgent } from '../../node-service/agent/node-agent.js';
import { NodeCalls } from '../../node-service/agent/node-calls.js';
import { ChildProcessRunner, type KvmExportRegistry } from '../../node-service/platforms/kvm/index.js';
import type { TaskHandler } from '../../node-service/agent/task-handler.js';
import { nodeRuntimeKey, type NodeConfig } from '../../node-service/agent/node-config.js';
import { NodeMounts } from '../../node-service/agent/mounts/node-mounts.js';
import type { MountDeps } from '../../node-service/agent/node-service.js';
import type { ApiClient } from './api-client.js';
import { makeTempDir } from './test-server.js';

export interface TestNode {
  agent: NodeAgent;
  mounts: NodeMounts;
  config: NodeConfig;
  configPath: string;
  stop(): Promise<void>;
}

/** Enrols a real node agent (in this process) with a token from the admin API, and connects it. */
export async function enrollTestNode(
  api: ApiClient,
  adminToken: string,
  /** handlers: a list, or made for this node with its mounts (defaultHandlers(…, …, mount)). */
  opts: {
    name: string;
    handlers: TaskHandler[] | ((mount: MountDeps) => TaskHandler[]);
    maxConcurrentTasks?: number;
    serverUrl: string;
    fingerprint: string;
    /** The KVM handlers' export registry, as the node service shares it with its calls and its stop. */
    exports?: KvmExportRegistry;
  },
): Promise<TestNode> {
  const dir = makeTempDir(`node-${opts.name}`);
  const token = await api.request<{ token: string }>('POST', '/api/nodes/tokens', undefined, { token: adminToken });
  if (token.status !== 201) throw new Error(`creating an enrollment token failed: ${token.text}`);
  const configPath = path.join(dir, 'node.json');
  const config = await enrollNode({
    server: opts.serverUrl,
    token: token.body.token,
    fingerprint: opts.fingerprint,
    configPath,
    name: opts.name,
    version: 'test',
    maxConcurrentTasks: opts.maxConcurrentTasks ?? 2,
  });
  const logger = pino({ level: process.env.VPLUS_TEST_LOG ?? 'silent' });
  const mounts = new NodeMounts(logger);
  const handlers = typeof opts.handlers === 'function' ? opts.handlers({ mounts, runtimeKey: nodeRuntimeKey(config), logger }) : opts.handlers;
  const calls = new NodeCalls({ nodeName: opts.name, runner: new ChildProcessRunner(), ...(opts.exports ? { exports: opts.exports } : {}) });
  const agent = new NodeAgent({ config, version: 'test', handlers, mounts, calls, ...(opts.exports ? { exports: opts.exports } : {}), logger, minBackoffMs: 200, maxBackoffMs: 1000 });
  const online = agent.online();
  agent.start();
  await online;
  return { agent, mounts, config, configPath, stop: () => agent.stop() };
}
