import type { Command } from 'commander';
import { BACKUP_NOTES_MAX, type Backup, type Destination, type TaskDetails, type Vm } from '../../common/api/index.js';
import { StoreParamsSchema, StoreResultSchema } from '../../common/kvm-tasks.js';
import { ApiRequestError, type ApiClient, type BackupQuery, type StartedWorkflow } from '../client/api-client.js';
import { withClient } from '../client/session.js';
import type { CliContext } from '../context.js';
import { CliError, UsageError, errorMessage } from '../errors.js';
import { formatBytes, formatTable, formatTimestamp } from '../format.js';
import { Output } from '../output.js';
import { waitForTasks } from '../task-follower.js';
import { intParser } from './task.command.js';

/** The API's default page (BackupListQuerySchema). */
const DEFAULT_LIMIT = 200;
const MAX_LIMIT = 1000;

interface BackupListOptions {
  destination?: string;
  limit?: number;
  cursor?: string;
  json?: boolean;
}

export interface BackupRunOptions {
  full?: boolean;
  destination?: string;
  wait?: boolean;
}

export function registerBackupCommands(program: Command, ctx: CliContext): void {
  const backup = program.command('backup').description('back up VMs, and the backups in the catalog');

  backup
    .command('run')
    .description('back up a VM now: an EXPORT task on its host, then a STORE task into the destination')
    .argument('<vm>', 'VM name, UUID or id')
    .option('--full', 'take a full backup even when an incremental one is possible')
    .option('--destination <dest>', 'where to store it (name or id); needed unless there is only one destination')
    .option('--wait', 'follow both tasks to the end with progress; exit 1 when either fails')
    .action((vm: string, options: BackupRunOptions) => runBackup(ctx, vm, options));

  backup
    .command('list')
    .description('list backups, newest first')
    .argument('[vm]', 'only the backups of this VM (name, UUID or id)')
    .option('--destination <dest>', 'only the backups on this destination (name or id)')
    .option('--limit <n>', `at most this many backups, 1 to ${MAX_LIMIT} (default: ${DEFAULT_LIMIT})`, intParser('--limit', 1, MAX_LIMIT))
    .option('--cursor <cursor>', 'the page after the one that printed this cursor')
    .option('--json', 'print JSON only (an array of the page\'s backups)')
    .action((vm: string | undefined, options: BackupListOptions) => listBackups(ctx, vm, options));

  for (const protect of [true, false]) {
    backup
      .command(protect ? 'protect' : 'unprotect')
      .description(protect ? 'keep a backup whatever retention says (it cannot be deleted until unprotected)' : 'let retention decide about a backup again')
      .argument('<backup>', 'backup id, as vplus backup list shows it', backupIdParser)
      .option('--json', 'print the backup as JSON only')
      .action((id: number, options: { json?: boolean }) => updateBackup(ctx, id, { protected: protect }, options));
  }

  backup
    .command('note')
    .description(`set a backup's notes (at most ${BACKUP_NOTES_MAX} characters), or remove them with --clear`)
    .argument('<backup>', 'backup id', backupIdParser)
    .argument('[text]', 'the notes')
    .option('--clear', 'remove the notes')
    .option('--json', 'print the backup as JSON only')
    .action((id: number, text: string | undefined, options: { clear?: boolean; json?: boolean }) => {
      if (options.clear && text !== undefined) throw new UsageError('give either the notes or --clear, not both');
      if (!options.clear && (text === undefined || text.trim() === '')) throw new UsageError('give the notes as text, or --clear to remove them');
      if (text !== undefined && text.length > BACKUP_NOTES_MAX) throw new UsageError(`notes can be at most ${BACKUP_NOTES_MAX} characters; these have ${text.length}`);
      return updateBackup(ctx, id, { notes: options.clear ? null : (text ?? null) }, options);
    });

  backup
    .command('delete')
    .description("delete one backup from its destination, its copies on other destinations and the catalog (tasks on the destinations' nodes); refused while it is protected")
    .argument('<backup>', 'backup id', backupIdParser)
    .option('--keep-copies', 'delete it from its own destination only: each complete copy stays, as a backup of its destination')
    .option('--wait', 'follow the task to its end; exit 1 when it fails')
    .action((id: number, options: { wait?: boolean; keepCopies?: boolean }) => deleteBackup(ctx, id, options));
}

function backupIdParser(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new UsageError(`"${value}" is not a backup id; vplus backup list shows them`);
  return Number(value);
}

// ---- protect, note, delete ---------------------------------------------------------

