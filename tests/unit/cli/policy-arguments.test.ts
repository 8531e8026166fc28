import { afterAll, describe, expect, it } from 'vitest';
import {
  createPolicyRequest,
  parseFailAbove,
  parseScheduleOption,
  parseSchedules,
  parseVmPattern,
  parseVmRefs,
  policyChanges,
  runBackupType,
  updatePolicyRequest,
  validatePolicyName,
} from '../../../cli/policy-arguments.js';
import { UsageError } from '../../../cli/errors.js';
import { CreatePolicySchema, UpdatePolicySchema, type AssignmentRules } from '../../../common/api/index.js';
import { removeTempDirs, runVplus, unusedPort } from './helpers.js';

afterAll(removeTempDirs);

describe('--schedule SPEC', () => {
  it.each([
    ['incremental mon-fri 22:00'],
    ['full sun 22:00'],
    ['incremental every 4h 08:00-20:00 window 1h'],
    ['incremental every 30m'],
    ['full daily 03:00'],
    ['incremental mon,wed,fri 08:00,12:30'],
    ['full 1st sun 03:00'],
    ['full 2nd mon 03:00'],
    ['full last fri 23:30 window 2h'],
    ['INCREMENTAL Mon-Fri 22:00'],
  ])('accepts %j', (spec) => {
    expect(parseScheduleOption(spec)).toBe(spec);
  });

  it('tidies blanks and keeps the order; a rule given twice is sent once', () => {
    expect(parseScheduleOption('  incremental   mon-fri  22:00 ')).toBe('incremental mon-fri 22:00');
    expect(parseSchedules(['full sun 22:00', 'incremental mon-fri 22:00', 'full sun 22:00'])).toEqual(['full sun 22:00', 'incremental mon-fri 22:00']);
  });

  it.each([
    ['incremental mon-fry 22:00', /^--schedule "incremental mon-fry 22:00": could not read "mon-fry" as days; use daily, a day \(mon … sun\)/],
    ['mon-fri 22:00', /^--schedule "mon-fri 22:00": the backup type is missing; start with "full" or "incremental"/],
    ['incremental mon-fri', /^--schedule "incremental mon-fri": the time is missing;/],
    ['incremental 25:00', /^--schedule "incremental 25:00": could not read the time "25:00"/],
    ['incremental every 2m', /the interval "2m" is shorter than the minimum of 5 minutes/],
    ['full 5th sun 03:00', /only 1st to 4th and last exist in every month/],
    ['incremental 22:00 mon-fri', /could not read "mon-fri" at the end; days come before the time/],
    ['   ', /^--schedule: the schedule is empty; write it like "incremental mon-fri 22:00"$/],
  ])('refuses %j, naming what is wrong (exit 2)', (spec, message) => {
    expect(() => parseScheduleOption(spec)).toThrow(UsageError);
    expect(() => parseScheduleOption(spec)).toThrow(message);
  });

  it('a retention schedule has no backup type', () => {
    expect(parseScheduleOption('daily 03:00', '--retention-schedule', 'forbidden')).toBe('daily 03:00');
    expect(() => parseScheduleOption('full daily 03:00', '--retention-schedule', 'forbidden')).toThrow(/^--retention-schedule "full daily 03:00": this schedule takes no backup type \(retention schedules and snapshot policies run without one\), leave out "full"/);
  });

  it('at most 20 rules', () => {
    expect(() => parseSchedules(Array.from({ length: 21 }, (_, i) => `full daily ${String(i).padStart(2, '0')}:00`))).toThrow(/at most 20 --schedule rules per policy/);
  });
});

