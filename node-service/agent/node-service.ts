import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from 'pino';
import { ChildProcessRunner, KvmExportRegistry, recoverStaleExports } from '../platforms/kvm/index.js';
import { destinationHandlers } from './handlers/destination.handlers.js';
import { kvmHandlers, type KvmHandlerDeps } from './handlers/kvm.handlers.js';
import { kvmWorkDirs } from './handlers/kvm-task.js';
import { m365BackupHandler } from './handlers/m365-backup.handler.js';
import { m365RestoreHandler } from './handlers/m365-restore.handler.js';
import { m365SyncHandler } from './handlers/m365-sync.handler.js';
import { cleanupStaleMounts, mountHandlers, mountsDir } from './handlers/mount.handler.js';
import { nodeCheckHandler } from './handlers/node-check.handler.js';
import { IscsiService } from './mounts/iscsi-service.js';
import { NodeMounts } from './mounts/node-mounts.js';
import { NodeAgent } from './node-agent.js';
import { NodeCalls } from './node-calls.js';
import { loadNodeConfig, nodeRuntimeKey } from './node-config.js';
import type { TaskHandler } from './task-handler.js';

export interface MountDeps {
  mounts: NodeMounts;
  runtimeKey: string;
  /** host:port of iSCSI exports (default 0.0.0.0:3260). */
  iscsiPortal?: string;
  logger: Logger;
}

/** Every task type this node build can run. Platform issues add theirs here. */
export function defaultHandlers(node: { name: string } = { name: os.hostname() }, kvm: Partial<KvmHandlerDeps> = {}, mount?: MountDeps): TaskHandler[] {
  const handlers = [
    nodeCheckHandler,
    ...destinationHandlers({ nodeName: node.name }),
    ...kvmHandlers({ nodeName: node.name, ...kvm }),
    m365SyncHandler({ nodeName: node.name }),
    m365BackupHandler({ nodeName: node.name }),
    m365RestoreHandler({ nodeName: node.name }),
  ];
  if (mount) {
    const [host, port] = splitPortal(mount.iscsiPortal ?? '0.0.0.0:3260');
    handlers.push(
      ...mountHandlers({
        nodeName: node.name,
        mounts: mount.mounts,
        runtimeKey: mount.runtimeKey,
        iscsi: (stagingDir) =>
          new IscsiService({ dir: mountsDir(stagingDir, mount.runtimeKey), portal: { host, port }, iqnPrefix: iqnPrefix(node.name), logger: mount.logger }),
      }),
    );
  }
  return handlers;
}

function splitPortal(portal: string): [string, number] {
  const i = portal.lastIndexOf(':');
  return [portal.slice(0, i).replace(/^\[|\]$/g, ''), Number(portal.slice(i + 1))];
}

/** iqn.2026-12.lan.vplus:<node> (lower case, IQN characters only). */
function iqnPrefix(nodeName: string): string {
  const now = new Date();
  return `iqn.${now.getUTCFullYear()}-${String(now.getUTCMonth() + 1).padStart(2, '0')}.lan.vplus:${nodeName.toLowerCase().replace(/[^a-z0-9.-]/g, '-').slice(0, 64)}`;
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
  const mountLog = logger.child({ module: 'mount' });
  // Mounts a previous run left open (it was killed): unmounted, loops and FUSE ended, in order.
  await cleanupStaleMounts(config.stagingDir, runtimeKey, mountLog);
  const mounts = new NodeMounts(mountLog);
  const handlers = defaultHandlers(config, { runner, registry, runtimeKey }, { mounts, runtimeKey, logger: mountLog, ...(config.iscsiPortal ? { iscsiPortal: config.iscsiPortal } : {}) });
  const calls = new NodeCalls({ nodeName: config.name, runner, exports: registry });
  const agent = new NodeAgent({ config, version, handlers, mounts, calls, exports: registry, logger: logger.child({ node: config.name }) });
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
