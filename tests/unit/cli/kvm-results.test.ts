import { describe, expect, it } from 'vitest';
import { formatHypervisors } from '../../../cli/commands/hypervisor.command.js';
import { formatTaskDetails } from '../../../cli/commands/task.command.js';
import { formatExclusion, formatVm, formatVms } from '../../../cli/commands/vm.command.js';
import type { EventStream } from '../../../cli/client/event-stream.js';
import { CliError } from '../../../cli/errors.js';
import { reportTaskOutcome, waitForTasks, type TaskSource } from '../../../cli/task-follower.js';
import { formatTaskResult, resultWarnings, subjectOf } from '../../../cli/task-results.js';
import type { Task, TaskDetails } from '../../../common/api/index.js';
import { VM_UUID, sampleBackup, sampleHypervisor, sampleTask, sampleVm } from './helpers.js';

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;

const ended = (overrides: Partial<Task>): Task =>
  sampleTask({ id: 12, state: 'FINISHED', startedAt: '2025-01-31T10:00:00.000Z', finishedAt: '2025-01-31T10:00:03.000Z', ...overrides });

function capture(): { ctx: { stdout: { write(s: string): void }; stderr: { write(s: string): void } }; out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return { ctx: { stdout: { write: (s) => void (out += s) }, stderr: { write: (s) => void (err += s) } }, out: () => out, err: () => err };
}

describe('KVM task results', () => {
  it('INVENTORY_SYNC: the domains found, by state, with a table and where to see them', () => {
    const task = ended({
      type: 'INVENTORY_SYNC',
      subject: 'hypervisor:kvm1',
      result: {
        domains: [
          { name: 'a', uuid: 'u1', state: 'running', vcpus: 2, memoryBytes: 2 * GiB, disks: [{ target: 'vda', path: '/a', format: 'qcow2', virtualBytes: 20 * GiB, allocatedBytes: 1 }] },
          { name: 'b', uuid: 'u2', state: 'running', vcpus: 1, memoryBytes: 512 * MiB, disks: [] },
          { name: 'c', uuid: 'u3', state: 'paused', vcpus: 4, memoryBytes: 8 * GiB, disks: [] },
        ],
      },
    });
    expect(formatTaskResult(task)).toBe(
      [
        'Found 3 VMs: 2 running, 1 paused.',
        '  NAME  STATE    VCPUS  MEMORY    DISKS',
        '  a     running  2      2.00 GiB  vda 20.0 GiB',
        '  b     running  1      512 MiB   -',
        '  c     paused   4      8.00 GiB  -',
        'See them with: vplus vm list --hypervisor kvm1',
      ].join('\n'),
    );
    expect(formatTaskResult(ended({ type: 'INVENTORY_SYNC', subject: 'hypervisor:kvm1', result: { domains: [], libvirtVersion: '10.0.0' } }))).toBe('Found no VMs (libvirt 10.0.0).');
  });

  it('STORE: the type, bytes read, logical size, backup id and the disks', () => {
    const task = ended({
      type: 'STORE',
      subject: 'vm:prod-db',
      result: {
        backupId: 'b-7',
        type: 'incremental',
        checkpoint: 'vplus-7',
        bytesRead: 96 * MiB,
        logicalBytes: 40 * GiB,
        disks: [{ target: 'vda', size: 40 * GiB, changedBytes: 64 * MiB, bytesRead: 96 * MiB }],
      },
    });
    expect(formatTaskResult(task)).toBe(
      'Stored an incremental backup of prod-db: read 96.0 MiB of 40.0 GiB of disks; backup b-7 in the repository.\n' +
        '  DISK  SIZE      CHANGED   READ\n' +
        '  vda   40.0 GiB  64.0 MiB  96.0 MiB',
    );
    // A shut-off VM without persistent bitmaps leaves nothing for the next incremental to build on.
    const noChain = formatTaskResult(ended({ type: 'STORE', subject: null, result: { ...task.result, type: 'full', checkpoint: null, disks: [] } }));
    expect(noChain).toBe(
      'Stored a full backup: read 96.0 MiB of 40.0 GiB of disks; backup b-7 in the repository.\nThere is no checkpoint to build on: the next backup of this VM is a full one.',
    );
  });

  it('RESTORE: the files written; IMPORT: the new VM', () => {
    expect(
      formatTaskResult(
        ended({
          type: 'RESTORE',
          result: { directory: '/r', files: [{ target: 'vda', path: '/r/vda.raw', format: 'raw', size: 2 * GiB }], domainXmlPath: '/r/domain.xml' },
        }),
      ),
    ).toBe('Wrote 1 disk image (2.00 GiB) to /r:\n  vda → /r/vda.raw (raw, 2.00 GiB)\n  VM definition → /r/domain.xml');
    expect(formatTaskResult(ended({ type: 'IMPORT', result: { name: 'copy', uuid: 'u-9', started: false } }))).toBe('Defined the new VM copy (UUID u-9); it is not started.');
    expect(formatTaskResult(ended({ type: 'EXPORT', result: { exportId: 'e', type: 'full', disks: [{ target: 'vda', size: GiB }], warnings: [] } }))).toBe(
      'Exported 1 disk (1.00 GiB) for a full backup.',
    );
  });

  it('a result of another shape prints nothing rather than something wrong', () => {
    for (const type of ['INVENTORY_SYNC', 'EXPORT', 'STORE', 'RESTORE', 'IMPORT'] as const) {
      expect(formatTaskResult(ended({ type, result: { unexpected: true } }))).toBeNull();
    }
  });

  it('task show puts the result in a block of its own', () => {
    const details: TaskDetails = { ...ended({ type: 'IMPORT', subject: 'backup:14', result: { name: 'copy', uuid: 'u-9', started: true } }), log: [] };
    expect(formatTaskDetails(details)).toContain('\nResult:\n  Defined the new VM copy (UUID u-9); it is running.\n');
  });

  it('subjects name what a task is about', () => {
    expect(subjectOf({ subject: 'hypervisor:kvm1' }, 'hypervisor')).toBe('kvm1');
    expect(subjectOf({ subject: 'vm:prod-db' }, 'hypervisor')).toBeNull();
    expect(subjectOf({ subject: null }, 'vm')).toBeNull();
  });
});

