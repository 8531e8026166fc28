import { describe, expect, it } from 'vitest';
import { ApiConnectionError } from '../../../cli/client/api-client.js';
import type { EventStream } from '../../../cli/client/event-stream.js';
import { currentRun } from '../../../cli/commands/policy.command.js';
import { formatLastRun, formatNextRun, formatPolicies, formatPolicy, formatRuns } from '../../../cli/policy-format.js';
import { CliError } from '../../../cli/errors.js';
import {
  followPolicyRun,
  reportRunOutcome,
  runKind,
  runTasks,
  runOutcome,
  type FollowedRun,
  type PolicyRunSource,
} from '../../../cli/policy-run-follower.js';
import type { Policy, PolicyRun, PolicyRunPage, Task, TaskDetails, TaskPage } from '../../../common/api/index.js';
import { FakeEventStream, sampleTask } from './helpers.js';

const MiB = 1024 * 1024;
const STARTED = '2025-01-31T10:00:00.000Z';

function sampleRun(overrides: Partial<PolicyRun> = {}): PolicyRun {
  return {
    id: 12,
    policyId: 1,
    policy: 'nightly',
    purpose: 'run',
    workflowIds: [9],
    trigger: 'manual',
    backupType: null,
    scheduledFor: null,
    startedAt: STARTED,
    finishedAt: null,
    state: 'running',
    vms: 1,
    succeeded: 0,
    failed: 0,
    cancelled: 0,
    message: null,
    ...overrides,
  };
}

function samplePolicy(overrides: Partial<Policy> = {}): Policy {
  return {
    id: 1,
    name: 'nightly',
    kind: 'backup',
    destinationId: 3,
    destination: 'nas',
    priority: 50,
    enabled: true,
    timeZone: 'UTC',
    schedules: ['incremental mon-fri 22:00', 'full sun 22:00'],
    retention: { keepLast: 3, daily: 14, keepLatestOfExistingVm: true },
    retentionSchedule: null,
    verifySchedule: null,
    verifyParts: 1,
    assignment: { include: ['^prod-'], exclude: ['-test$'], hypervisors: [], mode: 'assign-only' },
    failRunAbovePercent: null,
    copyDestinationId: null,
    copyDestination: null,
    copyRetention: null,
    vms: [{ id: 5, name: 'prod-db', source: 'auto' }],
    nextRun: { at: '2025-02-03T22:00:00.000Z', backupType: 'incremental', rule: 'incremental mon-fri 22:00' },
    lastRun: null,
    createdAt: '2025-01-30T09:00:00.000Z',
    updatedAt: '2025-01-30T09:00:00.000Z',
    ...overrides,
  };
}

const ended = { finishedAt: '2025-01-31T10:03:05.000Z' };
const exportTask = (o: Partial<Task> = {}): Task => sampleTask({ id: 31, type: 'EXPORT', subject: 'vm:prod-db', createdBy: 'scheduler', createdAt: STARTED, workflowId: 9, ...o });
const storeTask = (o: Partial<Task> = {}): Task => sampleTask({ id: 32, type: 'STORE', subject: 'vm:prod-db', createdBy: 'scheduler', createdAt: STARTED, workflowId: 9, dependsOn: 31, ...o });
const bytes = (done: number, total: number | null, rate: number | null = null): Task['progress'] => ({ bytesDone: done, bytesTotal: total, percent: null, rate, etaSeconds: null, message: null });

