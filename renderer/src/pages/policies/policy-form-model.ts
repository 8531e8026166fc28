import { CreatePolicySchema, DEFAULT_SNAPSHOTS_KEPT, RETENTION_LIMITS, type AssignmentRules, type Policy, type PolicyKind } from '@common/api/index.js';
import { randomId } from '@mantine/hooks';
import type { FormErrors } from '@mantine/form';
import type { CreatePolicyRequest, PolicyPreviewRequest, UpdatePolicyRequest } from '../../api/policies.queries.js';

/** One line of a list input (schedule rule, name pattern); the key keeps React's rows stable. */
export interface LineItem {
  key: string;
  value: string;
}

/** Number inputs give '' while empty. */
type NumberField = number | string;

export const RETENTION_FIELDS = ['keepLast', 'daily', 'weekly', 'monthly', 'yearly', 'maxAgeDays'] as const;
export type RetentionField = (typeof RETENTION_FIELDS)[number];

export interface PolicyFormValues {
  /** Chosen when the policy is created; it never changes after. */
  kind: PolicyKind;
  name: string;
  /** Destination id (backup policies). */
  destination: string | null;
  priority: NumberField;
  enabled: boolean;
  /** null: the server's time zone (new policies only). */
  timeZone: string | null;
  schedules: LineItem[];
  keepLast: NumberField;
  daily: NumberField;
  weekly: NumberField;
  monthly: NumberField;
  yearly: NumberField;
  maxAgeDays: NumberField;
  keepLatestOfExistingVm: boolean;
  retentionSchedule: string;
  /** Backup policies: when the destination is verified ('' = never) and in how many parts. */
  verifySchedule: string;
  verifyParts: NumberField;
  /** Snapshot policies: how many of its own snapshots the policy keeps per VM. */
  snapshotsKept: NumberField;
  include: LineItem[];
  exclude: LineItem[];
  hypervisors: string[];
  mode: AssignmentRules['mode'];
  /** VM ids ticked in the checklist: in the policy by hand (saved by a call of their own after the policy). */
  manualVms: number[];
  /** '' = never. */
  failRunAbovePercent: NumberField;
  /** Backup policies: copy each new backup to this destination (id) too; null = no copies. */
  copyTo: string | null;
  /** Which copies stay there; every field empty: the policy's own retention. */
  copyRetention: Record<RetentionField, NumberField>;
}

const noCopyRules = (): Record<RetentionField, NumberField> => ({ keepLast: '', daily: '', weekly: '', monthly: '', yearly: '', maxAgeDays: '' });

export const line = (value = ''): LineItem => ({ key: randomId(), value });

export interface ScheduleExample {
  rule: string;
  meaning: string;
}

export const SCHEDULE_EXAMPLES: readonly ScheduleExample[] = [
  { rule: 'incremental mon-fri 22:00', meaning: 'weekdays at 22:00' },
  { rule: 'full sun 22:00', meaning: 'a full backup every Sunday' },
  { rule: 'incremental every 4h 08:00-20:00 window 1h', meaning: 'every 4 hours in the day, started within an hour or missed' },
  { rule: 'full 1st sun 03:00', meaning: 'the first Sunday of each month' },
  { rule: 'incremental last fri 23:00', meaning: 'the last Friday of each month' },
];

/** Snapshot policies' rules have no backup type: they always take a snapshot. */
export const SNAPSHOT_SCHEDULE_EXAMPLES: readonly ScheduleExample[] = [
  { rule: 'daily 12:00', meaning: 'every day at noon' },
  { rule: 'every 4h 08:00-20:00', meaning: 'every 4 hours in the day' },
  { rule: 'mon-fri 07:00', meaning: 'weekdays before work starts' },
  { rule: 'sun 03:00', meaning: 'every Sunday night' },
];

export const scheduleExamples = (kind: PolicyKind): readonly ScheduleExample[] => (kind === 'snapshot' ? SNAPSHOT_SCHEDULE_EXAMPLES : SCHEDULE_EXAMPLES);

