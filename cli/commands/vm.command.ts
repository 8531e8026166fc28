import type { Command } from 'commander';
import type { Backup, Vm } from '../../common/api/index.js';
import { withClient } from '../client/session.js';
import type { CliContext } from '../context.js';
import { CliError, UsageError } from '../errors.js';
import { formatBytes, formatTable, formatTimestamp } from '../format.js';
import { Output, formatFields } from '../output.js';
import { plural } from '../task-results.js';
import { formatBackups } from './backup.command.js';

/** Backups `vm show` lists under the VM. */
const RECENT_BACKUPS = 5;
/** UpdateVmSchema's limits. */
const MAX_DISKS = 64;
const MAX_DISK_NAME = 32;

export function registerVmCommands(program: Command, ctx: CliContext): void {
  const vm = program.command('vm').description('the virtual machines on the hypervisors');

  vm.command('list')
    .description('list VMs with their state, policy and last backup')
    .option('--json', 'print JSON only')
    .option('--hypervisor <name>', 'only the VMs of this hypervisor (name or id)')
    .action((options: { json?: boolean; hypervisor?: string }) => listVms(ctx, options));

  vm.command('show')
    .description('show a VM: its disks (and which are backed up) and its recent backups')
    .argument('<vm>', 'VM name, UUID or id')
    .option('--json', 'print JSON only')
    .action((ref: string, options: { json?: boolean }) => showVm(ctx, ref, options));

  vm.command('exclude')
    .description("leave disks out of this VM's backups")
    .argument('<vm>', 'VM name, UUID or id')
    .requiredOption('--disks <list>', 'disk targets separated by commas, e.g. vdb,vdc (vplus vm show lists them)')
    .action((ref: string, options: { disks: string }) => changeExcluded(ctx, ref, 'exclude', options.disks));

  vm.command('include')
    .description("back up disks that were excluded again")
    .argument('<vm>', 'VM name, UUID or id')
    .requiredOption('--disks <list>', 'disk targets separated by commas, e.g. vdb,vdc')
    .action((ref: string, options: { disks: string }) => changeExcluded(ctx, ref, 'include', options.disks));
}

// ---- arguments ---------------------------------------------------------------

/** "vda, vdb" → ["vda", "vdb"]: disk targets as libvirt names them, each once. */
export function parseDiskList(value: string, what = '--disks'): string[] {
  const disks = [...new Set(value.split(',').map((d) => d.trim()).filter((d) => d !== ''))];
  if (disks.length === 0) throw new UsageError(`${what} needs disk targets separated by commas, e.g. ${what} vda,vdb`);
  for (const disk of disks) {
    if (disk.length > MAX_DISK_NAME || !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(disk)) {
      throw new UsageError(`${what}: "${disk}" is not a disk target; give targets such as vda or sdb, separated by commas`);
    }
  }
  if (disks.length > MAX_DISKS) throw new UsageError(`${what}: at most ${MAX_DISKS} disks`);
  return disks;
}

/**
 * The VM's excluded disks after excluding (or including) `disks`. A disk
 * the VM does not have is an error: a typo must not pass silently.
 */
export function excludedAfter(vm: Pick<Vm, 'name' | 'disks'>, change: 'exclude' | 'include', disks: readonly string[]): string[] {
  const targets = vm.disks.map((d) => d.target);
  const unknown = disks.filter((d) => !targets.includes(d));
  if (unknown.length > 0) {
    const has = targets.length > 0 ? `its disks are ${targets.join(', ')}` : 'it has no disks';
    throw new CliError(`VM "${vm.name}" has no disk ${unknown.join(', ')}; ${has}`);
  }
  const excluded = new Set(vm.disks.filter((d) => d.excluded).map((d) => d.target));
  for (const disk of disks) {
    if (change === 'exclude') excluded.add(disk);
    else excluded.delete(disk);
  }
  if (change === 'exclude' && targets.length > 0 && targets.every((t) => excluded.has(t))) {
    throw new CliError(`that would leave every disk of VM "${vm.name}" out of its backups; keep at least one`);
  }
  // In the VM's disk order, so the list reads the same everywhere.
  return targets.filter((t) => excluded.has(t));
}

// ---- commands -------------------------------------------------------------------

async function listVms(ctx: CliContext, options: { json?: boolean; hypervisor?: string }): Promise<void> {
  const out = new Output(ctx);
  await withClient(ctx, async (client) => {
    const vms = await client.listVms(options.hypervisor);
    if (options.json) out.json(vms);
    else out.line(formatVms(vms, options.hypervisor));
  });
}

