import { InvalidArgumentError, Option, type Command } from 'commander';
import { AssignModeSchema, CreatePolicySchema, type AssignmentRules, type Policy, type PolicyRun, type Vm } from '../../common/api/index.js';
import { parseScheduleSpec, ScheduleSpecError, type ParseScheduleOptions } from '../../common/schedule.js';
import { matchVm } from '../../common/policy-assignment.js';
import { ApiRequestError, type ApiClient, type CreatePolicyRequest, type UpdatePolicyRequest } from '../client/api-client.js';
import type { EventStream } from '../client/event-stream.js';
import { withClient } from '../client/session.js';
import type { CliContext } from '../context.js';
import { CliError, UsageError, errorMessage } from '../errors.js';
import { formatTable, formatTimestamp } from '../format.js';
import { Output, formatFields } from '../output.js';
import {
  describeRun,
  followPolicyRun,
  quoteArg,
  reportRunOutcome,
  runKind,
  runTasks,
  runCounts,
  runStateWords,
  type FollowedRun,
} from '../policy-run-follower.js';
import { formatRetention, parseRetentionSpec, RETENTION_EXAMPLE } from '../retention.js';
import { plural } from '../task-results.js';
import { intParser } from './task.command.js';

type AssignMode = AssignmentRules['mode'];
const ASSIGN_MODES = AssignModeSchema.options;

/** CreatePolicySchema's limits. */
const MAX_SCHEDULES = 20;
const MAX_RULES = 50;
const MAX_PATTERN = 255;
const MAX_HYPERVISOR_NAME = 64;
const MAX_RUNS = 500;
const DEFAULT_RUNS = 20;

export const SCHEDULE_EXAMPLE = 'incremental mon-fri 22:00';

/** Options create and update share; list options (repeatable) arrive as arrays. */
export interface PolicyFieldOptions {
  destination?: string;
  schedule?: string[];
  retention?: string;
  retentionSchedule?: string;
  include?: string[];
  exclude?: string[];
  hypervisor?: string[];
  assignMode?: AssignMode;
  priority?: number;
  timeZone?: string;
  failAbove?: number | null;
  json?: boolean;
}

export interface PolicyCreateOptions extends PolicyFieldOptions {
  destination: string;
  disabled?: boolean;
}

export interface PolicyUpdateOptions extends PolicyFieldOptions {
  name?: string;
  enable?: boolean;
  disable?: boolean;
  clearSchedules?: boolean;
  clearRetentionSchedule?: boolean;
  clearInclude?: boolean;
  clearExclude?: boolean;
  clearHypervisors?: boolean;
}

export interface PolicyRunOptions {
  full?: boolean;
  incremental?: boolean;
  wait?: boolean;
  json?: boolean;
}

export function registerPolicyCommands(program: Command, ctx: CliContext): void {
  const policy = program.command('policy').description('backup policies: which VMs are backed up, when, where to, and for how long');

  const fieldOptions = (cmd: Command, create: boolean): Command => {
    const list = create ? '' : ' (replaces the list)';
    return cmd
      .option('--schedule <spec>', `when it runs, e.g. "${SCHEDULE_EXAMPLE}", "full sun 22:00" or "incremental every 4h 08:00-20:00"; repeatable${list}`, collect)
      .option('--retention <spec>', `which backups stay, e.g. "${RETENTION_EXAMPLE}"`)
      .option('--retention-schedule <spec>', 'when retention (prune, then GC) also runs, besides after each run, e.g. "daily 03:00"')
      .option('--include <regex>', `VMs whose name matches this regular expression are in the policy, e.g. "^prod-"; repeatable${list}`, collect)
      .option('--exclude <regex>', `VMs whose name matches are not, even when an --include or --hypervisor takes them; repeatable${list}`, collect)
      .option('--hypervisor <name>', `the VMs on this hypervisor are in the policy; repeatable${list}`, collect)
      .addOption(new Option('--assign-mode <mode>', 'assign-only: a VM the rules put in stays when it stops matching; assign-and-remove: it leaves').choices(ASSIGN_MODES))
      .option('--priority <n>', 'when the rules of several policies match a VM, the highest priority takes it; also the priority of its backup tasks, 0 to 100 (default: 50)', intParser('--priority', 0, 100))
      .option('--time-zone <tz>', "IANA time zone the schedules are read in, e.g. Europe/Berlin (default: the server's)")
      .option('--fail-above <percent>', 'cancel the rest of a run once more than this share of its VMs failed, 0 to 100, or "never" (the default)', parseFailAbove)
      .option('--json', 'print the policy as JSON only');
  };

  fieldOptions(
    policy
      .command('create')
      .description("create a backup policy; its rules put the matching VMs in it at once")
      .argument('<name>', 'policy name')
      .requiredOption('--destination <dest>', 'where its backups go (name or id)'),
    true,
  )
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
    .option('--clear-include', 'remove every --include rule')
    .option('--clear-exclude', 'remove every --exclude rule')
    .option('--clear-hypervisors', 'remove every --hypervisor rule')
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
    .command('runs')
    .description('list runs and missed runs, newest first: of one policy, or of all')
    .argument('[name]', 'policy name or id')
    .option('--limit <n>', `at most this many runs, 1 to ${MAX_RUNS} (default: ${DEFAULT_RUNS})`, intParser('--limit', 1, MAX_RUNS))
    .option('--json', 'print JSON only')
    .action((ref: string | undefined, options: { limit?: number; json?: boolean }) => listRuns(ctx, ref, options));
}

