/**
 * `npm run bench -- vm`: a running VM (QEMU TCG, no guest OS) backed up fully and
 * incrementally and restored, by us (KvmBackup into an encrypted repository,
 * restoreToDirectory), by virtnbdbackup / virtnbdrestore, and by restic fed from a libvirt
 * pull-mode NBD export (`nbdcopy URI - | restic backup --stdin`), against the machine's
 * ceilings measured in the same run: `nbdcopy URI null:` of the same kind of export (the read
 * ceiling of a full backup) and a sequential write with fdatasync into the restore directory
 * (the write ceiling of a restore). Not part of the tests.
 *
 * Each tool gets its own VM over a copy of the same qcow2 disk (checkpoints of one tool
 * never meet another's), and the same change between full and incremental: the VM is
 * shut down, qemu-io writes scattered 64 KiB blocks (text-like or random), the VM starts.
 * Every tool runs in a child process of its own (ours too: vm-bench-op.ts), timed with a
 * trailing sync and measured for peak RSS by /usr/bin/time; the whole sequence runs
 * VPLUS_BENCH_ROUNDS times, tools interleaved, each round on fresh VMs, and the table shows
 * medians. A "targets" block closes the output: issue 16's goals, met or not, with numbers.
 *
 * Settings (environment):
 *   VPLUS_BENCH_SIZE_GIB    disk size in GiB (default 4; half of it holds data)
 *   VPLUS_BENCH_CHANGE_PCT  share of the disk rewritten before the incremental (default 1)
 *   VPLUS_BENCH_ROUNDS      rounds of every tool (default 3)
 *   VPLUS_BENCH_WRITE_GIB   size of the disk-write measurement (default 2)
 *   VPLUS_BENCH_DIR         parent of the work directory (default /var/tmp: QEMU must reach it)
 *   VPLUS_BENCH_TOOLS       comma list (default "ceiling,vplus,virtnbdbackup,restic")
 *   VPLUS_BENCH_FORMAT      our restore's format, qcow2 (default) or raw
 *   VPLUS_BENCH_KEEP=1      keep the work directory
 *   VPLUS_BENCH_PROFILE_DIR our steps write CPU profiles (node --cpu-prof, one per thread) there
 * Needs root and libvirt (started here when it does not answer). Results: a table on stdout
 * and JSON in bench-results/.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync } from 'node:fs';
import { copyFile, mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { GIB, apparentSize, fmtBytes, run, type RunResult } from '../../../repository/bench/measure.js';
import { generateImage, KeyStream, TextGenerator } from '../../../repository/bench/image-generator.js';
import { Repository } from '../../../repository/repository.js';
import type { ChunkIdHash } from '../../../repository/chunk-format.js';
import { ensureLibvirtDaemons } from '../libvirt-daemons.js';
import { renderReport, secs, summarize, type Round, type Step, type ToolResult } from './vm-bench-report.js';
import { scratchDomainXml } from '../scratch-domain.js';

const exec = promisify(execFile);
const URI = 'qemu:///system';
const PASSWORD = 'vplus-bench-password';
const BLOCK = 64 * 1024;
const OP_SCRIPT = fileURLToPath(new URL('./vm-bench-op.js', import.meta.url));

/** The VM whose QEMU timedRun measures, set before each tool's run. */
let measuredVm: Vm | null = null;

