import { InvalidArgumentError, type Command } from 'commander';
import { RestoreSchema, type Restore } from '../../common/api/index.js';
import { withClient } from '../client/session.js';
import type { CliContext } from '../context.js';
import { UsageError } from '../errors.js';
import { Output } from '../output.js';
import { describeSteps, followWorkflow } from './backup.command.js';
import { parseDiskList } from './vm.command.js';

export interface RestoreOptions {
  // To files on a node:
  node?: string;
  path?: string;
  format?: 'qcow2' | 'raw';
  disks?: string;
  // Into a hypervisor as a new VM:
  import?: boolean;
  hypervisor?: string;
  name?: string;
  storageDir?: string;
  start?: boolean;
  // Both:
  overwrite?: boolean;
  wait?: boolean;
  /** Read the backup from its copy on this destination (name or id). */
  from?: string;
}

const FILES_USAGE = 'vplus restore BACKUP --node NODE --path DIR [--format qcow2|raw] [--disks vda,…]';
const IMPORT_USAGE = 'vplus restore BACKUP --import --hypervisor HYPERVISOR --name NEWNAME [--storage-dir DIR] [--start]';

export function registerRestoreCommand(program: Command, ctx: CliContext): void {
  program
    .command('restore')
    .description('restore a backup: to disk images on a node, or (--import) into a hypervisor as a new VM')
    .argument('<backup>', 'the backup, by its id in the catalog (vplus backup list shows it)', parseBackupId)
    .option('--node <node>', 'to files: the node that writes them (name or id)')
    .option('--path <dir>', 'to files: the absolute directory on that node for the disk images and the VM definition')
    .option('--format <format>', 'to files: the disk image format, qcow2 (sparse) or raw (default: qcow2)', parseFormat)
    .option('--disks <list>', 'to files: only these disks, e.g. vda,vdb (default: every disk in the backup)')
    .option('--import', 'restore into a hypervisor and define a new VM (new name, UUID and MAC addresses)')
    .option('--hypervisor <hypervisor>', 'with --import: the hypervisor to define the VM on (name or id)')
    .option('--name <newname>', 'with --import: the new VM\'s name')
    .option('--storage-dir <dir>', 'with --import: the directory on the host for the new disks (default: /var/lib/libvirt/images; they go in a subdirectory named after the VM)')
    .option('--start', 'with --import: start the new VM once it is defined')
    .option('--from <dest>', "read the backup from its copy on this destination (name or id) instead of its own (vplus copy list shows the copies)")
    .option('--overwrite', 'replace files (and with --import a VM of that name) that exist already; without it they are refused')
    .option('--wait', 'follow the restore to its end with progress (and the import after it); exit 1 when it fails')
    .action((backup: number, options: RestoreOptions) => restoreBackup(ctx, backup, options));
}

// ---- arguments ---------------------------------------------------------------

export function parseBackupId(value: string): number {
  if (!/^\d+$/.test(value.trim()) || Number(value) < 1 || !Number.isSafeInteger(Number(value))) {
    throw new InvalidArgumentError('a backup is given by its id in the catalog, a positive whole number as vplus backup list shows it.');
  }
  return Number(value);
}

function parseFormat(value: string): 'qcow2' | 'raw' {
  const format = value.trim().toLowerCase();
  if (format === 'qcow2' || format === 'raw') return format;
  throw new InvalidArgumentError('--format is qcow2 or raw.');
}

