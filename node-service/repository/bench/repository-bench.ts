/**
 * `npm run bench`: our repository against restic and borg on the same generated disk image,
 * side by side, in one run. Not part of the tests.
 *
 * Settings (environment):
 *   VPLUS_BENCH_SIZE_GIB    image size in GiB (default 4; half of it is allocated)
 *   VPLUS_BENCH_CHANGE_PCT  share of the image rewritten before the incremental (default 5)
 *   VPLUS_BENCH_DIR         where the image and repositories go (default: the OS temp dir)
 *   VPLUS_BENCH_TOOLS       comma list of tools to run (default "vplus,restic,borg")
 *   VPLUS_BENCH_BORG_COMPRESSION  borg's compression (default "zstd,3")
 *   VPLUS_BENCH_KEEP=1      keep the work directory
 * Results: a table on stdout and JSON in bench-results/.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg, tmpdir, totalmem } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { measureLevels } from './format-measurement.js';
import { changeImage, generateImage, type GeneratedImage } from './image-generator.js';
import { GIB, MB, apparentSize, fmtBytes, run, type RunResult } from './measure.js';

const OP = path.join(path.dirname(fileURLToPath(import.meta.url)), 'repository-bench-op.js');
const PASSWORD = 'vplus-bench-password';

interface Step {
  /** Wall time including a trailing sync. */
  ms: number;
  /** Ours only: the backup writer's own time (without process start-up and the password KDF). */
  writerMs?: number;
  /** 1-minute load average right after the step (other work on the machine skews timings). */
  loadAvg?: number;
  peakRssBytes: number | null;
  /** Growth of the repository on disk caused by this step. */
  addedBytes?: number;
}

interface ToolResult {
  tool: string;
  version: string;
  settings: string;
  first?: Step;
  storedAfterFirst?: number;
  unchanged?: Step;
  unchangedForced?: Step;
  incremental?: Step;
  storedFinal?: number;
  restore?: Step & { bytesIdentical: boolean };
  verify?: Step & { repoBytes: number };
  error?: string;
}

interface Tool {
  name: string;
  version(): string;
  settings: string;
  repoDir: string;
  init(): Promise<void>;
  /** Backs up the image; `dirtyFile` (ours only) makes it an incremental against `previousId`. */
  backup(image: string, opts: { previousId?: string; dirtyFile?: string; force?: boolean }): Promise<RunResult & { id: string; writerMs?: number }>;
  restore(id: string, targetDir: string, image: string): Promise<RunResult & { file: string }>;
  verify(): Promise<RunResult>;
}

function sync(): void {
  // Flush dirty pages so one step's writeback does not land in the next step's timing.
  execFileSync('sync');
}

/** Reads the image once, untimed, so every tool starts with it in the page cache. */
async function warm(file: string): Promise<void> {
  for await (const chunk of createReadStream(file, { highWaterMark: 4 * 1024 * 1024 })) void chunk;
}

async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 4 * 1024 * 1024 })) h.update(chunk as Buffer);
  return h.digest('hex');
}

function vplusTool(work: string): Tool {
  const repoDir = path.join(work, 'vplus-repo');
  const env = { VPLUS_BENCH_PASSWORD: PASSWORD };
  const op = (args: string[]): Promise<RunResult> => run(process.execPath, [OP, ...args], env);
  return {
    name: 'vplus',
    repoDir,
    settings: 'fixed 1 MiB chunks, zstd 1, AES-256-GCM, HMAC-SHA-256 ids',
    version: () => `node ${process.version}`,
    init: async () => {
      await op(['init', repoDir]);
    },
    backup: async (image, o) => {
      const r = await op(['backup', repoDir, image, ...(o.previousId && o.dirtyFile ? [o.previousId, o.dirtyFile] : [])]);
      const out = JSON.parse(r.stdout) as { id: string; summary: { durationMs: number } };
      return { ...r, id: out.id, writerMs: out.summary.durationMs };
    },
    restore: async (id, targetDir) => {
      const file = path.join(targetDir, 'disk.raw');
      return { ...(await op(['restore', repoDir, id, file])), file };
    },
    verify: () => op(['verify', repoDir]),
  };
}