/** Each read answers with the next of its answers (the last repeats); `onRunsRead` runs after a read of the runs. */
class FakeSource implements PolicyRunSource {
  readonly stream = new FakeEventStream();
  runReads = 0;
  taskReads: number[] = [];
  /** What a read of the newest tasks (any state) answers. */
  recent: Task[] = [];
  constructor(
    private readonly runs: (PolicyRun | Error)[],
    private readonly running: Task[][] = [[]],
    private readonly tasks: Map<number, Task> = new Map(),
    private readonly onRunsRead?: (n: number, stream: FakeEventStream) => void,
  ) {}
  async policyRuns(): Promise<PolicyRunPage> {
    const n = this.runReads++;
    const answer = this.runs[Math.min(n, this.runs.length - 1)]!;
    setTimeout(() => this.onRunsRead?.(n, this.stream), 1);
    if (answer instanceof Error) throw answer;
    return { runs: [answer], nextCursor: null };
  }
  async listTasks(query: { state?: string }): Promise<TaskPage> {
    if (query.state !== 'RUNNING') return { tasks: this.recent, nextCursor: null };
    const n = Math.min(this.runReads - 1, this.running.length - 1);
    const tasks = this.running[Math.max(0, n)]!;
    return { tasks, nextCursor: null };
  }
  async getTask(id: number): Promise<TaskDetails> {
    this.taskReads.push(id);
    const task = this.tasks.get(id);
    if (!task) throw new Error(`no task ${id}`);
    return { ...task, log: [] };
  }
  async openEvents(): Promise<EventStream> {
    return this.stream;
  }
}

function capture(): { stdout: string; stderr: string; signal(): void; ctx: Parameters<typeof followPolicyRun>[0] } {
  const handlers: (() => void)[] = [];
  const c = {
    stdout: '',
    stderr: '',
    signal: () => handlers.forEach((h) => h()),
    ctx: {
      stdout: { write: (s: string) => (c.stdout += s), isTTY: false },
      stderr: { write: (s: string) => (c.stderr += s), isTTY: false, columns: 100 },
      env: {},
      onShutdownSignal(handler: (s: NodeJS.Signals) => void) {
        handlers.push(() => handler('SIGINT'));
        return () => void handlers.splice(0);
      },
    },
  };
  return c;
}

const followed = (run: PolicyRun = sampleRun()): FollowedRun => ({ run, policy: 'nightly', kind: 'backup', matches: runTasks(run) });
const fast = { pollIntervalMs: 5, refreshIntervalMs: 20, offlineToleranceMs: 200, tty: false };