describe('other policy arguments', () => {
  it('--fail-above takes a percentage or "never"', () => {
    expect(parseFailAbove('20')).toBe(20);
    expect(parseFailAbove('0')).toBe(0);
    expect(parseFailAbove('100%')).toBe(100);
    expect(parseFailAbove('Never')).toBeNull();
    for (const bad of ['101', '-1', '2.5', 'half', '']) expect(() => parseFailAbove(bad)).toThrow(/--fail-above must be a percentage from 0 to 100, or "never"/);
  });

  it('--include and --exclude are regular expressions', () => {
    expect(parseVmPattern('^prod-', '--include')).toBe('^prod-');
    expect(() => parseVmPattern('(unclosed', '--exclude')).toThrow(/^--exclude "\(unclosed" is not a valid regular expression \(.*\); e\.g\. --exclude "\^prod-"/);
    expect(() => parseVmPattern('', '--include')).toThrow(/--include needs a regular expression over VM names/);
    expect(() => parseVmPattern('x'.repeat(256), '--include')).toThrow(/longer than 255 characters/);
  });

  it('names are checked against the API schema', () => {
    expect(validatePolicyName('nightly prod_1.a-b')).toBe('nightly prod_1.a-b');
    expect(() => validatePolicyName('-x')).toThrow(/invalid policy name "-x": policy names may contain letters, digits, spaces/);
    expect(() => validatePolicyName('a/b', 'new name')).toThrow(/invalid new name "a\/b"/);
  });

  it('--full and --incremental', () => {
    expect(runBackupType({})).toBeUndefined();
    expect(runBackupType({ full: true })).toBe('full');
    expect(runBackupType({ incremental: true })).toBe('incremental');
    expect(() => runBackupType({ full: true, incremental: true })).toThrow(/--full and --incremental exclude each other/);
  });

  it('VM references: trimmed, each once, at least one', () => {
    expect(parseVmRefs(['a', ' b ', 'a'])).toEqual(['a', 'b']);
    expect(() => parseVmRefs([' '])).toThrow(/give the VMs by name, UUID or id/);
  });
});

describe('policy create: the request', () => {
  it('carries every option the way the API takes it', () => {
    const request = createPolicyRequest('nightly', {
      destination: 'nas',
      schedule: ['incremental mon-fri 22:00', 'full sun 22:00'],
      retention: 'last=3 daily=14 weekly=8 monthly=12',
      retentionSchedule: 'daily 03:00',
      include: ['^prod-', '^db-'],
      exclude: ['-test$'],
      hypervisor: ['kvm1'],
      assignMode: 'assign-and-remove',
      priority: 70,
      timeZone: 'Europe/Berlin',
      failAbove: 25,
      disabled: true,
    });
    expect(request).toEqual({
      name: 'nightly',
      kind: 'backup',
      destination: 'nas',
      schedules: ['incremental mon-fri 22:00', 'full sun 22:00'],
      retention: { keepLast: 3, daily: 14, weekly: 8, monthly: 12 },
      retentionSchedule: 'daily 03:00',
      assignment: { include: ['^prod-', '^db-'], exclude: ['-test$'], hypervisors: ['kvm1'], mode: 'assign-and-remove' },
      priority: 70,
      timeZone: 'Europe/Berlin',
      failRunAbovePercent: 25,
      enabled: false,
    });
    expect(CreatePolicySchema.safeParse(request).success).toBe(true);
  });

  it('leaves out what was not given, so the server defaults apply', () => {
    const request = createPolicyRequest('adhoc', { destination: 'nas' });
    expect(request).toEqual({ name: 'adhoc', kind: 'backup', destination: 'nas', schedules: [], assignment: { include: [], exclude: [], hypervisors: [], mode: 'assign-only' }, enabled: true });
    expect(CreatePolicySchema.parse(request)).toMatchObject({ priority: 50, failRunAbovePercent: null });
    expect(createPolicyRequest('n', { destination: 'nas', failAbove: null }).failRunAbovePercent).toBeNull();
  });

  it('refuses a retention schedule without retention rules', () => {
    expect(() => createPolicyRequest('n', { destination: 'nas', retentionSchedule: 'daily 03:00' })).toThrow(/--retention-schedule needs --retention/);
  });

  it('--kind m365 makes a Microsoft 365 policy whose --include/--exclude match users and sites; --hypervisor is refused (exit 2)', () => {
    const request = createPolicyRequest('m365-daily', { destination: 'nas', kind: 'm365', schedule: ['incremental daily 21:00'], include: ['^alice@', '^finance$'], exclude: ['^test-'], retention: 'last=1' });
    expect(request).toMatchObject({ kind: 'm365', assignment: { include: ['^alice@', '^finance$'], exclude: ['^test-'], hypervisors: [] }, retention: { keepLast: 1 } });
    expect(CreatePolicySchema.safeParse(request).success).toBe(true);
    expect(() => createPolicyRequest('m', { destination: 'nas', kind: 'm365', hypervisor: ['kvm1'] })).toThrow(UsageError);
    expect(() => createPolicyRequest('m', { destination: 'nas', kind: 'm365', hypervisor: ['kvm1'] })).toThrow(/^--hypervisor is for VM policies: a Microsoft 365 policy takes users and sites by --include and --exclude/);
  });
});

