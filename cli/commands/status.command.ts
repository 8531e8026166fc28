import type { Command } from 'commander';
import type { Status } from '../../common/api/index.js';
import { formatFingerprint } from '../../common/fingerprint.js';
import { withClient } from '../client/session.js';
import type { CliContext } from '../context.js';
import { formatDuration, formatTimestamp } from '../format.js';
import { Output, formatFields } from '../output.js';

export function registerStatusCommand(program: Command, ctx: CliContext): void {
  program
    .command('status')
    .description('show the server: version, catalog, certificate, uptime, nodes online, tasks running, users')
    .option('--json', 'print JSON only')
    .action((options: { json?: boolean }) => status(ctx, options));
}

async function status(ctx: CliContext, options: { json?: boolean }): Promise<void> {
  const out = new Output(ctx);
  await withClient(ctx, async (client, session) => {
    const s = await client.status();
    if (options.json) {
      out.json({ server: client.server, ...s });
      return;
    }
    out.line(formatStatus(s, client.server, session.user));
  });
}

export function formatStatus(s: Status, server: string, user: string | undefined): string {
  const catalog = s.catalog;
  return formatFields([
    ['Server', user ? `${server} (logged in as ${user})` : server],
    ['Version', s.version],
    ['Health', s.status],
    ['Catalog', `${catalog.engine} ${catalog.version}, ${catalog.mode}${catalog.ok ? '' : ', NOT REACHABLE'}`],
    ['Fingerprint', safeFingerprint(s.tlsFingerprint)],
    ['Uptime', `${formatDuration(s.uptimeSeconds)} (since ${formatTimestamp(s.startedAt)})`],
    ['Nodes', `${s.nodes.online} of ${s.nodes.total} online`],
    ['Tasks', `${s.tasks.running} running, ${s.tasks.queued} queued`],
    ['Users', s.setupRequired ? `${s.users} (setup required: no admin yet)` : String(s.users)],
  ]);
}

function safeFingerprint(fp: string): string {
  try {
    return formatFingerprint(fp);
  } catch {
    return fp;
  }
}
