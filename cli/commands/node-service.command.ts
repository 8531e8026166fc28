import path from 'node:path';
import type { Command } from 'commander';
import pino from 'pino';
import { DEFAULT_NODE_CONFIG } from '../../node-service/agent/node-config.js';
import type { CliContext } from '../context.js';
import { CliError, errorMessage } from '../errors.js';
import { Output } from '../output.js';
import { packageVersion } from '../program.js';

interface EnrollOptions {
  server: string;
  token: string;
  fingerprint: string;
  config: string;
  name?: string;
  staging?: string;
  maxTasks?: string;
}

/** The node daemon: `enroll` once with a token, then `run` (under systemd or a supervisor). */
export function registerNodeServiceCommands(program: Command, ctx: CliContext): void {
  const ns = program.command('node-service').description('run this machine as a vPlus node (data mover)');

  ns.command('enroll')
    .description('trade a one-time enrollment token for this node\'s credential and write its config')
    .requiredOption('--server <url>', 'server URL, e.g. https://10.0.0.5:8181')
    .requiredOption('--token <token>', 'one-time enrollment token (vplus node token create)')
    .requiredOption('--fingerprint <sha256>', "the server certificate's SHA-256 fingerprint, which this node pins")
    .option('--config <file>', 'where to write the node config', DEFAULT_NODE_CONFIG)
    .option('--name <name>', 'node name (default: host name)')
    .option('--staging <dir>', 'staging directory (default: next to the config)')
    .option('--max-tasks <n>', 'tasks this node runs at once (default: 2)')
    .action(async (o: EnrollOptions) => {
      const out = new Output(ctx);
      const { enrollNode } = await import('../../node-service/agent/enroll.js');
      try {
        const config = await enrollNode({
          server: o.server,
          token: o.token,
          fingerprint: o.fingerprint,
          configPath: path.resolve(o.config),
          ...(o.name ? { name: o.name } : {}),
          ...(o.staging ? { stagingDir: o.staging } : {}),
          ...(o.maxTasks ? { maxConcurrentTasks: Number(o.maxTasks) } : {}),
          version: packageVersion(),
        });
        out.line(`Enrolled as node "${config.name}" (id ${config.nodeId}); config written to ${path.resolve(o.config)}`);
      } catch (err) {
        throw new CliError(errorMessage(err));
      }
    });

  ns.command('run')
    .description('run the node service in the foreground until SIGTERM')
    .option('--config <file>', 'node config written by enroll', DEFAULT_NODE_CONFIG)
    .option('--log-level <level>', 'log level', 'info')
    .action(async (o: { config: string; logLevel: string }) => {
      const { runNodeService } = await import('../../node-service/agent/node-service.js');
      const logger = pino({ level: o.logLevel, base: { app: 'vplus-node' }, redact: ['credential', '*.credential', 'token', '*.token', 'password', '*.password', 'recoveryKey', '*.recoveryKey'] });
      let agent;
      try {
        agent = await runNodeService(path.resolve(o.config), packageVersion(), logger);
      } catch (err) {
        throw new CliError(errorMessage(err));
      }
      await new Promise<void>((resolve) => {
        const unsubscribe = ctx.onShutdownSignal(() => {
          unsubscribe();
          resolve();
        });
      });
      await agent.stop();
    });
}
