/**
 * The measurement behind the one-pass qcow2 restore (FORMAT.md, "Restore"): one backup of a
 * generated disk (VPLUS_BENCH_SIZE_GIB, default 4, half of it data) restored by each
 * candidate, VPLUS_BENCH_ROUNDS times (default 3) interleaved, medians printed:
 *
 *   two-pass      the former way: sparse raw file by the worker threads, then qemu-img convert
 *   direct        the qcow2 written by the worker threads at planned offsets (qcow2-writer.ts; what restores use)
 *   nbd-convert   qemu-img convert -O qcow2 -t none -m 16 reading our NBD server (restores before the direct writer)
 *   nbd-convert-W the same with -W (out-of-order writes)
 *   nbdcopy       nbdcopy from our NBD server into qemu-nbd serving a fresh qcow2
 *   raw           the raw restore (one pass, decoded straight into the file): the floor
 *
 *   npx tsc -p node-service/platforms/kvm/bench/tsconfig.standalone.json
 *   node dist/node-service/platforms/kvm/bench/restore-candidates.js [candidate,...]
 *
 * Each restore runs in a child process under /usr/bin/time: wall time (with an fsync of the
 * result), CPU seconds of the process and its children (qemu-img, nbdcopy, qemu-nbd: on a
 * shared machine the CPU seconds say more than the wall time) and peak RSS. Not part of the tests.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { open, rm, stat } from 'node:fs/promises';
import { loadavg } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { serveBackup } from '../../../mount/nbd-server.js';
import { backupReaderSource } from '../../../mount/block-device.js';
import { openFileSource } from '../../../repository/disk-source.js';
import { GIB, fmtBytes } from '../../../repository/bench/measure.js';
import { generateImage } from '../../../repository/bench/image-generator.js';
import { Repository } from '../../../repository/repository.js';
import type { BackupReader } from '../../../repository/backup-reader.js';
import { restoreToDirectory } from '../kvm-restore.service.js';

const exec = promisify(execFile);
const PASSWORD = 'vplus-bench-password';

async function fsyncFile(file: string): Promise<void> {
  const fh = await open(file, 'r+');
  await fh.sync();
  await fh.close();
}

async function viaNbd<T>(reader: BackupReader, dir: string, fn: (uri: string) => Promise<T>, maxInFlightPerClient = 64): Promise<T> {
  const socketPath = path.join(dir, 'nbd.sock');
  const server = await serveBackup(backupReaderSource(reader), { socketPath, maxInFlightPerClient });
  try {
    return await fn(`nbd+unix:///disk?socket=${socketPath}`);
  } finally {
    await server.close();
  }
}

type Candidate = (repo: Repository, backupId: string, dir: string, size: number) => Promise<string>;

const candidates: Record<string, Candidate> = {
  'two-pass': async (repo, id, dir) => {
    const reader = await repo.openBackup(id);
    const raw = path.join(dir, 'tmp.raw');
    const out = path.join(dir, 'out.qcow2');
    await reader.restoreToFile('disk', raw);
    await exec('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'qcow2', raw, out]);
    await rm(raw);
    await fsyncFile(out);
    return out;
  },
  direct: async (repo, id, dir) => {
    await restoreToDirectory({ repository: repo, backupId: id, directory: path.join(dir, 'r'), format: 'qcow2' });
    const out = path.join(dir, 'r', 'disk.qcow2');
    await exec('qemu-img', ['check', '-q', '-f', 'qcow2', out]);
    return out;
  },
  'nbd-convert': async (repo, id, dir) => {
    const reader = await repo.openBackup(id, { cacheChunks: 40, sequentialPrefetch: 6 });
    const out = path.join(dir, 'out.qcow2');
    await viaNbd(reader, dir, (uri) => exec('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'qcow2', '-t', 'none', '-m', '16', uri, out]), 16);
    await fsyncFile(out);
    return out;
  },
  'nbd-convert-W': async (repo, id, dir) => {
    const reader = await repo.openBackup(id, { cacheChunks: 48, sequentialPrefetch: 16 });
    const out = path.join(dir, 'out.qcow2');
    await viaNbd(reader, dir, (uri) => exec('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'qcow2', '-m', '16', '-W', uri, out]));
    await fsyncFile(out);
    return out;
  },
  nbdcopy: async (repo, id, dir, size) => {
    const reader = await repo.openBackup(id, { cacheChunks: 96, sequentialPrefetch: 16 });
    const out = path.join(dir, 'out.qcow2');
    await exec('qemu-img', ['create', '-q', '-f', 'qcow2', out, String(size)]);
    await viaNbd(reader, dir, (uri) => exec('nbdcopy', [uri, '--', '[', 'qemu-nbd', '-f', 'qcow2', '--discard=unmap', '--detect-zeroes=unmap', out, ']']));
    await fsyncFile(out);
    return out;
  },
  raw: async (repo, id, dir) => {
    await restoreToDirectory({ repository: repo, backupId: id, directory: path.join(dir, 'r'), format: 'raw' });
    return path.join(dir, 'r', 'disk.raw');
  },
};

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] ?? 0) : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2;
}

export async function measureRestoreCandidates(names: string[]): Promise<void> {
  const sizeGib = Number(process.env['VPLUS_BENCH_SIZE_GIB'] ?? 4);
  const rounds = Math.max(1, Number(process.env['VPLUS_BENCH_ROUNDS'] ?? 3));
  const work = mkdtempSync(path.join(process.env['VPLUS_BENCH_DIR'] ?? '/var/tmp', 'vplus-restore-candidates-'));
  const log = (m: string): void => void process.stderr.write(`restore-candidates: ${m}\n`);
  try {
    const image = path.join(work, 'disk.raw');
    const gen = await generateImage(image, Math.round(sizeGib * GIB), 'restore-candidates');
    const repoDir = path.join(work, 'repo');
    await (await Repository.init(repoDir, { password: PASSWORD })).close();
    const repo = await Repository.open(repoDir, { password: PASSWORD });
    try {
      const src = await openFileSource(image);
      const writer = await repo.startBackup({ group: 'bench', source: {} });
      await writer.writeDisk('disk', src.size, src.source);
      const id = (await writer.commit()).id;
      await src.close();
      log(`${sizeGib} GiB disk, ${fmtBytes(gen.allocatedBytes)} data, backed up; load ${loadavg()[0]?.toFixed(2)}`);
      const times = new Map<string, number[]>();
      const cpu = new Map<string, number[]>();
      const rss = new Map<string, number>();
      const sizes = new Map<string, number>();
      for (let r = 1; r <= rounds; r++) {
        for (const name of names) {
          const c = candidates[name];
          if (!c) throw new Error(`unknown candidate ${name} (known: ${Object.keys(candidates).join(', ')})`);
          if (!c) throw new Error(`unknown candidate ${name}`);
          const dir = mkdtempSync(path.join(work, `${name}-`));
          const t0 = process.hrtime.bigint();
          const child = await exec('/usr/bin/time', ['-f', '@@%U %S %M', process.execPath, SELF, '--one', name, repoDir, id, dir, String(src.size)], { env: { ...process.env, VPLUS_BENCH_PASSWORD: PASSWORD } });
          const ms = Number(process.hrtime.bigint() - t0) / 1e6;
          const out = child.stdout.trim();
          const [user, sys, rssKb] = (child.stderr.split('@@').pop() ?? '').trim().split(' ').map(Number);
          cpu.set(name, [...(cpu.get(name) ?? []), (user ?? 0) + (sys ?? 0)]);
          rss.set(name, Math.max(rss.get(name) ?? 0, (rssKb ?? 0) * 1024));
          const same = await exec('qemu-img', ['compare', '-q', out, image]).then(
            () => true,
            () => false,
          );
          if (!same) throw new Error(`${name} restored a different disk`);
          sizes.set(name, (await stat(out)).blocks * 512);
          times.set(name, [...(times.get(name) ?? []), ms]);
          log(`round ${r}: ${name} ${(ms / 1000).toFixed(2)} s, ${cpu.get(name)?.at(-1)?.toFixed(2)} CPU-s, load ${loadavg()[0]?.toFixed(2)}`);
          await rm(dir, { recursive: true, force: true });
        }
      }
      process.stdout.write(`\nrestore candidates: ${sizeGib} GiB disk, ${fmtBytes(gen.allocatedBytes)} data, medians of ${rounds}, load ${loadavg().map((l) => l.toFixed(2)).join(' ')}\n`);
      for (const name of names) {
        const t = times.get(name) ?? [];
        const c = cpu.get(name) ?? [];
        process.stdout.write(
          `  ${name.padEnd(14)} ${(median(t) / 1000).toFixed(2)} s (${t.map((x) => (x / 1000).toFixed(2)).join(', ')}), ${median(c).toFixed(2)} CPU-s (${c.map((x) => x.toFixed(2)).join(', ')}), peak RSS ${Math.round((rss.get(name) ?? 0) / 1e6)} MB, allocated ${fmtBytes(sizes.get(name) ?? 0)}\n`,
        );
      }
    } finally {
      await repo.close();
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** One restore by one candidate (the child process): prints the restored file's path. */
async function restoreOnce(name: string, repoDir: string, id: string, dir: string, size: number): Promise<void> {
  const c = candidates[name];
  if (!c) throw new Error(`unknown candidate ${name} (known: ${Object.keys(candidates).join(', ')})`);
  const repo = await Repository.open(repoDir, { password: process.env['VPLUS_BENCH_PASSWORD'] ?? '' });
  try {
    process.stdout.write(`${await c(repo, id, dir, size)}\n`);
  } finally {
    await repo.close();
  }
}

const SELF = fileURLToPath(import.meta.url);
const [, , first, ...args] = process.argv;
(first === '--one' ? restoreOnce(args[0] ?? '', args[1] ?? '', args[2] ?? '', args[3] ?? '', Number(args[4])) : measureRestoreCandidates(first?.split(',') ?? ['direct', 'nbd-convert', 'raw'])).catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
