import { InvalidArgumentError, type Command } from 'commander';
import { CreateDestinationSchema, DestinationNameSchema, DestinationPathSchema, type Destination, type Retention, type Task } from '../../common/api/index.js';
import { ApiRequestError, type DestinationUsagePoint } from '../client/api-client.js';
import { withClient } from '../client/session.js';
import type { CliContext } from '../context.js';
import { UsageError } from '../errors.js';
import { formatBytes, formatRatio, formatTable, formatTimestamp, sparkline } from '../format.js';
import { Output, formatFields } from '../output.js';
import { formatRetention, parseRetentionSpec, RETENTION_EXAMPLE } from '../retention.js';
import { readRecoveryKeyFile } from '../recovery-key-file.js';
import { readSecret } from '../secrets.js';
import { s3CredentialsFromOptions, s3DestinationFromOptions, type S3AddOptions } from '../s3-destination.js';
import { destinationOf } from '../task-results.js';
import { followStartedTask, intParser } from './task.command.js';

/** GcRequestSchema's limit: a year. */
const MAX_GRACE_HOURS = 24 * 365;
/** VerifyRequestSchema's limit on the number of parts. */
const MAX_PARTS = 1000;
/** Usage points `destination show` lists under the sparkline. */
const USAGE_POINTS_SHOWN = 5;

export interface DestinationAddOptions extends S3AddOptions {
  node: string;
  path?: string;
  passwordStdin?: boolean;
  recoveryKeyFile?: string;
  json?: boolean;
}

export interface ResetPasswordOptions {
  recoveryKeyFile?: string;
  passwordStdin?: boolean;
  json?: boolean;
}

export interface VerifyOptions {
  part?: number;
  of?: number;
  wait?: boolean;
}

export interface PruneOptions {
  retention: string;
  dryRun?: boolean;
  wait?: boolean;
}