/** User + system CPU seconds of the running VM's QEMU process so far, or null (not running). */
function qemuCpu(vm: Vm | null): number | null {
  if (!vm) return null;
  try {
    const pid = readFileSync(`/run/libvirt/qemu/${vm.name}.pid`, 'utf8').trim();
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command (which may hold spaces): utime and stime are the 12th and 13th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}

type TimedRun = RunResult & { qemuCpuSeconds: number | null };

/** The CPU fields of a step from its run. */
function cpuOf(r: TimedRun): Pick<Step, 'cpuSeconds' | 'qemuCpuSeconds'> {
  return { cpuSeconds: r.cpuSeconds, qemuCpuSeconds: r.qemuCpuSeconds };
}

interface Vm {
  name: string;
  disk: string;
}

async function sh(file: string, args: string[], timeoutMs = 600_000): Promise<string> {
  try {
    const { stdout } = await exec(file, args, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, LC_ALL: 'C' } });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${file} ${args.join(' ')} failed: ${e.stderr?.trim() || e.message}`);
  }
}

const virsh = (...args: string[]): Promise<string> => sh('virsh', ['-c', URI, ...args]);

async function defineVm(dir: string, name: string, disk: string): Promise<Vm> {
  const xml = scratchDomainXml(name, [{ target: 'vda', path: disk }]);
  const file = path.join(dir, `${name}.xml`);
  await writeFile(file, xml);
  await virsh('define', file);
  return { name, disk };
}

async function shutOff(vm: Vm): Promise<void> {
  if ((await virsh('domstate', vm.name)).trim() !== 'shut off') await virsh('destroy', vm.name);
}

/** Scattered 64 KiB blocks totalling `fraction` of the disk, half text-like and half random, as qemu-io commands. */
async function makeChange(dir: string, size: number, fraction: number): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const rand = new KeyStream('vm-change');
  const text = new TextGenerator(new KeyStream('vm-change-text'));
  const clusters = Math.floor(size / BLOCK);
  const count = Math.max(1, Math.ceil((size * fraction) / BLOCK));
  const chosen = new Set<number>();
  while (chosen.size < count) chosen.add(rand.bytes(4).readUInt32LE(0) % clusters);
  const cmds: string[] = [];
  let i = 0;
  for (const c of [...chosen].sort((a, b) => a - b)) {
    const data = Buffer.alloc(BLOCK);
    if (i % 2 === 0) text.fill(data);
    else rand.bytes(BLOCK).copy(data);
    const f = path.join(dir, `${i++}.bin`);
    await writeFile(f, data);
    cmds.push('-c', `write -s ${f} ${c * BLOCK} ${BLOCK}`);
  }
  return cmds;
}

function sync(): void {
  execFileSync('sync');
}

/** Runs a command as one timed step: sync before, the command, sync after (its time counted). */
/** A step timed with a sync before and a trailing sync, and the CPU the measured VM's QEMU spent meanwhile. */
async function timed(step: () => Promise<Omit<RunResult, 'ms'>>): Promise<TimedRun> {
  sync();
  const q0 = qemuCpu(measuredVm);
  const t0 = process.hrtime.bigint();
  const r = await step();
  sync();
  const q1 = qemuCpu(measuredVm);
  return { ...r, ms: Number(process.hrtime.bigint() - t0) / 1e6, qemuCpuSeconds: q0 !== null && q1 !== null && q1 >= q0 ? q1 - q0 : null };
}

function timedRun(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<TimedRun> {
  return timed(() => run(cmd, args, env));
}

async function dataFileBytes(dir: string, match: RegExp): Promise<number> {
  let n = 0;
  for (const f of await readdir(dir)) if (match.test(f)) n += (await stat(path.join(dir, f))).size;
  return n;
}

async function identical(a: string, b: string): Promise<boolean> {
  return sh('qemu-img', ['compare', '-q', a, b]).then(
    () => true,
    () => false,
  );
}

/** A libvirt pull-mode (full) backup job of vda for the length of `fn`, read at the URI it gets. */
async function withPullExport<T>(vm: Vm, work: string, n: number, fn: (uri: string) => Promise<T>): Promise<T> {
  const sockDir = path.join(work, 'nbd');
  await mkdir(sockDir, { recursive: true });
  chmodSync(sockDir, 0o777);
  const sock = path.join(sockDir, `s${n}.sock`);
  const xml = path.join(work, `backup${n}.xml`);
  await writeFile(
    xml,
    `<domainbackup mode='pull'><server transport='unix' socket='${sock}'/><disks><disk name='vda' backup='yes' type='file'><scratch file='${path.join(sockDir, `scratch${n}.qcow2`)}'/></disk></disks></domainbackup>`,
  );
  await virsh('backup-begin', vm.name, xml);
  try {
    return await fn(`nbd+unix:///vda?socket=${sock}`);
  } finally {
    await virsh('domjobabort', vm.name).catch(() => undefined);
  }
}

interface ToolRun {
  name: string;
  /** The command that must be installed (none: ours). */
  bin: string | null;
  version(): string;
  settings: string;
  bytesReadNote: string;
  /** Runs full, change (via `change`), incremental and restore on a running VM. */
  run(vm: Vm, work: string, change: () => Promise<void>, out: Round): Promise<void>;
}

