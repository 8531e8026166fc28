import { describe, expect, it } from 'vitest';
import { formatBackups } from '../../../cli/commands/backup.command.js';
import { formatDestination, formatDestinations, formatUsage } from '../../../cli/commands/destination.command.js';
import { formatTaskDetails } from '../../../cli/commands/task.command.js';
import { formatRatio, sparkline } from '../../../cli/format.js';
import { reportTaskOutcome } from '../../../cli/task-follower.js';
import { destinationOf, formatTaskResult } from '../../../cli/task-results.js';
import type { Task } from '../../../common/api/index.js';
import { SAMPLE_STATS, sampleBackup, sampleDestination, sampleTask } from './helpers.js';

const MiB = 1024 ** 2;
const CHUNK_A = 'a'.repeat(64);
const CHUNK_B = 'b'.repeat(64);

const destinationTask = (overrides: Partial<Task>): Task =>
  sampleTask({ id: 12, state: 'FINISHED', subject: 'destination:nas', startedAt: '2025-01-31T10:00:00.000Z', finishedAt: '2025-01-31T10:00:03.000Z', ...overrides });

function capture(): { ctx: { stdout: { write(s: string): void }; stderr: { write(s: string): void } }; out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return { ctx: { stdout: { write: (s) => void (out += s) }, stderr: { write: (s) => void (err += s) } }, out: () => out, err: () => err };
}

describe('ratios and sparklines', () => {
  it('formats ratios like 3.2×', () => {
    expect(formatRatio(3.24)).toBe('3.2×');
    expect(formatRatio(1)).toBe('1.0×');
    expect(formatRatio(99.94)).toBe('99.9×');
    expect(formatRatio(99.96)).toBe('100×');
    expect(formatRatio(142.6)).toBe('143×');
    expect(formatRatio(null)).toBe('-');
    expect(formatRatio(0)).toBe('-');
    expect(formatRatio(Number.NaN)).toBe('-');
  });

  it('draws one character per point, scaled from the minimum to the maximum', () => {
    expect(sparkline([])).toBe('');
    expect(sparkline([0, 1, 2, 3, 4, 5, 6, 7])).toBe('▁▂▃▄▅▆▇█');
    expect(sparkline([5, 5, 5])).toBe('▄▄▄');
    expect(sparkline([0, 0])).toBe('▁▁');
    // Longer series: each character is the last value of its stretch.
    const long = Array.from({ length: 1000 }, (_, i) => i);
    expect(sparkline(long, 10)).toHaveLength(10);
    expect(sparkline(long, 10).at(-1)).toBe('█');
    expect(sparkline(long, 10)[0]).toBe('▁');
  });
});

describe('destination and backup tables', () => {
  it('list shows sizes in binary units and ratios', () => {
    const text = formatDestinations([sampleDestination(), sampleDestination({ id: 4, name: 'usb', encrypted: false, status: 'unknown', backups: 0, storedBytes: 0, logicalBytes: 0, dedupRatio: null, compressionRatio: null, freeBytes: null, totalBytes: null })]);
    const [header, nas, usb] = text.split('\n');
    expect(header).toMatch(/^ID\s+NAME\s+NODE\s+PATH\s+ENCRYPTED\s+STATUS\s+BACKUPS\s+STORED\s+LOGICAL\s+DEDUP\s+COMPRESSION\s+FREE$/);
    expect(nas).toMatch(/^3\s+nas\s+n1\s+\/mnt\/nas\/vplus\s+yes\s+ok\s+4\s+12\.5 GiB\s+40\.0 GiB\s+3\.2×\s+1\.5×\s+120 GiB$/);
    expect(usb).toMatch(/^4\s+usb\s+n1\s+\/mnt\/nas\/vplus\s+no\s+unknown\s+0\s+0 B\s+0 B\s+-\s+-\s+-$/);
    expect(formatDestinations([])).toBe('No destinations. Add one with vplus destination add NAME --node NODE --path DIR (or --s3 URL/BUCKET …).');
  });

  it('show prints the fields, a sparkline of the stored size and the last points', () => {
    const usage = [1, 2, 3, 4, 5, 6, 7].map((n) => ({ at: `2025-01-0${n}T10:00:00.000Z`, storedBytes: n * 100 * MiB, logicalBytes: n * 300 * MiB, backups: n }));
    const text = formatDestination(sampleDestination({ status: 'error', statusMessage: 'destination /mnt/nas/vplus does not exist on node n1; is the share mounted?' }), usage);
    expect(text).toMatch(/^Status: +error \(destination \/mnt\/nas\/vplus does not exist on node n1; is the share mounted\?\)$/m);
    expect(text).toMatch(/^Dedup: +3\.2×$/m);
    expect(text).toMatch(/^Free space: +120 GiB free of 500 GiB$/m);
    expect(text).toMatch(/^Stored over time: ▁▂▃▅▆▇█ {2}100 MiB \(2025-01-01 \d\d:\d\d\) → 700 MiB \(2025-01-07 \d\d:\d\d\), 7 points$/m);
    const points = text.split('\n').slice(-6);
    expect(points[0]).toMatch(/^ {2}AT\s+STORED\s+LOGICAL\s+BACKUPS$/);
    // Newest first, the last five.
    expect(points[1]).toMatch(/^ {2}2025-01-07 \d\d:\d\d\s+700 MiB\s+2\.05 GiB\s+7$/);
    expect(points[5]).toMatch(/^ {2}2025-01-03 /);
    expect(formatUsage([])).toBe('Usage: no history yet (every destination task adds a point).');
    expect(formatUsage(usage.slice(0, 1))).toMatch(/^Stored over time: 100 MiB \(2025-01-01 \d\d:\d\d\), one point so far\n/);
  });

  it('backup list shows the fields of CLI.md', () => {
    const text = formatBackups([sampleBackup(), sampleBackup({ id: 12, type: null, status: 'removed', storedBytes: null })]);
    expect(text.split('\n')[0]).toMatch(/^ID\s+VM\s+TYPE\s+CREATED\s+STATUS\s+LOGICAL\s+STORED\s+DESTINATION$/);
    expect(text).toMatch(/^11\s+prod-db\s+full\s+2025-01-31 \d\d:\d\d\s+available\s+10\.0 GiB\s+3\.00 GiB\s+nas$/m);
    expect(text).toMatch(/^12\s+prod-db\s+-\s+\S+ \S+\s+removed\s+10\.0 GiB\s+-\s+nas$/m);
    expect(formatBackups([], { vm: 'web', destination: 'nas' })).toBe('No backups of web on destination nas.');
  });
});

