import type { Command } from 'commander';
import type { Backup } from '../../common/api/index.js';
import type { BackupQuery } from '../client/api-client.js';
import { withClient } from '../client/session.js';
import type { CliContext } from '../context.js';
import { formatBytes, formatTable, formatTimestamp } from '../format.js';
import { Output } from '../output.js';
import { intParser } from './task.command.js';

/** The API's default page (BackupListQuerySchema). */
const DEFAULT_LIMIT = 200;
const MAX_LIMIT = 1000;

interface BackupListOptions {
  destination?: string;
  limit?: number;
  json?: boolean;
}

export function registerBackupCommands(program: Command, ctx: CliContext): void {
  const backup = program.command('backup').description('the backups in the catalog');

  backup
    .command('list')
    .description('list backups, newest first')
    .argument('[vm]', 'only the backups of this VM (name or UUID)')
    .option('--destination <dest>', 'only the backups on this destination (name or id)')
    .option('--limit <n>', `at most this many backups, 1 to ${MAX_LIMIT} (default: ${DEFAULT_LIMIT})`, intParser('--limit', 1, MAX_LIMIT))
    .option('--json', 'print JSON only')
    .action((vm: string | undefined, options: BackupListOptions) => listBackups(ctx, vm, options));
}

async function listBackups(ctx: CliContext, vm: string | undefined, options: BackupListOptions): Promise<void> {
  const out = new Output(ctx);
  await withClient(ctx, async (client) => {
    const query: BackupQuery = {
      ...(vm !== undefined ? { vm } : {}),
      ...(options.destination !== undefined ? { destination: options.destination } : {}),
      ...(options.limit !== undefined ? { limit: options.limit } : {}),
    };
    const backups = await client.listBackups(query);
    if (options.json) out.json(backups);
    else out.line(formatBackups(backups, query));
    const limit = options.limit ?? DEFAULT_LIMIT;
    if (backups.length >= limit) out.note(`Showing the newest ${backups.length} backups; there may be more: use --limit (up to ${MAX_LIMIT}), a VM or --destination.`);
  });
}

export function formatBackups(backups: readonly Backup[], query: Pick<BackupQuery, 'vm' | 'destination'> = {}): string {
  if (backups.length === 0) {
    const of = query.vm !== undefined ? ` of ${query.vm}` : '';
    const on = query.destination !== undefined ? ` on destination ${query.destination}` : '';
    return `No backups${of}${on}.`;
  }
  return formatTable(
    ['ID', 'VM', 'TYPE', 'CREATED', 'STATUS', 'LOGICAL', 'STORED', 'DESTINATION'],
    backups.map((b) => [
      String(b.id),
      b.vm,
      b.type ?? '-',
      formatTimestamp(b.createdAt),
      b.status,
      formatBytes(b.logicalBytes),
      b.storedBytes === null ? '-' : formatBytes(b.storedBytes),
      b.destination,
    ]),
  );
}
