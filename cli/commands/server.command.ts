import path from 'node:path';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { formatFingerprint } from '../../common/fingerprint.js';
import {
  BootConfigError,
  BootConfigSchema,
  parseBootConfig,
  type BootConfig,
  type BootConfigInput,
} from '../../electron/server/boot-config.js';
import type { CliContext, RunningServerHandle } from '../context.js';
import { CliError, UsageError, errorMessage } from '../errors.js';
import { Output } from '../output.js';

/**
 * A parent such as `npm start` forwards Ctrl-C to us while the terminal sends
 * it to our process group too: one keypress can arrive two or three times.
 * Signals this close to the first count as the same one.
 */
const SAME_SIGNAL_WINDOW_MS = 1_000;

interface ServerStartOptions {
  dataDir?: string;
  port?: number;
  bind?: string;
  dbUrl?: string;
  adminPasswordFile?: string;
  logLevel?: BootConfig['logLevel'];
}

export function registerServerCommands(program: Command, ctx: CliContext): void {
  const server = program.command('server').description('run the vPlus server (catalog, scheduler, admin UI, REST API)');

  server
    .command('start')
    .description('start the server in the foreground; Ctrl-C or SIGTERM stops it cleanly')
    .option('--data-dir <dir>', 'data directory: certificate, managed MariaDB, keys (env: VPLUS_DATA_DIR)')
    .option('--port <port>', 'HTTPS port (default: 8181)', parsePort)
    .option('--bind <addr>', 'address to listen on (default: 0.0.0.0)')
    .option('--db-url <url>', 'remote MariaDB catalog, mariadb://user:pass@host:3306/db; default: a managed local MariaDB (env: VPLUS_DB_URL)')
    .option('--admin-password-file <file>', "first admin 'admin' gets this password when no users exist")
    .addOption(
      new Option('--log-level <level>', 'log level').choices(BootConfigSchema.shape.logLevel.unwrap().options),
    )
    .action((options: ServerStartOptions) => startServerCommand(ctx, options));
}

function parsePort(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) > 65535) {
    throw new InvalidArgumentError('the port must be a number from 0 to 65535.');
  }
  return Number(value);
}

async function startServerCommand(ctx: CliContext, options: ServerStartOptions): Promise<void> {
  const out = new Output(ctx);
  const input: Partial<BootConfigInput> = {
    dataDir: options.dataDir,
    port: options.port,
    bind: options.bind,
    dbUrl: options.dbUrl ?? (ctx.env.VPLUS_DB_URL || undefined),
    adminPasswordFile: options.adminPasswordFile ? path.resolve(options.adminPasswordFile) : undefined,
    logLevel: options.logLevel,
  };
  let config: BootConfig;
  try {
    config = parseBootConfig(input);
  } catch (err) {
    if (err instanceof BootConfigError) throw new UsageError(err.message);
    throw err;
  }

  // Listen before starting: a Ctrl-C during a slow first start (MariaDB
  // initialising its data directory) must still end in a clean shutdown.
  let signalled: { signal: NodeJS.Signals; at: number } | undefined;
  let wake: (() => void) | undefined;
  const unsubscribe = ctx.onShutdownSignal((signal) => {
    const now = Date.now();
    if (!signalled) {
      signalled = { signal, at: now };
      out.note(`${signal} received; stopping the server…`);
      wake?.();
    } else if (now - signalled.at > SAME_SIGNAL_WINDOW_MS) {
      out.note(`${signal} received again; exiting without waiting for a clean shutdown`);
      ctx.forceExit(1);
    }
  });

  try {
    // No logger passed: the server's own one redacts secrets and also writes
    // <data-dir>/logs/server.log.
    let running: RunningServerHandle;
    try {
      const server = await ctx.loadServer();
      running = await server.startServer(config);
    } catch (err) {
      throw new CliError(describeStartError(err, config));
    }

    out.line(`vPlus server is running at ${running.url}`);
    out.line(`Certificate SHA-256 fingerprint: ${formatFingerprint(running.fingerprint)}`);
    out.line(`Data directory: ${running.dataDir}`);

    if (!signalled) await new Promise<void>((resolve) => (wake = resolve));
    try {
      await running.close();
    } catch (err) {
      throw new CliError(`the server did not stop cleanly: ${errorMessage(err)}`);
    }
    out.note('Server stopped.');
  } finally {
    unsubscribe();
  }
}

/** A failed start as one sentence; the common causes get a hint. */
export function describeStartError(err: unknown, config: Pick<BootConfig, 'port' | 'bind'>): string {
  if (err instanceof CliError) return err.message;
  const e = err as { code?: unknown; syscall?: unknown } | null;
  switch (e?.code) {
    case 'EADDRINUSE':
      return `port ${config.port} is already in use on ${config.bind}; stop the program using it or choose another port with --port`;
    case 'EACCES':
      if (e.syscall === 'listen') {
        return `not allowed to listen on port ${config.port}; choose a port above 1023 with --port or run as root`;
      }
      break;
    case 'EADDRNOTAVAIL':
      return `${config.bind} is not an address of this machine; fix --bind`;
    case 'ERR_MODULE_NOT_FOUND':
      return `the server is not built or incomplete (${errorMessage(err)}); run npm run build`;
    default:
      break;
  }
  return `the server could not start: ${errorMessage(err)}`;
}