export function registerDestinationCommands(program: Command, ctx: CliContext): void {
  const destination = program.command('destination').description('backup destinations: repositories in a directory on a node or in a bucket of an S3-compatible store');

  destination
    .command('add')
    .description("add a destination: the server checks the path (or bucket) from the node and creates (or opens) the repository there")
    .argument('<name>', 'destination name')
    .requiredOption('--node <node>', 'the node that reads and writes it (name or id); for S3 the node that talks to the store')
    .option('--path <dir>', 'absolute directory on that node: a local disk, or an NFS/SMB share mounted there')
    .option('--s3 <url>', 'an S3-compatible bucket instead of a directory: ENDPOINT/BUCKET[/PREFIX], e.g. https://s3.eu-central-1.wasabisys.com/backups/vplus, or s3://BUCKET[/PREFIX] for AWS')
    .option('--access-key <key>', 'S3: the access key id')
    .option('--secret-key-file <file>', 'S3: a file holding the secret key, or - for stdin (never on the command line)')
    .option('--region <region>', 'S3: the region (default us-east-1)')
    .option('--path-style', 'S3: path-style addressing (https://host/bucket/key), as MinIO and Ceph usually want')
    .option('--ca-file <pem>', "S3: a PEM CA bundle to trust for the endpoint's certificate (a private CA)")
    .option('--lock <mode>', 'S3: lock every backup with object lock, governance or compliance (the bucket must have object lock enabled)')
    .option('--lock-days <n>', 'S3: with --lock, the days each backup stays locked', intParser('--lock-days', 1, 36_500))
    .option('--password-stdin', 'encrypt it (recommended) with a password from stdin (asked twice without echo on a terminal), and print its recovery key once; without it, backups are stored unencrypted')
    .option(
      '--recovery-key-file <file>',
      'open the encrypted repository already at the path with its recovery key (its password is lost) and set the password from --password-stdin as its new one; the old password then opens it no more',
    )
    .option('--json', 'print the added destination as JSON only')
    .action((name: string, options: DestinationAddOptions) => addDestination(ctx, name, options));

  destination
    .command('s3-credentials')
    .description("change an S3 destination's access key and secret key (key rotation): its node checks the repository with the new keys first, and the old ones stay when that fails")
    .argument('<name>', 'destination name or id')
    .requiredOption('--access-key <key>', 'the new access key id')
    .requiredOption('--secret-key-file <file>', 'a file holding the new secret key, or - for stdin (never on the command line)')
    .option('--json', 'print the destination as JSON only')
    .action((name: string, options: { accessKey: string; secretKeyFile: string; json?: boolean }) => updateS3Credentials(ctx, name, options));

  destination
    .command('reset-password')
    .description("set a new password on an encrypted destination whose password is lost: its node opens the repository with the recovery key and replaces the old password (which then opens it no more)")
    .argument('<name>', 'destination name or id')
    .option('--recovery-key-file <file>', 'the recovery key: the file the UI downloaded, or the block the CLI printed when the destination was added')
    .option('--password-stdin', 'the new password, from stdin (asked twice without echo on a terminal)')
    .option('--json', 'print the destination as JSON only')
    .action((ref: string, options: ResetPasswordOptions) => resetDestinationPassword(ctx, ref, options));

  destination
    .command('list')
    .description('list destinations with their usage')
    .option('--json', 'print JSON only')
    .action((options: { json?: boolean }) => listDestinations(ctx, options));

  destination
    .command('show')
    .description('show a destination: status, space, ratios and stored size over time')
    .argument('<name>', 'destination name or id')
    .option('--json', 'print JSON only (with the usage history)')
    .action((ref: string, options: { json?: boolean }) => showDestination(ctx, ref, options));

  destination
    .command('rename')
    .description('rename a destination')
    .argument('<name>', 'destination name or id')
    .argument('<new-name>', 'its new name')
    .action((ref: string, newName: string) => renameDestination(ctx, ref, newName));

  destination
    .command('remove')
    .description('forget a destination; the repository and its data stay where they are')
    .argument('<name>', 'destination name or id')
    .option('--force', 'also forget the backups the catalog lists on it')
    .action((ref: string, options: { force?: boolean }) => removeDestination(ctx, ref, options));

  destination
    .command('verify')
    .description('re-read and check every stored chunk (a VERIFY task); exits 1 when it finds damage')
    .argument('<name>', 'destination name or id')
    .option('--part <p>', `check only part P of N (1 to N); parts 1..N in turn cover everything`, intParser('--part', 1, MAX_PARTS))
    .option('--of <n>', `the number of parts, 1 to ${MAX_PARTS} (with --part)`, intParser('--of', 1, MAX_PARTS))
    .option('--wait', 'follow the verify and print what is damaged')
    .action((ref: string, options: VerifyOptions) => verifyDestination(ctx, ref, options));

  destination
    .command('prune')
    .description('remove backups the retention rules do not keep (a PRUNE task); garbage collection then frees their space')
    .argument('<name>', 'destination name or id')
    .requiredOption('--retention <spec>', `what to keep, e.g. "${RETENTION_EXAMPLE}" (maxage in days)`)
    .option('--dry-run', 'only show what would be removed')
    .option('--wait', 'follow the prune and print what was kept (and why) and removed')
    .action((ref: string, options: PruneOptions) => pruneDestination(ctx, ref, options));

  destination
    .command('gc')
    .description('remove chunks no backup references any more (a GC task)')
    .argument('<name>', 'destination name or id')
    .option('--grace-hours <h>', `keep unreferenced chunks younger than this, 0 to ${MAX_GRACE_HOURS} (default: 0: GC runs alone and keeps what a backup that may still run could need)`, hoursParser)
    .option('--wait', 'follow the collection and print the space freed')
    .action((ref: string, options: { graceHours?: number; wait?: boolean }) => gcDestination(ctx, ref, options));

  destination
    .command('import')
    .description('re-import the backups found on the destination into the catalog (a REIMPORT task)')
    .argument('<name>', 'destination name or id')
    .option('--wait', 'follow the import and print how many backups were found')
    .action((ref: string, options: { wait?: boolean }) => importDestination(ctx, ref, options));

  destination
    .command('refresh')
    .description('check the path again and refresh the numbers (a DESTINATION_CHECK task)')
    .argument('<name>', 'destination name or id')
    .option('--wait', 'follow the check until it ends')
    .action((ref: string, options: { wait?: boolean }) => refreshDestination(ctx, ref, options));
}

// ---- arguments ---------------------------------------------------------------

export function validateDestinationName(name: string, what = 'destination name'): string {
  const result = DestinationNameSchema.safeParse(name);
  if (result.success) return result.data;
  throw new UsageError(`invalid ${what} "${name}": ${result.error.issues[0]?.message ?? 'not accepted'}`);
}