describe('warnings of an EXPORT', () => {
  const chain = 'took a full backup because the checkpoint chain was broken: bitmap vplus-3 is missing on vdb';
  const exportTask = (warnings: string[], resultWarningsList: string[]): Task =>
    ended({
      type: 'EXPORT',
      subject: 'vm:prod-db',
      state: warnings.length > 0 ? 'FINISHED_WITH_WARNINGS' : 'FINISHED',
      warnings,
      result: { exportId: 'e', type: 'full', disks: [], warnings: resultWarningsList },
    });

  it("are printed once, whether the task's list or its result carries them", () => {
    expect(resultWarnings(exportTask([chain], [chain]))).toEqual([]);
    expect(resultWarnings(exportTask([], [chain]))).toEqual([chain]);
    for (const task of [exportTask([chain], [chain]), exportTask([], [chain]), exportTask([chain], [])]) {
      const c = capture();
      reportTaskOutcome(c.ctx, task);
      expect(c.err()).toBe(`warning: ${chain}\n`);
    }
  });
});

/** The server side of following several tasks: each read answers the task as it ended. */
class EndedTasks implements TaskSource {
  readonly reads: number[] = [];
  constructor(private readonly tasks: Map<number, TaskDetails>) {}
  getTask(id: number): Promise<TaskDetails> {
    this.reads.push(id);
    return Promise.resolve(this.tasks.get(id)!);
  }
  openEvents(): Promise<EventStream> {
    return Promise.reject(new Error('no events here'));
  }
}

