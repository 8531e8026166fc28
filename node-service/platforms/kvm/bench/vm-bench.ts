/**
 * `npm run bench -- vm`: a running VM (QEMU TCG, no guest OS) backed up fully and
 * incrementally and restored, by us (KvmBackup into an encrypted repository,
 * restoreToDirectory), by virtnbdbackup / virtnbdrestore, and by restic fed from a libvirt
 * pull-mode NBD export (`nbdcopy URI - | restic backup --stdin`). Not part of the tests.
 *
 * Each tool gets its own VM over a copy of the same qcow2 disk (checkpoints of one tool
 * never meet another's), and the same change between full and incremental: the VM is
 * shut down, qemu-io writes scattered 64 KiB blocks (text-like or random), the VM starts.
 *
 * Settings (environment):
 *   VPLUS_BENCH_SIZE_GIB    disk size in GiB (default 4; half of it holds data)
 *   VPLUS_BENCH_CHANGE_PCT  share of the disk rewritten before the incremental (default 1)
 *   VPLUS_BENCH_DIR         parent of the work directory (default /var/tmp: QEMU must reach it)
 *   VPLUS_BENCH_TOOLS       comma list (default "vplus,virtnbdbackup,restic")
 *   VPLUS_BENCH_KEEP=1      keep the work directory
 * Needs root and libvirt (started here when it does not answer). Results: a table on stdout
 * and JSON in bench-results/.
 */
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync } from 'node:fs';
import { copyFile, mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { GIB, apparentSize, fmtBytes, run } from '../../../repository/bench/measure.js';
import { generateImage, KeyStream, TextGenerator } from '../../../repository/bench/image-generator.js';
import { Repository } from '../../../repository/repository.js';
import { KvmBackup } from '../kvm-backup.service.js';
import { restoreToDirectory } from '../kvm-restore.service.js';
import { ensureLibvirtDaemons } from '../libvirt-daemons.js';
import { scratchDomainXml } from '../scratch-domain.js';

const exec = promisify(execFile);
const URI = 'qemu:///system';
const PASSWORD = 'vplus-bench-password';
const BLOCK = 64 * 1024;

interface Step {
  ms: number;
  /** Growth of the backup target caused by this step (restore: bytes of the restored files on disk). */
  storedBytes: number;
  /** Bytes read from the disk export (see `bytesReadNote`). */
  bytesRead: number | null;
}

interface ToolResult {
  tool: string;
  version: string;
  settings: string;
  bytesReadNote: string;
  full?: Step;
  incremental?: Step;
  restore?: Step & { identical: boolean };
  error?: string;
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

async function timed<T>(fn: () => Promise<T>): Promise<{ r: T; ms: number }> {
  sync();
  const t0 = process.hrtime.bigint();
  const r = await fn();
  sync();
  return { r, ms: Number(process.hrtime.bigint() - t0) / 1e6 };
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

interface ToolRun {
  name: string;
  version(): string;
  settings: string;
  bytesReadNote: string;
  /** Runs full, change (via `change`), incremental and restore on a running VM. */
  run(vm: Vm, work: string, change: () => Promise<void>, out: ToolResult): Promise<void>;
}

const vplus: ToolRun = {
  name: 'vplus',
  version: () => `node ${process.version}`,
  settings: 'KvmBackup (pull-mode NBD, dirty bitmaps), 1 MiB chunks, zstd 1, AES-256-GCM; restore to qcow2',
  bytesReadNote: 'NBD bytes requested (KvmBackup bytesRead)',
  async run(vm, work, change, out) {
    const repoDir = path.join(work, 'repo');
    const workDir = path.join(work, 'kvm');
    await mkdir(workDir, { recursive: true });
    await (await Repository.init(repoDir, { password: PASSWORD })).close();
    const repository = await Repository.open(repoDir, { password: PASSWORD });
    try {
      const backup = new KvmBackup();
      let size = await apparentSize(repoDir);
      const full = await timed(() => backup.run({ domain: vm.name, repository, mode: 'full', previous: null, workDir }));
      out.full = { ms: full.ms, storedBytes: (await apparentSize(repoDir)) - size, bytesRead: full.r.bytesRead };
      await change();
      size = await apparentSize(repoDir);
      const previous = { checkpoint: full.r.checkpoint ?? '', backupId: full.r.backupId };
      const inc = await timed(() => backup.run({ domain: vm.name, repository, mode: 'auto', previous, workDir }));
      if (inc.r.type !== 'incremental') throw new Error(`the second backup was ${inc.r.type}: ${inc.r.warnings.join('; ')}`);
      out.incremental = { ms: inc.ms, storedBytes: (await apparentSize(repoDir)) - size, bytesRead: inc.r.bytesRead };
      await shutOff(vm);
      const target = path.join(work, 'restored');
      const rest = await timed(() => restoreToDirectory({ repository, backupId: inc.r.backupId, directory: target, format: 'qcow2' }));
      const file = rest.r.disks[0]?.path ?? '';
      out.restore = { ms: rest.ms, storedBytes: (await stat(file)).blocks * 512, bytesRead: null, identical: await identical(file, vm.disk) };
    } finally {
      await repository.close();
    }
  },
};

const virtnbd: ToolRun = {
  name: 'virtnbdbackup',
  version: () => `virtnbdbackup ${execFileSync('virtnbdbackup', ['-V']).toString().trim()}`,
  settings: 'defaults (stream format, no compression, no encryption); virtnbdrestore to qcow2',
  bytesReadNote: 'data written to the stream files (it writes exactly the extents it reads)',
  async run(vm, work, change, out) {
    const dir = path.join(work, 'backup');
    // Its NBD sockets (QEMU's, left behind otherwise in /var/tmp) go into the work directory.
    const sockDir = path.join(work, 'nbd');
    await mkdir(sockDir, { recursive: true });
    chmodSync(sockDir, 0o777);
    const vnb = (level: string): Promise<unknown> =>
      run('virtnbdbackup', ['-d', vm.name, '-l', level, '-o', dir, '-n', '-S', work, '-U', URI, '-f', path.join(sockDir, `${level}.sock`)]);
    const full = await timed(() => vnb('full'));
    out.full = { ms: full.ms, storedBytes: await apparentSize(dir), bytesRead: await dataFileBytes(dir, /^vda\.full\.data$/) };
    await change();
    const before = await apparentSize(dir);
    const inc = await timed(() => vnb('inc'));
    out.incremental = { ms: inc.ms, storedBytes: (await apparentSize(dir)) - before, bytesRead: await dataFileBytes(dir, /^vda\.inc\..*\.data$/) };
    await shutOff(vm);
    const target = path.join(work, 'restored');
    const rest = await timed(() => run('virtnbdrestore', ['-i', dir, '-o', target, '-n', '-U', URI, '-f', path.join(sockDir, 'restore.sock')]));
    void rest.r;
    const name = (await readdir(target)).find((f) => f.startsWith('vda'));
    if (!name) throw new Error(`virtnbdrestore wrote no disk into ${target}: ${(await readdir(target)).join(', ')}`);
    const restored = path.join(target, name);
    out.restore = { ms: rest.ms, storedBytes: (await stat(restored)).blocks * 512, bytesRead: null, identical: await identical(restored, vm.disk) };
  },
};

const restic: ToolRun = {
  name: 'restic',
  version: () => execFileSync('restic', ['version']).toString().trim(),
  settings: 'nbdcopy of a libvirt pull-mode NBD export (no checkpoint) | restic backup --stdin; defaults, encrypted; restic restore (sparse from 0.15)',
  bytesReadNote: 'bytes streamed through the pipe (the whole disk, holes as zeros)',
  async run(vm, work, change, out) {
    const repoDir = path.join(work, 'repo');
    const env = { RESTIC_REPOSITORY: repoDir, RESTIC_PASSWORD: PASSWORD, RESTIC_CACHE_DIR: path.join(work, 'cache') };
    await run('restic', ['init'], env);
    const info = JSON.parse(await sh('qemu-img', ['info', '-U', '--output=json', vm.disk])) as { 'virtual-size': number };
    const size = info['virtual-size'];
    const sockDir = path.join(work, 'nbd');
    await mkdir(sockDir, { recursive: true });
    chmodSync(sockDir, 0o777);
    let n = 0;
    const backup = async (): Promise<void> => {
      const sock = path.join(sockDir, `s${++n}.sock`);
      const xml = path.join(work, `backup${n}.xml`);
      await writeFile(
        xml,
        `<domainbackup mode='pull'><server transport='unix' socket='${sock}'/><disks><disk name='vda' backup='yes' type='file'><scratch file='${path.join(sockDir, `scratch${n}.qcow2`)}'/></disk></disks></domainbackup>`,
      );
      await virsh('backup-begin', vm.name, xml);
      try {
        const uri = `nbd+unix:///vda?socket=${sock}`;
        await run('bash', ['-c', `set -o pipefail; nbdcopy '${uri}' - | restic backup --stdin --stdin-filename vda.raw --host bench --quiet`], env);
      } finally {
        await virsh('domjobabort', vm.name).catch(() => undefined);
      }
    };
    let before = await apparentSize(repoDir);
    const full = await timed(backup);
    out.full = { ms: full.ms, storedBytes: (await apparentSize(repoDir)) - before, bytesRead: size };
    await change();
    before = await apparentSize(repoDir);
    const inc = await timed(backup);
    out.incremental = { ms: inc.ms, storedBytes: (await apparentSize(repoDir)) - before, bytesRead: size };
    await shutOff(vm);
    const target = path.join(work, 'restored');
    // --sparse only from restic 0.15 on; without it the whole disk is written.
    const sparse = /restic 0\.(1[0-4]|[0-9])\./.test(execFileSync('restic', ['version']).toString()) ? [] : ['--sparse'];
    const rest = await timed(() => run('restic', ['restore', 'latest', '--target', target, ...sparse], env));
    void rest.r;
    const file = path.join(target, 'vda.raw');
    out.restore = { ms: rest.ms, storedBytes: (await stat(file)).blocks * 512, bytesRead: null, identical: await identical(file, vm.disk) };
  },
};

function available(cmd: string): boolean {
  try {
    execFileSync('which', [cmd], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const secs = (ms: number | undefined): string => (ms === undefined ? '-' : `${(ms / 1000).toFixed(2)} s`);
const bytes = (n: number | null | undefined): string => (n === null || n === undefined ? '-' : fmtBytes(n));
const ratio = (a: number | null | undefined, b: number | null | undefined): string => (a == null || b == null || b === 0 ? '-' : `${(a / b).toFixed(2)}`);

export async function runVmBenchmark(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the VM benchmark needs root (system libvirtd, QEMU as libvirt-qemu)');
  await ensureLibvirtDaemons(URI);
  const sizeGib = Number(process.env['VPLUS_BENCH_SIZE_GIB'] ?? 4);
  const changePct = Number(process.env['VPLUS_BENCH_CHANGE_PCT'] ?? 1);
  const size = Math.round(sizeGib * GIB / BLOCK) * BLOCK;
  const wanted = (process.env['VPLUS_BENCH_TOOLS'] ?? 'vplus,virtnbdbackup,restic').split(',').map((s) => s.trim());
  const work = mkdtempSync(path.join(process.env['VPLUS_BENCH_DIR'] ?? '/var/tmp', 'vplus-vm-bench-'));
  chmodSync(work, 0o755);
  const defined: string[] = [];
  const results: ToolResult[] = [];
  const log = (m: string): void => void process.stderr.write(`vm-bench: ${m}\n`);
  try {
    log(`generating a ${sizeGib} GiB disk (half data, half of that text-like)`);
    const raw = path.join(work, 'base.raw');
    const gen = await generateImage(raw, size, 'vm-bench');
    const base = path.join(work, 'base.qcow2');
    await sh('qemu-img', ['convert', '-O', 'qcow2', raw, base]);
    await rm(raw);
    const changeCmds = await makeChange(path.join(work, 'change'), size, changePct / 100);
    const changedBytes = (changeCmds.length / 2) * BLOCK;
    for (const tool of [vplus, virtnbd, restic]) {
      if (!wanted.includes(tool.name)) continue;
      const out: ToolResult = { tool: tool.name, version: '', settings: tool.settings, bytesReadNote: tool.bytesReadNote };
      results.push(out);
      const bin = tool.name === 'vplus' ? null : tool.name === 'restic' ? 'restic' : 'virtnbdbackup';
      if (bin && !available(bin)) {
        out.error = `${bin} is not installed (bash build/setup.sh --bench)`;
        log(out.error);
        continue;
      }
      out.version = tool.version();
      const dir = path.join(work, tool.name);
      await mkdir(dir, { recursive: true });
      chmodSync(dir, 0o755);
      const disk = path.join(dir, 'vda.qcow2');
      await copyFile(base, disk);
      const vm = await defineVm(dir, `vplus-bench-${tool.name}-${randomBytes(3).toString('hex')}`, disk);
      defined.push(vm.name);
      await virsh('start', vm.name);
      const change = async (): Promise<void> => {
        await shutOff(vm);
        await sh('qemu-io', ['-f', 'qcow2', ...changeCmds, disk]);
        await virsh('start', vm.name);
      };
      log(`${tool.name}: full, change, incremental, restore`);
      try {
        await tool.run(vm, dir, change, out);
      } catch (err) {
        out.error = err instanceof Error ? err.message : String(err);
        log(`${tool.name} failed: ${out.error}`);
      }
      await shutOff(vm).catch(() => undefined);
      await rm(path.join(dir, 'restored'), { recursive: true, force: true });
    }

    const rows: string[][] = [['tool', 'full', 'stored', 'read', 'incr', 'stored', 'read', 'restore', 'identical']];
    for (const r of results) {
      if (r.error && !r.full) {
        rows.push([r.tool, `error: ${r.error}`]);
        continue;
      }
      rows.push([
        r.tool,
        secs(r.full?.ms),
        bytes(r.full?.storedBytes),
        bytes(r.full?.bytesRead),
        secs(r.incremental?.ms),
        bytes(r.incremental?.storedBytes),
        bytes(r.incremental?.bytesRead),
        secs(r.restore?.ms),
        r.restore ? String(r.restore.identical) : r.error ? `error: ${r.error.split('\n')[0]?.slice(0, 100)}` : '-',
      ]);
    }
    const ours = results.find((r) => r.tool === 'vplus');
    const ratios: Record<string, Record<string, number | null>> = {};
    for (const r of results) {
      if (r === ours || !ours) continue;
      const q = (a: number | null | undefined, b: number | null | undefined): number | null => (a == null || b == null || b === 0 ? null : a / b);
      ratios[r.tool] = {
        fullTime: q(ours.full?.ms, r.full?.ms),
        fullStored: q(ours.full?.storedBytes, r.full?.storedBytes),
        incrementalTime: q(ours.incremental?.ms, r.incremental?.ms),
        incrementalStored: q(ours.incremental?.storedBytes, r.incremental?.storedBytes),
        incrementalRead: q(ours.incremental?.bytesRead, r.incremental?.bytesRead),
        restoreTime: q(ours.restore?.ms, r.restore?.ms),
      };
      rows.push([
        `ours/${r.tool}`,
        ratio(ours.full?.ms, r.full?.ms),
        ratio(ours.full?.storedBytes, r.full?.storedBytes),
        ratio(ours.full?.bytesRead, r.full?.bytesRead),
        ratio(ours.incremental?.ms, r.incremental?.ms),
        ratio(ours.incremental?.storedBytes, r.incremental?.storedBytes),
        ratio(ours.incremental?.bytesRead, r.incremental?.bytesRead),
        ratio(ours.restore?.ms, r.restore?.ms),
        '',
      ]);
    }
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? '').length)));
    const line = (row: string[]): string => `| ${row.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
    process.stdout.write(
      `\nVM benchmark: ${sizeGib} GiB disk, ${fmtBytes(gen.allocatedBytes)} data (${fmtBytes(gen.textBytes)} text-like, ${fmtBytes(gen.randomBytes)} random); ` +
        `incremental after ${changeCmds.length / 2} scattered 64 KiB writes (${fmtBytes(changedBytes)}, ${changePct}%)\n` +
        `${cpus().length} × ${cpus()[0]?.model ?? '?'}, load ${loadavg()[0]?.toFixed(2)}; times include a trailing sync; ratios are ours/theirs (time: < 1 is faster)\n\n` +
        [line(rows[0]!), line(widths.map((w) => '-'.repeat(w))), ...rows.slice(1).map(line)].join('\n') +
        '\n\n' +
        results.map((r) => `${r.tool}: ${r.settings}; read = ${r.bytesReadNote}${r.version ? `; ${r.version.split('\n')[0]}` : ''}`).join('\n') +
        '\n',
    );
    const resultsDir = path.resolve('bench-results');
    await mkdir(resultsDir, { recursive: true });
    const file = path.join(resultsDir, `vm-bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    await writeFile(
      file,
      JSON.stringify(
        { date: new Date().toISOString(), sizeBytes: size, image: { allocatedBytes: gen.allocatedBytes, textBytes: gen.textBytes, randomBytes: gen.randomBytes }, changedBytes, changePct, cpus: cpus().length, results, ratiosOursOverTheirs: ratios },
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
