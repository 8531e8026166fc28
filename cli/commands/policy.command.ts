import { Option, type Command } from 'commander';
import type { Policy, PolicyRun, Vm } from '../../common/api/index.js';
import { matchVm } from '../../common/policy-assignment.js';
import { ApiRequestError, type ApiClient } from '../client/api-client.js';
import type { EventStream } from '../client/event-stream.js';
import { withClient } from '../client/session.js';
import type { CliContext } from '../context.js';
import { CliError, errorMessage } from '../errors.js';
import { formatTimestamp } from '../format.js';
import { nextPageNote } from '../list-options.js';
import { Output } from '../output.js';
import { describeRun, followPolicyRun, quoteArg, reportRunOutcome, runKind, runTasks, type FollowedRun } from '../policy-run-follower.js';
import { formatRetention, RETENTION_EXAMPLE } from '../retention.js';
import { plural } from '../task-results.js';
import { intParser } from './task.command.js';
import {
  ASSIGN_MODES,
  CREATE_KINDS,
  SCHEDULE_EXAMPLE,
  collect,
  createPolicyRequest,
  parseFailAbove,
  parseRunId,
  parseVmRefs,
  policyChanges,
  runBackupType,
  updatePolicyRequest,
  type PolicyCreateOptions,
  type PolicyRunOptions,
  type PolicyUpdateOptions,
} from '../policy-arguments.js';
import { formatPolicies, formatPolicy, formatRuns, summary } from '../policy-format.js';

const MAX_RUNS = 500;
const DEFAULT_RUNS = 20;