export function validateDestinationPath(dir: string): string {
  const result = DestinationPathSchema.safeParse(dir);
  if (result.success) return result.data;
  throw new UsageError(`--path "${dir}": ${result.error.issues[0]?.message ?? 'not accepted'}`);
}

/** --part P --of N (1-based, as people count) → the API's 0-based subset; undefined for everything. */
export function verifySubset(options: Pick<VerifyOptions, 'part' | 'of'>): { part: number; of: number } | undefined {
  const { part, of } = options;
  if (part === undefined && of === undefined) return undefined;
  if (part === undefined || of === undefined) throw new UsageError('--part and --of go together: --part P --of N checks the P-th of N parts');
  if (part > of) throw new UsageError(`--part ${part} is beyond --of ${of}; give a part from 1 to ${of}`);
  return { part: part - 1, of };
}

function hoursParser(value: string): number {
  const hours = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value.trim()) || !Number.isFinite(hours) || hours > MAX_GRACE_HOURS) {
    throw new InvalidArgumentError(`--grace-hours must be a number of hours from 0 to ${MAX_GRACE_HOURS}.`);
  }
  return hours;
}

// ---- add, list, show, rename, remove -------------------------------------------

export function encryptionWarning(name: string): string {
  return `warning: keep a copy of this password somewhere safe: the backups on "${name}" cannot be restored or re-imported without it; losing the password loses the backups`;
}

async function addDestination(ctx: CliContext, name: string, options: DestinationAddOptions): Promise<void> {
  const out = new Output(ctx);
  const destinationName = validateDestinationName(name);
  if ((options.path === undefined) === (options.s3 === undefined)) throw new UsageError('give either --path DIR (a directory on the node) or --s3 URL/BUCKET[/PREFIX] (a bucket)');
  if (options.s3 === undefined) {
    const s3Only = (['accessKey', 'secretKeyFile', 'region', 'pathStyle', 'caFile', 'lock', 'lockDays'] as const).find((k) => options[k] !== undefined);
    if (s3Only) throw new UsageError(`--${s3Only.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} is for S3 destinations (with --s3)`);
  }
  const dir = options.path === undefined ? undefined : validateDestinationPath(options.path);
  if (options.node.trim() === '') throw new UsageError('--node needs a node name or id, as vplus node list shows it');
  if (options.recoveryKeyFile !== undefined && !options.passwordStdin) {
    throw new UsageError('--recovery-key-file sets a new password on the repository: give it with --password-stdin');
  }
  const recoveryKey = options.recoveryKeyFile === undefined ? undefined : await readRecoveryKeyFile(options.recoveryKeyFile);
  const s3 = options.s3 === undefined ? undefined : await s3DestinationFromOptions(ctx, options);
  const where = dir ?? options.s3 ?? '';
  // Connect first: no point typing a password twice only to hear "not logged in".
  await withClient(ctx, async (client) => {
    let password: string | undefined;
    if (recoveryKey !== undefined) {
      out.note(newPasswordWarning(destinationName));
      password = validatePassword(await readSecret(ctx, { prompt: `New encryption password for ${destinationName}: `, confirm: true }));
    } else if (options.passwordStdin) {
      out.note(encryptionWarning(destinationName));
      password = validatePassword(await readSecret(ctx, { prompt: `Encryption password for ${destinationName}: `, confirm: true }));
    } else {
      out.note(`note: "${destinationName}" stores backups unencrypted; encryption cannot be turned on later (add it with --password-stdin to encrypt).`);
    }
    const fromNode = `${dir !== undefined ? 'on' : 'from'} node ${options.node}`;
    out.note(recoveryKey !== undefined ? `Opening ${where} ${fromNode} with its recovery key…` : `Checking ${where} ${fromNode}…`);
    const created = await client
      .createDestination({ name: destinationName, node: options.node, ...(dir !== undefined ? { path: dir } : {}), ...(s3 ? { s3 } : {}), ...(password !== undefined ? { password } : {}), ...(recoveryKey !== undefined ? { recoveryKey } : {}) })
      .catch((err: unknown) => {
        throw aboutTheKeyFile(err, options.recoveryKeyFile);
      });
    if (options.json) {
      out.json(created);
      return;
    }
    if (recoveryKey !== undefined) out.line(`Opened the repository at ${created.path} with its recovery key and set the new password; the old password opens it no more, the recovery key still does.`);
    const space = formatSpace(created);
    out.line(
      `Added destination "${created.name}" on node ${created.node} at ${created.path} (${created.encrypted ? 'encrypted' : 'not encrypted'})` +
        `${created.backups > 0 ? `, holding ${created.backups} backups already` : ''}${space ? `; ${space}` : ''}.`,
    );
    if (created.backups > 0) out.line(`Bring them into the catalog with: vplus destination import ${created.name}`);
    if (created.recoveryKey !== undefined) {
      // Shown this once (the server keeps no copy): the key opens the repository without the password.
      out.note(`warning: the recovery key of "${created.name}" is printed below this once and kept nowhere; store it offline (printed, or in a safe). It opens the backups without the password, so keep it as secret as the password.`);
      out.line(created.recoveryKey.trimEnd());
    }
  });
}