describe('runOutcome: how an ended run maps to the exit code', () => {
  it('finished exits 0 with the counts', () => {
    expect(runOutcome(sampleRun({ state: 'finished', succeeded: 1, ...ended }))).toEqual({ exitCode: 0, message: 'Run 12 of policy "nightly" finished in 3m 05s: 1 of 1 VM backed up.' });
  });

  it('a run of an m365 policy counts users and sites', () => {
    expect(runKind({ purpose: 'run' }, 'm365')).toBe('m365');
    expect(runKind({ purpose: 'retention' }, 'm365')).toBe('retention');
    expect(runOutcome(sampleRun({ state: 'finished', vms: 3, succeeded: 3, ...ended }), 'm365')).toEqual({ exitCode: 0, message: 'Run 12 of policy "nightly" finished in 3m 05s: 3 of 3 users and sites backed up.' });
  });

  it('a run of no VMs says so in its message', () => {
    expect(runOutcome(sampleRun({ state: 'finished', vms: 0, message: 'no virtual machines are in this policy', finishedAt: STARTED }))).toEqual({
      exitCode: 0,
      message: 'Run 12 of policy "nightly" finished: no virtual machines are in this policy.',
    });
  });

  it('finished with warnings, failed, cancelled and missed exit 1 with the reason', () => {
    expect(runOutcome(sampleRun({ state: 'finished_with_warnings', vms: 3, succeeded: 2, failed: 1, ...ended }))).toEqual({
      exitCode: 1,
      message: 'run 12 of policy "nightly" finished with warnings in 3m 05s: 2 of 3 VMs backed up, 1 failed',
    });
    expect(runOutcome(sampleRun({ state: 'failed', vms: 4, failed: 3, cancelled: 1, message: "3 of 4 backups failed, more than the policy's 50 %: the rest of the run was cancelled", ...ended }))).toEqual({
      exitCode: 1,
      message: `run 12 of policy "nightly" failed in 3m 05s: 0 of 4 VMs backed up, 3 failed, 1 cancelled; 3 of 4 backups failed, more than the policy's 50 %: the rest of the run was cancelled`,
    });
    expect(runOutcome(sampleRun({ state: 'cancelled', cancelled: 1 })).message).toBe('run 12 of policy "nightly" was cancelled: 0 of 1 VM backed up, 1 cancelled');
    expect(runOutcome(sampleRun({ state: 'missed', startedAt: null, message: 'the server was down' }))).toEqual({ exitCode: 1, message: 'run 12 of policy "nightly" was missed: the server was down' });
  });

  it('a retention run', () => {
    expect(runOutcome(sampleRun({ state: 'finished', ...ended }), 'retention').message).toBe('Retention run 12 of policy "nightly" finished in 3m 05s.');
  });

  it('reportRunOutcome: each failed task as a warning, then the sentence or exit 1', () => {
    const c = capture();
    const failedTask = exportTask({ state: 'FAILED', error: 'domain is not running' });
    expect(() => reportRunOutcome(c.ctx, { run: sampleRun({ state: 'failed', failed: 1 }), kind: 'backup', tasks: [failedTask, storeTask({ state: 'CANCELLED', error: 'cancelled: the step before failed' })] })).toThrow(
      new CliError('run 12 of policy "nightly" failed: 0 of 1 VM backed up, 1 failed'),
    );
    expect(c.stderr).toBe('warning: task 31 (EXPORT vm:prod-db) failed: domain is not running\nwarning: task 32 (STORE vm:prod-db) was cancelled: the step before failed\n');
    expect(c.stdout).toBe('');

    const ok = capture();
    reportRunOutcome(ok.ctx, { run: sampleRun({ state: 'finished', succeeded: 1 }), kind: 'backup' });
    expect(ok.stdout).toBe('Run 12 of policy "nightly" finished: 1 of 1 VM backed up.\n');
    const quiet = capture();
    reportRunOutcome(quiet.ctx, { run: sampleRun({ state: 'finished', succeeded: 1 }), kind: 'backup' }, true);
    expect(quiet.stdout).toBe('');
  });
});

describe('which tasks belong to a run', () => {
  it("the tasks of the workflows the run started, whoever made them and whatever they are", () => {
    const matches = runTasks(sampleRun({ workflowIds: [9, 11] }));
    expect(matches(exportTask())).toBe(true);
    expect(matches(storeTask({ workflowId: 11 }))).toBe(true);
    expect(matches(sampleTask({ type: 'PRUNE', workflowId: 11 }))).toBe(true);
    expect(matches(exportTask({ workflowId: 10 }))).toBe(false);
    expect(matches(exportTask({ workflowId: null }))).toBe(false);
  });

  it('a run says whether it backs up or applies retention', () => {
    expect(runKind(sampleRun())).toBe('backup');
    expect(runKind(sampleRun({ purpose: 'retention', trigger: 'manual' }))).toBe('retention');
  });
});

