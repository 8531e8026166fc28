import type { Command } from 'commander';
import type { Snapshot } from '../../common/api/index.js';
import { withClient } from '../client/session.js';
import type { CliContext } from '../context.js';
import { UsageError } from '../errors.js';
import { formatTable, formatTimestamp } from '../format.js';
import { Output } from '../output.js';
import { followStartedTask } from './task.command.js';

/** CreateSnapshotSchema's rule, checked before the server is asked. */
const SNAPSHOT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function registerSnapshotCommands(program: Command, ctx: CliContext): void {
  const snapshot = program.command('snapshot').description("a VM's libvirt snapshots (internal snapshots of qcow2 disks, with memory when the VM runs)");

  snapshot
    .command('create')
    .description('take a snapshot of a VM (a shut-off VM that has backup checkpoints cannot be snapshotted: start it first)')
    .argument('<vm>', 'VM name, UUID or id')
    .option('--name <name>', 'snapshot name (default: vplus-<UTC time>-<hex>)')
    .option('--wait', 'follow the task to the end; exit 1 when it fails')
    .action((vm: string, options: { name?: string; wait?: boolean }) => createSnapshot(ctx, vm, options));

  snapshot
    .command('list')
    .description("list a VM's snapshots, oldest first (asks the VM's node)")
    .argument('<vm>', 'VM name, UUID or id')
    .option('--json', 'print JSON only')
    .action((vm: string, options: { json?: boolean }) => listSnapshots(ctx, vm, options));

  snapshot
    .command('revert')
    .description('revert a VM to a snapshot (refused while the VM has backup checkpoints: QEMU cannot load a snapshot over dirty bitmaps)')
    .argument('<vm>', 'VM name, UUID or id')
    .argument('<snapshot>', 'snapshot name (vplus snapshot list VM)')
    .option('--discard-checkpoints', "delete the VM's backup checkpoints first; its next backup is then a full one")
    .option('--wait', 'follow the task to the end; exit 1 when it fails')
    .action((vm: string, name: string, options: { wait?: boolean; discardCheckpoints?: boolean }) => changeSnapshot(ctx, 'revert', vm, name, options));

  snapshot
    .command('delete')
    .description('delete a snapshot of a VM (backup checkpoints are kept)')
    .argument('<vm>', 'VM name, UUID or id')
    .argument('<snapshot>', 'snapshot name')
    .option('--wait', 'follow the task to the end; exit 1 when it fails')
    .action((vm: string, name: string, options: { wait?: boolean }) => changeSnapshot(ctx, 'delete', vm, name, options));
}

export function checkSnapshotName(name: string): string {
  if (!SNAPSHOT_NAME.test(name)) throw new UsageError(`"${name}" is not a snapshot name: use up to 64 letters, digits, ".", "_" and "-", starting with a letter or digit`);
  return name;
}

async function createSnapshot(ctx: CliContext, vm: string, options: { name?: string; wait?: boolean }): Promise<void> {
  const name = options.name === undefined ? undefined : checkSnapshotName(options.name);
  const out = new Output(ctx);
  await withClient(ctx, async (client) => {
    const task = await client.createSnapshot(vm, name);
    out.line(`Taking ${name ? `snapshot ${name}` : 'a snapshot'} of VM ${vm}: task ${task.id}.`);
    await followStartedTask(ctx, client, task.id, options);
  });
}

async function listSnapshots(ctx: CliContext, vm: string, options: { json?: boolean }): Promise<void> {
  const out = new Output(ctx);
  await withClient(ctx, async (client) => {
    const snapshots = await client.listSnapshots(vm);
    if (options.json) out.json(snapshots);
    else out.line(formatSnapshots(vm, snapshots));
  });
}

async function changeSnapshot(ctx: CliContext, op: 'revert' | 'delete', vm: string, name: string, options: { wait?: boolean; discardCheckpoints?: boolean }): Promise<void> {
  checkSnapshotName(name);
  const out = new Output(ctx);
  await withClient(ctx, async (client) => {
    const task = op === 'revert' ? await client.revertSnapshot(vm, name, options.discardCheckpoints ?? false) : await client.deleteSnapshot(vm, name);
    out.line(`${op === 'revert' ? `Reverting VM ${vm} to snapshot ${name}` : `Deleting snapshot ${name} of VM ${vm}`}: task ${task.id}.`);
    await followStartedTask(ctx, client, task.id, options);
  });
}

export function formatSnapshots(vm: string, snapshots: readonly Snapshot[]): string {
  if (snapshots.length === 0) return `VM ${vm} has no snapshots; take one with vplus snapshot create ${vm}.`;
  return formatTable(
    ['NAME', 'CREATED', 'STATE', 'CURRENT'],
    snapshots.map((s) => [s.name, formatTimestamp(s.createdAt), s.state, s.current ? 'yes' : '']),
  );
}