/** Said before a new password is read: it replaces the old one on the repository itself. */
export function newPasswordWarning(name: string): string {
  return `warning: the new password replaces the old one on the repository of "${name}" (the old one opens it no more; any other server using it needs the new one); keep a copy of it somewhere safe`;
}

/** A refusal about the key names the file it came from. */
function aboutTheKeyFile(err: unknown, file: string | undefined): unknown {
  if (file === undefined || !(err instanceof ApiRequestError)) return err;
  if (err.code !== 'RECOVERY_KEY_INVALID' && err.code !== 'REPOSITORY_NOT_ENCRYPTED') return err;
  return new ApiRequestError(`--recovery-key-file ${file}: ${err.message.charAt(0).toLowerCase()}${err.message.slice(1)}`, err.status, err.code);
}

async function resetDestinationPassword(ctx: CliContext, ref: string, options: ResetPasswordOptions): Promise<void> {
  const out = new Output(ctx);
  if (options.recoveryKeyFile === undefined) throw new UsageError('give the recovery key with --recovery-key-file FILE (the file the UI downloaded, or the block the CLI printed)');
  if (!options.passwordStdin) throw new UsageError('give the new password with --password-stdin');
  const recoveryKey = await readRecoveryKeyFile(options.recoveryKeyFile);
  await withClient(ctx, async (client) => {
    const destination = await client.getDestination(ref);
    out.note(newPasswordWarning(destination.name));
    const password = validatePassword(await readSecret(ctx, { prompt: `New encryption password for ${destination.name}: `, confirm: true }));
    out.note(`Setting the new password on ${destination.path} on node ${destination.node} with the recovery key…`);
    const after = await client.resetDestinationPassword(String(destination.id), { recoveryKey, password }).catch((err: unknown) => {
      throw aboutTheKeyFile(err, options.recoveryKeyFile);
    });
    if (options.json) {
      out.json(after);
      return;
    }
    out.line(`Set the new password of destination "${after.name}"; the old password opens it no more, the recovery key still does.`);
    if (after.status === 'ok') out.line(`Checked with the new password: ${after.backups} backup${after.backups === 1 ? '' : 's'} on the destination.`);
    else out.line(`The check with the new password says: ${after.statusMessage ?? after.status}`);
  });
}

async function updateS3Credentials(ctx: CliContext, ref: string, options: { accessKey: string; secretKeyFile: string; json?: boolean }): Promise<void> {
  const out = new Output(ctx);
  const keys = await s3CredentialsFromOptions(ctx, options);
  await withClient(ctx, async (client) => {
    out.note(`Checking destination ${ref} with access key ${keys.accessKeyId}…`);
    const after = await client.updateS3Credentials(ref, keys);
    if (options.json) {
      out.json(after);
      return;
    }
    out.line(`Destination "${after.name}" now uses access key ${keys.accessKeyId}; its repository opened with it.`);
  });
}

function validatePassword(password: string): string {
  const result = CreateDestinationSchema.shape.password.safeParse(password);
  if (result.success && result.data !== undefined) return result.data;
  throw new UsageError(`invalid encryption password: ${result.error?.issues[0]?.message ?? 'not accepted'}`);
}

async function listDestinations(ctx: CliContext, options: { json?: boolean }): Promise<void> {
  const out = new Output(ctx);
  await withClient(ctx, async (client) => {
    const destinations = await client.listDestinations();
    if (options.json) out.json(destinations);
    else out.line(formatDestinations(destinations));
  });
}