function resticTool(work: string): Tool {
  const repoDir = path.join(work, 'restic-repo');
  const env = {
    RESTIC_REPOSITORY: repoDir,
    RESTIC_PASSWORD: PASSWORD,
    RESTIC_CACHE_DIR: path.join(work, 'restic-cache'),
  };
  const restic = (args: string[]): Promise<RunResult> => run('restic', args, env);
  return {
    name: 'restic',
    repoDir,
    settings: 'defaults (content-defined chunks, compression auto), encrypted',
    version: () => execFileSync('restic', ['version']).toString().trim(),
    init: async () => {
      await restic(['init']);
    },
    backup: async (image, o) => {
      const r = await restic(['backup', '--json', '--host', 'bench', ...(o.force ? ['--force'] : []), image]);
      const summary = r.stdout
        .split('\n')
        .filter((l) => l.includes('"summary"'))
        .map((l) => JSON.parse(l) as { snapshot_id: string })[0];
      if (!summary) throw new Error('restic printed no summary');
      return { ...r, id: summary.snapshot_id };
    },
    restore: async (id, targetDir, image) => {
      const r = await restic(['restore', id, '--target', targetDir]);
      return { ...r, file: path.join(targetDir, image) };
    },
    verify: () => restic(['check', '--read-data']),
  };
}

function borgTool(work: string, imageDir: string): Tool {
  const repoDir = path.join(work, 'borg-repo');
  const compression = process.env['VPLUS_BENCH_BORG_COMPRESSION'] ?? 'zstd,3';
  const env = {
    BORG_REPO: repoDir,
    BORG_PASSPHRASE: PASSWORD,
    BORG_BASE_DIR: path.join(work, 'borg-home'),
    BORG_RELOCATED_REPO_ACCESS_IS_OK: 'yes',
  };
  let n = 0;
  return {
    name: 'borg',
    repoDir,
    settings: `repokey (AES-CTR + HMAC-SHA-256), --compression ${compression}, default chunker`,
    version: () => execFileSync('borg', ['--version']).toString().trim(),
    init: async () => {
      await run('borg', ['init', '--encryption=repokey'], env);
    },
    backup: async (image, o) => {
      const name = `b${++n}`;
      const args = ['create', '--compression', compression, ...(o.force ? ['--files-cache=disabled'] : []), `::${name}`, path.basename(image)];
      const r = await run('borg', args, env, imageDir);
      return { ...r, id: name };
    },
    restore: async (id, targetDir, image) => {
      const r = await run('borg', ['extract', '--sparse', `::${id}`], env, targetDir);
      return { ...r, file: path.join(targetDir, path.basename(image)) };
    },
    verify: () => run('borg', ['check', '--verify-data'], env),
  };
}

function available(cmd: string): boolean {
  try {
    execFileSync(cmd, ['--help'], { stdio: 'ignore' });
    return true;
  } catch {
    return false; // not installed: reported in the results
  }
}

/**
 * Times a step including a trailing `sync`, so every tool pays for making its writes
 * durable (we fsync as we go; others may leave dirty pages behind).
 */
async function timed<T extends RunResult>(fn: () => Promise<T>): Promise<{ r: T; ms: number; load: number }> {
  sync();
  const t0 = process.hrtime.bigint();
  const r = await fn();
  sync();
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  return { r, ms, load: loadavg()[0] ?? 0 };
}

async function measured<T extends RunResult & { writerMs?: number }>(tool: Tool, fn: () => Promise<T>): Promise<{ r: T; step: Step }> {
  const before = await apparentSize(tool.repoDir);
  const { r, ms, load } = await timed(fn);
  const after = await apparentSize(tool.repoDir);
  return {
    r,
    step: { ms, peakRssBytes: r.peakRssBytes, addedBytes: after - before, loadAvg: load, ...(r.writerMs === undefined ? {} : { writerMs: r.writerMs }) },
  };
}