describe('policy update: the changes', () => {
  const current: { assignment: AssignmentRules } = { assignment: { include: ['^prod-'], exclude: ['-test$'], hypervisors: ['kvm1'], mode: 'assign-only' } };

  it('sends only what is given', () => {
    const changes = policyChanges({ disable: true, schedule: ['full sun 03:00'], priority: 10 });
    expect(updatePolicyRequest(changes, current)).toEqual({ enabled: false, schedules: ['full sun 03:00'], priority: 10 });
    expect(updatePolicyRequest(policyChanges({ name: 'weekly', enable: true, failAbove: null, timeZone: ' UTC ' }), current)).toEqual({ name: 'weekly', enabled: true, failRunAbovePercent: null, timeZone: 'UTC' });
  });

  it('a list option replaces that list; the other rules stay as they are', () => {
    const request = updatePolicyRequest(policyChanges({ include: ['^web-'], assignMode: 'assign-and-remove' }), current);
    expect(request).toEqual({ assignment: { include: ['^web-'], exclude: ['-test$'], hypervisors: ['kvm1'], mode: 'assign-and-remove' } });
    expect(UpdatePolicySchema.safeParse(request).success).toBe(true);
  });

  it('--clear-… empties a list or the retention schedule', () => {
    const changes = policyChanges({ clearSchedules: true, clearExclude: true, clearHypervisors: true, clearRetentionSchedule: true });
    expect(updatePolicyRequest(changes, current)).toEqual({ schedules: [], retentionSchedule: null, assignment: { include: ['^prod-'], exclude: [], hypervisors: [], mode: 'assign-only' } });
  });

  it('reads a schedule without a backup type (the policy may be a snapshot policy: the server decides)', () => {
    expect(policyChanges({ schedule: ['daily 03:00'] }).request).toEqual({ schedules: ['daily 03:00'] });
    expect(() => policyChanges({ schedule: ['dayly 03:00'] })).toThrow(/^--schedule "dayly 03:00": could not read "dayly" as days/);
  });

  it('refuses nothing to change, and an option together with its --clear-…', () => {
    expect(() => policyChanges({})).toThrow(/^nothing to change; give what to change/);
    expect(() => policyChanges({ json: true })).toThrow(/^nothing to change/);
    expect(() => policyChanges({ schedule: ['full sun 03:00'], clearSchedules: true })).toThrow(/--schedule and --clear-schedules exclude each other/);
    expect(() => policyChanges({ include: ['^a'], clearInclude: true })).toThrow(/--include and --clear-include exclude each other/);
    expect(() => policyChanges({ retentionSchedule: 'daily 03:00', clearRetentionSchedule: true })).toThrow(/--retention-schedule and --clear-retention-schedule exclude each other/);
  });
});

describe('policy verify schedule options', () => {
  it('create and update carry --verify-schedule and --verify-parts; --clear-verify-schedule removes it', () => {
    const request = createPolicyRequest('checked', { destination: 'nas', verifySchedule: 'Sun 04:00', verifyParts: 7 });
    expect(request).toMatchObject({ verifySchedule: 'Sun 04:00', verifyParts: 7 });
    expect(CreatePolicySchema.safeParse(request).success).toBe(true);
    expect(policyChanges({ verifySchedule: 'daily 03:00', verifyParts: 3 }).request).toEqual({ verifySchedule: 'daily 03:00', verifyParts: 3 });
    expect(policyChanges({ clearVerifySchedule: true }).request).toEqual({ verifySchedule: null });
    expect(() => policyChanges({ verifySchedule: 'daily 03:00', clearVerifySchedule: true })).toThrow(/--verify-schedule and --clear-verify-schedule exclude each other/);
    expect(() => createPolicyRequest('checked', { destination: 'nas', verifySchedule: 'full daily 03:00' })).toThrow(/--verify-schedule/);
  });
});

