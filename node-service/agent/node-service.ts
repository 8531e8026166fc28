import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from 'pino';
import { ChildProcessRunner, KvmExportRegistry, recoverStaleExports } from '../platforms/kvm/index.js';
import { destinationHandlers } from './handlers/destination.handlers.js';
import { kvmHandlers, type KvmHandlerDeps } from './handlers/kvm.handlers.js';
import { kvmWorkDirs } from './handlers/kvm-task.js';
import { nodeCheckHandler } from './handlers/node-check.handler.js';
import { NodeAgent } from './node-agent.js';
import { loadNodeConfig, nodeRuntimeKey } from './node-config.js';
import type { TaskHandler } from './task-handler.js';

/** Every task type this node build can run. Platform issues add theirs here. */
export function defaultHandlers(node: { name: string } = { name: os.hostname() }, kvm: Partial<KvmHandlerDeps> = {}): TaskHandler[] {
  return [nodeCheckHandler, ...destinationHandlers({ nodeName: node.name }), ...kvmHandlers({ nodeName: node.name, ...kvm })];
}

/** Composition root of the node daemon (`vplus node-service run`). */
export async function runNodeService(configPath: string, version: string, logger: Logger): Promise<NodeAgent> {
  const config = await loadNodeConfig(configPath);
  await removeLeftovers(config.stagingDir, logger);
  const kvmLog = logger.child({ module: 'kvm' });
  const log = (level: 'info' | 'warn', message: string): void => kvmLog[level](message);
  const runner = new ChildProcessRunner();
  const runtimeKey = nodeRuntimeKey(config);
  // Backup jobs and qemu-nbd servers a previous run of this node left open (it died between
  // EXPORT and STORE); other nodes on this host keep theirs (their own directories and records).
  for (const workDir of kvmWorkDirs(config.stagingDir, runtimeKey)) {
    await recoverStaleExports({ workDir, node: runtimeKey, runner, log }).catch((err: unknown) => kvmLog.warn({ err, workDir }, 'recovering stale KVM exports failed'));
  }
  const registry = new KvmExportRegistry(undefined, log);
  const agent = new NodeAgent({ config, version, handlers: defaultHandlers(config, { runner, registry, runtimeKey }), logger: logger.child({ node: config.name }) });
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
