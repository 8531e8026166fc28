import type { Command } from 'commander';
import { CreateHypervisorSchema, type Hypervisor } from '../../common/api/index.js';
import { sameName } from '../../common/names.js';
import { withClient } from '../client/session.js';
import type { CliContext } from '../context.js';
import { UsageError } from '../errors.js';
import { formatTable, formatTimestamp } from '../format.js';
import { Output } from '../output.js';
import { plural, subjectOf } from '../task-results.js';
import { followStartedTask } from './task.command.js';

export const DEFAULT_LIBVIRT_URI = 'qemu:///system';

export interface HypervisorAddOptions {
  node: string;
  uri?: string;
}

export function registerHypervisorCommands(program: Command, ctx: CliContext): void {
  const hypervisor = program.command('hypervisor').description('KVM hosts, each served by the node installed on it');

  hypervisor
    .command('add')
    .description("add a KVM host: the node on it lists its VMs first (this takes a few seconds; the node must be online)")
    .argument('<name>', 'hypervisor name')
    .requiredOption('--node <node>', 'the node running on this host (name or id)')
    .option('--uri <uri>', `the libvirt URI the node connects to (default: ${DEFAULT_LIBVIRT_URI})`)
    .action((name: string, options: HypervisorAddOptions) => addHypervisor(ctx, name, options));

  hypervisor
    .command('list')
    .description('list hypervisors with the number of VMs on each')
    .option('--json', 'print JSON only')
    .action((options: { json?: boolean }) => listHypervisors(ctx, options));

  hypervisor
    .command('sync')
    .description("list the host's VMs again now (an INVENTORY_SYNC task; the server also does it every 15 minutes)")
    .argument('<name>', 'hypervisor name or id')
    .option('--wait', 'follow the sync and print the VMs found')
    .action((ref: string, options: { wait?: boolean }) => syncHypervisor(ctx, ref, options));

  hypervisor
    .command('remove')
    .description('forget a hypervisor and its VMs; backups already taken stay on their destinations')
    .argument('<name>', 'hypervisor name or id')
    .action((ref: string) => removeHypervisor(ctx, ref));
}

// ---- arguments ---------------------------------------------------------------

export function validateHypervisorName(name: string): string {
  const result = CreateHypervisorSchema.shape.name.safeParse(name);
  if (result.success) return result.data;
  throw new UsageError(`invalid hypervisor name "${name}": ${result.error.issues[0]?.message ?? 'not accepted'}`);
}

export function validateLibvirtUri(uri: string): string {
  const result = CreateHypervisorSchema.shape.uri.safeParse(uri.trim());
  if (result.success) return result.data;
  throw new UsageError(`--uri "${uri}": ${result.error.issues[0]?.message ?? 'not accepted'}`);
}

// ---- commands -------------------------------------------------------------------

async function addHypervisor(ctx: CliContext, name: string, options: HypervisorAddOptions): Promise<void> {
  const out = new Output(ctx);
  const hypervisorName = validateHypervisorName(name);
  const uri = validateLibvirtUri(options.uri ?? DEFAULT_LIBVIRT_URI);
  if (options.node.trim() === '') throw new UsageError('--node needs a node name or id, as vplus node list shows it');
  await withClient(ctx, async (client) => {
    out.note(`Listing the VMs of ${uri} on node ${options.node}…`);
    const created = await client.createHypervisor({ name: hypervisorName, node: options.node, uri });
    out.line(`Added hypervisor "${created.name}" on node ${created.node} (${created.uri}) with ${plural(created.vms, 'VM')}.`);
    if (created.vms > 0) out.line(`See them with: vplus vm list --hypervisor ${created.name}`);
  });
}

async function listHypervisors(ctx: CliContext, options: { json?: boolean }): Promise<void> {
  const out = new Output(ctx);
  await withClient(ctx, async (client) => {
    const hypervisors = await client.listHypervisors();
    if (options.json) out.json(hypervisors);
    else out.line(formatHypervisors(hypervisors));
  });
}

async function syncHypervisor(ctx: CliContext, ref: string, options: { wait?: boolean }): Promise<void> {
  const out = new Output(ctx);
  await withClient(ctx, async (client) => {
    const task = await client.syncHypervisor(ref);
    out.line(`Listing the VMs of hypervisor ${subjectOf(task, 'hypervisor') ?? ref}: task ${task.id}.`);
    await followStartedTask(ctx, client, task.id, options);
  });
}

async function removeHypervisor(ctx: CliContext, ref: string): Promise<void> {
  const out = new Output(ctx);
  await withClient(ctx, async (client) => {
    const known = (await client.listHypervisors()).find((h) => String(h.id) === ref.trim() || sameName(h.name, ref));
    await client.deleteHypervisor(ref);
    const what = known ? `"${known.name}" and its ${plural(known.vms, 'VM')}` : ref;
    out.line(`Removed hypervisor ${what} from the inventory; backups already taken stay on their destinations (vplus backup list shows them).`);
  });
}

// ---- formatting ------------------------------------------------------------------

const STATUS_WORDS: Record<Hypervisor['status'], string> = { ok: 'ok', error: 'error', unknown: 'not synced yet' };

export function formatHypervisors(hypervisors: readonly Hypervisor[]): string {
  if (hypervisors.length === 0) return 'No hypervisors. Add a KVM host with vplus hypervisor add NAME --node NODE.';
  const table = formatTable(
    ['ID', 'NAME', 'NODE', 'URI', 'STATUS', 'VMS', 'LAST SYNC'],
    hypervisors.map((h) => [String(h.id), h.name, h.node, h.uri, STATUS_WORDS[h.status], String(h.vms), formatTimestamp(h.lastSyncAt)]),
  );
  // An error says why in a sentence of its own; a table cell would be too narrow.
  const problems = hypervisors.filter((h) => h.status === 'error' && h.statusMessage).map((h) => `${h.name}: ${h.statusMessage}`);
  return [table, ...problems].join('\n');
}
