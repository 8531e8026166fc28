import type { Command } from 'commander';
import { IscsiStartRequestSchema, type IscsiStartRequest, type Mount, type MountStartRequest } from '../../common/api/index.js';
import type { ApiClient } from '../client/api-client.js';
import { withClient } from '../client/session.js';
import type { CliContext } from '../context.js';
import { CliError, UsageError } from '../errors.js';
import { formatDuration } from '../format.js';
import { parseIdle, parseMountId } from '../mount-arguments.js';
import { followMount } from '../mount-follower.js';
import { describeExpiry, describeMount, formatFilesystems, formatIscsiAccess, formatMountDetails, formatMounts, iscsiLoginHint } from '../mount-format.js';
import { Output } from '../output.js';
import { capitalize } from '../task-follower.js';
import { registerBrowseCommands } from './mount-browse.js';
import { parseBackupId } from './restore.command.js';

/**
 * `vplus mount …`: file-level restore. A mount serves a backup's disks on
 * its destination's node and mounts the filesystems found on them read-only;
 * `ls`, `find`, `get` and `restore` (mount-browse.ts) work inside it. `iscsi`
 * exports one disk to an initiator instead.
 */

interface StartOptions {
  disk?: string[];
  overlay: boolean;
  idle?: number;
  wait?: boolean;
  json?: boolean;
}

