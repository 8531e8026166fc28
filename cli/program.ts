import { Command, CommanderError } from 'commander';
import { readAppInfo } from '../electron/server/app-info.js';
import { registerAuditCommands } from './commands/audit.command.js';
import { registerBackupCommands } from './commands/backup.command.js';
import { registerCopyCommands } from './commands/copy.command.js';
import { registerDestinationCommands } from './commands/destination.command.js';
import { registerHypervisorCommands } from './commands/hypervisor.command.js';
import { registerLoginCommands } from './commands/login.command.js';
import { registerM365Commands } from './commands/m365.command.js';
import { registerMountCommands } from './commands/mount.command.js';
import { registerNodeCommands } from './commands/node.command.js';
import { registerNodeServiceCommands } from './commands/node-service.command.js';
import { registerPolicyCommands } from './commands/policy.command.js';
import { registerRestoreCommand } from './commands/restore.command.js';
import { registerServerCommands } from './commands/server.command.js';
import { registerSnapshotCommands } from './commands/snapshot.command.js';
import { registerStatusCommand } from './commands/status.command.js';
import { registerTaskCommands } from './commands/task.command.js';
import { registerUserCommands } from './commands/user.command.js';
import { registerVmCommands } from './commands/vm.command.js';
import type { CliContext } from './context.js';
import { CliError, errorMessage } from './errors.js';

/**
 * The `vplus` command tree. Each command group lives in its own module under
 * commands/ and registers itself here; groups are added with program.command()
 * so they inherit the error handling configured below.
 */
export function buildProgram(ctx: CliContext): Command {
  const program = new Command('vplus')
    .description('vPlus desktop edition: run the server, and administer it from scripts')
    .version(packageVersion(), '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({
      writeOut: (s) => void ctx.stdout.write(s),
      writeErr: (s) => void ctx.stderr.write(s),
    })
    // Throw instead of process.exit(), so runCli maps usage errors to exit 2.
    .exitOverride();

  registerServerCommands(program, ctx);
  registerLoginCommands(program, ctx);
  registerStatusCommand(program, ctx);
  registerUserCommands(program, ctx);
  registerNodeCommands(program, ctx);
  registerNodeServiceCommands(program, ctx);
  registerDestinationCommands(program, ctx);
  registerHypervisorCommands(program, ctx);
  registerVmCommands(program, ctx);
  registerM365Commands(program, ctx);
  registerSnapshotCommands(program, ctx);
  registerPolicyCommands(program, ctx);
  registerBackupCommands(program, ctx);
  registerRestoreCommand(program, ctx);
  registerCopyCommands(program, ctx);
  registerMountCommands(program, ctx);
  registerTaskCommands(program, ctx);
  registerAuditCommands(program, ctx);
  return program;
}

/**
 * Runs one invocation and returns the exit code of CLI.md: 0 success, 1 the
 * operation failed, 2 usage error. Never throws; errors are printed to stderr
 * as one sentence.
 */
export async function runCli(argv: readonly string[], ctx: CliContext): Promise<number> {
  const program = buildProgram(ctx);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander has printed its message already; --help and --version are not errors.
      return err.exitCode === 0 ? 0 : 2;
    }
    if (err instanceof CliError) {
      ctx.stderr.write(`error: ${err.message}\n`);
      return err.exitCode;
    }
    ctx.stderr.write(`error: unexpected failure: ${errorMessage(err)}\n`);
    if (ctx.env.VPLUS_DEBUG && err instanceof Error && err.stack) ctx.stderr.write(`${err.stack}\n`);
    return 1;
  }
}

/** The version in package.json (the server's own lookup, so both always agree). */
export function packageVersion(): string {
  try {
    return readAppInfo().version;
  } catch {
    return '0.0.0-unknown';
  }
}