describe('following a workflow: waitForTasks', () => {
  const ctx = (): ReturnType<typeof capture> & { full: Parameters<typeof waitForTasks>[0] } => {
    const c = capture();
    return { ...c, full: { ...c.ctx, env: {}, onShutdownSignal: () => () => undefined } };
  };
  const step = (id: number, type: Task['type'], overrides: Partial<Task> = {}): TaskDetails => ({ ...ended({ id, type, subject: 'vm:prod-db', workflowId: 9, ...overrides }), log: [] });

  it('follows each task to its end, in order, and reports each', async () => {
    const source = new EndedTasks(new Map([[31, step(31, 'EXPORT', { state: 'FINISHED_WITH_WARNINGS', warnings: ['took a full backup because …'] })], [32, step(32, 'STORE')]]));
    const c = ctx();
    const tasks = await waitForTasks(c.full, source, [31, 32], { pollIntervalMs: 5 });
    expect(tasks.map((t) => t.id)).toEqual([31, 32]);
    expect(source.reads).toEqual([31, 32]);
    expect(c.out()).toBe('Task 31 (EXPORT vm:prod-db) finished in 3s with 1 warning.\nTask 32 (STORE vm:prod-db) finished in 3s.\n');
    expect(c.err()).toBe('warning: took a full backup because …\n');
  });

  it('stops at the first task that failed, with exit 1 and its reason', async () => {
    const source = new EndedTasks(
      new Map([
        [31, step(31, 'EXPORT', { state: 'FAILED', error: 'libvirt: domain not found' })],
        [32, step(32, 'STORE', { state: 'CANCELLED', error: 'an earlier step (EXPORT task 31) failed' })],
      ]),
    );
    const c = ctx();
    const failure = await waitForTasks(c.full, source, [31, 32], { pollIntervalMs: 5 }).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(CliError);
    expect((failure as CliError).exitCode).toBe(1);
    expect((failure as CliError).message).toBe('task 31 (EXPORT vm:prod-db) failed: libvirt: domain not found');
    expect(source.reads).toEqual([31]);
  });

  it('a later task that fails fails the whole', async () => {
    const source = new EndedTasks(new Map([[31, step(31, 'EXPORT')], [32, step(32, 'STORE', { state: 'CANCELLED', error: 'cancelled by admin' })]]));
    const c = ctx();
    await expect(waitForTasks(c.full, source, [31, 32], { pollIntervalMs: 5 })).rejects.toThrow('task 32 (STORE vm:prod-db) was cancelled by admin');
    expect(c.out()).toBe('Task 31 (EXPORT vm:prod-db) finished in 3s.\n');
  });
});

describe('hypervisor and VM tables', () => {
  it('hypervisor list', () => {
    expect(formatHypervisors([])).toBe('No hypervisors. Add a KVM host with vplus hypervisor add NAME --node NODE.');
    const [header, row] = formatHypervisors([sampleHypervisor({ status: 'unknown', lastSyncAt: null })]).split('\n');
    expect(header).toMatch(/^ID\s+NAME\s+NODE\s+URI\s+STATUS\s+VMS\s+LAST SYNC$/);
    expect(row).toMatch(/^2\s+kvm1\s+n1\s+qemu:\/\/\/system\s+not synced yet\s+2\s+never$/);
  });

  it('vm list marks a VM gone from its host as missing', () => {
    expect(formatVms([])).toBe('No VMs. Add a KVM host with vplus hypervisor add NAME --node NODE.');
    const text = formatVms([sampleVm({ present: false, state: 'missing', policy: 'nightly' })]);
    expect(text.split('\n')[1]).toMatch(new RegExp(`^5\\s+prod-db\\s+${VM_UUID}\\s+missing\\s+kvm1\\s+nightly\\s+\\S+ \\S+$`));
  });

  it('vm show: excluded disks, no backups yet, and a hint when there are more backups than shown', () => {
    const vm = sampleVm({ disks: sampleVm().disks.map((d) => ({ ...d, excluded: d.target === 'vdb' })) });
    const none = formatVm({ ...vm, backups: 0, lastBackupAt: null, lastBackupType: null }, []);
    expect(none).toMatch(/^Last backup: +never$/m);
    expect(none).toMatch(/^ {2}vdb\s+raw\s+100 GiB\s+-\s+excluded\s+/m);
    expect(none).toMatch(/Recent backups: none; take one with vplus backup run prod-db$/);
    const some = formatVm({ ...vm, backups: 8 }, [sampleBackup({ vm: VM_UUID })]);
    expect(some).toMatch(/^ {2}11\s+prod-db\s+full\s+/m);
    expect(some).toMatch(/ {2}\(all 8: vplus backup list prod-db\)$/);
    expect(formatExclusion(vm)).toBe('VM prod-db: backups include vda and leave out vdb.');
  });
});