async function showDestination(ctx: CliContext, ref: string, options: { json?: boolean }): Promise<void> {
  const out = new Output(ctx);
  await withClient(ctx, async (client) => {
    const destination = await client.getDestination(ref);
    const usage = await client.destinationUsage(String(destination.id));
    if (options.json) out.json({ ...destination, usage });
    else out.line(formatDestination(destination, usage));
  });
}

async function renameDestination(ctx: CliContext, ref: string, newName: string): Promise<void> {
  const out = new Output(ctx);
  const name = validateDestinationName(newName, 'new name');
  await withClient(ctx, async (client) => {
    const renamed = await client.renameDestination(ref, name);
    out.line(`Renamed destination ${ref} to "${renamed.name}".`);
  });
}

async function removeDestination(ctx: CliContext, ref: string, options: { force?: boolean }): Promise<void> {
  const out = new Output(ctx);
  await withClient(ctx, async (client) => {
    const destination = await client.getDestination(ref);
    try {
      await client.deleteDestination(String(destination.id), options.force ?? false);
    } catch (err) {
      if (err instanceof ApiRequestError && err.status === 409 && !options.force) {
        throw new ApiRequestError(`${err.message.replace(/\.$/, '')}; to do so, run vplus destination remove ${ref} --force`, err.status, err.code);
      }
      throw err;
    }
    out.line(
      `Removed destination "${destination.name}"; its data stays at ${destination.path} on node ${destination.node} ` +
        `(to use it again, add it with the same path and run vplus destination import).`,
    );
  });
}

// ---- tasks ---------------------------------------------------------------------

async function verifyDestination(ctx: CliContext, ref: string, options: VerifyOptions): Promise<void> {
  const subset = verifySubset(options);
  const out = new Output(ctx);
  await withClient(ctx, async (client) => {
    const task = await client.verifyDestination(ref, subset);
    const part = subset ? ` (part ${subset.part + 1} of ${subset.of})` : '';
    out.line(`Verifying destination ${nameOf(task, ref)}${part}: task ${task.id}.`);
    await followStartedTask(ctx, client, task.id, options);
  });
}

async function pruneDestination(ctx: CliContext, ref: string, options: PruneOptions): Promise<void> {
  const retention: Retention = parseRetentionSpec(options.retention);
  const dryRun = options.dryRun ?? false;
  const out = new Output(ctx);
  await withClient(ctx, async (client) => {
    // The API's dryRun defaults to true: say what is meant either way.
    const task = await client.pruneDestination(ref, retention, dryRun);
    out.line(`Pruning destination ${nameOf(task, ref)} to ${formatRetention(retention)}${dryRun ? ' (dry run)' : ''}: task ${task.id}.`);
    await followStartedTask(ctx, client, task.id, options);
  });
}

async function gcDestination(ctx: CliContext, ref: string, options: { graceHours?: number; wait?: boolean }): Promise<void> {
  const out = new Output(ctx);
  await withClient(ctx, async (client) => {
    const task = await client.gcDestination(ref, options.graceHours);
    out.line(`Collecting garbage on destination ${nameOf(task, ref)}: task ${task.id}.`);
    await followStartedTask(ctx, client, task.id, options);
  });
}

async function importDestination(ctx: CliContext, ref: string, options: { wait?: boolean }): Promise<void> {
  const out = new Output(ctx);
  await withClient(ctx, async (client) => {
    const task = await client.importDestination(ref);
    out.line(`Importing the backups on destination ${nameOf(task, ref)}: task ${task.id}.`);
    await followStartedTask(ctx, client, task.id, options);
  });
}

async function refreshDestination(ctx: CliContext, ref: string, options: { wait?: boolean }): Promise<void> {
  const out = new Output(ctx);
  await withClient(ctx, async (client) => {
    const task = await client.refreshDestination(ref);
    out.line(`Checking destination ${nameOf(task, ref)}: task ${task.id}.`);
    await followStartedTask(ctx, client, task.id, options);
  });
}

/** The destination's name from the task's subject; what the user typed otherwise. */
function nameOf(task: Task, fallback: string): string {
  return destinationOf(task) ?? fallback;
}

// ---- formatting ------------------------------------------------------------------

