import type { Logger } from 'pino';
import { nodeCheckHandler } from './handlers/node-check.handler.js';
import { NodeAgent } from './node-agent.js';
import { loadNodeConfig } from './node-config.js';
import type { TaskHandler } from './task-handler.js';

/** Every task type this node build can run. Platform issues add theirs here. */
export function defaultHandlers(): TaskHandler[] {
  return [nodeCheckHandler];
}

/** Composition root of the node daemon (`vplus node-service run`). */
export async function runNodeService(configPath: string, version: string, logger: Logger): Promise<NodeAgent> {
  const config = await loadNodeConfig(configPath);
  const agent = new NodeAgent({ config, version, handlers: defaultHandlers(), logger: logger.child({ node: config.name }) });
  agent.start();
  return agent;
}
