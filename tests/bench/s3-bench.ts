/**
 * `npm run bench -- s3` (issue 19): a disk image backed up to the local Ceph gateway (a
 * throwaway single-node cluster, tests/support/ceph-rgw.ts) against the same to a directory,
 * and restic to the same gateway: full, incremental (a share of the image rewritten; ours reads
 * only the dirty ranges a CBT bitmap would give, restic re-reads the image), and restore of the
 * latest point, checked bit-exact; wall times, peak RSS, and S3 requests counted from the
 * gateway's access log. Not part of the tests.
 *
 * A generated raw image (node-service/repository/bench/image-generator.ts: half allocated,
 * half text-like, half random) stands in for the VM disk: what is measured is the repository's
 * path to its storage, and the image makes the runs identical for every tool.
 *
 * Settings (environment):
 *   VPLUS_BENCH_SIZE_GIB    image size in GiB (default 4; half of it is allocated)
 *   VPLUS_BENCH_CHANGE_PCT  share of the image rewritten before the incremental (default 1)
 *   VPLUS_BENCH_DIR         where the image, repositories and the cluster go (default: the OS temp dir)
 *   VPLUS_BENCH_TOOLS       comma list (default "vplus-dir,vplus-s3,restic-s3")
 *   VPLUS_BENCH_CEPH_STORE  memstore (default; RAM, bounded to 2x the image) or bluestore (a sparse file)
 *   VPLUS_BENCH_KEEP=1      keep the work directory
 * Results: a table on stdout (ratios to vPlus on a directory) and JSON in bench-results/.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { changeImage, generateImage } from '../../node-service/repository/bench/image-generator.js';
import { GIB, apparentSize, fmtBytes, run, type RunResult } from '../../node-service/repository/bench/measure.js';
import { startCephGateway, type CephGateway, type GatewayRequest } from '../support/ceph-rgw.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const OP = path.join(HERE, 's3-bench-op.js');
const ROOT = path.resolve(HERE, '../../..');
const PASSWORD = 'vplus-bench-password';
const STEPS = ['full', 'incremental', 'restore'] as const;
type StepName = (typeof STEPS)[number];

interface Step {
  ms: number;
  peakRssBytes: number | null;
  loadAvg: number;
  /** S3 requests the step made, by method (none for a directory). */
  requests?: Record<string, number>;
  /** Failed S3 requests (HTTP status >= 400; 404s of existence checks included). */
  failedRequests?: number;
  bytesIdentical?: boolean;
}

interface ToolResult {
  tool: string;
  settings: string;
  steps: Partial<Record<StepName, Step>>;
  storedBytes?: number;
  error?: string;
}

interface Tool {
  name: string;
  settings: string;
  /** The bucket whose requests count as this tool's; none for a directory. */
  bucket?: string;
  init(): Promise<void>;
  backup(image: string, o: { previousId?: string; dirtyFile?: string }): Promise<RunResult & { id: string }>;
  restore(id: string, targetDir: string, image: string): Promise<RunResult & { file: string }>;
  stored(): Promise<number>;
}

function vplusTool(name: string, target: string, settings: string, env: Record<string, string>, stored: () => Promise<number>, bucket?: string): Tool {
  const op = (args: string[]): Promise<RunResult> => run(process.execPath, [OP, ...args], { VPLUS_BENCH_PASSWORD: PASSWORD, ...env });
  return {
    name,
    settings,
    ...(bucket ? { bucket } : {}),
    init: async () => {
      await op(['init', target]);
    },
    backup: async (image, o) => {
      const r = await op(['backup', target, image, ...(o.previousId && o.dirtyFile ? [o.previousId, o.dirtyFile] : [])]);
      return { ...r, id: (JSON.parse(r.stdout) as { id: string }).id };
    },
    restore: async (id, targetDir) => {
      const file = path.join(targetDir, 'disk.raw');
      return { ...(await op(['restore', target, id, file])), file };
    },
    stored,
  };
}

function resticTool(gw: CephGateway, bucket: string, work: string): Tool {
  const env = {
    RESTIC_REPOSITORY: `s3:${gw.endpoint}/${bucket}`,
    RESTIC_PASSWORD: PASSWORD,
    RESTIC_CACHE_DIR: path.join(work, 'restic-cache'),
    AWS_ACCESS_KEY_ID: gw.accessKeyId,
    AWS_SECRET_ACCESS_KEY: gw.secretAccessKey,
    AWS_DEFAULT_REGION: gw.region,
  };
  const restic = (args: string[]): Promise<RunResult> => run('restic', args, env);
  return {
    name: 'restic-s3',
    bucket,
    settings: `${execFileSync('restic', ['version']).toString().trim()}, defaults (content-defined chunks, compression auto), encrypted`,
    init: async () => {
      await restic(['init']);
    },
    backup: async (image) => {
      const r = await restic(['backup', '--json', '--host', 'bench', image]);
      const summary = r.stdout
        .split('\n')
        .filter((l) => l.includes('"summary"'))
        .map((l) => JSON.parse(l) as { snapshot_id: string })[0];
      if (!summary) throw new Error('restic printed no summary');
      return { ...r, id: summary.snapshot_id };
    },
    restore: async (id, targetDir, image) => ({ ...(await restic(['restore', id, '--target', targetDir])), file: path.join(targetDir, image) }),
    stored: async () => bucketBytes(gw, bucket),
  };
}