const ceiling: ToolRun = {
  name: 'ceiling',
  bin: 'nbdcopy',
  version: () => execFileSync('nbdcopy', ['--version']).toString().trim(),
  settings: 'read ceiling: nbdcopy of a libvirt pull-mode NBD export to null: (allocated extents only, its default connections and requests)',
  bytesReadNote: 'the export\'s allocated bytes (nbdcopy skips holes)',
  async run(vm, work, _change, out) {
    const copy = await withPullExport(vm, work, 1, (uri) => timedRun('nbdcopy', [uri, 'null:']));
    out.full = { ms: copy.ms, storedBytes: 0, bytesRead: null, peakRssBytes: copy.peakRssBytes, ...cpuOf(copy) };
  },
};

/** Ours on a repository whose chunks are named by `chunkIdHash` (version 2: BLAKE3; version 1: HMAC-SHA-256). */
/**
 * Our steps in one long-lived process (vm-bench-op.ts `serve`), as the node service runs its
 * tasks: Node's start and the password's scrypt are paid once, in the first step. Timed like
 * timedRun (syncs, QEMU's CPU); CPU from the process itself, peak RSS the process's so far.
 */
class WarmOps {
  private readonly child: ChildProcess;
  private readonly lines: AsyncIterator<string>;

  constructor(nodeFlags: string[], env: NodeJS.ProcessEnv) {
    this.child = spawn(process.execPath, [...nodeFlags, OP_SCRIPT, 'serve'], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'inherit'] });
    this.lines = createInterface({ input: this.child.stdout! })[Symbol.asyncIterator]();
  }

  run(args: string[]): Promise<TimedRun> {
    return timed(async () => {
      this.child.stdin!.write(JSON.stringify(args) + '\n');
      const next = await this.lines.next();
      if (next.done) throw new Error(`the warm step process ended (exit ${this.child.exitCode}) during ${args[0]}`);
      const reply = JSON.parse(next.value) as { result?: unknown; error?: string; cpuSeconds: number; maxRssBytes: number };
      if (reply.error !== undefined) throw new Error(`${args[0]} failed: ${reply.error}`);
      return { peakRssBytes: reply.maxRssBytes, cpuSeconds: reply.cpuSeconds, stdout: JSON.stringify(reply.result), stderr: '' };
    });
  }

  close(): void {
    this.child.stdin!.end();
  }
}

const ours = (name: string, chunkIdHash: ChunkIdHash, warm = false): ToolRun => ({
  name,
  bin: null,
  version: () => `node ${process.version}`,
  settings: `KvmBackup (pull-mode NBD, dirty bitmaps), 1 MiB chunks, ${chunkIdHash === 'blake3' ? 'keyed BLAKE3' : 'HMAC-SHA-256'} ids, zstd 1, AES-256-GCM; restoreToDirectory${warm ? '; all steps in one process, as a node runs them (peak RSS: the process\'s so far)' : ''}`,
  bytesReadNote: 'NBD bytes requested (KvmBackup bytesRead)',
  async run(vm, work, change, out) {
    const repoDir = path.join(work, 'repo');
    const workDir = path.join(work, 'kvm');
    await mkdir(workDir, { recursive: true });
    await (await Repository.init(repoDir, { password: PASSWORD, chunkIdHash })).close();
    // VPLUS_BENCH_PROFILE_DIR: each of our steps writes a CPU profile per thread there (node --cpu-prof).
    const profileDir = process.env['VPLUS_BENCH_PROFILE_DIR'];
    const env = { VPLUS_BENCH_PASSWORD: PASSWORD };
    const nodeFlags = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
    const warmOps = warm ? new WarmOps(nodeFlags, env) : null;
    const op = async <T>(...args: string[]): Promise<{ r: T; run: TimedRun }> => {
      const res = warmOps ? await warmOps.run(args) : await timedRun(process.execPath, [...nodeFlags, OP_SCRIPT, ...args], env);
      return { r: JSON.parse(res.stdout) as T, run: res };
    };
    try {
      type Backup = { backupId: string; type: string; checkpoint: string | null; bytesRead: number; warnings: string[] };
      let size = await apparentSize(repoDir);
      const full = await op<Backup>('backup', repoDir, vm.name, workDir, 'full');
      out.full = { ms: full.run.ms, storedBytes: (await apparentSize(repoDir)) - size, bytesRead: full.r.bytesRead, peakRssBytes: full.run.peakRssBytes, ...cpuOf(full.run) };
      await change();
      size = await apparentSize(repoDir);
      const inc = await op<Backup>('backup', repoDir, vm.name, workDir, 'auto', full.r.checkpoint ?? '', full.r.backupId);
      if (inc.r.type !== 'incremental') throw new Error(`the second backup was ${inc.r.type}: ${inc.r.warnings.join('; ')}`);
      out.incremental = { ms: inc.run.ms, storedBytes: (await apparentSize(repoDir)) - size, bytesRead: inc.r.bytesRead, peakRssBytes: inc.run.peakRssBytes, ...cpuOf(inc.run) };
      await shutOff(vm);
      const target = path.join(work, 'restored');
      const format = process.env['VPLUS_BENCH_FORMAT'] === 'raw' ? 'raw' : 'qcow2';
      const rest = await op<{ disks: { path: string }[] }>('restore', repoDir, inc.r.backupId, target, format);
      const file = rest.r.disks[0]?.path ?? '';
      out.restore = { ms: rest.run.ms, storedBytes: (await stat(file)).blocks * 512, bytesRead: null, peakRssBytes: rest.run.peakRssBytes, ...cpuOf(rest.run), identical: await identical(file, vm.disk) };
    } finally {
      warmOps?.close();
    }
  },
});
const vplus = ours('vplus', 'blake3');
/** The same on a version 1 repository: what BLAKE3 ids changed (VPLUS_BENCH_TOOLS=…,vplus-sha256). */
const vplusSha256 = ours('vplus-sha256', 'sha256');
/** The same steps in one process, as the node service runs them (VPLUS_BENCH_TOOLS=…,vplus-node). */
const vplusNode = ours('vplus-node', 'blake3', true);