async function updateBackup(ctx: CliContext, id: number, change: { protected?: boolean; notes?: string | null }, options: { json?: boolean }): Promise<void> {
  const out = new Output(ctx);
  await withClient(ctx, async (client) => {
    const b = await client.updateBackup(id, change);
    if (options.json) return out.json(b);
    const what = `Backup ${b.id} of ${b.vmName ?? b.vm} (${formatTimestamp(b.createdAt)}) on ${b.destination}`;
    if (change.protected === true) out.line(`${what} is protected: retention never removes it, and it cannot be deleted until unprotected.`);
    else if (change.protected === false) out.line(`${what} is no longer protected: retention decides about it again.`);
    else out.line(b.notes === null ? `${what} has no notes now.` : `${what}: notes saved.`);
  });
}

async function deleteBackup(ctx: CliContext, id: number, options: { wait?: boolean; keepCopies?: boolean }): Promise<void> {
  const out = new Output(ctx);
  await withClient(ctx, async (client) => {
    const task = await client.deleteBackup(id, { keepCopies: options.keepCopies ?? false });
    out.line(`Deleting backup ${id}: task ${task.id} (BACKUP_DELETE) on its destination's node${options.keepCopies ? '; its copies stay, as backups of their destinations' : ' (and one on each destination holding a copy of it)'}.`);
    if (!options.wait) return out.line(followHint([task.id]));
    await waitForTasks(ctx, client, [task.id]);
    out.line(`Backup ${id} is deleted; the destination's next garbage collection frees its space.`);
  });
}

// ---- run ---------------------------------------------------------------------------

/**
 * The destination a backup goes to: the one named, else the only one there
 * is. With several and none named the user has to choose (exit 2).
 */
export function chooseDestination(named: string | undefined, destinations: readonly Pick<Destination, 'name'>[]): { name: string; chosen: boolean } {
  if (named !== undefined) return { name: named, chosen: false };
  if (destinations.length === 0) {
    throw new CliError('there is no destination to store the backup in; add one with vplus destination add NAME --node NODE --path DIR');
  }
  if (destinations.length > 1) {
    throw new UsageError(`there are ${destinations.length} destinations (${destinations.map((d) => d.name).join(', ')}); choose one with --destination`);
  }
  return { name: destinations[0]!.name, chosen: true };
}

/** "tasks 31 (EXPORT) and 32 (STORE)" */
export function describeSteps(taskIds: readonly number[], types: readonly string[]): string {
  const steps = taskIds.map((id, i) => (types[i] ? `${id} (${types[i]})` : String(id)));
  if (steps.length === 1) return `task ${steps[0]}`;
  return `tasks ${steps.slice(0, -1).join(', ')} and ${steps.at(-1)}`;
}

/** How to follow a workflow's tasks later, one after the other. */
export function followHint(taskIds: readonly number[]): string {
  return `Follow it with: ${taskIds.map((id) => `vplus task wait ${id}`).join(' && ')}`;
}

/** Without --wait, how to follow; with it, every task in turn (exit 1 on the first that fails). */
export async function followWorkflow(ctx: CliContext, client: ApiClient, started: StartedWorkflow, options: { wait?: boolean }): Promise<TaskDetails[] | undefined> {
  if (!options.wait) {
    new Output(ctx).line(followHint(started.taskIds));
    return undefined;
  }
  return waitForTasks(ctx, client, started.taskIds);
}

async function runBackup(ctx: CliContext, vm: string, options: BackupRunOptions): Promise<void> {
  if (vm.trim() === '') throw new UsageError('give the VM to back up by name, UUID or id, as vplus vm list shows it');
  const out = new Output(ctx);
  await withClient(ctx, async (client) => {
    const destination = chooseDestination(options.destination, options.destination === undefined ? await client.listDestinations() : []);
    if (destination.chosen) out.note(`Storing it in destination ${destination.name}, the only one.`);
    const full = options.full ?? false;
    const started = await client.runBackup({ vm, destination: destination.name, full });
    out.line(
      `Backing up VM ${vm} to destination ${destination.name}${full ? ' (full)' : ''}: ` +
        `${describeSteps(started.taskIds, ['EXPORT', 'STORE'])}, workflow ${started.workflowId}.`,
    );
    const ended = await followWorkflow(ctx, client, started, options);
    const store = ended?.find((t) => t.type === 'STORE');
    if (store) await printCatalogEntry(ctx, client, store, destination.name);
  });
}

/**
 * After a STORE: the backup's catalog id, which `vplus restore` takes. Only
 * a hint: when it cannot be found the command has still succeeded.
 */
