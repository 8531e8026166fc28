/**
 * The fixed costs of an incremental backup of a running VM, phase by phase (FORMAT.md "Fixed
 * costs of an incremental"): a scratch VM (QEMU TCG, one qcow2 disk) gets a full backup, then
 * VPLUS_FIXED_ROUNDS incrementals with nothing changed, each into a freshly opened encrypted
 * repository as a new backup process would, followed by the checkpoint cleanup the STORE task
 * runs. Every virsh command and repository call is timed where it happens (a timing command
 * runner and repository wrapper), so the timeline shows what runs at once and what waits.
 *
 *   node dist/node-service/platforms/kvm/bench/fixed-costs.js
 *
 * Settings (environment): VPLUS_FIXED_ROUNDS (default 7), VPLUS_FIXED_TIMELINE=1 prints each
 * round's timeline, VPLUS_FIXED_CHANGE_PCT (default 0) rewrites that share of the 1 GiB disk in
 * scattered 64 KiB blocks before each incremental (VM off, qemu-io, VM started again) so the
 * data phases show beside the fixed ones. Needs root and libvirt (started here when it does not answer). Not part
 * of the tests.
 */
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Repository } from '../../../repository/repository.js';
import { pruneCheckpoints } from '../checkpoint-cleanup.js';
import { ChildProcessRunner, type CommandRunner, type RunOptions, type RunResult } from '../command-runner.js';
import { KvmBackup, type KvmBackupResult } from '../kvm-backup.service.js';
import type { PreviousBackup } from '../chain-check.js';
import type { KvmExport } from '../kvm-export.js';
import { ensureLibvirtDaemons } from '../libvirt-daemons.js';
import { scratchDomainXml } from '../scratch-domain.js';
import { Virsh } from '../virsh.adapter.js';

const exec = promisify(execFile);
const URI = 'qemu:///system';
const PASSWORD = 'vplus-bench-password';
const MIB = 1024 * 1024;

interface Event {
  label: string;
  start: number;
  ms: number;
}

/** Records one round's events relative to its start. */
class Timeline {
  readonly events: Event[] = [];
  private t0 = performance.now();

  reset(): void {
    this.events.length = 0;
    this.t0 = performance.now();
  }

  async time<T>(label: string, fn: () => Promise<T>): Promise<T> {
    const start = performance.now();
    try {
      return await fn();
    } finally {
      this.events.push({ label, start: start - this.t0, ms: performance.now() - start });
    }
  }

  mark(label: string): void {
    this.events.push({ label, start: performance.now() - this.t0, ms: 0 });
  }
}

class TimedRunner implements CommandRunner {
  constructor(
    private readonly inner: CommandRunner,
    private readonly timeline: Timeline,
  ) {}

  run(file: string, args: readonly string[], options?: RunOptions): Promise<RunResult> {
    const words = (a: readonly string[]): string => a.filter((w) => !w.startsWith('/') && !/^[0-9a-f-]{36}$|^vplus-/.test(w)).join(' ');
    const batch = file === 'virsh' && args.length === 3 && args[2]!.includes(' ; ');
    const label = batch
      ? `virsh [${args[2]!.split(' ; ').filter((c) => !c.startsWith('echo ')).map((c) => words(c.split(' '))).join(', ')}]`
      : file === 'virsh'
        ? `virsh ${words(args.slice(2))}`
        : `${file} ${args[0] ?? ''}`;
    return this.timeline.time(label, () => this.inner.run(file, args, options));
  }
}

/** The repository with its calls (and its writer's) on the timeline. */
function timedRepository(repo: Repository, timeline: Timeline): Repository {
  type Writer = Awaited<ReturnType<Repository['startBackup']>>;
  const wrapWriter = (w: Writer): Writer =>
    new Proxy(w, {
      get(target, prop, receiver) {
        const v = Reflect.get(target, prop, receiver) as unknown;
        if (typeof v !== 'function') return v;
        const fn = v as (...a: unknown[]) => unknown;
        if (prop !== 'commit' && prop !== 'writeDisk' && prop !== 'abort') return fn.bind(target);
        return (...a: unknown[]) => timeline.time(`writer.${prop}`, async () => fn.apply(target, a));
      },
    });
  return new Proxy(repo, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (typeof v !== 'function') return v;
      const fn = v as (...a: unknown[]) => unknown;
      if (prop === 'startBackup') return (...a: unknown[]) => timeline.time('repository.startBackup', async () => wrapWriter((await fn.apply(target, a)) as Writer));
      if (prop === 'loadManifest') return (...a: unknown[]) => timeline.time('repository.loadManifest', async () => fn.apply(target, a));
      return fn.bind(target);
    },
  });
}

async function virsh(...args: string[]): Promise<string> {
  return (await exec('virsh', ['-c', URI, ...args], { env: { ...process.env, LC_ALL: 'C' } })).stdout;
}

/**
 * Wall time of each phase, from the timeline (whatever runs inside a phase, at once or not):
 * FORMAT.md's "Fixed costs of an incremental" lists these.
 */
