/**
 * `vplus policy` arguments: the options create and update share, read and checked before the
 * server is asked (a mistake is a usage error, exit 2, naming the flag), and turned into API
 * requests.
 */
import { InvalidArgumentError } from 'commander';
import { AssignModeSchema, CreatePolicySchema, type AssignmentRules, type Policy } from '../common/api/index.js';
import { parseScheduleSpec, ScheduleSpecError, type ParseScheduleOptions } from '../common/schedule.js';
import type { CreatePolicyRequest, UpdatePolicyRequest } from './client/api-client.js';
import { UsageError, errorMessage } from './errors.js';
import { parseRetentionSpec, RETENTION_EXAMPLE } from './retention.js';

export type AssignMode = AssignmentRules['mode'];
export const ASSIGN_MODES = AssignModeSchema.options;

/** CreatePolicySchema's limits. */
const MAX_SCHEDULES = 20;
const MAX_RULES = 50;
const MAX_PATTERN = 255;
const MAX_HYPERVISOR_NAME = 64;

export const SCHEDULE_EXAMPLE = 'incremental mon-fri 22:00';

/** Options create and update share; list options (repeatable) arrive as arrays. */
export interface PolicyFieldOptions {
  destination?: string;
  schedule?: string[];
  retention?: string;
  retentionSchedule?: string;
  verifySchedule?: string;
  verifyParts?: number;
  include?: string[];
  exclude?: string[];
  hypervisor?: string[];
  assignMode?: AssignMode;
  priority?: number;
  timeZone?: string;
  failAbove?: number | null;
  /** Copy each new backup to this destination too (name or id). */
  copyTo?: string;
  copyRetention?: string;
  json?: boolean;
}

export interface PolicyCreateOptions extends PolicyFieldOptions {
  destination: string;
  disabled?: boolean;
  /** backup (VMs, the default) or m365 (Microsoft 365 users and sites). */
  kind?: 'backup' | 'm365';
}

/** The kinds `policy create` makes (snapshot policies are made in the UI). */
export const CREATE_KINDS = ['backup', 'm365'] as const;

export interface PolicyUpdateOptions extends PolicyFieldOptions {
  name?: string;
  enable?: boolean;
  disable?: boolean;
  clearSchedules?: boolean;
  clearRetentionSchedule?: boolean;
  clearVerifySchedule?: boolean;
  clearInclude?: boolean;
  clearExclude?: boolean;
  clearHypervisors?: boolean;
  /** Stop copying backups (the copies made stay). */
  clearCopyTo?: boolean;
}

export interface PolicyRunOptions {
  full?: boolean;
  incremental?: boolean;
  wait?: boolean;
  json?: boolean;
}

/** Commander collector for a repeatable option. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

export function parseRunId(value: string): number {
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
  const kind = options.kind ?? 'backup';
  const copy = copyOptions(options);
  if (copy.copyRetention !== undefined && copy.copyTo === undefined) throw new UsageError(`--copy-retention needs --copy-to: say where the copies go, e.g. --copy-to offsite-s3`);
  if (kind === 'm365' && copy.copyTo !== undefined) throw new UsageError('--copy-to is for VM backup policies: a Microsoft 365 policy does not copy its backups');
  if (kind === 'm365' && (options.hypervisor ?? []).length > 0) {
    throw new UsageError('--hypervisor is for VM policies: a Microsoft 365 policy takes users and sites by --include and --exclude (user principal names and site names)');
  }
  return {
    name: validatePolicyName(name),
    kind,
    destination,
    schedules: parseSchedules(options.schedule ?? []),
    ...(retention !== undefined ? { retention } : {}),
    ...(retentionSchedule !== undefined ? { retentionSchedule } : {}),
    ...(options.verifySchedule !== undefined ? { verifySchedule: parseScheduleOption(options.verifySchedule, '--verify-schedule', 'forbidden') } : {}),
    ...(options.verifyParts !== undefined ? { verifyParts: options.verifyParts } : {}),
    assignment: {
      include: parseRules(options.include ?? [], '--include'),
      exclude: parseRules(options.exclude ?? [], '--exclude'),
      hypervisors: parseRules(options.hypervisor ?? [], '--hypervisor'),
      mode: options.assignMode ?? 'assign-only',
    },
    ...(options.priority !== undefined ? { priority: options.priority } : {}),
    ...(options.timeZone !== undefined ? { timeZone: options.timeZone.trim() } : {}),
    ...(options.failAbove !== undefined ? { failRunAbovePercent: options.failAbove } : {}),
    ...copy,
    enabled: !options.disabled,
  };
}

/** --copy-to and --copy-retention as the API takes them (copyTo, copyRetention). */
function copyOptions(options: Pick<PolicyFieldOptions, 'copyTo' | 'copyRetention'>): { copyTo?: string; copyRetention?: ReturnType<typeof parseRetentionSpec> } {
  const out: { copyTo?: string; copyRetention?: ReturnType<typeof parseRetentionSpec> } = {};
  if (options.copyTo !== undefined) {
    if (options.copyTo.trim() === '') throw new UsageError('--copy-to needs a destination name or id, as vplus destination list shows it');
    out.copyTo = options.copyTo.trim();
  }
  if (options.copyRetention !== undefined) {
    try {
      out.copyRetention = parseRetentionSpec(options.copyRetention);
    } catch (err) {
      throw new UsageError(`--copy-retention: ${(err as Error).message.replace(/^--retention:?\s*/, '')}`);
    }
  }
  return out;
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
  if (options.verifySchedule !== undefined && options.clearVerifySchedule) throw both('--verify-schedule', '--clear-verify-schedule');
  if (options.verifySchedule !== undefined) request.verifySchedule = parseScheduleOption(options.verifySchedule, '--verify-schedule', 'forbidden');
  if (options.clearVerifySchedule) request.verifySchedule = null;
  if (options.verifyParts !== undefined) request.verifyParts = options.verifyParts;
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
  if (options.clearCopyTo && (options.copyTo !== undefined || options.copyRetention !== undefined)) throw both(options.copyTo !== undefined ? '--copy-to' : '--copy-retention', '--clear-copy-to');
  Object.assign(request, copyOptions(options));
  if (options.clearCopyTo) request.copyTo = null;
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