/** "120 GiB free of 500 GiB", or null before the first check measured it. */
function formatSpace(d: Pick<Destination, 'freeBytes' | 'totalBytes'>): string | null {
  if (d.freeBytes === null || d.totalBytes === null) return null;
  return `${formatBytes(d.freeBytes)} free of ${formatBytes(d.totalBytes)}`;
}

export function formatDestinations(destinations: readonly Destination[]): string {
  if (destinations.length === 0) return 'No destinations. Add one with vplus destination add NAME --node NODE --path DIR (or --s3 URL/BUCKET …).';
  return formatTable(
    ['ID', 'NAME', 'NODE', 'PATH', 'ENCRYPTED', 'STATUS', 'BACKUPS', 'STORED', 'LOGICAL', 'DEDUP', 'COMPRESSION', 'FREE'],
    destinations.map((d) => [
      String(d.id),
      d.name,
      d.node,
      d.path,
      d.encrypted ? 'yes' : 'no',
      d.status,
      String(d.backups),
      formatBytes(d.storedBytes),
      formatBytes(d.logicalBytes),
      formatRatio(d.dedupRatio),
      formatRatio(d.compressionRatio),
      d.freeBytes === null ? '-' : formatBytes(d.freeBytes),
    ]),
  );
}

const STATUS_WORDS: Record<Destination['status'], string> = { ok: 'ok', error: 'error', unknown: 'not checked yet' };

export function formatDestination(d: Destination, usage: readonly DestinationUsagePoint[]): string {
  const fields: [string, string][] = [
    ['ID', String(d.id)],
    ['Name', d.name],
    ['Node', d.node],
    ...(d.s3
      ? ([
          ['Kind', 'S3-compatible bucket'],
          ['Endpoint', d.s3.endpoint ?? `AWS S3 (${d.s3.region})`],
          ['Region', d.s3.region],
          ['Bucket', d.s3.bucket],
          ['Prefix', d.s3.prefix || '-'],
          ['Addressing', d.s3.forcePathStyle ? 'path-style' : 'virtual-host'],
          ['Access key', d.s3.accessKeyId],
          ['Trusted CA', d.s3.customCa ? 'a private CA' : "the system's"],
          ['Object lock', d.s3.lock ? `${d.s3.lock.mode}, ${d.s3.lock.days} days` : 'no'],
        ] satisfies [string, string][])
      : ([['Path', d.path]] satisfies [string, string][])),
    ['Encrypted', d.encrypted ? 'yes' : 'no'],
    ['Status', d.statusMessage ? `${STATUS_WORDS[d.status]} (${d.statusMessage})` : STATUS_WORDS[d.status]],
    ['Backups', String(d.backups)],
    ['Stored', formatBytes(d.storedBytes)],
    ['Logical', `${formatBytes(d.logicalBytes)} of disks`],
    ['Dedup', formatRatio(d.dedupRatio)],
    ['Compression', formatRatio(d.compressionRatio)],
    ['Free space', formatSpace(d) ?? '-'],
    ['Last checked', formatTimestamp(d.lastCheckedAt)],
    ['Created', formatTimestamp(d.createdAt)],
  ];
  return `${formatFields(fields)}\n${formatUsage(usage)}`;
}

/** The stored size over time: a sparkline, then the last few points. */
export function formatUsage(usage: readonly DestinationUsagePoint[]): string {
  if (usage.length === 0) return 'Usage: no history yet (every destination task adds a point).';
  const first = usage[0]!;
  const last = usage.at(-1)!;
  const line =
    usage.length === 1
      ? `Stored over time: ${formatBytes(last.storedBytes)} (${formatTimestamp(last.at)}), one point so far`
      : `Stored over time: ${sparkline(usage.map((p) => p.storedBytes))}  ${formatBytes(first.storedBytes)} (${formatTimestamp(first.at)}) → ` +
        `${formatBytes(last.storedBytes)} (${formatTimestamp(last.at)}), ${usage.length} points`;
  const recent = usage.slice(-USAGE_POINTS_SHOWN).reverse();
  const table = formatTable(
    ['AT', 'STORED', 'LOGICAL', 'BACKUPS'],
    recent.map((p) => [formatTimestamp(p.at), formatBytes(p.storedBytes), formatBytes(p.logicalBytes), String(p.backups)]),
  );
  return `${line}\n${table
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n')}`;
}