/** A new policy: nightly incrementals need a rule typed in; retention starts at a common 7 daily, 4 weekly, 6 monthly. */
export function newPolicyValues(kind: PolicyKind = 'backup'): PolicyFormValues {
  return {
    kind,
    name: '',
    destination: null,
    priority: 50,
    enabled: true,
    timeZone: null,
    schedules: [line()],
    keepLast: '',
    daily: 7,
    weekly: 4,
    monthly: 6,
    yearly: '',
    maxAgeDays: '',
    keepLatestOfExistingVm: true,
    retentionSchedule: '',
    verifySchedule: '',
    verifyParts: 1,
    snapshotsKept: DEFAULT_SNAPSHOTS_KEPT,
    include: [line()],
    exclude: [],
    hypervisors: [],
    mode: 'assign-only',
    manualVms: [],
    failRunAbovePercent: '',
    copyTo: null,
    copyRetention: noCopyRules(),
  };
}

export function policyValues(policy: Policy): PolicyFormValues {
  const retention = policy.retention;
  const number = (value: number | undefined): NumberField => value ?? '';
  return {
    kind: policy.kind,
    name: policy.name,
    destination: policy.destinationId === null ? null : String(policy.destinationId),
    priority: policy.priority,
    enabled: policy.enabled,
    timeZone: policy.timeZone,
    schedules: policy.schedules.length === 0 ? [line()] : policy.schedules.map((rule) => line(rule)),
    keepLast: number(retention?.keepLast),
    daily: number(retention?.daily),
    weekly: number(retention?.weekly),
    monthly: number(retention?.monthly),
    yearly: number(retention?.yearly),
    maxAgeDays: number(retention?.maxAgeDays),
    keepLatestOfExistingVm: retention?.keepLatestOfExistingVm ?? true,
    retentionSchedule: policy.retentionSchedule ?? '',
    verifySchedule: policy.verifySchedule ?? '',
    verifyParts: policy.verifyParts,
    // A snapshot policy without retention keeps the server's default, so that is what it shows.
    snapshotsKept: policy.kind === 'snapshot' ? (retention?.keepLast ?? DEFAULT_SNAPSHOTS_KEPT) : DEFAULT_SNAPSHOTS_KEPT,
    include: policy.assignment.include.map((pattern) => line(pattern)),
    exclude: policy.assignment.exclude.map((pattern) => line(pattern)),
    hypervisors: policy.assignment.hypervisors,
    mode: policy.assignment.mode,
    manualVms: policy.vms.filter((vm) => vm.source === 'manual').map((vm) => vm.id),
    failRunAbovePercent: policy.failRunAbovePercent ?? '',
    copyTo: policy.copyDestinationId === null ? null : String(policy.copyDestinationId),
    copyRetention: { ...noCopyRules(), ...(policy.copyRetention ?? {}) },
  };
}

/** The copy retention typed in; undefined when no field is (the policy's own retention then applies there). */
export function copyRetentionOf(values: PolicyFormValues): NonNullable<UpdatePolicyRequest['copyRetention']> | undefined {
  const rules: Partial<Record<RetentionField, number>> = {};
  for (const field of RETENTION_FIELDS) {
    const value = numberOf(values.copyRetention[field]);
    if (value !== undefined) rules[field] = value;
  }
  return Object.keys(rules).length === 0 ? undefined : rules;
}

const numberOf = (value: NumberField): number | undefined => (typeof value === 'number' && Number.isFinite(value) ? value : undefined);

/** Non-empty lines, trimmed, with the form row each came from (the server numbers what it was sent). */
export function filledLines(items: readonly LineItem[]): { values: string[]; rows: number[] } {
  const values: string[] = [];
  const rows: number[] = [];
  items.forEach((item, row) => {
    const value = item.value.trim();
    if (value === '') return;
    values.push(value);
    rows.push(row);
  });
  return { values, rows };
}

export function regexProblem(pattern: string): string | null {
  try {
    new RegExp(pattern);
    return null;
  } catch (error) {
    return `Not a regular expression: ${error instanceof Error ? error.message : String(error)}`;
  }
}

type PolicyRetention = NonNullable<CreatePolicyRequest['retention']>;

/**
 * Backup policies: no number given, no retention rules (backups are kept until removed by
 * hand). Snapshot policies: keepLast only, the snapshots kept per VM. `onlyValid` leaves
 * out numbers the server would refuse (the preview shows what the valid rules keep).
 */
export function retentionOf(values: PolicyFormValues, onlyValid = false): PolicyRetention | undefined {
  if (values.kind === 'snapshot') {
    const kept = numberOf(values.snapshotsKept);
    return kept === undefined ? undefined : { keepLast: kept };
  }
  const rules: Partial<Record<RetentionField, number>> = {};
  for (const field of RETENTION_FIELDS) {
    const value = numberOf(values[field]);
    if (value !== undefined && (!onlyValid || retentionProblem(field, value) === null)) rules[field] = value;
  }
  if (Object.keys(rules).length === 0) return undefined;
  return { ...rules, keepLatestOfExistingVm: values.keepLatestOfExistingVm };
}