interface IscsiOptions {
  disk?: string;
  initiator?: string[];
  allowAddress?: string[];
  idle?: number;
  json?: boolean;
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

export function registerMountCommands(program: Command, ctx: CliContext): void {
  const mount = program.command('mount').description("file-level restore: mount a backup's filesystems read-only on its node and browse, download or restore files; or export a disk over iSCSI");

  mount
    .command('start')
    .description("mount a backup: its disks are served on its destination's node and the filesystems found on them mounted read-only")
    .argument('<backup>', 'the backup, by its id in the catalog (vplus backup list shows it)', parseBackupId)
    .option('--disk <disk>', "only this disk, e.g. vda (repeat for more; default: all the backup's disks)", collect)
    .option('--no-overlay', 'mount without the copy-on-write overlay (filesystems whose journal needs replaying may then not mount)')
    .option('--idle <duration>', 'close the mount after it is unused this long, e.g. 30m, 2h, 1d (1m to 7d; default 2h)', parseIdle)
    .option('--wait', 'wait until it is mounted and print the filesystems found; exit 1 when it fails')
    .option('--json', 'print the mount as JSON only (with --wait, once it is ready)')
    .action((backup: number, options: StartOptions) => startMount(ctx, backup, options));

  mount
    .command('list')
    .description('list the mounts that are mounting or mounted (with --all, closed and failed ones too)')
    .option('--all', 'also the mounts that are closed or failed')
    .option('--json', 'print JSON only')
    .action((options: { all?: boolean; json?: boolean }) => listMounts(ctx, options));

  mount
    .command('show')
    .description('show a mount with its filesystems (or its iSCSI target)')
    .argument('<mount>', 'mount id (vplus mount list)', parseMountId)
    .option('--json', 'print JSON only')
    .action((id: number, options: { json?: boolean }) => showMount(ctx, id, options));

  mount
    .command('wait')
    .description('wait until a mount is ready and print its filesystems; exit 1 when it failed or was closed')
    .argument('<mount>', 'mount id', parseMountId)
    .option('--json', 'print the mount as JSON only')
    .action((id: number, options: { json?: boolean }) => withClient(ctx, async (client) => reportReady(ctx, client, await client.getMount(id), options)));

  registerBrowseCommands(mount, ctx);

  mount
    .command('iscsi')
    .description('export one disk of a backup read-only over iSCSI to the initiators named; answers once the target is up with the portal, target and CHAP credentials')
    .argument('<backup>', 'the backup, by its id in the catalog', parseBackupId)
    .requiredOption('--disk <disk>', 'the disk to export, e.g. vda')
    .option('--initiator <iqn>', 'an initiator allowed to log in, e.g. iqn.2024-01.com.example:host1 (repeat for more)', collect)
    .option('--allow-address <addr>', 'an initiator address allowed to log in, IPv4 or IPv6 (repeat for more)', collect)
    .option('--idle <duration>', 'close the export after it is unused this long, e.g. 30m, 2h, 1d (1m to 7d; default 2h)', parseIdle)
    .option('--json', 'print JSON only: {id, portal, target, lun, chapUser, chapPassword, mount}')
    .action((backup: number, options: IscsiOptions) => startIscsi(ctx, backup, options));

  mount
    .command('extend')
    .description('keep a mount open longer: its idle timeout counts again from now')
    .argument('<mount>', 'mount id', parseMountId)
    .option('--idle <duration>', "the new idle timeout, e.g. 4h (1m to 7d; default: the mount's current one)", parseIdle)
    .option('--json', 'print the mount as JSON only')
    .action((id: number, options: { idle?: number; json?: boolean }) => extendMount(ctx, id, options));

  mount
    .command('stop')
    .description('close a mount: unmount its filesystems (or end its iSCSI export) and stop serving its disks')
    .argument('<mount>', 'mount id', parseMountId)
    .option('--wait', 'wait until it is closed')
    .option('--json', 'print the mount as JSON only')
    .action((id: number, options: { wait?: boolean; json?: boolean }) => stopMount(ctx, id, options));
}

/** With --json stdout carries the JSON only: what a follower prints (task log lines) goes to stderr then. */
function followCtx(ctx: CliContext, json: boolean | undefined): CliContext {
  return json ? { ...ctx, stdout: ctx.stderr } : ctx;
}

async function startMount(ctx: CliContext, backup: number, options: StartOptions): Promise<void> {
  const request: MountStartRequest = {
    backup,
    ...(options.disk ? { disks: options.disk } : {}),
    overlay: options.overlay,
    ...(options.idle !== undefined ? { idleSeconds: options.idle } : {}),
  };
  const out = new Output(ctx);
  await withClient(ctx, async (client) => {
    const mount = await client.startMount(request);
    const what = `${capitalize(describeMount(mount))}${mount.disks.length > 0 ? `, disks ${mount.disks.join(', ')}` : ''}`;
    const started = `${what}: mounting on node ${mount.node}${mount.taskId !== null ? ` (task ${mount.taskId})` : ''}.`;
    if (!options.wait) {
      if (options.json) return out.json(mount);
      out.line(started);
      return out.line(`Wait until it is ready with: vplus mount wait ${mount.id}`);
    }
    if (options.json) out.note(started);
    else out.line(started);
    await reportReady(ctx, client, mount, options);
  });
}

/** Follows the mount until it is ready; a mount that failed or closed first exits 1. */
async function waitReady(ctx: CliContext, client: ApiClient, start: Mount, json: boolean | undefined): Promise<Mount> {
  const mount = await followMount(followCtx(ctx, json), client, start, 'ready');
  if (mount.state === 'FAILED') throw new CliError(`mount ${mount.id} failed: ${mount.error ?? 'the server gave no reason'}`);
  if (mount.state !== 'MOUNTED') {
    throw new CliError(`mount ${mount.id} was closed before it was ready${mount.error ? `: ${mount.error}` : ''}`);
  }
  return mount;
}

/** Follows the mount until it is ready, then prints it: the filesystems found, or with --json the mount. */
async function reportReady(ctx: CliContext, client: ApiClient, start: Mount, options: { json?: boolean }): Promise<void> {
  const out = new Output(ctx);
  const mount = await waitReady(ctx, client, start, options.json);
  if (options.json) return out.json(mount);
  if (mount.kind === 'iscsi') {
    out.line(`Mount ${mount.id} is ready: target ${mount.iscsi?.target ?? '?'} on ${mount.iscsi?.portal ?? '?'}; it ${describeExpiry(mount)}.`);
    return;
  }
  out.line(`Mount ${mount.id} is ready on node ${mount.node}; it ${describeExpiry(mount)}.`);
  out.line(formatFilesystems(mount.filesystems));
  const first = mount.filesystems.find((f) => f.readable);
  if (first) out.line(`Browse it with: vplus mount ls ${mount.id} /${first.name}`);
  else out.note(`None of the filesystems can be browsed; close the mount with: vplus mount stop ${mount.id}`);
}

async function listMounts(ctx: CliContext, options: { all?: boolean; json?: boolean }): Promise<void> {
  const out = new Output(ctx);
  await withClient(ctx, async (client) => {
    const mounts = await client.listMounts(!options.all);
    if (options.json) out.json(mounts);
    else out.line(formatMounts(mounts, options.all ?? false));
  });
}

async function showMount(ctx: CliContext, id: number, options: { json?: boolean }): Promise<void> {
  const out = new Output(ctx);
  await withClient(ctx, async (client) => {
    const mount = await client.getMount(id);
    if (options.json) out.json(mount);
    else out.line(formatMountDetails(mount));
  });
}

/** The API's iSCSI request from the flags, checked as the server checks it (exit 2 naming the flag). */
export function iscsiRequest(backup: number, options: IscsiOptions): IscsiStartRequest {
  const initiatorNames = options.initiator ?? [];
  const initiatorAddresses = options.allowAddress ?? [];
  if (initiatorNames.length + initiatorAddresses.length === 0) {
    throw new UsageError('name the initiators allowed to log in with --initiator IQN or --allow-address ADDR: a target open to any initiator is refused');
  }
  const request = {
    backup,
    disk: options.disk ?? '',
    initiatorNames,
    initiatorAddresses,
    ...(options.idle !== undefined ? { idleSeconds: options.idle } : {}),
  };
  const checked = IscsiStartRequestSchema.safeParse(request);
  if (!checked.success) {
    const issue = checked.error.issues[0];
    const field = issue?.path[0];
    const flag = field === 'initiatorNames' ? '--initiator' : field === 'initiatorAddresses' ? '--allow-address' : field === 'disk' ? '--disk' : 'the export';
    const index = issue?.path[1];
    const value = typeof index === 'number' ? ` "${(field === 'initiatorNames' ? initiatorNames : initiatorAddresses)[index]}"` : '';
    throw new UsageError(`${flag}${value}: ${field === 'initiatorAddresses' ? 'not an IPv4 or IPv6 address' : (issue?.message ?? 'not accepted')}`);
  }
  return request;
}

async function startIscsi(ctx: CliContext, backup: number, options: IscsiOptions): Promise<void> {
  const request = iscsiRequest(backup, options);
  const out = new Output(ctx);
  await withClient(ctx, async (client) => {
    const started = await client.startIscsi(request);
    const { mount } = started;
    if (options.json) {
      out.json({ id: mount.id, portal: started.portal, target: started.target, lun: started.lun, chapUser: started.chapUser, chapPassword: started.chapPassword, mount });
    } else {
      out.line(`Exporting disk ${request.disk} of ${describeMount(mount)} over iSCSI from node ${mount.node}:`);
      out.line(formatIscsiAccess(started));
    }
    out.note(`The CHAP password is shown only now: the server does not keep it. Stop the export with: vplus mount stop ${mount.id}`);
    if (!options.json) out.note(iscsiLoginHint(started));
  });
}

async function extendMount(ctx: CliContext, id: number, options: { idle?: number; json?: boolean }): Promise<void> {
  const out = new Output(ctx);
  await withClient(ctx, async (client) => {
    const idle = options.idle ?? (await client.getMount(id)).idleSeconds;
    const mount = await client.extendMount(id, idle);
    if (options.json) return out.json(mount);
    out.line(`Mount ${mount.id} ${describeExpiry(mount)}.`);
    if (options.idle !== undefined && options.idle !== mount.idleSeconds) out.note(`The server set the idle timeout to ${formatDuration(mount.idleSeconds)}.`);
  });
}

async function stopMount(ctx: CliContext, id: number, options: { wait?: boolean; json?: boolean }): Promise<void> {
  const out = new Output(ctx);
  await withClient(ctx, async (client) => {
    let mount = await client.stopMount(id);
    const what = `${capitalize(describeMount(mount))} on node ${mount.node}`;
    const say = (text: string): void => (options.json ? undefined : out.line(text));
    if (mount.state === 'CLOSED') say(`${what} is closed.`);
    else if (mount.state === 'FAILED') say(`${what} had failed (${mount.error ?? 'the server gave no reason'}); there is nothing to close.`);
    else {
      say(`Closing ${describeMount(mount)} on node ${mount.node}.`);
      if (options.wait) {
        mount = await followMount(followCtx(ctx, options.json), client, mount, 'closed');
        if (mount.state === 'FAILED') throw new CliError(`mount ${mount.id} failed while closing: ${mount.error ?? 'the server gave no reason'}`);
        say(`${what} is closed.`);
      }
    }
    if (options.json) out.json(mount);
  });
}