export function registerPolicyCommands(program: Command, ctx: CliContext): void {
  const policy = program.command('policy').description('backup policies: which VMs (or Microsoft 365 users and sites) are backed up, when, where to, and for how long');

  const fieldOptions = (cmd: Command, create: boolean): Command => {
    const list = create ? '' : ' (replaces the list)';
    return cmd
      .option('--schedule <spec>', `when it runs, e.g. "${SCHEDULE_EXAMPLE}", "full sun 22:00" or "incremental every 4h 08:00-20:00"; repeatable${list}`, collect)
      .option('--retention <spec>', `which backups stay, e.g. "${RETENTION_EXAMPLE}"`)
      .option('--retention-schedule <spec>', 'when retention (prune, then GC) also runs, besides after each run, e.g. "daily 03:00"')
      .option('--verify-schedule <spec>', 'when the destination is verified, e.g. "sun 04:00"; damaged backups are marked and the run fails')
      .option('--verify-parts <n>', 'each scheduled verify checks one of N parts of the chunks in turn, 1 to 1000 (default: 1, everything each time)', intParser('--verify-parts', 1, 1000))
      .option('--include <regex>', `VMs whose name matches this regular expression are in the policy, e.g. "^prod-"; repeatable${list}`, collect)
      .option('--exclude <regex>', `VMs whose name matches are not, even when an --include or --hypervisor takes them; repeatable${list}`, collect)
      .option('--hypervisor <name>', `the VMs on this hypervisor are in the policy; repeatable${list}`, collect)
      .addOption(new Option('--assign-mode <mode>', 'assign-only: a VM the rules put in stays when it stops matching; assign-and-remove: it leaves').choices(ASSIGN_MODES))
      .option('--priority <n>', 'when the rules of several policies match a VM, the highest priority takes it; also the priority of its backup tasks, 0 to 100 (default: 50)', intParser('--priority', 0, 100))
      .option('--time-zone <tz>', "IANA time zone the schedules are read in, e.g. Europe/Berlin (default: the server's)")
      .option('--fail-above <percent>', 'cancel the rest of a run once more than this share of its VMs failed, 0 to 100, or "never" (the default)', parseFailAbove)
      .option('--copy-to <dest>', "copy each new backup to this destination too (name or id): an S3 destination, or a directory on the same node as the policy's destination")
      .option('--copy-retention <spec>', `which copies stay there, e.g. "last=30 monthly=12" (default: the policy's --retention)`)
      .option('--json', 'print the policy as JSON only');
  };

  fieldOptions(
    policy
      .command('create')
      .description("create a backup policy; its rules put the matching VMs in it at once (--kind m365: the Microsoft 365 users and sites whose principal name or site name they match, at each run)")
      .argument('<name>', 'policy name')
      .requiredOption('--destination <dest>', 'where its backups go (name or id)'),
    true,
  )
    .addOption(new Option('--kind <kind>', 'backup: VMs (the default); m365: Microsoft 365 users (their OneDrive) and sites (their libraries), --include/--exclude matching UPNs and site names in any case').choices(CREATE_KINDS))
    .option('--disabled', 'create it switched off: its schedules do not run until it is enabled')
    .action((name: string, options: PolicyCreateOptions) => createPolicy(ctx, name, options));

  fieldOptions(
    policy
      .command('update')
      .description('change a policy; only what is given changes')
      .argument('<name>', 'policy name or id')
      .option('--name <name>', 'rename it')
      .option('--destination <dest>', 'where its backups go from now on (name or id)'),
    false,
  )
    .option('--clear-schedules', 'remove every schedule: it then runs only when started by hand')
    .option('--clear-retention-schedule', 'apply retention only after each run')
    .option('--clear-verify-schedule', 'no scheduled verify any more')
    .option('--clear-include', 'remove every --include rule')
    .option('--clear-exclude', 'remove every --exclude rule')
    .option('--clear-hypervisors', 'remove every --hypervisor rule')
    .option('--clear-copy-to', 'stop copying new backups (the copies made stay where they are)')
    .addOption(new Option('--enable', 'switch it on: its schedules run').conflicts('disable'))
    .addOption(new Option('--disable', 'switch it off: its schedules do not run (running it by hand still works)'))
    .action((ref: string, options: PolicyUpdateOptions) => updatePolicy(ctx, ref, options));

  policy
    .command('list')
    .description('list policies with their schedules, VMs, next and last run')
    .option('--json', 'print JSON only')
    .action((options: { json?: boolean }) => listPolicies(ctx, options));

  policy
    .command('show')
    .description('show a policy: its rules, its VMs, its next and last run')
    .argument('<name>', 'policy name or id')
    .option('--json', 'print JSON only')
    .action((ref: string, options: { json?: boolean }) => showPolicy(ctx, ref, options));

  policy
    .command('assign')
    .description("put VMs in the policy by hand (its rules never take them out again; a VM leaves any other backup policy)")
    .argument('<name>', 'policy name or id')
    .argument('<vm...>', 'VM names, UUIDs or ids')
    .action((ref: string, vms: string[]) => assignVms(ctx, ref, vms));

  policy
    .command('unassign')
    .description('take VMs out of the policy')
    .argument('<name>', 'policy name or id')
    .argument('<vm...>', 'VM names, UUIDs or ids')
    .action((ref: string, vms: string[]) => unassignVms(ctx, ref, vms));

  policy
    .command('remove')
    .description('remove a policy; its backups stay on the destination')
    .argument('<name>', 'policy name or id')
    .action((ref: string) => removePolicy(ctx, ref));

  policy
    .command('run')
    .description("run the policy now: one backup (EXPORT, then STORE) per VM in it")
    .argument('<name>', 'policy name or id')
    .addOption(new Option('--full', 'full backups of every VM').conflicts('incremental'))
    .addOption(new Option('--incremental', 'incremental backups where the chain allows (the default)'))
    .option('--wait', 'follow the run to its end with progress; exit 1 when it failed or finished with warnings')
    .option('--json', 'print the run as JSON only (with --wait: the run as it ended)')
    .action((ref: string, options: PolicyRunOptions) => runPolicy(ctx, ref, options));

  policy
    .command('wait')
    .description("follow a run of the policy to its end (or report how it ended); exit 1 when it failed or finished with warnings")
    .argument('<name>', 'policy name or id')
    .argument('[run]', 'the run id, as policy run and policy runs print it (default: the run going on now, else the last backup run)', parseRunId)
    .option('--json', 'print the run as it ended as JSON only')
    .action((ref: string, runId: number | undefined, options: { json?: boolean }) => waitForPolicy(ctx, ref, runId, options));

  policy
    .command('retention')
    .description("apply the policy's retention now: prune its VMs' backups (a PRUNE task), then collect garbage (GC)")
    .argument('<name>', 'policy name or id')
    .option('--wait', 'follow it to its end and print what was kept and removed')
    .option('--json', 'print the run as JSON only')
    .action((ref: string, options: { wait?: boolean; json?: boolean }) => applyRetention(ctx, ref, options));

  policy
    .command('verify')
    .description("verify the policy's destination now: the next part of its rotation (a VERIFY task); damaged backups are marked in the catalog")
    .argument('<name>', 'policy name or id')
    .option('--wait', 'follow it to its end; exit 1 when it found damage')
    .option('--json', 'print the run as JSON only')
    .action((ref: string, options: { wait?: boolean; json?: boolean }) => verifyNow(ctx, ref, options));

  policy
    .command('runs')
    .description('list runs and missed runs, newest first: of one policy, or of all')
    .argument('[name]', 'policy name or id')
    .option('--limit <n>', `at most this many runs, 1 to ${MAX_RUNS} (default: ${DEFAULT_RUNS})`, intParser('--limit', 1, MAX_RUNS))
    .option('--cursor <cursor>', 'the page after the one that printed this cursor')
    .option('--json', 'print JSON only')
    .action((ref: string | undefined, options: { limit?: number; cursor?: string; json?: boolean }) => listRuns(ctx, ref, options));
}