function assignmentOf(values: PolicyFormValues, onlyValid: boolean): NonNullable<CreatePolicyRequest['assignment']> {
  const patterns = (items: LineItem[]) => filledLines(items).values.filter((pattern) => !onlyValid || regexProblem(pattern) === null);
  // A Microsoft 365 policy matches users and sites by name only.
  return { include: patterns(values.include), exclude: patterns(values.exclude), hypervisors: values.kind === 'm365' ? [] : values.hypervisors, mode: values.mode };
}

export function updateRequest(values: PolicyFormValues): UpdatePolicyRequest {
  const retention = retentionOf(values);
  const change: UpdatePolicyRequest = {
    name: values.name.trim(),
    priority: numberOf(values.priority) ?? 50,
    enabled: values.enabled,
    schedules: filledLines(values.schedules).values,
    assignment: assignmentOf(values, false),
    failRunAbovePercent: numberOf(values.failRunAbovePercent) ?? null,
  };
  if (values.timeZone !== null) change.timeZone = values.timeZone;
  // Every number emptied: the policy keeps its backups until they are removed by hand (a
  // snapshot policy, its default number of snapshots).
  change.retention = retention ?? null;
  // Snapshots stay on the VMs' hosts and rotate at each run: no destination, no retention runs.
  if (values.kind !== 'snapshot') {
    if (values.destination !== null) change.destination = values.destination;
    change.retentionSchedule = values.retentionSchedule.trim() === '' ? null : values.retentionSchedule.trim();
    change.verifySchedule = values.verifySchedule.trim() === '' ? null : values.verifySchedule.trim();
    change.verifyParts = numberOf(values.verifyParts) ?? 1;
  }
  if (values.kind === 'backup') {
    change.copyTo = values.copyTo;
    change.copyRetention = values.copyTo === null ? null : (copyRetentionOf(values) ?? null);
  }
  return change;
}

export function createRequest(values: PolicyFormValues): CreatePolicyRequest {
  const { retention, retentionSchedule, verifySchedule, copyTo, copyRetention, ...rest } = updateRequest(values);
  return {
    ...rest,
    ...(copyTo ? { copyTo } : {}),
    ...(copyTo && copyRetention ? { copyRetention } : {}),
    ...(retention ? { retention } : {}),
    // A new policy without one has none: no need to say so.
    ...(retentionSchedule ? { retentionSchedule } : {}),
    ...(verifySchedule ? { verifySchedule } : {}),
    name: values.name.trim(),
    kind: values.kind,
  };
}

/**
 * The policy as typed so far, in a shape the preview accepts whatever state the form is in:
 * empty lines, broken patterns and an unnamed policy are left out rather than refused.
 */
export function previewRequest(values: PolicyFormValues, policyId: number | undefined): PolicyPreviewRequest {
  const request: PolicyPreviewRequest = {
    count: 10,
    schedules: filledLines(values.schedules).values.filter((rule) => rule.length <= 200),
    assignment: assignmentOf(values, true),
  };
  // A saved policy's kind is the server's to know; a new one says which it will be.
  if (policyId === undefined) request.kind = values.kind;
  else request.policy = String(policyId);
  if (values.timeZone !== null) request.timeZone = values.timeZone;
  // Only a backup policy's retention is previewed (against its destination's backups).
  if (values.kind === 'backup') {
    if (values.destination !== null) request.destination = values.destination;
    const retention = retentionOf(values, true);
    if (retention !== undefined) request.retention = retention;
  }
  return request;
}

const NAME = CreatePolicySchema.shape.name;

function integerProblem(value: NumberField, min: number, max: number, optional: boolean): string | null {
  if (value === '') return optional ? null : 'Required';
  if (typeof value !== 'number' || !Number.isInteger(value)) return 'A whole number';
  if (value < min || value > max) return `Between ${min} and ${max}`;
  return null;
}

/** The API's limits for a retention rule; an empty field is no rule. */
function retentionProblem(field: RetentionField, value: NumberField): string | null {
  if (value === '') return null;
  if (typeof value !== 'number' || !Number.isInteger(value)) return 'A whole number';
  const { min, max } = RETENTION_LIMITS[field];
  if (value < min) return `At least ${min}${field === 'maxAgeDays' ? ' day' : ''}; leave it empty to not use this rule`;
  if (value > max) return `At most ${max}`;
  return null;
}