// ---- arguments ---------------------------------------------------------------

/** Commander collector for a repeatable option. */
function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

function parseRunId(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1 || !Number.isSafeInteger(Number(value))) {
    throw new InvalidArgumentError('a run id is a positive whole number, as vplus policy runs shows it.');
  }
  return Number(value);
}

/** "--fail-above 20" or "20%" → 20; "never" → null. */
export function parseFailAbove(value: string): number | null {
  const text = value.trim().toLowerCase();
  if (text === 'never') return null;
  const m = /^(\d{1,3})\s*%?$/.exec(text);
  if (!m || Number(m[1]) > 100) throw new InvalidArgumentError('--fail-above must be a percentage from 0 to 100, or "never".');
  return Number(m[1]);
}

export function validatePolicyName(name: string, what = 'policy name'): string {
  const result = CreatePolicySchema.shape.name.safeParse(name);
  if (result.success) return result.data;
  throw new UsageError(`invalid ${what} "${name}": ${result.error.issues[0]?.message ?? 'not accepted'}`);
}

/**
 * A schedule as the server reads it (common/schedule.ts), checked here so a
 * typo is a usage error (exit 2) naming the part that is wrong. Returns the
 * spec with its blanks tidied; the server stores its canonical form.
 */
export function parseScheduleOption(spec: string, flag = '--schedule', backupType: ParseScheduleOptions['backupType'] = 'required'): string {
  try {
    parseScheduleSpec(spec, { backupType });
  } catch (err) {
    if (!(err instanceof ScheduleSpecError)) throw err;
    // 'schedule "x": problem' reads best as '--schedule "x": problem'.
    throw new UsageError(err.message.startsWith('schedule "') ? `${flag} ${err.message.slice('schedule '.length)}` : `${flag}: ${err.message}`);
  }
  return spec.trim().replace(/\s+/g, ' ');
}

export function parseSchedules(specs: readonly string[], backupType: ParseScheduleOptions['backupType'] = 'required'): string[] {
  if (specs.length > MAX_SCHEDULES) throw new UsageError(`at most ${MAX_SCHEDULES} --schedule rules per policy`);
  return unique(specs.map((s) => parseScheduleOption(s, '--schedule', backupType)));
}

/** A VM-name pattern: a JavaScript regular expression, as the server applies it. */
export function parseVmPattern(pattern: string, flag: '--include' | '--exclude'): string {
  if (pattern === '') throw new UsageError(`${flag} needs a regular expression over VM names, e.g. ${flag} "^prod-"`);
  if (pattern.length > MAX_PATTERN) throw new UsageError(`${flag} "${pattern.slice(0, 20)}…" is longer than ${MAX_PATTERN} characters`);
  try {
    new RegExp(pattern);
  } catch (err) {
    throw new UsageError(`${flag} "${pattern}" is not a valid regular expression (${errorMessage(err)}); e.g. ${flag} "^prod-" matches names starting with prod-`);
  }
  return pattern;
}