/** CLI.md: usage errors exit 2, with one sentence on stderr, nothing on stdout, and no request. */
describe('policy usage errors exit 2', () => {
  const cases: [string, string[], RegExp][] = [
    ['create without --destination', ['policy', 'create', 'nightly'], /required option '--destination <dest>'/],
    ['create with a bad name', ['policy', 'create', 'night/ly', '--destination', 'nas'], /invalid policy name "night\/ly"/],
    ['create with a bad schedule', ['policy', 'create', 'nightly', '--destination', 'nas', '--schedule', 'incremental mon-fry 22:00'], /error: --schedule "incremental mon-fry 22:00": could not read "mon-fry" as days/],
    ['create with a schedule without a type', ['policy', 'create', 'nightly', '--destination', 'nas', '--schedule', 'sun 22:00'], /the backup type is missing/],
    ['create with a bad retention', ['policy', 'create', 'nightly', '--destination', 'nas', '--retention', 'dayly=14'], /--retention: "dayly=14": there is no rule "dayly"/],
    ['create with a bad regex', ['policy', 'create', 'nightly', '--destination', 'nas', '--include', '[a-'], /--include "\[a-" is not a valid regular expression/],
    ['create with priority 101', ['policy', 'create', 'nightly', '--destination', 'nas', '--priority', '101'], /--priority must be a whole number from 0 to 100/],
    ['create with --fail-above 120', ['policy', 'create', 'nightly', '--destination', 'nas', '--fail-above', '120'], /--fail-above must be a percentage from 0 to 100, or "never"/],
    ['create with an unknown assign mode', ['policy', 'create', 'nightly', '--destination', 'nas', '--assign-mode', 'sometimes'], /Allowed choices are assign-only, assign-and-remove/],
    ['create with a retention schedule alone', ['policy', 'create', 'nightly', '--destination', 'nas', '--retention-schedule', 'daily 03:00'], /--retention-schedule needs --retention/],
    ['update with nothing to change', ['policy', 'update', 'nightly'], /nothing to change/],
    ['update with --enable and --disable', ['policy', 'update', 'nightly', '--enable', '--disable'], /option '--enable' cannot be used with option '--disable'/],
    ['update with a bad new name', ['policy', 'update', 'nightly', '--name', ' x'], /invalid new name " x"/],
    ['run with --full and --incremental', ['policy', 'run', 'nightly', '--full', '--incremental'], /option '--full' cannot be used with option '--incremental'/],
    ['assign without a VM', ['policy', 'assign', 'nightly'], /missing required argument 'vm'/],
    ['unassign without a VM', ['policy', 'unassign', 'nightly'], /missing required argument 'vm'/],
    ['runs with --limit 0', ['policy', 'runs', '--limit', '0'], /--limit must be a whole number from 1 to 500/],
    ['show with two names', ['policy', 'show', 'a', 'b'], /too many arguments/],
    ['wait with a run id that is not a number', ['policy', 'wait', 'nightly', 'last'], /a run id is a positive whole number/],
  ];

  for (const [what, argv, message] of cases) {
    it(`for ${what}`, async () => {
      // A server that is not there: a usage error must come before any connection.
      const port = await unusedPort();
      const run = await runVplus(argv, { env: { VPLUS_SERVER: `https://127.0.0.1:${port}`, VPLUS_FINGERPRINT: 'ab'.repeat(32), VPLUS_TOKEN: 't' } });
      expect(run.stderr).toMatch(message);
      expect(run.code).toBe(2);
      expect(run.stdout).toBe('');
    });
  }
});
