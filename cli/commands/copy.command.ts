import type { Command } from 'commander';
import type { CopyListItem } from '../../common/api/copies.js';
import { withClient } from '../client/session.js';
import type { CliContext } from '../context.js';
import { UsageError } from '../errors.js';
import { formatBytes, formatTable, formatTimestamp } from '../format.js';
import { Output } from '../output.js';
import { parseBackupId } from './restore.command.js';
import { followStartedTask } from './task.command.js';

/** `vplus copy run|list`: copies of backups on other destinations (issue 19). */
export function registerCopyCommands(program: Command, ctx: CliContext): void {
  const copy = program.command('copy').description("copies of backups on other destinations: a copy sends only the chunks the other destination lacks; restore reads either (vplus restore … --from DEST)");

  copy
    .command('run')
    .description("copy a backup to another destination (a COPY task on its destination's node): an S3 destination, or a directory destination on the same node")
    .argument('<backup>', 'the backup, by its id in the catalog (vplus backup list shows it)', parseBackupId)
    .requiredOption('--to <dest>', 'the destination to copy it to (name or id)')
    .option('--wait', 'follow the copy to its end with progress; exit 1 when it fails')
    .action((backup: number, options: { to: string; wait?: boolean }) => runCopy(ctx, backup, options));

  copy
    .command('list')
    .description('list copies, newest first: of one backup, or all')
    .argument('[backup]', 'only the copies of this backup (its id)', parseBackupId)
    .option('--json', 'print JSON only')
    .action((backup: number | undefined, options: { json?: boolean }) => listCopies(ctx, backup, options));
}

async function runCopy(ctx: CliContext, backup: number, options: { to: string; wait?: boolean }): Promise<void> {
  const to = options.to.trim();
  if (to === '') throw new UsageError('--to needs a destination name or id, as vplus destination list shows it');
  const out = new Output(ctx);
  await withClient(ctx, async (client) => {
    const task = await client.copyBackup(backup, to);
    out.line(`Copying backup ${backup} to destination ${to}: task ${task.id} (COPY), on the node of the backup's destination.`);
    await followStartedTask(ctx, client, task.id, options);
  });
}

async function listCopies(ctx: CliContext, backup: number | undefined, options: { json?: boolean }): Promise<void> {
  const out = new Output(ctx);
  await withClient(ctx, async (client) => {
    const copies = await client.listCopies(backup !== undefined ? { backup } : {});
    if (options.json) return out.json(copies);
    out.line(formatCopies(copies, backup));
  });
}

/** The table of copies; failed ones say why under it. */
export function formatCopies(copies: readonly CopyListItem[], backup?: number): string {
  if (copies.length === 0) return backup === undefined ? 'No copies.' : `Backup ${backup} has no copies.`;
  const table = formatTable(
    ['ID', 'BACKUP', 'VM', 'FROM', 'DESTINATION', 'STATE', 'STORED', 'CREATED'],
    copies.map((c) => [
      String(c.id),
      String(c.backupId),
      c.vmName ?? c.vm,
      c.sourceDestination,
      c.destination,
      c.state === 'failed' ? 'FAILED' : c.state,
      c.storedBytes === null ? '-' : formatBytes(c.storedBytes),
      formatTimestamp(c.createdAt),
    ]),
  );
  const failed = copies.filter((c) => c.state === 'failed').map((c) => `copy of backup ${c.backupId} to ${c.destination} failed: ${c.error ?? 'see its task'}${c.taskId !== null ? ` (task ${c.taskId})` : ''}`);
  return failed.length > 0 ? `${table}\n\n${failed.join('\n')}` : table;
}