export async function runBenchmark(): Promise<void> {
  const sizeGiB = Number(process.env['VPLUS_BENCH_SIZE_GIB'] ?? '4');
  const changePct = Number(process.env['VPLUS_BENCH_CHANGE_PCT'] ?? '5');
  const wanted = (process.env['VPLUS_BENCH_TOOLS'] ?? 'vplus,restic,borg').split(',').map((s) => s.trim());
  const size = Math.round(sizeGiB * GIB);
  const work = await mkdtemp(path.join(process.env['VPLUS_BENCH_DIR'] ?? tmpdir(), 'vplus-bench-'));
  const imageDir = path.join(work, 'image');
  await mkdir(imageDir);
  const image = path.join(imageDir, 'disk.raw');
  const log = (s: string): void => void process.stdout.write(s + '\n');

  try {
    log(`vPlus repository benchmark: ${sizeGiB} GiB image, ${changePct}% changed for the incremental, work dir ${work}`);
    log(`machine: ${cpus()[0]?.model ?? '?'} × ${availableParallelism()}, ${fmtBytes(totalmem())} RAM, node ${process.version}`);
    const lv = await measureLevels();
    const gen: GeneratedImage = await generateImage(image, size, 'bench');
    log(`image: ${fmtBytes(size)}, ${fmtBytes(gen.allocatedBytes)} allocated (${fmtBytes(gen.textBytes)} text-like, ${fmtBytes(gen.randomBytes)} random)`);

    const tools: Tool[] = [];
    const results: ToolResult[] = [];
    for (const name of wanted) {
      const tool = name === 'vplus' ? vplusTool(work) : name === 'restic' ? resticTool(work) : name === 'borg' ? borgTool(work, imageDir) : null;
      if (!tool) throw new Error(`unknown tool ${name}`);
      if (name !== 'vplus' && !available(name)) {
        results.push({ tool: name, version: '-', settings: '-', error: `${name} is not installed (apt-get install ${name === 'borg' ? 'borgbackup' : name})` });
        continue;
      }
      tools.push(tool);
      results.push({ tool: name, version: tool.version(), settings: tool.settings });
    }
    const resultOf = (t: Tool): ToolResult => results.find((r) => r.tool === t.name) as ToolResult;
    const ids = new Map<string, string[]>();
    const guard = async (t: Tool, what: string, fn: () => Promise<void>): Promise<void> => {
      const res = resultOf(t);
      if (res.error) return;
      try {
        log(`  ${t.name}: ${what}...`);
        await fn();
      } catch (err) {
        res.error = `${what}: ${err instanceof Error ? err.message : String(err)}`;
        log(`  ${t.name}: FAILED ${res.error}`);
      }
    };

    log('first backup');
    for (const t of tools) {
      await guard(t, 'first backup', async () => {
        await t.init();
        await warm(image);
        const { r, step } = await measured(t, () => t.backup(image, {}));
        ids.set(t.name, [r.id]);
        resultOf(t).first = step;
        resultOf(t).storedAfterFirst = await apparentSize(t.repoDir);
      });
    }
    log('second backup, image unchanged');
    for (const t of tools) {
      await guard(t, 'unchanged backup', async () => {
        const prev = ids.get(t.name)?.at(-1);
        const emptyDirty = path.join(work, 'no-changes.json');
        await writeFile(emptyDirty, '[]');
        await warm(image);
        const { r, step } = await measured(t, () =>
          t.backup(image, t.name === 'vplus' && prev ? { previousId: prev, dirtyFile: emptyDirty } : {}),
        );
        ids.get(t.name)?.push(r.id);
        resultOf(t).unchanged = step;
        await warm(image);
        const forced = await measured(t, () => t.backup(image, { force: true }));
        ids.get(t.name)?.push(forced.r.id);
        resultOf(t).unchangedForced = forced.step;
      });
    }

    const dirty = await changeImage(image, size, changePct / 100, 'bench');
    const dirtyFile = path.join(work, 'dirty.json');
    await writeFile(dirtyFile, JSON.stringify(dirty));
    const changedBytes = dirty.reduce((s, d) => s + d.length, 0);
    log(`changed ${fmtBytes(changedBytes)} in ${dirty.length} writes; incremental backup`);
    for (const t of tools) {
      await guard(t, 'incremental backup', async () => {
        const prev = ids.get(t.name)?.at(-1);
        await warm(image);
        const { r, step } = await measured(t, () =>
          t.backup(image, t.name === 'vplus' && prev ? { previousId: prev, dirtyFile } : {}),
        );
        ids.get(t.name)?.push(r.id);
        resultOf(t).incremental = step;
        resultOf(t).storedFinal = await apparentSize(t.repoDir);
      });
    }

    const expected = await sha256File(image);
    log('restore of the incremental backup');
    for (const t of tools) {
      await guard(t, 'restore', async () => {
        const target = path.join(work, `restore-${t.name}`);
        await mkdir(target);
        const id = ids.get(t.name)?.at(-1) ?? '';
        const { r, ms, load } = await timed(() => t.restore(id, target, image));
        const identical = (await sha256File(r.file)) === expected;
        resultOf(t).restore = { ms, peakRssBytes: r.peakRssBytes, loadAvg: load, bytesIdentical: identical };
        await rm(target, { recursive: true, force: true });
        if (!identical) throw new Error('restored image differs from the source');
      });
    }
    log('verify (re-read and check all data)');
    for (const t of tools) {
      await guard(t, 'verify', async () => {
        const { r, ms, load } = await timed(() => t.verify());
        resultOf(t).verify = { ms, peakRssBytes: r.peakRssBytes, loadAvg: load, repoBytes: await apparentSize(t.repoDir) };
      });
    }

    // Two-core limit implied by this machine's single-core speeds on this data mix.
    const zText = lv.levels.find((l) => l.level === 1 && l.sample === 'text');
    const zRand = lv.levels.find((l) => l.level === 1 && l.sample === 'random');
    const textShare = gen.textBytes / gen.allocatedBytes;
    const storedShare = textShare / (zText?.ratio ?? 1) + (1 - textShare);
    const secPerMB =
      1 / (lv.primitives['blake3Keyed'] ?? 1) +
      textShare / (zText?.MBps ?? 1) +
      (1 - textShare) / (zRand?.MBps ?? 1) +
      storedShare / (lv.primitives['aes256gcm'] ?? 1);
    const cores = availableParallelism();
    const limitMBps = cores / secPerMB;

    const table = renderTable(results, gen, limitMBps, changedBytes);
    log('');
    log(`single-core: keyed BLAKE3 ${lv.primitives['blake3Keyed']?.toFixed(0)} MB/s (HMAC-SHA-256 of version 1: ${lv.primitives['hmacSha256']?.toFixed(0)} MB/s), zstd-1 ${zText?.MBps.toFixed(0)} MB/s on text (ratio ${zText?.ratio.toFixed(2)}) / ${zRand?.MBps.toFixed(0)} MB/s on random, AES-256-GCM ${lv.primitives['aes256gcm']?.toFixed(0)} MB/s`);
    log(`=> ${cores}-core limit for hash + compress + encrypt of this data: ${limitMBps.toFixed(0)} MB/s of allocated data`);
    log('');
    log(table);

    const resultsDir = path.resolve('bench-results');
    await mkdir(resultsDir, { recursive: true });
    const file = path.join(resultsDir, `bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    await writeFile(
      file,
      JSON.stringify(
        {
          sizeGiB,
          changePct,
          changedBytes,
          image: { size, allocatedBytes: gen.allocatedBytes, textBytes: gen.textBytes, randomBytes: gen.randomBytes },
          machine: { cpu: cpus()[0]?.model, cores, memBytes: totalmem(), node: process.version },
          primitives: lv.primitives,
          zstdLevels: lv.levels,
          twoCoreLimitMBps: limitMBps,
          results,
          table,
        },
        null,
        2,
      ),
    );
    log(`\nresults: ${file}`);
  } finally {
    if (process.env['VPLUS_BENCH_KEEP']) log(`kept ${work}`);
    else await rm(work, { recursive: true, force: true });
  }
}

function renderTable(results: ToolResult[], gen: GeneratedImage, limitMBps: number, changedBytes: number): string {
  const ours = results.find((r) => r.tool === 'vplus');
  const others = results.filter((r) => r.tool !== 'vplus');
  type Metric = { label: string; better: 'higher' | 'lower'; get: (r: ToolResult) => number | undefined; fmt: (v: number) => string };
  const secs = (v: number): string => `${(v / 1000).toFixed(2)} s`;
  const rate = (v: number): string => `${v.toFixed(0)} MB/s`;
  const mib = (v: number): string => fmtBytes(v);
  const perSec = (bytes: number, step: Step | undefined): number | undefined => (step ? bytes / MB / (step.ms / 1000) : undefined);
  const metrics: Metric[] = [
    { label: 'first backup, time', better: 'lower', get: (r) => r.first?.ms, fmt: secs },
    { label: 'first backup, MB/s of allocated data', better: 'higher', get: (r) => perSec(gen.allocatedBytes, r.first), fmt: rate },
    { label: 'first backup, MB/s of image', better: 'higher', get: (r) => perSec(gen.size, r.first), fmt: rate },
    { label: 'first backup, peak RSS', better: 'lower', get: (r) => r.first?.peakRssBytes ?? undefined, fmt: mib },
    { label: 'stored after first backup', better: 'lower', get: (r) => r.storedAfterFirst, fmt: mib },
    { label: 'unchanged 2nd backup, time (ours: clean dirty map)', better: 'lower', get: (r) => r.unchanged?.ms, fmt: secs },
    { label: 'unchanged 2nd backup, % of first backup time', better: 'lower', get: (r) => (r.unchanged && r.first ? (100 * r.unchanged.ms) / r.first.ms : undefined), fmt: (v) => `${v.toFixed(1)} %` },
    { label: 'unchanged 2nd backup, forced full read, time', better: 'lower', get: (r) => r.unchangedForced?.ms, fmt: secs },
    { label: 'unchanged 2nd backup, forced, bytes added', better: 'lower', get: (r) => r.unchangedForced?.addedBytes, fmt: mib },
    { label: `incremental after ${fmtBytes(changedBytes)} changed, time`, better: 'lower', get: (r) => r.incremental?.ms, fmt: secs },
    { label: 'incremental, bytes added', better: 'lower', get: (r) => r.incremental?.addedBytes, fmt: mib },
    { label: 'incremental, peak RSS', better: 'lower', get: (r) => r.incremental?.peakRssBytes ?? undefined, fmt: mib },
    { label: 'stored after all backups', better: 'lower', get: (r) => r.storedFinal, fmt: mib },
    { label: 'restore, time', better: 'lower', get: (r) => r.restore?.ms, fmt: secs },
    { label: 'restore, MB/s of image', better: 'higher', get: (r) => perSec(gen.size, r.restore), fmt: rate },
    { label: 'restore, peak RSS', better: 'lower', get: (r) => r.restore?.peakRssBytes ?? undefined, fmt: mib },
    { label: 'verify, time', better: 'lower', get: (r) => r.verify?.ms, fmt: secs },
    { label: 'verify, MB/s of repository', better: 'higher', get: (r) => (r.verify ? perSec(r.verify.repoBytes, r.verify) : undefined), fmt: rate },
    { label: 'verify, peak RSS', better: 'lower', get: (r) => r.verify?.peakRssBytes ?? undefined, fmt: mib },
  ];
  // Ratios of tiny byte counts (a manifest, a few MB of metadata) say nothing.
  const meaningful = (m: Metric, b: number): boolean => !(m.fmt === mib && b < 1024 * 1024);
  const header = ['metric', ...results.map((r) => r.tool), ...others.map((o) => `ours/${o.tool}`)];
  const rows: string[][] = [header];
  for (const m of metrics) {
    const row = [`${m.label} (${m.better} is better)`];
    for (const r of results) {
      const v = m.get(r);
      row.push(v === undefined ? '-' : m.fmt(v));
    }
    for (const o of others) {
      const a = ours ? m.get(ours) : undefined;
      const b = m.get(o);
      row.push(a !== undefined && b !== undefined && b > 0 && meaningful(m, b) ? `${(a / b).toFixed(2)}` : '-');
    }
    rows.push(row);
  }
  const identical = results.map((r) => `${r.tool}: ${r.restore ? (r.restore.bytesIdentical ? 'bit-exact' : 'DIFFERENT') : '-'}`).join(', ');
  const firstRate = ours ? perSec(gen.allocatedBytes, ours.first) : undefined;
  const widths = header.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  const lines = rows.map((r) => `| ${r.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`);
  lines.splice(1, 0, `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  const inProcess = ours
    ? `ours, backup writer time alone (no process start-up, no scrypt): first ${secs(ours.first?.writerMs ?? 0)}, unchanged ${secs(ours.unchanged?.writerMs ?? 0)} (${(
        (100 * (ours.unchanged?.writerMs ?? 0)) /
        Math.max(1, ours.first?.writerMs ?? 1)
      ).toFixed(1)} % of first), forced re-read ${secs(ours.unchangedForced?.writerMs ?? 0)}, incremental ${secs(ours.incremental?.writerMs ?? 0)}`
    : '';
  const notes = [
    `restored images: ${identical}`,
    inProcess,
    firstRate ? `our first backup reached ${((firstRate / limitMBps) * 100).toFixed(0)}% of the two-core hash+compress+encrypt limit (${limitMBps.toFixed(0)} MB/s)` : '',
    `times include a trailing sync; 1-min load average during the steps: ${results
      .flatMap((r) => [r.first, r.incremental, r.restore, r.verify].map((st) => st?.loadAvg))
      .filter((x): x is number => x !== undefined)
      .map((x) => x.toFixed(1))
      .join(' ')} (on ${availableParallelism()} cores; other work on the machine skews timings)`,
    ...results.filter((r) => r.error).map((r) => `${r.tool}: ${r.error}`),
    ...results.map((r) => `${r.tool}: ${r.version}; ${r.settings}`),
  ].filter(Boolean);
  return [...lines, '', ...notes].join('\n');
}