function parseRules(values: readonly string[], flag: '--include' | '--exclude' | '--hypervisor'): string[] {
  if (values.length > MAX_RULES) throw new UsageError(`at most ${MAX_RULES} ${flag} rules per policy`);
  return unique(
    values.map((v) => {
      if (flag !== '--hypervisor') return parseVmPattern(v, flag);
      const name = v.trim();
      if (name === '' || name.length > MAX_HYPERVISOR_NAME) throw new UsageError(`--hypervisor needs a hypervisor name (1 to ${MAX_HYPERVISOR_NAME} characters), as vplus hypervisor list shows it`);
      return name;
    }),
  );
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}

function parseRetentionSchedule(spec: string): string {
  return parseScheduleOption(spec, '--retention-schedule', 'forbidden');
}

/** The body of POST /api/policies; every mistake a usage error (exit 2). */
export function createPolicyRequest(name: string, options: PolicyCreateOptions): CreatePolicyRequest {
  const destination = options.destination.trim();
  if (destination === '') throw new UsageError('--destination needs a destination name or id, as vplus destination list shows it');
  const retention = options.retention === undefined ? undefined : parseRetentionSpec(options.retention);
  const retentionSchedule = options.retentionSchedule === undefined ? undefined : parseRetentionSchedule(options.retentionSchedule);
  if (retentionSchedule !== undefined && retention === undefined) {
    throw new UsageError(`--retention-schedule needs --retention: say which backups stay, e.g. --retention "${RETENTION_EXAMPLE}"`);
  }
  return {
    name: validatePolicyName(name),
    kind: 'backup',
    destination,
    schedules: parseSchedules(options.schedule ?? []),
    ...(retention !== undefined ? { retention } : {}),
    ...(retentionSchedule !== undefined ? { retentionSchedule } : {}),
    assignment: {
      include: parseRules(options.include ?? [], '--include'),
      exclude: parseRules(options.exclude ?? [], '--exclude'),
      hypervisors: parseRules(options.hypervisor ?? [], '--hypervisor'),
      mode: options.assignMode ?? 'assign-only',
    },
    ...(options.priority !== undefined ? { priority: options.priority } : {}),
    ...(options.timeZone !== undefined ? { timeZone: options.timeZone.trim() } : {}),
    ...(options.failAbove !== undefined ? { failRunAbovePercent: options.failAbove } : {}),
    enabled: !options.disabled,
  };
}

/** What `policy update` changes: the PATCH body, and changes to the assignment rules to merge into the current ones. */
export interface PolicyChanges {
  request: Omit<UpdatePolicyRequest, 'assignment'>;
  assignment: Partial<AssignmentRules>;
}

/**
 * Reads `policy update`'s options before anything is sent. A list option
 * replaces that list; --clear-… empties it. Giving nothing to change, or an
 * option with its --clear-…, is a usage error.
 */