/** What the form can tell before asking the server; schedule rules are checked by the preview. */
export function validatePolicyForm(values: PolicyFormValues): FormErrors {
  const errors: FormErrors = {};
  const name = NAME.safeParse(values.name.trim());
  if (!name.success) errors['name'] = values.name.trim() === '' ? 'Give the policy a name' : (name.error.issues[0]?.message ?? 'Not a valid name');
  const priority = integerProblem(values.priority, 0, 100, false);
  if (priority !== null) errors['priority'] = priority;
  if (values.kind === 'snapshot') {
    // The node rotates between 1 and 1000 of a policy's snapshots per VM.
    const kept = integerProblem(values.snapshotsKept, 1, 1000, false);
    if (kept !== null) errors['snapshotsKept'] = kept;
  } else {
    if (values.destination === null) errors['destination'] = 'Choose where the backups are stored';
    for (const field of RETENTION_FIELDS) {
      const problem = retentionProblem(field, values[field]);
      if (problem !== null) errors[field] = problem;
    }
    if (values.kind === 'backup' && values.copyTo !== null) {
      if (values.copyTo === values.destination) errors['copyTo'] = 'Copies go to another destination than the backups';
      for (const field of RETENTION_FIELDS) {
        const problem = retentionProblem(field, values.copyRetention[field]);
        if (problem !== null) errors[`copyRetention.${field}`] = problem;
      }
    }
    const retention = retentionOf(values);
    if (retention === undefined && values.retentionSchedule.trim() !== '') errors['retentionSchedule'] = 'A retention schedule needs at least one retention rule above';
  }
  for (const list of ['include', 'exclude'] as const) {
    values[list].forEach((item, row) => {
      const problem = item.value.trim() === '' ? null : regexProblem(item.value.trim());
      if (problem !== null) errors[`${list}.${row}.value`] = problem;
    });
  }
  values.schedules.forEach((item, row) => {
    if (item.value.trim().length > 200) errors[`schedules.${row}.value`] = 'At most 200 characters';
  });
  const fail = integerProblem(values.failRunAbovePercent, 0, 100, true);
  if (fail !== null) errors['failRunAbovePercent'] = fail;
  return errors;
}

const PLAIN_FIELDS = ['name', 'destination', 'priority', 'enabled', 'timeZone', 'retentionSchedule', 'failRunAbovePercent', 'copyTo'] as const;
/** Fields a snapshot policy's form does not show: a refusal about them goes above the form. */
const BACKUP_ONLY_FIELDS: ReadonlySet<string> = new Set(['destination', 'retentionSchedule', 'copyTo', 'copyRetention']);

/**
 * The form field a server refusal is about ("schedules.2", "retention.daily",
 * "assignment.include.0", …), in the form's own rows; null when it names none the form has.
 */
export function formFieldOf(serverField: string | undefined, values: PolicyFormValues): string | null {
  if (serverField === undefined) return null;
  if (values.kind === 'snapshot') {
    if (BACKUP_ONLY_FIELDS.has(serverField)) return null;
    // "retention": a snapshot policy keeps the last N snapshots, and nothing else.
    if (serverField.startsWith('retention')) return 'snapshotsKept';
  }
  const plain = PLAIN_FIELDS.find((field) => field === serverField);
  if (plain !== undefined) return plain;
  if (serverField.startsWith('copyRetention')) return serverField.includes('.') ? serverField : 'copyRetention.keepLast';
  const listRow = (items: LineItem[], index: string | undefined): number | undefined => filledLines(items).rows[Number(index)];
  let match = /^schedules\.(\d+)/.exec(serverField);
  if (match !== null) {
    const row = listRow(values.schedules, match[1]);
    return row === undefined ? null : `schedules.${row}.value`;
  }
  match = /^assignment\.(include|exclude)\.(\d+)/.exec(serverField);
  if (match !== null) {
    const list = match[1] as 'include' | 'exclude';
    const row = listRow(values[list], match[2]);
    return row === undefined ? null : `${list}.${row}.value`;
  }
  if (serverField.startsWith('assignment.hypervisors')) return 'hypervisors';
  if (serverField === 'assignment.mode') return 'mode';
  if (serverField.startsWith('retention')) {
    const retentionField = RETENTION_FIELDS.find((field) => serverField === `retention.${field}`);
    return retentionField ?? 'keepLast';
  }
  return null;
}