const virtnbd: ToolRun = {
  name: 'virtnbdbackup',
  bin: 'virtnbdbackup',
  version: () => `virtnbdbackup ${execFileSync('virtnbdbackup', ['-V']).toString().trim()}`,
  settings: 'defaults (stream format, no compression, no encryption); virtnbdrestore to qcow2',
  bytesReadNote: 'data written to the stream files (it writes exactly the extents it reads)',
  async run(vm, work, change, out) {
    const dir = path.join(work, 'backup');
    // Its NBD sockets (QEMU's, left behind otherwise in /var/tmp) go into the work directory.
    const sockDir = path.join(work, 'nbd');
    await mkdir(sockDir, { recursive: true });
    chmodSync(sockDir, 0o777);
    const vnb = (level: string): Promise<TimedRun> =>
      timedRun('virtnbdbackup', ['-d', vm.name, '-l', level, '-o', dir, '-n', '-S', work, '-U', URI, '-f', path.join(sockDir, `${level}.sock`)]);
    const full = await vnb('full');
    out.full = { ms: full.ms, storedBytes: await apparentSize(dir), bytesRead: await dataFileBytes(dir, /^vda\.full\.data$/), peakRssBytes: full.peakRssBytes, ...cpuOf(full) };
    await change();
    const before = await apparentSize(dir);
    const inc = await vnb('inc');
    out.incremental = { ms: inc.ms, storedBytes: (await apparentSize(dir)) - before, bytesRead: await dataFileBytes(dir, /^vda\.inc\..*\.data$/), peakRssBytes: inc.peakRssBytes, ...cpuOf(inc) };
    await shutOff(vm);
    const target = path.join(work, 'restored');
    const rest = await timedRun('virtnbdrestore', ['-i', dir, '-o', target, '-n', '-U', URI, '-f', path.join(sockDir, 'restore.sock')]);
    const name = (await readdir(target)).find((f) => f.startsWith('vda'));
    if (!name) throw new Error(`virtnbdrestore wrote no disk into ${target}: ${(await readdir(target)).join(', ')}`);
    const restored = path.join(target, name);
    out.restore = { ms: rest.ms, storedBytes: (await stat(restored)).blocks * 512, bytesRead: null, peakRssBytes: rest.peakRssBytes, ...cpuOf(rest), identical: await identical(restored, vm.disk) };
  },
};