export function policyChanges(options: PolicyUpdateOptions): PolicyChanges {
  const request: PolicyChanges['request'] = {};
  const assignment: Partial<AssignmentRules> = {};
  const both = (a: string, b: string): UsageError => new UsageError(`${a} and ${b} exclude each other; give one`);

  if (options.name !== undefined) request.name = validatePolicyName(options.name, 'new name');
  if (options.destination !== undefined) {
    if (options.destination.trim() === '') throw new UsageError('--destination needs a destination name or id, as vplus destination list shows it');
    request.destination = options.destination.trim();
  }
  if (options.schedule !== undefined && options.clearSchedules) throw both('--schedule', '--clear-schedules');
  // The policy's kind decides whether a schedule needs a backup type; the server checks that.
  if (options.schedule !== undefined) request.schedules = parseSchedules(options.schedule, 'optional');
  if (options.clearSchedules) request.schedules = [];
  if (options.retention !== undefined) request.retention = parseRetentionSpec(options.retention);
  if (options.retentionSchedule !== undefined && options.clearRetentionSchedule) throw both('--retention-schedule', '--clear-retention-schedule');
  if (options.retentionSchedule !== undefined) request.retentionSchedule = parseRetentionSchedule(options.retentionSchedule);
  if (options.clearRetentionSchedule) request.retentionSchedule = null;
  for (const [values, clear, flag, key] of [
    [options.include, options.clearInclude, '--include', 'include'],
    [options.exclude, options.clearExclude, '--exclude', 'exclude'],
    [options.hypervisor, options.clearHypervisors, '--hypervisor', 'hypervisors'],
  ] as const) {
    const clearFlag = `--clear-${key}`;
    if (values !== undefined && clear) throw both(flag, clearFlag);
    if (values !== undefined) assignment[key] = parseRules(values, flag);
    if (clear) assignment[key] = [];
  }
  if (options.assignMode !== undefined) assignment.mode = options.assignMode;
  if (options.priority !== undefined) request.priority = options.priority;
  if (options.timeZone !== undefined) request.timeZone = options.timeZone.trim();
  if (options.failAbove !== undefined) request.failRunAbovePercent = options.failAbove;
  if (options.enable) request.enabled = true;
  if (options.disable) request.enabled = false;
  if (Object.keys(request).length === 0 && Object.keys(assignment).length === 0) {
    throw new UsageError('nothing to change; give what to change, e.g. --schedule "full sun 22:00" or --disable (see vplus policy update --help)');
  }
  return { request, assignment };
}

/** The PATCH body: the assignment rules are sent whole, so the changed ones are merged into the current ones. */
export function updatePolicyRequest(changes: PolicyChanges, current: Pick<Policy, 'assignment'>): UpdatePolicyRequest {
  if (Object.keys(changes.assignment).length === 0) return changes.request;
  return { ...changes.request, assignment: { ...current.assignment, ...changes.assignment } };
}

/** --full / --incremental → the run's backup type; neither: incremental where the chain allows. */
export function runBackupType(options: Pick<PolicyRunOptions, 'full' | 'incremental'>): 'full' | 'incremental' | undefined {
  if (options.full && options.incremental) throw new UsageError('--full and --incremental exclude each other; give one');
  return options.full ? 'full' : options.incremental ? 'incremental' : undefined;
}

export function parseVmRefs(refs: readonly string[]): string[] {
  const vms = unique(refs.map((r) => r.trim()).filter((r) => r !== ''));
  if (vms.length === 0) throw new UsageError('give the VMs by name, UUID or id, as vplus vm list shows them');
  return vms;
}

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
    if (created.vms.length === 0 && (created.assignment.include.length > 0 || created.assignment.hypervisors.length > 0)) {
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
    const started = `Started ${describeRun(run)} (${kind}): ${plural(run.vms, 'VM')}.`;
    if (options.json) out.note(started);
    else out.line(started);
    await finishRun(ctx, client, { run, policy: policy.name, kind: 'backup', matches: runTasks(run) }, options, events);
  });
}