describe('task results', () => {
  it('names the destination from the subject', () => {
    expect(destinationOf({ subject: 'destination:nas' })).toBe('nas');
    expect(destinationOf({ subject: 'node:n1' })).toBeNull();
    expect(destinationOf({ subject: null })).toBeNull();
  });

  it('verify without problems', () => {
    const text = formatTaskResult(destinationTask({ type: 'VERIFY', params: { subset: { part: 1, of: 7 } }, result: { checkedChunks: 120, checkedBytes: 480 * MiB, problems: [], affectedBackups: [], stats: SAMPLE_STATS } }));
    expect(text).toBe(
      'Checked 120 chunks (480 MiB) (part 2 of 7): no problems found.\n' +
        'The destination now holds 2 backups: 12.0 MiB stored for 24.0 MiB of disks (dedup 1.8×, compression 1.1×).',
    );
  });

  it('verify with problems: each chunk → the backups that need it', () => {
    const text = formatTaskResult(
      destinationTask({
        type: 'VERIFY',
        state: 'FAILED',
        result: {
          checkedChunks: 1,
          checkedBytes: 4 * MiB,
          problems: [
            { chunk: CHUNK_A, problem: 'corrupt: the authentication tag does not match', backups: ['b-1', 'b-2'] },
            { chunk: CHUNK_B, problem: 'missing: no such chunk file', backups: [] },
          ],
          affectedBackups: ['b-1', 'b-2'],
          stats: SAMPLE_STATS,
        },
      }),
    );
    expect(text!.split('\n').slice(0, 5)).toEqual([
      'Checked 1 chunk (4.00 MiB): 2 damaged chunks affect 2 backups.',
      'Damaged chunks → the backups that need them:',
      `  ${CHUNK_A} → b-1, b-2  (corrupt: the authentication tag does not match)`,
      `  ${CHUNK_B} → no backup  (missing: no such chunk file)`,
      'Affected backups: b-1, b-2',
    ]);
  });

  it('prune lists what is kept, with the reasons, and what is removed', () => {
    const result = {
      dryRun: true,
      kept: [{ id: 'b-2', createdAt: '2025-01-31T10:00:00.000Z', group: 'vm-42', reasons: ['last 1', 'daily 2025-01-31'] }],
      removed: [{ id: 'b-1', createdAt: '2025-01-30T10:00:00.000Z', group: 'vm-42' }],
      stats: SAMPLE_STATS,
    };
    const lines = formatTaskResult(destinationTask({ type: 'PRUNE', result }))!.split('\n');
    expect(lines[0]).toBe('Dry run: would remove 1 backup and keep 1.');
    expect(lines[1]).toBe('Would keep:');
    expect(lines[2]).toMatch(/^ {2}BACKUP\s+VM\s+CREATED\s+KEPT BY$/);
    expect(lines[3]).toMatch(/^ {2}b-2\s+vm-42\s+2025-01-31 \d\d:\d\d\s+last 1, daily 2025-01-31$/);
    expect(lines[4]).toBe('Would remove:');
    expect(lines[6]).toMatch(/^ {2}b-1\s+vm-42\s+2025-01-30 \d\d:\d\d$/);
    expect(lines[7]).toBe('Nothing was removed (dry run).');

    const applied = formatTaskResult(destinationTask({ type: 'PRUNE', result: { ...result, dryRun: false } }))!;
    expect(applied).toMatch(/^Removed 1 backup, kept 1\.\nKept:\n/);
    expect(applied).toContain('\nGarbage collection frees their space: vplus destination gc nas.\n');
  });

  it('gc prints the space freed; import how many backups were found', () => {
    expect(formatTaskResult(destinationTask({ type: 'GC', result: { removedChunks: 3, freedBytes: 12 * MiB, stats: SAMPLE_STATS } }))).toMatch(/^Removed 3 unreferenced chunks, freed 12\.0 MiB\.\n/);
    const backup = (id: string, group: string) => ({ id, createdAt: '2025-01-31T10:00:00.000Z', group, logicalBytes: 6 * MiB, disks: [{ name: 'vda', size: 6 * MiB }] });
    const imported = formatTaskResult(destinationTask({ type: 'REIMPORT', result: { backups: [backup('b-1', 'vm-42'), backup('b-2', 'vm-42'), backup('b-3', 'vm-7')], stats: SAMPLE_STATS } }));
    expect(imported).toMatch(/^Found 3 backups of 2 VMs \(18\.0 MiB of disks\) on the destination; they are added to the catalog\.\nSee them with: vplus backup list --destination nas\n/);
    expect(formatTaskResult(destinationTask({ type: 'REIMPORT', result: { backups: [], stats: SAMPLE_STATS } }))).toMatch(/^Found no backups on the destination\.\n/);
  });

  it('a check says what it found and the free space', () => {
    const text = formatTaskResult(destinationTask({ type: 'DESTINATION_CHECK', result: { created: false, encrypted: true, freeBytes: 120 * 1024 ** 3, totalBytes: 500 * 1024 ** 3, stats: SAMPLE_STATS } }));
    expect(text).toMatch(/^Found an encrypted repository with 2 backups; 120 GiB free of 500 GiB\.\n/);
  });

  it('prints nothing for types without a formatter, no result, or a result of another shape', () => {
    expect(formatTaskResult(sampleTask({ state: 'FINISHED', result: { freeBytes: 1 } }))).toBeNull();
    expect(formatTaskResult(destinationTask({ type: 'GC', result: null }))).toBeNull();
    expect(formatTaskResult(destinationTask({ type: 'GC', result: { freed: 'lots' } }))).toBeNull();
  });
});