/** The options that belong to the other kind of restore, as given. */
function given(options: RestoreOptions, names: readonly (keyof RestoreOptions)[]): string[] {
  const flag = (name: string): string => `--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
  return names.filter((n) => options[n] !== undefined && options[n] !== false).map(flag);
}

/** The flags among these that were not given. */
function absent(flags: readonly (readonly [string, string | undefined])[]): string[] {
  return flags.filter(([, value]) => value === undefined).map(([flag]) => flag);
}

function checked(request: unknown): Restore {
  const result = RestoreSchema.safeParse(request);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = issue?.path[0];
  const flag = field === 'storageDir' ? '--storage-dir' : typeof field === 'string' ? `--${field}` : 'the restore';
  throw new UsageError(`${flag}: ${issue?.message ?? 'not accepted'}`);
}

/**
 * The API's restore request from the flags, or a usage error (exit 2) naming
 * what is missing or does not belong: to files needs --node and --path, an
 * import --hypervisor and --name, and neither takes the other's flags.
 */
export function restoreRequest(backup: number, options: RestoreOptions): Restore {
  const overwrite = options.overwrite ?? false;
  if (options.import) {
    const wrong = given(options, ['node', 'path', 'format', 'disks']);
    if (wrong.length > 0) throw new UsageError(`${wrong.join(', ')} ${wrong.length === 1 ? 'is' : 'are'} for a restore to files, not with --import; an import is: ${IMPORT_USAGE}`);
    const missing = absent([
      ['--hypervisor', options.hypervisor],
      ['--name', options.name],
    ]);
    if (missing.length > 0) throw new UsageError(`--import needs ${missing.join(' and ')}: ${IMPORT_USAGE}`);
    if (options.storageDir !== undefined && !options.storageDir.startsWith('/')) throw new UsageError(`--storage-dir "${options.storageDir}": the directory must be absolute`);
    return checked({
      mode: 'import',
      backup,
      hypervisor: options.hypervisor,
      name: options.name,
      ...(options.storageDir !== undefined ? { storageDir: options.storageDir.replace(/(.)\/+$/, '$1') } : {}),
      start: options.start ?? false,
      overwrite,
    });
  }
  const wrong = given(options, ['hypervisor', 'name', 'storageDir', 'start']);
  if (wrong.length > 0) throw new UsageError(`${wrong.join(', ')} ${wrong.length === 1 ? 'goes' : 'go'} with --import: ${IMPORT_USAGE}`);
  const missing = absent([
    ['--node', options.node],
    ['--path', options.path],
  ]);
  if (missing.length > 0) throw new UsageError(`a restore to files needs ${missing.join(' and ')} (or --import to restore into a hypervisor): ${FILES_USAGE}`);
  if (options.node!.trim() === '') throw new UsageError('--node needs a node name or id, as vplus node list shows it');
  if (!options.path!.startsWith('/')) throw new UsageError(`--path "${options.path}": the path must be absolute`);
  return checked({
    mode: 'files',
    backup,
    node: options.node,
    path: options.path!.replace(/(.)\/+$/, '$1'),
    format: options.format ?? 'qcow2',
    ...(options.disks !== undefined ? { disks: parseDiskList(options.disks) } : {}),
    overwrite,
  });
}

// ---- command -----------------------------------------------------------------------

export function describeRestore(request: Restore): string {
  if (request.mode === 'files') {
    const disks = request.disks ? ` (disks ${request.disks.join(', ')})` : '';
    return `Restoring backup ${request.backup}${disks} as ${request.format} to ${request.path} on node ${request.node}`;
  }
  const where = request.storageDir ? ` with its disks in ${request.storageDir}/${request.name}` : '';
  return `Restoring backup ${request.backup} into hypervisor ${request.hypervisor} as the new VM ${request.name}${where}${request.start ? ', then starting it' : ''}`;
}

async function restoreBackup(ctx: CliContext, backup: number, options: RestoreOptions): Promise<void> {
  const { from, ...rest } = options;
  if (from !== undefined && from.trim() === '') throw new UsageError('--from needs a destination name or id, as vplus copy list shows it');
  const base = restoreRequest(backup, rest);
  const out = new Output(ctx);
  await withClient(ctx, async (client) => {
    const source = from === undefined ? undefined : await client.getDestination(from.trim());
    const request: Restore = source ? { ...base, fromDestinationId: source.id } : base;
    if (source) out.line(`Reading backup ${backup} from its copy on destination ${source.name}.`);
    const started = await client.restore(request);
    const types = request.mode === 'files' ? ['RESTORE'] : ['RESTORE', 'IMPORT'];
    const workflow = started.taskIds.length > 1 ? `, workflow ${started.workflowId}` : '';
    out.line(`${describeRestore(request)}: ${describeSteps(started.taskIds, types)}${workflow}.`);
    await followWorkflow(ctx, client, started, options);
  });
}