async function printCatalogEntry(ctx: CliContext, client: ApiClient, store: TaskDetails, destination: string): Promise<void> {
  const params = StoreParamsSchema.safeParse(store.params);
  const result = StoreResultSchema.safeParse(store.result);
  if (!params.success || !result.success) return;
  try {
    const { backups } = await client.listBackups({ vm: params.data.vm.uuid, destination: String(params.data.destinationId), limit: 20 });
    const entry = backups.find((b) => b.repoBackupId === result.data.backupId);
    if (!entry) return;
    new Output(ctx).line(`Backup ${entry.id} on destination ${entry.destination}; restore it with: vplus restore ${entry.id} --node NODE --path DIR`);
  } catch (err) {
    if (ctx.env.VPLUS_DEBUG) ctx.stderr.write(`debug: could not find backup ${result.data.backupId} on ${destination} in the catalog (${errorMessage(err)})\n`);
  }
}

// ---- list --------------------------------------------------------------------------

/**
 * Backups are recorded by the VM's UUID: a VM named by name or id is looked
 * up first. One the inventory does not know (its hypervisor was removed)
 * is passed on as given, so the backups of a VM gone by its UUID still list.
 */
async function resolveVm(client: ApiClient, ref: string): Promise<Vm | null> {
  try {
    return await client.getVm(ref);
  } catch (err) {
    if (err instanceof ApiRequestError && err.status === 404) return null;
    throw err;
  }
}

/** UUID → name for the VMs the inventory knows; empty when it cannot be had (the table then shows UUIDs). */
async function vmNames(client: ApiClient): Promise<Map<string, string>> {
  try {
    return new Map((await client.listVms()).map((v) => [v.uuid, v.name]));
  } catch (err) {
    if (err instanceof ApiRequestError) return new Map();
    throw err;
  }
}

async function listBackups(ctx: CliContext, vmRef: string | undefined, options: BackupListOptions): Promise<void> {
  const out = new Output(ctx);
  await withClient(ctx, async (client) => {
    const vm = vmRef === undefined ? null : await resolveVm(client, vmRef);
    const names = vm ? new Map([[vm.uuid, vm.name]]) : options.json ? new Map<string, string>() : await vmNames(client);
    const query: BackupQuery = {
      ...(vmRef !== undefined ? { vm: vm?.uuid ?? vmRef } : {}),
      ...(options.destination !== undefined ? { destination: options.destination } : {}),
      ...(options.limit !== undefined ? { limit: options.limit } : {}),
      ...(options.cursor !== undefined ? { cursor: options.cursor } : {}),
    };
    const { backups, nextCursor } = await client.listBackups(query);
    if (options.json) out.json(backups);
    else out.line(formatBackups(backups, { ...query, ...(vmRef !== undefined ? { vm: vm?.name ?? vmRef } : {}) }, names));
    if (nextCursor !== null) out.note(`There are older backups: add --cursor ${nextCursor} for the next ${options.limit ?? DEFAULT_LIMIT}.`);
  });
}

/** The table of backups; `names` shows VMs by name instead of the UUID they are recorded by. */
export function formatBackups(
  backups: readonly Backup[],
  query: Pick<BackupQuery, 'vm' | 'destination'> = {},
  names: ReadonlyMap<string, string> = new Map(),
): string {
  if (backups.length === 0) {
    const of = query.vm !== undefined ? ` of ${query.vm}` : '';
    const on = query.destination !== undefined ? ` on destination ${query.destination}` : '';
    return `No backups${of}${on}.`;
  }
  const table = formatTable(
    ['ID', 'VM', 'TYPE', 'CREATED', 'STATUS', 'LOGICAL', 'STORED', 'DESTINATION'],
    backups.map((b) => [
      String(b.id),
      names.get(b.vm) ?? b.vm,
      b.type ?? '-',
      formatTimestamp(b.createdAt),
      b.status === 'damaged' || b.status === 'missing' ? b.status.toUpperCase() : b.status,
      formatBytes(b.logicalBytes),
      b.storedBytes === null ? '-' : formatBytes(b.storedBytes),
      b.destination,
    ]),
  );
  // Damage is said in words under the table, where the admin is looking.
  const problems = backups.filter((b) => b.status === 'damaged' || b.status === 'missing').map((b) => `backup ${b.id} is ${b.status}: ${b.statusDetail ?? 'see the last verify'}`);
  return problems.length > 0 ? `${table}\n\n${problems.join('\n')}` : table;
}