// ---- arguments ---------------------------------------------------------------

// ---- create, update, list, show, remove --------------------------------------------

async function createPolicy(ctx: CliContext, name: string, options: PolicyCreateOptions): Promise<void> {
  const request = createPolicyRequest(name, options);
  const out = new Output(ctx);
  await withClient(ctx, async (client) => {
    const created = await client.createPolicy(request);
    if (options.json) {
      out.json(created);
      return;
    }
    out.line(`Created policy "${created.name}": ${summary(created)}.`);
    if (created.schedules.length === 0) out.line(`It has no schedule: it runs when started with vplus policy run ${quoteArg(created.name)}.`);
    if (created.kind === 'm365') {
      const members = created.m365Members ?? [];
      out.line(members.length === 0 ? 'No Microsoft 365 user or site matches its rules yet; those that do when it runs are backed up.' : `Users and sites it backs up now: ${members.map((m) => m.name).join(', ')}.`);
    } else if (created.vms.length === 0 && (created.assignment.include.length > 0 || created.assignment.hypervisors.length > 0)) {
      out.line('No VM matches its rules yet; VMs that do are put in it as the inventory finds them.');
    }
  });
}

async function updatePolicy(ctx: CliContext, ref: string, options: PolicyUpdateOptions): Promise<void> {
  const changes = policyChanges(options);
  const out = new Output(ctx);
  await withClient(ctx, async (client) => {
    const current = await client.getPolicy(ref);
    const updated = await client.updatePolicy(String(current.id), updatePolicyRequest(changes, current));
    if (options.json) {
      out.json(updated);
      return;
    }
    const renamed = updated.name !== current.name ? ` (renamed from "${current.name}")` : '';
    out.line(`Updated policy "${updated.name}"${renamed}: ${summary(updated)}.`);
  });
}

async function listPolicies(ctx: CliContext, options: { json?: boolean }): Promise<void> {
  const out = new Output(ctx);
  await withClient(ctx, async (client) => {
    const policies = await client.listPolicies();
    if (options.json) out.json(policies);
    else out.line(formatPolicies(policies));
  });
}

async function showPolicy(ctx: CliContext, ref: string, options: { json?: boolean }): Promise<void> {
  const out = new Output(ctx);
  await withClient(ctx, async (client) => {
    const policy = await client.getPolicy(ref);
    if (options.json) out.json(policy);
    else out.line(formatPolicy(policy));
  });
}

async function removePolicy(ctx: CliContext, ref: string): Promise<void> {
  const out = new Output(ctx);
  await withClient(ctx, async (client) => {
    const policy = await client.getPolicy(ref);
    await client.deletePolicy(String(policy.id));
    const where = policy.destination ? ` on destination ${policy.destination}` : '';
    const vms = policy.vms.length > 0 ? `; its ${plural(policy.vms.length, 'VM')} ${policy.vms.length === 1 ? 'is' : 'are'} no longer in it (another policy's rules may take them)` : '';
    out.line(`Removed policy "${policy.name}"; its backups stay${where}${vms}.`);
  });
}

// ---- assign, unassign ----------------------------------------------------------------

async function assignVms(ctx: CliContext, ref: string, refs: string[]): Promise<void> {
  const vms = parseVmRefs(refs);
  const out = new Output(ctx);
  await withClient(ctx, async (client) => {
    const policy = await client.getPolicy(ref);
    const updated = await client.assignVms(String(policy.id), vms);
    out.line(`Put ${vmWords(vms)} in policy "${updated.name}"; it has ${plural(updated.vms.length, 'VM')} now.`);
  });
}

