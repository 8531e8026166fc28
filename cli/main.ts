import os from 'node:os';
import type { CliContext } from './context.js';
import { runCli } from './program.js';
import { openTerminal } from './terminal.js';

/**
 * Entry point of `vplus` (bin/vplus.js imports the built copy). It only binds
 * the CLI to this process; everything else is in program.ts and commands/.
 */
const SHUTDOWN_SIGNALS = ['SIGINT', 'SIGTERM'] as const;

// `vplus user list | head -1` closes our stdout early; that is not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});

const ctx: CliContext = {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  env: process.env,
  homedir: os.homedir(),
  openTerminal: () => openTerminal(process.stdin, process.stderr),
  loadServer: () => import('../electron/server/server.js'),
  onShutdownSignal(handler) {
    for (const signal of SHUTDOWN_SIGNALS) process.on(signal, handler);
    return () => {
      for (const signal of SHUTDOWN_SIGNALS) process.off(signal, handler);
    };
  },
  forceExit: (code) => process.exit(code),
};

process.exitCode = await runCli(process.argv.slice(2), ctx);
// Let the event loop drain (log files still opening or flushing), but never
// let a forgotten handle keep a finished command hanging.
setTimeout(() => process.exit(), 3_000).unref();