const restic: ToolRun = {
  name: 'restic',
  bin: 'restic',
  version: () => execFileSync('restic', ['version']).toString().trim(),
  settings: 'nbdcopy of a libvirt pull-mode NBD export (no checkpoint) | restic backup --stdin; defaults, encrypted; restic restore (sparse from 0.15)',
  bytesReadNote: 'bytes streamed through the pipe (the whole disk, holes as zeros)',
  async run(vm, work, change, out) {
    const repoDir = path.join(work, 'repo');
    const env = { RESTIC_REPOSITORY: repoDir, RESTIC_PASSWORD: PASSWORD, RESTIC_CACHE_DIR: path.join(work, 'cache') };
    await run('restic', ['init'], env);
    const info = JSON.parse(await sh('qemu-img', ['info', '-U', '--output=json', vm.disk])) as { 'virtual-size': number };
    const size = info['virtual-size'];
    let n = 0;
    const backup = (): Promise<TimedRun> =>
      withPullExport(vm, work, ++n, (uri) =>
        timedRun('bash', ['-c', `set -o pipefail; nbdcopy '${uri}' - | restic backup --stdin --stdin-filename vda.raw --host bench --quiet`], env),
      );
    let before = await apparentSize(repoDir);
    const full = await backup();
    out.full = { ms: full.ms, storedBytes: (await apparentSize(repoDir)) - before, bytesRead: size, peakRssBytes: full.peakRssBytes, ...cpuOf(full) };
    await change();
    before = await apparentSize(repoDir);
    const inc = await backup();
    out.incremental = { ms: inc.ms, storedBytes: (await apparentSize(repoDir)) - before, bytesRead: size, peakRssBytes: inc.peakRssBytes, ...cpuOf(inc) };
    await shutOff(vm);
    const target = path.join(work, 'restored');
    // --sparse only from restic 0.15 on; without it the whole disk is written.
    const sparse = /restic 0\.(1[0-4]|[0-9])\./.test(execFileSync('restic', ['version']).toString()) ? [] : ['--sparse'];
    const rest = await timedRun('restic', ['restore', 'latest', '--target', target, ...sparse], env);
    const file = path.join(target, 'vda.raw');
    out.restore = { ms: rest.ms, storedBytes: (await stat(file)).blocks * 512, bytesRead: null, peakRssBytes: rest.peakRssBytes, ...cpuOf(rest), identical: await identical(file, vm.disk) };
  },
};

/** Sequential write of `bytes` into `dir` with fdatasync at the end: the restore target's write rate. */
async function diskWrite(dir: string, bytes: number): Promise<{ ms: number; bytes: number }> {
  const file = path.join(dir, `write-test-${randomBytes(3).toString('hex')}`);
  const count = Math.max(1, Math.round(bytes / (4 * 1024 * 1024)));
  // Random data (a filesystem that compresses or dedups must really write it), 4 MiB writes, one fdatasync.
  const script = `const fs=require('fs');const b=require('crypto').randomBytes(${4 * 1024 * 1024});const fd=fs.openSync(process.argv[1],'w',0o600);for(let i=0;i<${count};i++)fs.writeSync(fd,b);fs.fdatasyncSync(fd);fs.closeSync(fd);`;
  try {
    const r = await timedRun(process.execPath, ['-e', script, file]);
    return { ms: r.ms, bytes: count * 4 * 1024 * 1024 };
  } finally {
    await rm(file, { force: true });
  }
}