async function unassignVms(ctx: CliContext, ref: string, refs: string[]): Promise<void> {
  const wanted = parseVmRefs(refs);
  const out = new Output(ctx);
  await withClient(ctx, async (client) => {
    const policy = await client.getPolicy(ref);
    // Looked up first: a VM the policy's rules match comes back at the next sync, and the user should hear so.
    const vms: Vm[] = [];
    for (const vm of wanted) vms.push(await client.getVm(vm));
    const updated = await client.unassignVms(String(policy.id), vms.map((v) => String(v.id)));
    out.line(`Took ${vmWords(vms.map((v) => v.name))} out of policy "${updated.name}"; it has ${plural(updated.vms.length, 'VM')} now.`);
    for (const vm of vms) {
      const match = matchVm(policy.assignment, { name: vm.name, hypervisor: vm.hypervisor });
      if (!match.matches) continue;
      // --exclude replaces the list: the command to run keeps the rules there are.
      const excludes = [...policy.assignment.exclude, `^${escapeRegex(vm.name)}$`].map((e) => `--exclude '${e}'`).join(' ');
      out.note(
        `note: VM ${vm.name} matches the policy's rules (${match.reason}), so the next inventory sync puts it back; ` +
          `to keep it out, run vplus policy update ${quoteArg(updated.name)} ${excludes}`,
      );
    }
  });
}

