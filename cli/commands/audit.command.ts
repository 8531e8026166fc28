import type { Command } from 'commander';
import type { AuditEntry } from '../../common/api/index.js';
import { withClient } from '../client/session.js';
import type { CliContext } from '../context.js';
import { formatTable, formatTimestamp } from '../format.js';
import { dateOption, nextPageNote } from '../list-options.js';
import { Output } from '../output.js';
import { intParser } from './task.command.js';

interface AuditListOptions {
  user?: string;
  action?: string;
  since?: string;
  until?: string;
  limit?: number;
  cursor?: string;
  json?: boolean;
}

export function registerAuditCommands(program: Command, ctx: CliContext): void {
  const audit = program.command('audit').description('who changed what, and when');

  audit
    .command('list')
    .description('list audit entries, newest first')
    .option('--user <name>', 'only what this user did ("system" for the server itself, "node:NAME" for a node)')
    .option('--action <action>', 'only actions starting with this, e.g. user. or policy.update')
    .option('--since <date>', 'only entries from then on (2026-12-01, or a time)', dateOption('--since'))
    .option('--until <date>', 'only entries before then', dateOption('--until'))
    .option('--limit <n>', 'at most this many entries, 1 to 500 (default: 100)', intParser('--limit', 1, 500))
    .option('--cursor <cursor>', 'the page after the one that printed this cursor')
    .option('--json', 'print JSON only')
    .action((options: AuditListOptions) => listAudit(ctx, options));
}

async function listAudit(ctx: CliContext, options: AuditListOptions): Promise<void> {
  const out = new Output(ctx);
  await withClient(ctx, async (client) => {
    const page = await client.listAudit({ actor: options.user, action: options.action, from: options.since, to: options.until, limit: options.limit, cursor: options.cursor });
    if (options.json) out.json(page.entries);
    else out.line(formatAudit(page.entries));
    const more = nextPageNote('entries', page.entries.length, page.nextCursor);
    if (more) out.note(more);
  });
}

export function formatAudit(entries: readonly AuditEntry[]): string {
  if (entries.length === 0) return 'No audit entries.';
  return formatTable(
    ['TIME', 'USER', 'ACTION', 'TARGET'],
    entries.map((e) => [formatTimestamp(e.at), e.actor, e.action, e.target ?? '-']),
  );
}
