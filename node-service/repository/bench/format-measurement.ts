/**
 * The measurements behind FORMAT.md's choices of chunk size and zstd level. Run with
 * `npm run bench -- format` (VPLUS_BENCH_SIZE_GIB sets the image size, default 1).
 * Each backup runs in its own process (timing and peak RSS like the tool benchmark).
 */
import { execFileSync } from 'node:child_process';
import { createHash, createHmac, createCipheriv, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Compressor } from 'zstd-napi';
import { ChunkCodec } from '../chunk-codec.js';
import { changeImage, generateImage, KeyStream, TextGenerator } from './image-generator.js';
import { GIB, MB, apparentSize, fmtBytes, run } from './measure.js';

const MIB = 1024 * 1024;
const OP = path.join(path.dirname(fileURLToPath(import.meta.url)), 'repository-bench-op.js');

interface ChunkSizeRow {
  chunkSize: number;
  firstMs: number;
  firstDataMBps: number;
  firstPeakRss: number | null;
  storedBytes: number;
  chunkFiles: number;
  manifestBytes: number;
  manifestBytesPerTiB: number;
  incremental: Record<string, { readBytes: number; newStoredBytes: number; ms: number }>;
}

interface LevelRow {
  level: number;
  sample: string;
  ratio: number;
  MBps: number;
}

/** MB/s of `fn` processing `bytes`. */
function speed(bytes: number, fn: () => void): number {
  const t0 = process.hrtime.bigint();
  fn();
  return bytes / MB / (Number(process.hrtime.bigint() - t0) / 1e9);
}

/** Real binaries and documents from this machine: a stand-in for OS disk content. */
async function systemSample(bytes: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let total = 0;
  const walk = async (dir: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return; // unreadable directory: skip it, it is only a sample
    }
    for (const e of entries) {
      if (total >= bytes) return;
      const p = path.join(dir, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) {
        const st = await stat(p);
        if (st.size < 4096 || st.size > 64 * MIB) continue;
        const data = await readFile(p);
        parts.push(data);
        total += data.length;
      }
    }
  };
  for (const d of ['/usr/lib/x86_64-linux-gnu', '/usr/bin', '/usr/share/doc', '/usr/lib']) await walk(d);
  return Buffer.concat(parts).subarray(0, bytes);
}

export async function measureLevels(): Promise<{ primitives: Record<string, number>; levels: LevelRow[] }> {
  const n = 64 * MIB;
  const text = Buffer.alloc(n);
  new TextGenerator(new KeyStream('levels-text')).fill(text);
  const random = new KeyStream('levels-random').bytes(n);
  const system = await systemSample(n);
  const key = randomBytes(32);
  const primitives: Record<string, number> = {
    sha256: speed(n, () => {
      for (let o = 0; o < n; o += MIB) createHash('sha256').update(random.subarray(o, o + MIB)).digest();
    }),
    hmacSha256: speed(n, () => {
      for (let o = 0; o < n; o += MIB) createHmac('sha256', key).update(random.subarray(o, o + MIB)).digest();
    }),
    // What version 2 repositories name chunks with (the same code path as a backup's).
    blake3Keyed: speed(n, () => {
      const codec = new ChunkCodec({ chunkIdHash: 'blake3', chunkIdKey: key, chunkKey: null, compressionLevel: 0 });
      for (let o = 0; o < n; o += MIB) codec.id(random.subarray(o, o + MIB));
    }),
    aes256gcm: speed(n, () => {
      for (let o = 0; o < n; o += MIB) {
        const c = createCipheriv('aes-256-gcm', key, randomBytes(12));
        c.update(random.subarray(o, o + MIB));
        c.final();
      }
    }),
  };
  const levels: LevelRow[] = [];
  for (const [sample, data] of [
    ['text', text],
    ['random', random],
    ['system files', system],
  ] as const) {
    for (const level of [1, 2, 3]) {
      const c = new Compressor();
      c.setParameters({ compressionLevel: level });
      let out = 0;
      const MBps = speed(data.length, () => {
        for (let o = 0; o < data.length; o += MIB) out += c.compress(data.subarray(o, o + MIB)).length;
      });
      levels.push({ level, sample, ratio: data.length / out, MBps });
    }
  }
  return { primitives, levels };
}

async function backup(repo: string, image: string, extra: string[] = []): Promise<{ ms: number; rss: number | null; summary: Record<string, number>; id: string }> {
  const r = await run(process.execPath, [OP, 'backup', repo, image, ...extra], { VPLUS_BENCH_PASSWORD: 'measure' });
  const out = JSON.parse(r.stdout) as { id: string; summary: Record<string, number> };
  return { ms: r.ms, rss: r.peakRssBytes, summary: out.summary, id: out.id };
}