/** Bytes stored in a bucket (every object, listed). */
async function bucketBytes(gw: CephGateway, bucket: string): Promise<number> {
  const s3 = gw.client();
  try {
    let total = 0;
    let token: string | undefined;
    do {
      const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
      for (const o of page.Contents ?? []) total += o.Size ?? 0;
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return total;
  } finally {
    s3.destroy();
  }
}

async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 4 * 1024 * 1024 })) h.update(chunk as Buffer);
  return h.digest('hex');
}

function countRequests(all: GatewayRequest[], bucket: string): { byMethod: Record<string, number>; failed: number } {
  const byMethod: Record<string, number> = {};
  let failed = 0;
  for (const r of all) {
    if (r.target !== `/${bucket}` && !r.target.startsWith(`/${bucket}/`) && !r.target.startsWith(`/${bucket}?`)) continue;
    byMethod[r.method] = (byMethod[r.method] ?? 0) + 1;
    if (r.status >= 400) failed++;
  }
  return { byMethod, failed };
}

/** Times `fn` (with a `sync` before and after, so no step pays for another's writeback) and counts the tool's S3 requests. */
async function measured<T extends RunResult>(gw: CephGateway, tool: Tool, fn: () => Promise<T>): Promise<{ r: T; step: Step }> {
  const before = tool.bucket ? (await gw.requests()).length : 0;
  execFileSync('sync');
  const t0 = process.hrtime.bigint();
  const r = await fn();
  execFileSync('sync');
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const step: Step = { ms, peakRssBytes: r.peakRssBytes, loadAvg: loadavg()[0] ?? 0 };
  if (tool.bucket) {
    const counted = countRequests((await gw.requests()).slice(before), tool.bucket);
    step.requests = counted.byMethod;
    step.failedRequests = counted.failed;
  }
  return { r, step };
}

export async function runS3Benchmark(): Promise<void> {
  const sizeGiB = Number(process.env['VPLUS_BENCH_SIZE_GIB'] ?? '4');
  const changePct = Number(process.env['VPLUS_BENCH_CHANGE_PCT'] ?? '1');
  const wanted = (process.env['VPLUS_BENCH_TOOLS'] ?? 'vplus-dir,vplus-s3,restic-s3').split(',').map((s) => s.trim());
  const store = process.env['VPLUS_BENCH_CEPH_STORE'] === 'bluestore' ? 'bluestore' : 'memstore';
  if (!(sizeGiB > 0) || !(changePct > 0 && changePct <= 100)) throw new Error('VPLUS_BENCH_SIZE_GIB must be > 0 and VPLUS_BENCH_CHANGE_PCT in (0, 100]');
  const size = Math.round(sizeGiB * GIB);
  const base = process.env['VPLUS_BENCH_DIR'] ?? tmpdir();
  const work = await mkdtemp(path.join(base, 'vplus-s3-bench-'));
  const image = path.join(work, 'disk.raw');
  const storeBytes = store === 'memstore' ? Math.max(4 * GIB, 2 * size) : Math.max(32 * GIB, 8 * size);
  console.log(`s3 bench: ${fmtBytes(size)} image, ${changePct} % changed, Ceph on ${store} (${fmtBytes(storeBytes)}), in ${work}`);

  let gw: CephGateway | undefined;
  const results: ToolResult[] = [];
  try {
    const gen = await generateImage(image, size, 's3-bench');
    const t0 = Date.now();
    gw = await startCephGateway({ store, storeBytes, parentDir: base });
    const startMs = Date.now() - t0;
    console.log(`Ceph gateway at ${gw.endpoint}, started in ${startMs} ms`);
    const g = gw;

    const tools: Tool[] = [];
    if (wanted.includes('vplus-dir')) {
      const dir = path.join(work, 'vplus-repo');
      tools.push(vplusTool('vplus-dir', dir, 'directory; fixed 1 MiB chunks, zstd 1, AES-256-GCM', {}, () => apparentSize(dir)));
    }
    if (wanted.includes('vplus-s3')) {
      await g.createBucket('vplus-bench');
      const loc = g.location('vplus-bench', { prefix: 'repo' });
      tools.push(vplusTool('vplus-s3', 's3', 'S3 (Ceph RGW); same format', { VPLUS_BENCH_S3: JSON.stringify(loc) }, () => bucketBytes(g, 'vplus-bench'), 'vplus-bench'));
    }
    if (wanted.includes('restic-s3')) {
      await g.createBucket('restic-bench');
      tools.push(resticTool(g, 'restic-bench', work));
    }

    // Full backups of the same image, one tool after the other.
    const ids = new Map<string, string>();
    for (const tool of tools) {
      const res: ToolResult = { tool: tool.name, settings: tool.settings, steps: {} };
      results.push(res);
      try {
        await tool.init();
        const { r, step } = await measured(g, tool, () => tool.backup(image, {}));
        res.steps.full = step;
        ids.set(tool.name, r.id);
        console.log(`${tool.name}: full in ${(step.ms / 1000).toFixed(1)} s`);
      } catch (err) {
        res.error = describeFailure(err);
        console.log(`${tool.name}: ${res.error}`);
      }
    }

    // Rewrite a share of the image, then incrementals.
    const dirty = await changeImage(image, size, changePct / 100, 's3-bench');
    const dirtyFile = path.join(work, 'dirty.json');
    await writeFile(dirtyFile, JSON.stringify(dirty));
    const changedBytes = dirty.reduce((n, d) => n + d.length, 0);
    const expected = await sha256File(image);
    for (const tool of tools) {
      const res = results.find((x) => x.tool === tool.name)!;
      const previousId = ids.get(tool.name);
      if (res.error || !previousId) continue;
      try {
        const inc = await measured(g, tool, () => tool.backup(image, { previousId, dirtyFile }));
        res.steps.incremental = inc.step;
        console.log(`${tool.name}: incremental in ${(inc.step.ms / 1000).toFixed(1)} s`);
        const target = path.join(work, `restore-${tool.name}`);
        await mkdir(target, { recursive: true });
        const rest = await measured(g, tool, () => tool.restore(inc.r.id, target, image));
        rest.step.bytesIdentical = (await sha256File(rest.r.file)) === expected;
        res.steps.restore = rest.step;
        console.log(`${tool.name}: restore in ${(rest.step.ms / 1000).toFixed(1)} s, ${rest.step.bytesIdentical ? 'bit-exact' : 'DIFFERENT BYTES'}`);
        await rm(target, { recursive: true, force: true });
        res.storedBytes = await tool.stored();
      } catch (err) {
        res.error = describeFailure(err);
        console.log(`${tool.name}: ${res.error}`);
      }
    }

    const table = renderTable(results, size, gen.allocatedBytes, changedBytes);
    console.log(`\n${table}`);
    const out = {
      when: new Date().toISOString(),
      machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, memBytes: totalmem(), loadAvg: loadavg() },
      settings: { sizeBytes: size, allocatedBytes: gen.allocatedBytes, changePct, changedBytes, cephStore: store, cephStoreBytes: storeBytes, cephStartMs: startMs },
      results,
      table,
    };
    const dir = path.join(ROOT, 'bench-results');
    await mkdir(dir, { recursive: true });
    const file = path.join(dir, `s3-${out.when.replace(/[:.]/g, '-')}.json`);
    await writeFile(file, JSON.stringify(out, null, 2));
    console.log(`\nresults: ${file}`);
  } finally {
    await gw?.stop();
    if (process.env['VPLUS_BENCH_KEEP'] !== '1') await rm(work, { recursive: true, force: true });
  }
}

