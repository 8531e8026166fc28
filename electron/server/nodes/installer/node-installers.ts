import path from 'node:path';
import type { Logger } from 'pino';
import { LocalNodeInstaller } from './local-installer.js';
import { NodeBundle } from './node-bundle.js';
import { NodeSupervisor } from './node-supervisor.js';
import { probeHostKey, SshNodeInstaller } from './ssh-installer.js';

export interface NodeInstallersOptions {
  dataDir: string;
  /** Directory holding package.json, bin/, dist/ and node_modules/. */
  appRoot: string;
  logger: Logger;
  /** The Node.js binary shipped to SSH hosts; required inside Electron (see NodeBundle). */
  nodeBinary?: string;
}

export interface NodeInstallers {
  local: LocalNodeInstaller;
  ssh: SshNodeInstaller;
  supervisor: NodeSupervisor;
  bundle: NodeBundle;
  probeHostKey: typeof probeHostKey;
  /** Server shutdown: stops the local nodes the server supervises. */
  close(): Promise<void>;
}

/**
 * Builds the installers for the composition root. Local nodes live in
 * <dataDir>/nodes/<name>/, the node bundle is cached in <dataDir>/cache/node-bundle.
 * At start, call local.reattach(names of the 'local-supervised' nodes).
 */
export function createNodeInstallers(o: NodeInstallersOptions): NodeInstallers {
  const cliEntry = path.join(o.appRoot, 'bin', 'vplus.js');
  // A node gets 6 s to stop on SIGTERM: inside the server stop's step for it (lifecycle/server-shutdown.ts).
  const supervisor = new NodeSupervisor({ cliEntry, logger: o.logger.child({ module: 'node-supervisor' }), stopTimeoutMs: 6_000 });
  const bundle = new NodeBundle({
    appRoot: o.appRoot,
    cacheDir: path.join(o.dataDir, 'cache', 'node-bundle'),
    logger: o.logger.child({ module: 'node-bundle' }),
    ...(o.nodeBinary ? { nodeBinary: o.nodeBinary } : {}),
  });
  return {
    local: new LocalNodeInstaller({ appRoot: o.appRoot, nodesDir: path.join(o.dataDir, 'nodes'), supervisor, logger: o.logger.child({ module: 'local-installer' }) }),
    ssh: new SshNodeInstaller({ bundle, logger: o.logger.child({ module: 'ssh-installer' }) }),
    supervisor,
    bundle,
    probeHostKey,
    close: () => supervisor.stopAll(),
  };
}