export async function measureFormat(): Promise<void> {
  const sizeGiB = Number(process.env['VPLUS_BENCH_SIZE_GIB'] ?? '1');
  const size = Math.round(sizeGiB * GIB);
  const work = await mkdtemp(path.join(process.env['VPLUS_BENCH_DIR'] ?? tmpdir(), 'vplus-format-'));
  const out: Record<string, unknown> = { sizeGiB, startedAt: new Date().toISOString() };
  try {
    process.stdout.write('zstd levels and primitives (single core, 1 MiB blocks)...\n');
    const lv = await measureLevels();
    out['primitives'] = lv.primitives;
    out['levels'] = lv.levels;
    for (const [k, v] of Object.entries(lv.primitives)) process.stdout.write(`  ${k.padEnd(12)} ${v.toFixed(0)} MB/s\n`);
    for (const l of lv.levels) process.stdout.write(`  zstd -${l.level} ${l.sample.padEnd(13)} ratio ${l.ratio.toFixed(3)}  ${l.MBps.toFixed(0)} MB/s\n`);

    const base = path.join(work, 'base.raw');
    const gen = await generateImage(base, size, 'format');
    process.stdout.write(`image: ${fmtBytes(size)}, ${fmtBytes(gen.allocatedBytes)} allocated\n`);
    const changes: Record<string, { file: string; dirty: string }> = {};
    for (const pattern of ['clustered', 'scattered'] as const) {
      const file = path.join(work, `${pattern}.raw`);
      execFileSync('cp', ['--sparse=always', base, file]);
      const dirty = await changeImage(file, size, 0.01, `format-${pattern}`, pattern);
      const dirtyFile = path.join(work, `${pattern}.dirty.json`);
      await writeFile(dirtyFile, JSON.stringify(dirty));
      changes[pattern] = { file, dirty: dirtyFile };
    }

    // Two interleaved rounds, best time kept: other work on the machine adds noise.
    const rows: ChunkSizeRow[] = [];
    const sizes = [MIB, 2 * MIB, 4 * MIB];
    for (let round = 0; round < 2; round++) {
      for (const chunkSize of sizes) {
        const repo = path.join(work, `repo-${chunkSize}`);
        await rm(repo, { recursive: true, force: true });
        await run(process.execPath, [OP, 'init', repo, String(chunkSize), '1'], { VPLUS_BENCH_PASSWORD: 'measure' });
        execFileSync('sync');
        const first = await backup(repo, base);
        const existing = rows.find((r) => r.chunkSize === chunkSize);
        if (existing) {
          if (first.ms < existing.firstMs) {
            existing.firstMs = first.ms;
            existing.firstDataMBps = (first.summary['dataBytes'] ?? 0) / MB / (first.ms / 1000);
          }
          existing.firstPeakRss = Math.max(existing.firstPeakRss ?? 0, first.rss ?? 0);
          continue;
        }
        const chunkFiles = (await readdir(path.join(repo, 'chunks'), { recursive: true })).filter((f) => /[0-9a-f]{64}$/.test(f)).length;
        const manifestBytes = await apparentSize(path.join(repo, 'backups'));
        const row: ChunkSizeRow = {
          chunkSize,
          firstMs: first.ms,
          firstDataMBps: (first.summary['dataBytes'] ?? 0) / MB / (first.ms / 1000),
          firstPeakRss: first.rss,
          storedBytes: await apparentSize(path.join(repo, 'chunks')),
          chunkFiles,
          manifestBytes,
          manifestBytesPerTiB: (manifestBytes / size) * 1024 ** 4,
          incremental: {},
        };
        for (const [pattern, c] of Object.entries(changes)) {
          execFileSync('sync');
          const inc = await backup(repo, c.file, [first.id, c.dirty]);
          row.incremental[pattern] = { readBytes: inc.summary['readBytes'] ?? 0, newStoredBytes: inc.summary['newStoredBytes'] ?? 0, ms: inc.ms };
        }
        rows.push(row);
      }
    }
    out['chunkSizes'] = rows;

    // End to end, level 1 against level 3 (1 MiB chunks), best of two.
    const levelRuns: { level: number; ms: number; storedBytes: number }[] = [];
    for (let round = 0; round < 2; round++) {
      for (const level of [1, 3]) {
        const repo = path.join(work, `repo-level-${level}`);
        await rm(repo, { recursive: true, force: true });
        await run(process.execPath, [OP, 'init', repo, String(MIB), String(level)], { VPLUS_BENCH_PASSWORD: 'measure' });
        execFileSync('sync');
        const b = await backup(repo, base);
        const prev = levelRuns.find((l) => l.level === level);
        if (!prev) levelRuns.push({ level, ms: b.ms, storedBytes: b.summary['newStoredBytes'] ?? 0 });
        else prev.ms = Math.min(prev.ms, b.ms);
        await rm(repo, { recursive: true, force: true });
      }
    }
    out['levelsEndToEnd'] = levelRuns;
    process.stdout.write('\nchunk size | 1st backup | data MB/s | peak RSS | stored | files | manifest/TiB | 1% clustered: read / stored | 1% scattered: read / stored\n');
    for (const r of rows) {
      const c = r.incremental['clustered'];
      const s = r.incremental['scattered'];
      process.stdout.write(
        `${(r.chunkSize / MIB).toFixed(0)} MiB | ${(r.firstMs / 1000).toFixed(2)} s | ${r.firstDataMBps.toFixed(0)} | ${r.firstPeakRss ? fmtBytes(r.firstPeakRss) : '?'} | ${fmtBytes(r.storedBytes)} | ${r.chunkFiles} | ${fmtBytes(r.manifestBytesPerTiB)} | ${c ? `${fmtBytes(c.readBytes)} / ${fmtBytes(c.newStoredBytes)}` : ''} | ${s ? `${fmtBytes(s.readBytes)} / ${fmtBytes(s.newStoredBytes)}` : ''}\n`,
      );
    }
    process.stdout.write('\nzstd level, end to end (1 MiB chunks): ');
    process.stdout.write(levelRuns.map((l) => `level ${l.level}: ${(l.ms / 1000).toFixed(2)} s, ${fmtBytes(l.storedBytes)} stored`).join('; ') + '\n');
    const resultsDir = path.resolve('bench-results');
    await mkdir(resultsDir, { recursive: true });
    const file = path.join(resultsDir, `format-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    await writeFile(file, JSON.stringify(out, null, 2));
    process.stdout.write(`\nresults: ${file}\n`);
  } finally {
    if (!process.env['VPLUS_BENCH_KEEP']) await rm(work, { recursive: true, force: true });
  }
}
