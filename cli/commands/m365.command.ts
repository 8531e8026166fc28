import fs from 'node:fs/promises';
import type { Command } from 'commander';
import { CreateM365TenantSchema, M365_DEFAULT_AUTHORITY_HOST, M365_DEFAULT_GRAPH_URL, type CreateM365Tenant } from '../../common/api/m365.js';
import { sameName } from '../../common/names.js';
import { M365Client } from '../client/m365-client.js';
import { withClient } from '../client/session.js';
import type { CliContext } from '../context.js';
import { CliError, UsageError, errorMessage } from '../errors.js';
import { formatConnectionTest, formatSites, formatTenants, formatUsers } from '../m365-format.js';
import { Output } from '../output.js';
import { readSecret } from '../secrets.js';
import { plural } from '../task-results.js';
import { registerM365BackupCommands } from './m365-backup.command.js';
import { followStartedTask } from './task.command.js';

/** A PEM file is a few KiB; a CA bundle a few hundred. */
const MAX_PEM_BYTES = 64 * 1024;

export interface TenantAddOptions {
  tenantId: string;
  clientId: string;
  node: string;
  clientSecretStdin?: boolean;
  certificateFile?: string;
  privateKeyFile?: string;
  authorityHost?: string;
  graphUrl?: string;
  caFile?: string;
  json?: boolean;
}

export function registerM365Commands(program: Command, ctx: CliContext): void {
  const m365 = program.command('m365').description('Microsoft 365: tenants, their users (OneDrive) and SharePoint sites, their backups and restores');
  const tenant = m365.command('tenant').description('Microsoft 365 tenants, each reached through an app registration from one node');

  tenant
    .command('add')
    .description('add a tenant: its node signs in first (a wrong secret or id is refused, nothing saved), then lists its users and sites')
    .argument('<name>', 'tenant name, e.g. contoso')
    .requiredOption('--tenant-id <id>', 'Directory (tenant) ID, or the tenant domain (contoso.onmicrosoft.com)')
    .requiredOption('--client-id <id>', 'Application (client) ID of the app registration')
    .requiredOption('--node <node>', 'the node that reaches Microsoft 365 and runs this tenant’s tasks (name or id)')
    .option('--client-secret-stdin', "the client secret's Value, from stdin (asked without echo on a terminal)")
    .option('--certificate-file <pem>', 'instead of a secret: the certificate registered on the app (PEM), with --private-key-file')
    .option('--private-key-file <pem>', "the certificate's private key (PEM, not encrypted)")
    .option('--authority-host <url>', `sign-in host (national clouds, proxies; default: ${M365_DEFAULT_AUTHORITY_HOST})`)
    .option('--graph-url <url>', `Microsoft Graph base URL (default: ${M365_DEFAULT_GRAPH_URL})`)
    .option('--ca-file <pem>', "a CA to trust besides the system's, e.g. a TLS-inspecting proxy's (PEM)")
    .option('--json', 'print the added tenant and its connection test as JSON only')
    .action((name: string, options: TenantAddOptions) => addTenant(ctx, name, options));

  tenant
    .command('list')
    .description('list tenants with their connection, last sync and counts')
    .option('--json', 'print JSON only')
    .action(listing(ctx, (m) => m.listTenants(), formatTenants));

  tenant
    .command('test')
    .description('Test connection: sign in, then name each permission granted or missing (exit 1 when one is missing)')
    .argument('<name>', 'tenant name or id')
    .action((ref: string) =>
      withClient(ctx, async (client) => {
        const test = await new M365Client(client).testTenant(ref);
        new Output(ctx).line(formatConnectionTest(test));
        if (!test.ok) throw new CliError(`tenant ${ref}: ${test.message}`);
      }),
    );

  tenant
    .command('sync')
    .description('list the users and sites again now (an M365_SYNC task; the server also does it every 6 hours)')
    .argument('<name>', 'tenant name or id')
    .option('--wait', 'follow the sync and print what it found')
    .action((ref: string, options: { wait?: boolean }) =>
      withClient(ctx, async (client) => {
        const task = await new M365Client(client).syncTenant(ref);
        new Output(ctx).line(`Listing the users and sites of tenant ${task.subjectInfo?.name ?? ref}: task ${task.id}.`);
        await followStartedTask(ctx, client, task.id, options);
      }),
    );

  tenant
    .command('remove')
    .description('forget a tenant, its credential and its users and sites; nothing in Microsoft 365 is touched')
    .argument('<name>', 'tenant name or id')
    .action((ref: string) =>
      withClient(ctx, async (client) => {
        const m = new M365Client(client);
        const known = (await m.listTenants()).find((t) => String(t.id) === ref.trim() || sameName(t.name, ref));
        await m.removeTenant(ref);
        const what = known ? `"${known.name}" with ${plural(known.users, 'user')} and ${plural(known.sites, 'site')}` : ref;
        new Output(ctx).line(`Removed tenant ${what} from the inventory; its credential is deleted from the catalog.`);
      }),
    );

  m365
    .command('user')
    .description('users of the tenants')
    .command('list')
    .description('list users: OneDrive or not, policy and last backup')
    .option('--tenant <name>', 'only this tenant (name or id)')
    .option('--json', 'print JSON only')
    .action(listing(ctx, (m, tenant) => m.listUsers(tenant), formatUsers));

  m365
    .command('site')
    .description('SharePoint sites of the tenants')
    .command('list')
    .description('list sites with their document libraries')
    .option('--tenant <name>', 'only this tenant (name or id)')
    .option('--json', 'print JSON only')
    .action(listing(ctx, (m, tenant) => m.listSites(tenant), formatSites));

  registerM365BackupCommands(m365, ctx);
}