describe('followPolicyRun', () => {
  it('live: notes each task of the run as it runs and ends, shows the bytes, and ends with the run', async () => {
    const c = capture();
    const source = new FakeSource([sampleRun()], [[]], new Map(), (n, stream) => {
      if (n !== 0) return;
      stream.emit({ type: 'task', task: exportTask({ id: 40, subject: 'vm:other', workflowId: 77, state: 'RUNNING', progress: bytes(MiB, 2 * MiB) }) });
      stream.emit({ type: 'task', task: exportTask({ state: 'RUNNING', progress: bytes(MiB, 4 * MiB, 2 * MiB) }) });
      stream.emit({ type: 'task', task: exportTask({ state: 'FINISHED', progress: bytes(4 * MiB, 4 * MiB), startedAt: STARTED, finishedAt: '2025-01-31T10:00:04.000Z' }) });
      stream.emit({ type: 'task', task: storeTask({ state: 'RUNNING', progress: bytes(2 * MiB, 4 * MiB, MiB) }) });
      stream.emit({ type: 'policy.run', run: sampleRun({ id: 13, state: 'finished' }) });
      stream.emit({ type: 'task', task: storeTask({ state: 'FINISHED', progress: bytes(4 * MiB, 4 * MiB), startedAt: STARTED, finishedAt: '2025-01-31T10:00:06.000Z' }) });
      stream.emit({ type: 'policy.run', run: sampleRun({ state: 'finished', succeeded: 1, finishedAt: '2025-01-31T10:00:07.000Z' }) });
    });
    // Created before the follower listens: the stream keeps it.
    source.stream.emit({ type: 'task', task: exportTask() });
    const result = await followPolicyRun(c.ctx, source, followed(), { ...fast, events: source.stream });

    expect(result.run).toMatchObject({ id: 12, state: 'finished', succeeded: 1 });
    expect(result.tasks.map((t) => [t.id, t.state])).toEqual([
      [31, 'FINISHED'],
      [32, 'FINISHED'],
    ]);
    expect(c.stdout).toBe('');
    expect(c.stderr).toContain('Run 12 of policy "nightly" is running: 0 of 1 VM backed up, 1 to go.\n');
    expect(c.stderr).toContain('Task 31 (EXPORT vm:prod-db) is running on node n1.\n');
    expect(c.stderr).toContain('run 12, 0/1 VMs done: 25%, 1.00 MiB of 4.00 MiB, 2.00 MiB/s, ETA 2s\n');
    expect(c.stderr).toContain('Task 31 (EXPORT vm:prod-db) finished in 4s.\n');
    expect(c.stderr).toContain('Task 32 (STORE vm:prod-db) is running on node n1.\n');
    expect(c.stderr).toContain('Task 32 (STORE vm:prod-db) finished in 6s.\n');
    expect(c.stderr.indexOf('Task 32 (STORE vm:prod-db) is running')).toBeGreaterThan(c.stderr.indexOf('Task 31 (EXPORT vm:prod-db) finished'));
    expect(c.stderr).not.toContain('vm:other');
    // A task that finished leaves the bar full, at its average rate, until the next one starts.
    expect(c.stderr).toContain('Task 31 (EXPORT vm:prod-db) finished in 4s.\nrun 12, 0/1 VMs done: 100%, 4.00 MiB of 4.00 MiB, 1.00 MiB/s, ETA 0s\n');
    expect(c.stderr.endsWith('run 12, 1/1 VMs done: 100%, 4.00 MiB of 4.00 MiB, 683 KiB/s, ETA 0s\n')).toBe(true);
    expect(source.stream.closed).toBe(true);
  });

  it('polling: reads the run and the running tasks; a task that stopped running is read to see how it ended', async () => {
    const c = capture();
    const running = exportTask({ state: 'RUNNING', progress: bytes(3 * MiB, 4 * MiB, MiB) });
    const failed = exportTask({ state: 'FAILED', error: 'domain is not running', startedAt: STARTED, finishedAt: '2025-01-31T10:00:02.000Z' });
    const source = new FakeSource(
      [sampleRun(), sampleRun(), sampleRun({ state: 'failed', failed: 1, finishedAt: '2025-01-31T10:00:03.000Z' })],
      [[running], []],
      new Map([[31, failed]]),
    );
    const result = await followPolicyRun(c.ctx, source, followed(), { ...fast, events: null });
    expect(result.run.state).toBe('failed');
    expect(result.tasks).toEqual([failed]);
    expect(source.taskReads).toEqual([31]);
    expect(c.stderr).toContain('Task 31 (EXPORT vm:prod-db) is running on node n1.\n');
    expect(c.stderr).toContain('run 12, 0/1 VMs done: 75%, 3.00 MiB of 4.00 MiB, 1.00 MiB/s, ETA 1s\n');
    expect(c.stderr).toContain('Task 31 (EXPORT vm:prod-db) failed: domain is not running.\n');
    expect(() => reportRunOutcome(c.ctx, { run: result.run, kind: 'backup', tasks: result.tasks })).toThrow(/^run 12 of policy "nightly" failed in 3s: 0 of 1 VM backed up, 1 failed$/);
  });

  it('polling: a task that ran and ended between two reads is still seen, in the newest tasks', async () => {
    const c = capture();
    const failed = exportTask({ state: 'FAILED', error: 'virtual machine prod-db does not exist on qemu:///system', startedAt: STARTED, finishedAt: STARTED });
    const cancelled = storeTask({ state: 'CANCELLED', error: 'an earlier step (EXPORT task 31) failed' });
    const source = new FakeSource([sampleRun(), sampleRun({ state: 'finished_with_warnings', vms: 2, succeeded: 1, failed: 1 })]);
    source.recent = [cancelled, failed, exportTask({ id: 40, subject: 'vm:other', workflowId: 77, state: 'FAILED' })];
    const result = await followPolicyRun(c.ctx, source, followed(), { ...fast, events: null });
    expect(result.tasks.map((t) => t.id)).toEqual([31, 32]);
    expect(c.stderr).toContain('Task 31 (EXPORT vm:prod-db) failed: virtual machine prod-db does not exist on qemu:///system.\n');
    expect(c.stderr).toContain('Task 32 (STORE vm:prod-db) was cancelled: an earlier step (EXPORT task 31) failed.\n');
    expect(source.taskReads).toEqual([]);
  });

  it('a run that has ended when the follower starts is returned at once', async () => {
    const c = capture();
    const run = sampleRun({ state: 'finished', vms: 0, message: 'no virtual machines are in this policy' });
    const source = new FakeSource([run]);
    const result = await followPolicyRun(c.ctx, source, followed(run), { ...fast, events: null });
    expect(result).toEqual({ run, tasks: [] });
    expect(source.runReads).toBe(0);
  });

  it('a server that is away is retried, and said so', async () => {
    const c = capture();
    const source = new FakeSource([new ApiConnectionError('cannot reach the server at https://h:8181: connection refused; is it running?'), sampleRun({ state: 'finished', succeeded: 1 })]);
    const result = await followPolicyRun(c.ctx, source, followed(), { ...fast, events: null });
    expect(result.run.state).toBe('finished');
    expect(c.stderr).toContain('Lost contact with the server (cannot reach the server at https://h:8181: connection refused; is it running?); retrying…\n');
    expect(c.stderr).toContain('The server answers again; still waiting for run 12 of policy "nightly".\n');
  });

  it('Ctrl-C stops the waiting, not the run', async () => {
    const c = capture();
    const source = new FakeSource([sampleRun()], [[]], new Map(), (n) => {
      if (n === 1) c.signal();
    });
    await expect(followPolicyRun(c.ctx, source, followed(), { ...fast, events: null })).rejects.toThrow(
      new CliError('stopped waiting for run 12 of policy "nightly", which goes on; follow it again with vplus policy wait nightly 12'),
    );
  });
});