function vmWords(names: readonly string[]): string {
  return names.length === 1 ? `VM ${names[0]}` : `VMs ${names.join(', ')}`;
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

// ---- run, wait, retention, runs ---------------------------------------------------------

/** The event stream, opened before starting a run so that no task it creates is missed; null when there is none. */
async function openEvents(ctx: CliContext, client: ApiClient): Promise<EventStream | null> {
  try {
    return await client.openEvents();
  } catch (err) {
    if (ctx.env.VPLUS_DEBUG) ctx.stderr.write(`debug: no event stream (${errorMessage(err)}); polling\n`);
    return null;
  }
}

/**
 * A run just started (or found): reported at once when it is over already
 * (a policy without VMs), followed with --wait, else how to follow it.
 */
async function finishRun(ctx: CliContext, client: ApiClient, followed: FollowedRun, options: { wait?: boolean; json?: boolean }, events: EventStream | null): Promise<void> {
  const out = new Output(ctx);
  if (followed.run.state !== 'running' || !options.wait) {
    events?.close();
    if (options.json) out.json(followed.run);
    if (followed.run.state !== 'running') reportRunOutcome(ctx, followed, options.json);
    else if (!options.json) out.line(`Follow it with: vplus policy wait ${quoteArg(followed.policy)} ${followed.run.id}`);
    return;
  }
  const ended = await followPolicyRun(ctx, client, followed, { events });
  if (options.json) out.json(ended.run);
  reportRunOutcome(ctx, { ...followed, run: ended.run, tasks: ended.tasks }, options.json);
}

async function runPolicy(ctx: CliContext, ref: string, options: PolicyRunOptions): Promise<void> {
  const backupType = runBackupType(options);
  const out = new Output(ctx);
  await withClient(ctx, async (client) => {
    const policy = await client.getPolicy(ref);
    const events = options.wait ? await openEvents(ctx, client) : null;
    let run: PolicyRun;
    try {
      run = await client.runPolicy(String(policy.id), backupType);
    } catch (err) {
      events?.close();
      if (err instanceof ApiRequestError && err.status === 409 && /already running/.test(err.message)) {
        throw new ApiRequestError(`${err.message}; follow that run with vplus policy wait ${quoteArg(policy.name)}`, err.status, err.code);
      }
      throw err;
    }
    const kind = backupType === undefined ? 'incremental where the chain allows' : `${backupType} backups`;
    const started = `Started ${describeRun(run)} (${kind}): ${policy.kind === 'm365' ? plural(run.vms, 'user or site', 'users and sites') : plural(run.vms, 'VM')}.`;
    if (options.json) out.note(started);
    else out.line(started);
    await finishRun(ctx, client, { run, policy: policy.name, kind: runKind(run, policy.kind), matches: runTasks(run) }, options, events);
  });
}

async function waitForPolicy(ctx: CliContext, ref: string, runId: number | undefined, options: { json?: boolean }): Promise<void> {
  await withClient(ctx, async (client) => {
    const policy = await client.getPolicy(ref);
    const events = await openEvents(ctx, client);
    const found = (runId === undefined ? client.policyRuns(String(policy.id), { limit: 50 }).then((page) => currentRun(page.runs)) : findRun(client, policy.id, runId)).catch((err: unknown) => {
      events?.close();
      throw err;
    });
    const run = await found;
    if (!run) {
      events?.close();
      throw new CliError(
        runId === undefined
          ? `policy "${policy.name}" has not run yet; run it with vplus policy run ${quoteArg(policy.name)}`
          : `policy "${policy.name}" has no run ${runId}; see its runs with vplus policy runs ${quoteArg(policy.name)}`,
      );
    }
    const kind = runKind(run, policy.kind);
    const out = new Output(ctx);
    if (run.state === 'running') out.note(`Waiting for ${describeRun(run)}, started ${formatTimestamp(run.startedAt)}.`);
    else if (runId === undefined) out.note(`Policy "${policy.name}" is not running; its last run was ${run.id}.`);
    await finishRun(ctx, client, { run, policy: policy.name, kind, matches: runTasks(run) }, { wait: true, ...options }, events);
  });
}

/** A run of the policy by id: the pages are newest first, so the search ends at the first page that goes past it. */
async function findRun(client: ApiClient, policyId: number, runId: number): Promise<PolicyRun | undefined> {
  let cursor: string | undefined;
  for (;;) {
    const page = await client.policyRuns(String(policyId), { limit: MAX_RUNS, ...(cursor ? { cursor } : {}) });
    const run = page.runs.find((r) => r.id === runId);
    if (run || page.nextCursor === null || (page.runs.at(-1)?.id ?? 0) < runId) return run;
    cursor = page.nextCursor;
  }
}

/**
 * The run `policy wait` follows without a run id: the one going on (a backup
 * run before the retention that follows it), else the last backup run.
 */
export function currentRun(runs: readonly PolicyRun[]): PolicyRun | undefined {
  const running = runs.filter((r) => r.state === 'running');
  const backup = (r: PolicyRun): boolean => r.purpose === 'run' && r.state !== 'missed';
  return running.find(backup) ?? running[0] ?? runs.find(backup) ?? runs[0];
}

function applyRetention(ctx: CliContext, ref: string, options: { wait?: boolean; json?: boolean }): Promise<void> {
  return startPolicyRun(ctx, ref, options, 'retention', (client, id) => client.applyPolicyRetention(id), (policy, run) => {
    const rules = policy.retention ? ` (${formatRetention(policy.retention)})` : '';
    return `Applying the retention of policy "${policy.name}"${rules} on destination ${policy.destination ?? '-'}: run ${run.id}.`;
  });
}

function verifyNow(ctx: CliContext, ref: string, options: { wait?: boolean; json?: boolean }): Promise<void> {
  return startPolicyRun(ctx, ref, options, 'verify', (client, id) => client.verifyPolicyDestination(id), (policy, run) =>
    `Verifying destination ${policy.destination ?? '-'} of policy "${policy.name}" (${run.message ?? 'every chunk'}): run ${run.id}.`,
  );
}

/** Starts a retention or verify run of a policy, says so, and with --wait follows it to its end. */
async function startPolicyRun(
  ctx: CliContext,
  ref: string,
  options: { wait?: boolean; json?: boolean },
  kind: 'retention' | 'verify',
  start: (client: ApiClient, policyId: string) => Promise<PolicyRun>,
  describe: (policy: Policy, run: PolicyRun) => string,
): Promise<void> {
  const out = new Output(ctx);
  await withClient(ctx, async (client) => {
    const policy = await client.getPolicy(ref);
    const events = options.wait ? await openEvents(ctx, client) : null;
    let run: PolicyRun;
    try {
      run = await start(client, String(policy.id));
    } catch (err) {
      events?.close();
      throw err;
    }
    const started = describe(policy, run);
    if (options.json) out.note(started);
    else out.line(started);
    await finishRun(ctx, client, { run, policy: policy.name, kind, matches: runTasks(run) }, options, events);
  });
}

async function listRuns(ctx: CliContext, ref: string | undefined, options: { limit?: number; cursor?: string; json?: boolean }): Promise<void> {
  const out = new Output(ctx);
  await withClient(ctx, async (client) => {
    const { runs, nextCursor } = await client.policyRuns(ref, { limit: options.limit ?? DEFAULT_RUNS, ...(options.cursor ? { cursor: options.cursor } : {}) });
    if (options.json) out.json(runs);
    else out.line(formatRuns(runs, ref === undefined ? undefined : (runs[0]?.policy ?? ref)));
    const more = nextPageNote('runs', runs.length, nextCursor);
    if (more) out.note(more);
  });
}