async function waitForPolicy(ctx: CliContext, ref: string, runId: number | undefined, options: { json?: boolean }): Promise<void> {
  await withClient(ctx, async (client) => {
    const policy = await client.getPolicy(ref);
    const events = await openEvents(ctx, client);
    const runs = await client.policyRuns(String(policy.id), runId === undefined ? 50 : MAX_RUNS).catch((err: unknown) => {
      events?.close();
      throw err;
    });
    const run = runId === undefined ? currentRun(runs) : runs.find((r) => r.id === runId);
    if (!run) {
      events?.close();
      throw new CliError(
        runId === undefined
          ? `policy "${policy.name}" has not run yet; run it with vplus policy run ${quoteArg(policy.name)}`
          : `policy "${policy.name}" has no run ${runId} among its last ${MAX_RUNS}; see them with vplus policy runs ${quoteArg(policy.name)}`,
      );
    }
    const kind = runKind(run);
    const out = new Output(ctx);
    if (run.state === 'running') out.note(`Waiting for ${describeRun(run)}, started ${formatTimestamp(run.startedAt)}.`);
    else if (runId === undefined) out.note(`Policy "${policy.name}" is not running; its last run was ${run.id}.`);
    await finishRun(ctx, client, { run, policy: policy.name, kind, matches: runTasks(run) }, { wait: true, ...options }, events);
  });
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

async function applyRetention(ctx: CliContext, ref: string, options: { wait?: boolean; json?: boolean }): Promise<void> {
  const out = new Output(ctx);
  await withClient(ctx, async (client) => {
    const policy = await client.getPolicy(ref);
    const events = options.wait ? await openEvents(ctx, client) : null;
    let run: PolicyRun;
    try {
      run = await client.applyPolicyRetention(String(policy.id));
    } catch (err) {
      events?.close();
      throw err;
    }
    const rules = policy.retention ? ` (${formatRetention(policy.retention)})` : '';
    const started = `Applying the retention of policy "${policy.name}"${rules} on destination ${policy.destination ?? '-'}: run ${run.id}.`;
    if (options.json) out.note(started);
    else out.line(started);
    await finishRun(ctx, client, { run, policy: policy.name, kind: 'retention', matches: runTasks(run) }, options, events);
  });
}

async function listRuns(ctx: CliContext, ref: string | undefined, options: { limit?: number; json?: boolean }): Promise<void> {
  const out = new Output(ctx);
  await withClient(ctx, async (client) => {
    const limit = options.limit ?? DEFAULT_RUNS;
    const runs = await client.policyRuns(ref, limit);
    if (options.json) out.json(runs);
    else out.line(formatRuns(runs, ref === undefined ? undefined : (runs[0]?.policy ?? ref)));
    if (runs.length >= limit && !options.json) out.note(`Showing the newest ${runs.length} runs; there may be more: use --limit (up to ${MAX_RUNS}).`);
  });
}

// ---- formatting ---------------------------------------------------------------------------

/** "destination nas, 2 schedules, keeps last=3 daily=14, 3 VMs" */
function summary(p: Policy): string {
  const parts = [
    `destination ${p.destination ?? '-'}`,
    p.schedules.length === 0 ? 'no schedule' : p.schedules.map((s) => `"${s}"`).join(', '),
    p.retention ? `keeps ${formatRetention(p.retention)}` : 'keeps every backup',
    plural(p.vms.length, 'VM'),
  ];
  if (!p.enabled) parts.push('disabled');
  else if (p.nextRun) parts.push(`next run ${formatNextRun(p)}`);
  return parts.join(', ');
}

/** "2025-02-03 22:00 (incremental)"; "-" when there is none, "disabled" for a policy switched off. */
export function formatNextRun(p: Pick<Policy, 'nextRun' | 'enabled'>): string {
  if (!p.enabled) return 'disabled';
  if (!p.nextRun) return '-';
  return `${formatTimestamp(p.nextRun.at)}${p.nextRun.backupType ? ` (${p.nextRun.backupType})` : ''}`;
}

/** "finished 2025-01-31 22:00", "running since …", "missed 2025-01-31 22:00"; "never". */
export function formatLastRun(run: PolicyRun | null): string {
  if (!run) return 'never';
  if (run.state === 'running') return `running since ${formatTimestamp(run.startedAt)}`;
  return `${runStateWords(run.state)} ${formatTimestamp(run.finishedAt ?? run.startedAt ?? run.scheduledFor)}`;
}

export function formatPolicies(policies: readonly Policy[]): string {
  if (policies.length === 0) return 'No policies. Create one with vplus policy create NAME --destination DEST --schedule "incremental mon-fri 22:00".';
  return formatTable(
    ['ID', 'NAME', 'DESTINATION', 'SCHEDULES', 'RETENTION', 'VMS', 'NEXT RUN', 'LAST RUN'],
    policies.map((p) => [
      String(p.id),
      p.name,
      p.destination ?? '-',
      p.schedules.join('; ') || '-',
      p.retention ? formatRetention(p.retention) : '-',
      String(p.vms.length),
      formatNextRun(p),
      formatLastRun(p.lastRun),
    ]),
  );
}

function formatRules(p: Policy): [string, string][] {
  const a = p.assignment;
  return [
    ['Include', a.include.length > 0 ? a.include.map((r) => `"${r}"`).join(' ') : '-'],
    ['Exclude', a.exclude.length > 0 ? a.exclude.map((r) => `"${r}"`).join(' ') : '-'],
    ['Hypervisors', a.hypervisors.length > 0 ? a.hypervisors.join(', ') : '-'],
    ['Assign mode', a.mode === 'assign-only' ? 'assign-only (a VM the rules put in stays when it stops matching)' : 'assign-and-remove (a VM the rules put in leaves when it stops matching)'],
  ];
}

export function formatPolicy(p: Policy): string {
  const retention = p.retention
    ? `${formatRetention(p.retention)}${p.retention.keepLatestOfExistingVm ? ' (the newest backup of a VM still on its host is always kept)' : ''}`
    : 'none (every backup is kept)';
  const fields: [string, string][] = [
    ['ID', String(p.id)],
    ['Name', p.name],
    ['Enabled', p.enabled ? 'yes' : 'no (its schedules do not run)'],
    ['Destination', p.destination ?? '-'],
    ['Schedules', p.schedules.length > 0 ? p.schedules.join('; ') : 'none (runs only when started by hand)'],
    ['Time zone', p.timeZone],
    ['Retention', retention],
    ['Retention runs', p.retentionSchedule ? `after each run and ${p.retentionSchedule}` : p.retention ? 'after each run' : '-'],
    ...formatRules(p),
    ['Priority', String(p.priority)],
    ['Fail run above', p.failRunAbovePercent === null ? 'never (every VM is tried)' : `${p.failRunAbovePercent} % of its VMs failed`],
    ['Next run', p.nextRun ? `${formatNextRun(p)}, by "${p.nextRun.rule}"` : formatNextRun(p)],
    ['Last run', p.lastRun ? `${formatLastRun(p.lastRun)}: ${runSummary(p.lastRun)}` : 'never'],
    ['Created', formatTimestamp(p.createdAt)],
    ['Updated', formatTimestamp(p.updatedAt)],
  ];
  const vms =
    p.vms.length === 0
      ? `VMs: none; add them with --include/--hypervisor rules (vplus policy update) or by hand (vplus policy assign ${quoteArg(p.name)} VM…)`
      : `VMs:\n${indent(formatTable(['ID', 'NAME', 'ASSIGNED'], p.vms.map((v) => [String(v.id), v.name, v.source === 'auto' ? 'by its rules' : 'by hand'])))}`;
  return `${formatFields(fields)}\n${vms}`;
}

/** "3 of 3 VMs backed up" / the run's message when it has no VMs. */
function runSummary(run: PolicyRun): string {
  const message = run.message ? `; ${run.message}` : '';
  if (run.vms === 0 && run.message) return run.message;
  return `${runCounts(run)}${message}`;
}

export function formatRuns(runs: readonly PolicyRun[], policy?: string): string {
  if (runs.length === 0) return policy === undefined ? 'No policy has run yet.' : `Policy "${policy}" has not run yet; run it with vplus policy run ${quoteArg(policy)}.`;
  const withPolicy = policy === undefined;
  return formatTable(
    ['ID', ...(withPolicy ? ['POLICY'] : []), 'TRIGGER', 'TYPE', 'SCHEDULED', 'STARTED', 'FINISHED', 'STATE', 'VMS', 'MESSAGE'],
    runs.map((r) => [
      String(r.id),
      ...(withPolicy ? [r.policy] : []),
      r.trigger,
      r.backupType ?? '-',
      r.scheduledFor ? formatTimestamp(r.scheduledFor) : '-',
      r.startedAt ? formatTimestamp(r.startedAt) : '-',
      r.finishedAt ? formatTimestamp(r.finishedAt) : '-',
      runStateWords(r.state),
      formatRunVms(r),
      truncate(r.message ?? '', 60),
    ]),
  );
}

/** "2/3 ok, 1 failed" */
export function formatRunVms(run: Pick<PolicyRun, 'vms' | 'succeeded' | 'failed' | 'cancelled'>): string {
  const parts = [`${run.succeeded}/${run.vms} ok`];
  if (run.failed > 0) parts.push(`${run.failed} failed`);
  if (run.cancelled > 0) parts.push(`${run.cancelled} cancelled`);
  return parts.join(', ');
}

function truncate(text: string, width: number): string {
  const oneLine = text.replace(/\s+/g, ' ');
  return oneLine.length <= width ? oneLine : `${oneLine.slice(0, width - 1)}…`;
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n');
}