function describeFailure(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n').slice(0, 3).join(' ').slice(0, 600);
}

function renderTable(results: ToolResult[], size: number, allocated: number, changed: number): string {
  const baseline = results.find((r) => r.tool === 'vplus-dir' && !r.error);
  const cell = (r: ToolResult, s: StepName): string => {
    const step = r.steps[s];
    if (!step) return r.error ? 'n/a' : '-';
    const sec = `${(step.ms / 1000).toFixed(1)} s`;
    const b = baseline?.steps[s];
    return b && r !== baseline ? `${sec} (${(step.ms / b.ms).toFixed(2)}x)` : sec;
  };
  const reqs = (r: ToolResult, s: StepName): string => {
    const q = r.steps[s]?.requests;
    if (!q) return '-';
    const total = Object.values(q).reduce((a, b) => a + b, 0);
    return `${total} (${Object.entries(q)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([m, n]) => `${m} ${n}`)
      .join(', ')})`;
  };
  const rows: string[][] = [['', ...results.map((r) => r.tool)]];
  for (const s of STEPS) {
    rows.push([s, ...results.map((r) => cell(r, s))]);
    rows.push([`  requests`, ...results.map((r) => reqs(r, s))]);
  }
  rows.push(['restore bit-exact', ...results.map((r) => (r.steps.restore ? String(r.steps.restore.bytesIdentical) : '-'))]);
  rows.push(['stored', ...results.map((r) => (r.storedBytes === undefined ? '-' : fmtBytes(r.storedBytes)))]);
  rows.push(['peak RSS (full)', ...results.map((r) => (r.steps.full?.peakRssBytes ? fmtBytes(r.steps.full.peakRssBytes) : '-'))]);
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? '').length)));
  const lines = rows.map((row) => row.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd());
  const errors = results.filter((r) => r.error).map((r) => `${r.tool}: ${r.error}`);
  return [
    `image ${fmtBytes(size)} (${fmtBytes(allocated)} allocated), ${fmtBytes(changed)} rewritten before the incremental; ratios are to vplus-dir`,
    ...lines,
    ...(errors.length ? ['', 'not measured:', ...errors] : []),
  ].join('\n');
}