/** A list command: JSON with --json, a table otherwise; --tenant narrows it where it is offered. */
function listing<T>(ctx: CliContext, load: (m: M365Client, tenant?: string) => Promise<T[]>, format: (rows: readonly T[]) => string) {
  return (options: { tenant?: string; json?: boolean }) =>
    withClient(ctx, async (client) => {
      const rows = await load(new M365Client(client), options.tenant);
      const out = new Output(ctx);
      if (options.json) out.json(rows);
      else out.line(format(rows));
    });
}

async function addTenant(ctx: CliContext, name: string, options: TenantAddOptions): Promise<void> {
  const out = new Output(ctx);
  const request = await tenantRequest(ctx, name, options);
  await withClient(ctx, async (client) => {
    out.note(`Signing in to ${request.tenantId} from node ${request.node} and checking the permissions…`);
    const added = await new M365Client(client).addTenant(request);
    if (options.json) return out.json(added);
    const t = added.tenant;
    out.line(`Added tenant "${t.name}" (${t.tenantId}, app ${t.clientId}) on node ${t.node}.`);
    out.line(formatConnectionTest(added.test));
    if (!added.test.ok) out.note(`warning: ${added.test.message}`);
    if (added.syncTaskId !== null) out.line(`Listing its users and sites: task ${added.syncTaskId}. See them with: vplus m365 user list --tenant ${t.name}`);
  });
}

/** The request, checked here as the server would check it (usage errors, exit 2); the secret read last. */
async function tenantRequest(ctx: CliContext, name: string, o: TenantAddOptions): Promise<CreateM365Tenant> {
  const certificate = o.certificateFile !== undefined || o.privateKeyFile !== undefined;
  if (o.clientSecretStdin && certificate) throw new UsageError('give either --client-secret-stdin or --certificate-file with --private-key-file, not both');
  if (!o.clientSecretStdin && !certificate) throw new UsageError("give the app's credential: --client-secret-stdin (its Value on stdin), or --certificate-file with --private-key-file");
  if (certificate && (o.certificateFile === undefined || o.privateKeyFile === undefined)) throw new UsageError('--certificate-file and --private-key-file go together');
  const request: CreateM365Tenant = {
    name,
    node: o.node,
    tenantId: o.tenantId,
    clientId: o.clientId,
    credentialKind: certificate ? 'certificate' : 'secret',
    authorityHost: o.authorityHost ?? M365_DEFAULT_AUTHORITY_HOST,
    graphUrl: o.graphUrl ?? M365_DEFAULT_GRAPH_URL,
    ...(o.caFile !== undefined ? { caPem: await readPem(o.caFile, '--ca-file') } : {}),
    ...(certificate ? { certificatePem: await readPem(o.certificateFile!, '--certificate-file'), privateKeyPem: await readPem(o.privateKeyFile!, '--private-key-file') } : {}),
  };
  // Everything but the secret first: a typo is reported before anyone types a secret.
  const checked = CreateM365TenantSchema.safeParse({ ...request, ...(certificate ? {} : { clientSecret: 'not read yet' }) });
  if (!checked.success) {
    const issue = checked.error.issues[0];
    const flag = FLAGS[String(issue?.path[0] ?? '')] ?? String(issue?.path[0] ?? 'the request');
    throw new UsageError(`${flag}: ${issue?.message ?? 'not accepted'}`);
  }
  if (certificate) return request;
  return { ...request, clientSecret: await readSecret(ctx, { prompt: 'Client secret (its Value): ', what: 'client secret' }) };
}

/** The flag each field of the request comes from, to name it in a usage error. */
const FLAGS: Record<string, string> = {
  name: 'NAME',
  node: '--node',
  tenantId: '--tenant-id',
  clientId: '--client-id',
  authorityHost: '--authority-host',
  graphUrl: '--graph-url',
  caPem: '--ca-file',
  certificatePem: '--certificate-file',
  privateKeyPem: '--private-key-file',
};

async function readPem(file: string, flag: string): Promise<string> {
  try {
    const stat = await fs.stat(file);
    if (!stat.isFile()) throw new UsageError(`${flag} ${file} is not a file`);
    if (stat.size > MAX_PEM_BYTES) throw new UsageError(`${flag} ${file} is larger than ${MAX_PEM_BYTES / 1024} KiB; is it a PEM file?`);
    return await fs.readFile(file, 'utf8');
  } catch (err) {
    if (err instanceof UsageError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(`cannot read ${flag} ${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : errorMessage(err)}`);
  }
}