function available(cmd: string): boolean {
  try {
    execFileSync('which', [cmd], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export async function runVmBenchmark(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the VM benchmark needs root (system libvirtd, QEMU as libvirt-qemu)');
  await ensureLibvirtDaemons(URI);
  const sizeGib = Number(process.env['VPLUS_BENCH_SIZE_GIB'] ?? 4);
  const changePct = Number(process.env['VPLUS_BENCH_CHANGE_PCT'] ?? 1);
  const roundCount = Math.max(1, Math.floor(Number(process.env['VPLUS_BENCH_ROUNDS'] ?? 3)));
  const writeBytes = Number(process.env['VPLUS_BENCH_WRITE_GIB'] ?? 2) * GIB;
  const size = Math.round((sizeGib * GIB) / BLOCK) * BLOCK;
  const wanted = (process.env['VPLUS_BENCH_TOOLS'] ?? 'ceiling,vplus,virtnbdbackup,restic').split(',').map((s) => s.trim());
  const work = mkdtempSync(path.join(process.env['VPLUS_BENCH_DIR'] ?? '/var/tmp', 'vplus-vm-bench-'));
  chmodSync(work, 0o755);
  const defined = new Set<string>();
  const results: ToolResult[] = [];
  const writes: { ms: number; bytes: number }[] = [];
  const log = (m: string): void => void process.stderr.write(`vm-bench: ${m}\n`);
  const loadBefore = loadavg();
  try {
    log(`generating a ${sizeGib} GiB disk (half data, half of that text-like)`);
    const raw = path.join(work, 'base.raw');
    const gen = await generateImage(raw, size, 'vm-bench');
    const base = path.join(work, 'base.qcow2');
    await sh('qemu-img', ['convert', '-O', 'qcow2', raw, base]);
    await rm(raw);
    const changeCmds = await makeChange(path.join(work, 'change'), size, changePct / 100);
    const changedBytes = (changeCmds.length / 2) * BLOCK;
    const tools = [ceiling, vplus, vplusNode, vplusSha256, virtnbd, restic].filter((t) => wanted.includes(t.name));
    for (const tool of tools) {
      const out: ToolResult = { tool: tool.name, version: '', settings: tool.settings, bytesReadNote: tool.bytesReadNote, rounds: [], median: {} };
      results.push(out);
      if (tool.bin && !available(tool.bin)) {
        out.error = `${tool.bin} is not installed (bash build/setup.sh --bench)`;
        log(out.error);
      } else out.version = tool.version();
    }
    for (let round = 1; round <= roundCount; round++) {
      const w = await diskWrite(work, writeBytes);
      writes.push(w);
      log(`round ${round}/${roundCount}: disk write ${fmtBytes(w.bytes)} in ${secs(w.ms)}, load ${loadavg()[0]?.toFixed(2)}`);
      for (const tool of tools) {
        const out = results.find((r) => r.tool === tool.name);
        if (!out || out.error) continue;
        const rnd: Round = {};
        out.rounds.push(rnd);
        const dir = path.join(work, `${tool.name}-${round}`);
        await mkdir(dir, { recursive: true });
        chmodSync(dir, 0o755);
        const disk = path.join(dir, 'vda.qcow2');
        await copyFile(base, disk);
        const vm = await defineVm(dir, `vplus-bench-${tool.name}-${randomBytes(3).toString('hex')}`, disk);
        defined.add(vm.name);
        const change = async (): Promise<void> => {
          await shutOff(vm);
          await sh('qemu-io', ['-f', 'qcow2', ...changeCmds, disk]);
          await virsh('start', vm.name);
        };
        log(`round ${round}: ${tool.name}`);
        try {
          await virsh('start', vm.name);
          measuredVm = vm;
          await tool.run(vm, dir, change, rnd);
          log(`round ${round}: ${tool.name} full ${secs(rnd.full?.ms)}, incremental ${secs(rnd.incremental?.ms)}, restore ${secs(rnd.restore?.ms)}`);
        } catch (err) {
          rnd.error = err instanceof Error ? err.message : String(err);
          log(`${tool.name} failed: ${rnd.error}`);
        }
        await shutOff(vm).catch(() => undefined);
        await virsh('undefine', vm.name, '--checkpoints-metadata').then(
          () => defined.delete(vm.name),
          (err: unknown) => log(`cleanup of ${vm.name}: ${String(err)}`),
        );
        if (process.env['VPLUS_BENCH_KEEP'] !== '1') await rm(dir, { recursive: true, force: true });
        else await rm(path.join(dir, 'restored'), { recursive: true, force: true });
      }
    }
    for (const r of results) r.median = summarize(r.rounds);

    const report = renderReport({ results, writes, sizeGib, gen, changeCmdCount: changeCmds.length, changedBytes, changePct, loadBefore, roundCount });
    process.stdout.write(report.text);
    const resultsDir = path.resolve('bench-results');
    await mkdir(resultsDir, { recursive: true });
    const file = path.join(resultsDir, `vm-bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    await writeFile(
      file,
      JSON.stringify(
        {
          date: new Date().toISOString(),
          sizeBytes: size,
          image: { allocatedBytes: gen.allocatedBytes, textBytes: gen.textBytes, randomBytes: gen.randomBytes },
          changedBytes,
          changePct,
          cpus: cpus().length,
          load: { start: loadBefore, end: loadavg() },
          rounds: roundCount,
          diskWrite: { runs: writes, medianMs: report.write.ms, bytesPerSecond: report.writeRate },
          results,
          ratiosOursOverTheirs: report.ratios,
          targets: report.goals,
        },
        null,
        2,
      ),
    );
    process.stdout.write(`results: ${file}\n`);
  } finally {
    for (const name of defined) {
      await virsh('destroy', name).catch(() => undefined);
      await virsh('undefine', name, '--checkpoints-metadata').catch((err: unknown) => log(`cleanup of ${name}: ${String(err)}`));
    }
    if (process.env['VPLUS_BENCH_KEEP'] !== '1') await rm(work, { recursive: true, force: true });
    else log(`kept ${work}`);
  }
}