function phases(events: readonly Event[]): [string, number][] {
  const first = (label: string | RegExp): Event | undefined => events.find((e) => (typeof label === 'string' ? e.label === label : label.test(e.label)));
  const begin = first('BEGIN');
  const job = first(/^virsh backup-begin/);
  const store = first('STORE');
  const data = first('writer.writeDisk');
  const cleanup = first('CLEANUP');
  if (!begin || !job || !store || !data) return [];
  const end = (e: Event): number => e.start + e.ms;
  return [
    ['phase: open + chain check (until backup-begin)', job.start - begin.start],
    ['phase: backup-begin', job.ms],
    ['phase: rest of BEGIN (NBD sizes)', end(begin) - end(job)],
    ['phase: STORE until the data (manifest, NBD, startBackup)', data.start - store.start],
    ['phase: data (writeDisk)', data.ms],
    ['phase: commit + ending the job', end(store) - end(data)],
    ...(cleanup ? ([['phase: checkpoint cleanup', cleanup.ms]] as [string, number][]) : []),
    ['phase: BEGIN..STORE end (without open, close, cleanup)', end(store) - begin.start],
  ];
}

function median(v: readonly number[]): number {
  const s = [...v].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('needs root (system libvirtd)');
  await ensureLibvirtDaemons(URI);
  const rounds = Math.max(1, Number(process.env['VPLUS_FIXED_ROUNDS'] ?? 7));
  const work = mkdtempSync('/var/tmp/vplus-fixed-costs-');
  chmodSync(work, 0o755);
  const name = `vplus-fixed-${path.basename(work).slice(-6)}`;
  const timeline = new Timeline();
  const runner = new TimedRunner(new ChildProcessRunner(), timeline);
  const kvm = new KvmBackup({ runner, virsh: new Virsh(runner, URI) });
  try {
    const disk = path.join(work, 'vda.qcow2');
    await exec('qemu-img', ['create', '-q', '-f', 'qcow2', disk, '1G']);
    await exec('qemu-io', ['-f', 'qcow2', '-c', `write -P 0x5a 0 ${64 * MIB}`, '-c', `write -P 0x3c ${512 * MIB} ${64 * MIB}`, disk]);
    const xml = path.join(work, 'vm.xml');
    await writeFile(xml, scratchDomainXml(name, [{ target: 'vda', path: disk }]));
    await virsh('define', xml);
    await virsh('start', name);
    const repoDir = path.join(work, 'repo');
    const workDir = path.join(work, 'kvm');
    await mkdir(workDir);
    await (await Repository.init(repoDir, { password: PASSWORD })).close();
    let last: KvmBackupResult | null = null;
    const totals: number[] = [];
    const byLabel = new Map<string, number[]>();
    const changePct = Number(process.env['VPLUS_FIXED_CHANGE_PCT'] ?? 0);
    const blocks = Math.round((1024 * changePct) / 100 / (64 / 1024));
    for (let round = 0; round <= rounds; round++) {
      if (round > 0 && blocks > 0) {
        await virsh('destroy', name);
        const writes = Array.from({ length: blocks }, (_, i) => ['-c', `write -P ${(round * 7 + i) % 250} ${((i * 2654435761 + round * 40503) % 16384) * 64 * 1024} 64k`]).flat();
        await exec('qemu-io', ['-f', 'qcow2', ...writes, disk]);
        await virsh('start', name);
      }
      timeline.reset();
      const repo = await timeline.time('Repository.open', () => Repository.open(repoDir, { password: PASSWORD }));
      const repository = timedRepository(repo, timeline);
      const previous: PreviousBackup | null = last?.checkpoint ? { checkpoint: last.checkpoint, backupId: last.backupId } : null;
      const exp: KvmExport = await timeline.time('BEGIN', () => kvm.begin({ domain: name, repository, mode: round === 0 ? 'full' : 'auto', previous, workDir }));
      const r: KvmBackupResult = await timeline.time('STORE', () => kvm.store(exp, { repository }));
      if (r.checkpoint) await timeline.time('CLEANUP', () => pruneCheckpoints(new Virsh(runner, URI), name, r.checkpoint!, []));
      await timeline.time('repository.close', () => repo.close());
      const total = timeline.events.reduce((m, e) => Math.max(m, e.start + e.ms), 0);
      if (round > 0 && r.type !== 'incremental') throw new Error(`round ${round} was ${r.type}: ${r.warnings.join('; ')}`);
      last = r;
      if (round === 0) continue; // the full
      totals.push(total);
      const per = new Map<string, number>();
      for (const e of timeline.events) per.set(e.label, (per.get(e.label) ?? 0) + e.ms);
      for (const [phase, ms] of phases(timeline.events)) per.set(phase, ms);
      for (const [l, ms] of per) byLabel.set(l, [...(byLabel.get(l) ?? []), ms]);
      if (process.env['VPLUS_FIXED_TIMELINE'] === '1') {
        process.stdout.write(`round ${round}: ${total.toFixed(0)} ms\n`);
        for (const e of [...timeline.events].sort((a, b) => a.start - b.start)) process.stdout.write(`  ${e.start.toFixed(0).padStart(6)} +${e.ms.toFixed(0).padStart(5)}  ${e.label}\n`);
      }
    }
    process.stdout.write(`\n${rounds} incremental(s), ${changePct} % changed before each, load ${loadavg().map((l) => l.toFixed(2)).join(' ')}; medians (ms, a label's calls summed per round):\n`);
    process.stdout.write(`  ${'total (open to close)'.padEnd(40)} ${median(totals).toFixed(0).padStart(6)}   all: ${totals.map((t) => t.toFixed(0)).join(' ')}\n`);
    for (const [l, v] of byLabel) process.stdout.write(`  ${l.padEnd(40)} ${median(v).toFixed(0).padStart(6)}   ×${v.length}\n`);
  } finally {
    await virsh('destroy', name).catch(() => undefined);
    await virsh('undefine', name, '--checkpoints-metadata').catch(() => undefined);
    await rm(work, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