describe('the follower reports the result', () => {
  const gc = destinationTask({ type: 'GC', result: { removedChunks: 3, freedBytes: 12 * MiB, stats: SAMPLE_STATS } });

  it('after the finished sentence on success', () => {
    const c = capture();
    reportTaskOutcome(c.ctx, gc);
    expect(c.out().split('\n').slice(0, 2)).toEqual(['Task 12 (GC destination:nas) finished in 3s.', 'Removed 3 unreferenced chunks, freed 12.0 MiB.']);
  });

  it('before the error when a task failed with a result (a verify that found damage)', () => {
    const c = capture();
    const failed = destinationTask({
      type: 'VERIFY',
      state: 'FAILED',
      error: `1 damaged chunk affects backup b-1; the other 1 backup is intact`,
      warnings: [`chunk ${CHUNK_A} is damaged; used by 1 backup: b-1`],
      result: { checkedChunks: 2, checkedBytes: 8 * MiB, problems: [{ chunk: CHUNK_A, problem: 'corrupt: bad tag', backups: ['b-1'] }], affectedBackups: ['b-1'], stats: SAMPLE_STATS },
    });
    expect(() => reportTaskOutcome(c.ctx, failed)).toThrow('task 12 (VERIFY destination:nas) failed: 1 damaged chunk affects backup b-1; the other 1 backup is intact');
    expect(c.out()).toContain(`  ${CHUNK_A} → b-1  (corrupt: bad tag)\n`);
    expect(c.err()).toBe(`warning: chunk ${CHUNK_A} is damaged; used by 1 backup: b-1\n`);
  });

  it('not for a cancelled task', () => {
    const c = capture();
    expect(() => reportTaskOutcome(c.ctx, { ...gc, state: 'CANCELLED', error: 'cancelled by admin' })).toThrow(/was cancelled by admin/);
    expect(c.out()).toBe('');
  });

  it('task show prints it as a block of its own', () => {
    const text = formatTaskDetails({ ...gc, log: [] });
    expect(text).toContain('\nResult:\n  Removed 3 unreferenced chunks, freed 12.0 MiB.\n  The destination now holds 2 backups');
    expect(text).not.toMatch(/^Result: /m);
  });
});