describe('policy wait without a run id', () => {
  it('follows the run going on, a backup run before the retention after it; else reports the last backup run', () => {
    const retention = sampleRun({ id: 14, trigger: 'retention', purpose: 'retention' });
    const backup = sampleRun({ id: 13 });
    const done = sampleRun({ id: 12, state: 'finished' });
    expect(currentRun([retention, backup, done])?.id).toBe(13);
    expect(currentRun([retention, { ...backup, state: 'finished' }])?.id).toBe(14);
    expect(currentRun([{ ...retention, state: 'finished' }, sampleRun({ id: 13, state: 'missed' }), done])?.id).toBe(12);
    expect(currentRun([])).toBeUndefined();
  });
});

describe('policy tables and fields', () => {
  it('list: one row per policy with its schedules, retention, VMs, next and last run', () => {
    const text = formatPolicies([
      samplePolicy(),
      samplePolicy({ id: 2, name: 'adhoc', schedules: [], retention: null, vms: [], nextRun: null, enabled: false, lastRun: sampleRun({ id: 4, state: 'failed', finishedAt: '2025-01-31T10:05:00.000Z' }) }),
    ]);
    const lines = text.split('\n');
    expect(lines[0]).toMatch(/^ID\s+NAME\s+DESTINATION\s+SCHEDULES\s+RETENTION\s+VMS\s+NEXT RUN\s+LAST RUN$/);
    expect(lines[1]).toMatch(/^1\s+nightly\s+nas\s+incremental mon-fri 22:00; full sun 22:00\s+last=3 daily=14\s+1\s+\d{4}-\d\d-\d\d \d\d:00 \(incremental\)\s+never$/);
    expect(lines[2]).toMatch(/^2\s+adhoc\s+nas\s+-\s+-\s+0\s+disabled\s+failed \d{4}-\d\d-\d\d \d\d:\d\d$/);
    expect(formatPolicies([])).toMatch(/^No policies\. Create one with vplus policy create NAME --destination DEST/);
  });

  it('show: the rules in words and the VMs with how they came in', () => {
    const text = formatPolicy(samplePolicy({ vms: [{ id: 5, name: 'prod-db', source: 'auto' }, { id: 6, name: 'web', source: 'manual' }], failRunAbovePercent: 20 }));
    expect(text).toMatch(/^Schedules: +incremental mon-fri 22:00; full sun 22:00$/m);
    expect(text).toMatch(/^Retention: +last=3 daily=14 \(the newest backup of a VM still on its host is always kept\)$/m);
    expect(text).toMatch(/^Retention runs: +after each run$/m);
    expect(text).toMatch(/^Include: +"\^prod-"$/m);
    expect(text).toMatch(/^Assign mode: +assign-only \(a VM the rules put in stays when it stops matching\)$/m);
    expect(text).toMatch(/^Fail run above: +20 % of its VMs failed$/m);
    expect(text).toMatch(/^Next run: +\S+ \S+ \(incremental\), by "incremental mon-fri 22:00"$/m);
    expect(text).toMatch(/^Last run: +never$/m);
    expect(text).toMatch(/^VMs:\n {2}ID\s+NAME\s+ASSIGNED\n {2}5\s+prod-db\s+by its rules\n {2}6\s+web\s+by hand$/m);
  });

  it('runs: one row per run, the policy only when several are listed', () => {
    const runs = [sampleRun({ state: 'finished_with_warnings', vms: 3, succeeded: 2, failed: 1, ...ended }), sampleRun({ id: 11, trigger: 'schedule', backupType: 'full', state: 'missed', startedAt: null, scheduledFor: '2025-01-30T22:00:00.000Z', finishedAt: '2025-01-31T06:00:00.000Z', message: 'the server was down' })];
    const one = formatRuns(runs, 'nightly').split('\n');
    expect(one[0]).toMatch(/^ID\s+TRIGGER\s+TYPE\s+SCHEDULED\s+STARTED\s+FINISHED\s+STATE\s+VMS\s+MESSAGE$/);
    expect(one[1]).toMatch(/^12\s+manual\s+-\s+-\s+\S+ \S+\s+\S+ \S+\s+finished with warnings\s+2\/3 ok, 1 failed$/);
    expect(one[2]).toMatch(/^11\s+schedule\s+full\s+\S+ \S+\s+-\s+\S+ \S+\s+missed\s+0\/1 ok\s+the server was down$/);
    expect(formatRuns(runs).split('\n')[1]).toMatch(/^12\s+nightly\s+manual\s+/);
    expect(formatRuns([], 'nightly')).toBe('Policy "nightly" has not run yet; run it with vplus policy run nightly.');
  });

  it('next and last run in a word', () => {
    expect(formatNextRun({ enabled: false, nextRun: null })).toBe('disabled');
    expect(formatNextRun({ enabled: true, nextRun: null })).toBe('-');
    expect(formatLastRun(null)).toBe('never');
    expect(formatLastRun(sampleRun())).toMatch(/^running since \S+ \S+$/);
  });
});
