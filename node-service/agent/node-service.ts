import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from 'pino';
import { destinationHandlers } from './handlers/destination.handlers.js';
import { nodeCheckHandler } from './handlers/node-check.handler.js';
import { NodeAgent } from './node-agent.js';
import { loadNodeConfig } from './node-config.js';
import type { TaskHandler } from './task-handler.js';

/** Every task type this node build can run. Platform issues add theirs here. */
export function defaultHandlers(node: { name: string } = { name: os.hostname() }): TaskHandler[] {
  return [nodeCheckHandler, ...destinationHandlers({ nodeName: node.name })];
}

/** Composition root of the node daemon (`vplus node-service run`). */
export async function runNodeService(configPath: string, version: string, logger: Logger): Promise<NodeAgent> {
  const config = await loadNodeConfig(configPath);
  await removeLeftovers(config.stagingDir, logger);
  const agent = new NodeAgent({ config, version, handlers: defaultHandlers(config), logger: logger.child({ node: config.name }) });
  agent.start();
  return agent;
}

/** Scratch files of tasks that died with a previous run of this node (a crash, a kill). */
async function removeLeftovers(stagingDir: string, logger: Logger): Promise<void> {
  let names: string[];
  try {
    names = await fs.promises.readdir(stagingDir);
  } catch {
    return;
  }
  for (const name of names.filter((n) => n.startsWith('.node-check-'))) {
    await fs.promises.rm(path.join(stagingDir, name), { force: true });
    logger.info({ file: name }, 'removed a scratch file left by an interrupted task');
  }
}