async function showVm(ctx: CliContext, ref: string, options: { json?: boolean }): Promise<void> {
  const out = new Output(ctx);
  await withClient(ctx, async (client) => {
    const vm = await client.getVm(ref);
    if (options.json) {
      out.json(vm);
      return;
    }
    // Backups are recorded by the VM's UUID.
    const { backups } = await client.listBackups({ vm: vm.uuid, limit: RECENT_BACKUPS });
    out.line(formatVm(vm, backups));
  });
}

async function changeExcluded(ctx: CliContext, ref: string, change: 'exclude' | 'include', list: string): Promise<void> {
  const disks = parseDiskList(list);
  const out = new Output(ctx);
  await withClient(ctx, async (client) => {
    const vm = await client.getVm(ref);
    const excluded = excludedAfter(vm, change, disks);
    const updated = (await client.updateVm(String(vm.id), { excludedDisks: excluded })) ?? {
      ...vm,
      disks: vm.disks.map((d) => ({ ...d, excluded: excluded.includes(d.target) })),
    };
    out.line(formatExclusion(updated));
  });
}

// ---- formatting ------------------------------------------------------------------

/** What a VM's state column says; a VM gone from its host is "missing". */
function stateOf(vm: Pick<Vm, 'state' | 'present'>): string {
  return vm.present ? vm.state : 'missing';
}

export function formatVms(vms: readonly Vm[], hypervisor?: string): string {
  if (vms.length === 0) {
    return hypervisor !== undefined
      ? `No VMs on hypervisor ${hypervisor}; list them again with vplus hypervisor sync ${hypervisor}.`
      : 'No VMs. Add a KVM host with vplus hypervisor add NAME --node NODE.';
  }
  return formatTable(
    ['ID', 'NAME', 'UUID', 'STATE', 'HYPERVISOR', 'POLICY', 'LAST BACKUP'],
    vms.map((v) => [String(v.id), v.name, v.uuid, stateOf(v), v.hypervisor, v.policy ?? '-', formatTimestamp(v.lastBackupAt)]),
  );
}

export function formatVm(vm: Vm, backups: readonly Backup[]): string {
  const last = vm.lastBackupAt ? `${formatTimestamp(vm.lastBackupAt)}${vm.lastBackupType ? ` (${vm.lastBackupType})` : ''}` : 'never';
  const fields: [string, string][] = [
    ['ID', String(vm.id)],
    ['Name', vm.name],
    ['UUID', vm.uuid],
    ['Hypervisor', vm.hypervisor],
    ['State', vm.present ? vm.state : 'missing (no longer on its host)'],
    ['vCPUs', String(vm.vcpus)],
    ['Memory', formatBytes(vm.memoryBytes)],
    ['Policy', vm.policy ?? 'none (not protected by a policy)'],
    ['Backups', String(vm.backups)],
    ['Last backup', last],
    ['Updated', formatTimestamp(vm.updatedAt)],
  ];
  const disks =
    vm.disks.length === 0
      ? 'Disks: none'
      : `Disks:\n${indent(
          formatTable(
            ['TARGET', 'FORMAT', 'SIZE', 'ALLOCATED', 'BACKUP', 'PATH'],
            vm.disks.map((d) => [
              d.target,
              d.format ?? '-',
              formatBytes(d.virtualBytes),
              d.allocatedBytes === null ? '-' : formatBytes(d.allocatedBytes),
              d.excluded ? 'excluded' : 'yes',
              d.path ?? '-',
            ]),
          ),
        )}`;
  const recent =
    backups.length === 0
      ? `Recent backups: none; take one with vplus backup run ${vm.name}`
      : `Recent backups:\n${indent(formatBackups(backups, {}, new Map([[vm.uuid, vm.name]])))}` +
        (vm.backups > backups.length ? `\n  (all ${vm.backups}: vplus backup list ${vm.name})` : '');
  return `${formatFields(fields)}\n${disks}\n${recent}`;
}

/** "VM prod-db: backups include vda and leave out vdb, vdc." */
export function formatExclusion(vm: Pick<Vm, 'name' | 'disks'>): string {
  const included = vm.disks.filter((d) => !d.excluded).map((d) => d.target);
  const excluded = vm.disks.filter((d) => d.excluded).map((d) => d.target);
  const include = included.length > 0 ? `include ${included.join(', ')}` : 'include no disk';
  const leave = excluded.length > 0 ? ` and leave out ${excluded.join(', ')}` : ` (${plural(included.length, 'disk')}, none left out)`;
  return `VM ${vm.name}: backups ${include}${leave}.`;
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n');
}
