/**
 * The mount benchmark's disk and host helpers: a sparse raw image with a GPT and one ext4
 * partition filled through an offset loop device (no partition scanning on loop devices
 * here), a stack of undo steps that runs even when a step fails, and small measuring tools
 * (this process's read bytes, page-cache drops).
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir, open, truncate, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { KeyStream, TextGenerator } from '../../repository/bench/image-generator.js';
import { SystemMounter } from '../fs-mounter.js';

const exec = promisify(execFile);
export const MIB = 1024 * 1024;

export async function sh(file: string, args: string[], input?: string): Promise<string> {
  const p = exec(file, args, { maxBuffer: 64 * MIB, env: { ...process.env, LC_ALL: 'C' } });
  if (input !== undefined) p.child.stdin?.end(input);
  try {
    return (await p).stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${file} ${args.join(' ')} failed: ${e.stderr?.trim() || e.message}`);
  }
}

/** Undo steps, run last-in first-out; each step's failure is logged and the rest still run. */
export class Cleanup {
  private readonly steps: { what: string; fn: () => Promise<void> }[] = [];

  constructor(private readonly log: (m: string) => void) {}

  /** Registers an undo step; the returned function runs it now (once) and forgets it. */
  add(what: string, fn: () => Promise<void>): () => Promise<void> {
    const step = { what, fn };
    this.steps.push(step);
    return async () => {
      const i = this.steps.indexOf(step);
      if (i < 0) return;
      this.steps.splice(i, 1);
      await fn();
    };
  }

  async runAll(): Promise<void> {
    while (this.steps.length > 0) {
      const step = this.steps.pop()!;
      try {
        await step.fn();
      } catch (err) {
        this.log(`cleanup: ${step.what} failed: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  }
}

/**
 * Bytes this process's live threads (the chunk workers included) have read with read(2) and
 * friends. Summed per thread: /proc/self/io also counts reaped child processes (qemu-img).
 */
export function rchar(): number {
  let n = 0;
  for (const tid of readdirSync('/proc/self/task')) {
    const io = (() => {
      try {
        return readFileSync(`/proc/self/task/${tid}/io`, 'utf8');
      } catch {
        return ''; // the thread ended meanwhile
      }
    })();
    n += Number(/rchar: (\d+)/.exec(io)?.[1] ?? 0);
  }
  return n;
}

/** Writes dirty pages and drops the page cache, dentries and inodes (root only). */
export async function dropCaches(): Promise<void> {
  await sh('sync', []);
  writeFileSync('/proc/sys/vm/drop_caches', '3\n');
}

export interface BenchDisk {
  image: string;
  size: number;
  /** The ext4 partition: where it starts on the disk and how long it is. */
  partOffset: number;
  partSize: number;
  /** Bytes of file content written. */
  dataBytes: number;
  manyFiles: number;
  bigFile: string;
  bigBytes: number;
  mediumDir: string;
  mediumFiles: number;
  mediumBytes: number;
}

export interface DiskPlan {
  /** Disk size in bytes. */
  size: number;
  /** Size of the big file and of the medium folder, in bytes. */
  fileBytes: number;
  /** Files in the folder of small files. */
  manyFiles: number;
}

/**
 * A sparse raw disk: GPT, one partition from 1 MiB to the end, ext4 on it holding
 *   many/      `manyFiles` small text files (0.5-8 KiB)
 *   big.bin    one file of `fileBytes`, its first half text-like, its second half random
 *   medium/    files of 1-8 MiB in 4 subfolders, alternating text-like and random, `fileBytes` in all
 * written by the kernel through an offset loop device, then unmounted clean.
 */
export async function buildDisk(work: string, plan: DiskPlan, cleanup: Cleanup, log: (m: string) => void): Promise<BenchDisk> {
  const host = new SystemMounter();
  const image = path.join(work, 'disk.raw');
  await (await open(image, 'w')).close();
  await truncate(image, plan.size);
  await sh('sfdisk', ['-q', '--no-reread', '--no-tell-kernel', image], 'label: gpt\nstart=2048, name="data"\n');
  const parts = (JSON.parse(await sh('sfdisk', ['--json', image])) as { partitiontable: { sectorsize?: number; partitions: { start: number; size: number }[] } }).partitiontable;
  const sector = parts.sectorsize ?? 512;
  const part = parts.partitions[0];
  if (!part) throw new Error('sfdisk made no partition');
  const partOffset = part.start * sector;
  const partSize = part.size * sector;

  const dev = await host.attachLoop(image, partOffset, partSize, false);
  const detach = cleanup.add(`losetup -d ${dev}`, () => host.detachLoop(dev));
  await sh('mkfs.ext4', ['-q', '-L', 'benchdata', dev]);
  const mp = path.join(work, 'build');
  await mkdir(mp);
  await host.mountKernel('ext4', dev, mp, ['rw']);
  const unmount = cleanup.add(`umount ${mp}`, () => host.unmount(mp));

  const text = new TextGenerator(new KeyStream('mount-bench-text'));
  const rand = new KeyStream('mount-bench-random');
  const sizes = new KeyStream('mount-bench-sizes');
  let dataBytes = 0;

  await writeFile(path.join(mp, 'README.txt'), 'The mount benchmark disk: many/ (small files), big.bin, medium/.\n');
  // The small files: slices of one text buffer at varying offsets (no two alike).
  const pool = Buffer.alloc(16 * MIB);
  text.fill(pool);
  await mkdir(path.join(mp, 'many'));
  const names = Array.from({ length: plan.manyFiles }, (_, i) => `file-${String(i).padStart(5, '0')}.txt`);
  const lens = sizes.bytes(plan.manyFiles * 4);
  for (let i = 0; i < names.length; i += 64) {
    await Promise.all(
      names.slice(i, i + 64).map((n, j) => {
        const k = i + j;
        const len = 512 + (lens.readUInt16LE(k * 4) % (7.5 * 1024));
        const at = lens.readUInt16LE(k * 4 + 2) * 200;
        dataBytes += len;
        return writeFile(path.join(mp, 'many', n), pool.subarray(at, at + len));
      }),
    );
  }
  log(`  ${plan.manyFiles} small files written`);

  const bigFile = 'big.bin';
  const fh = await open(path.join(mp, bigFile), 'w');
  try {
    const piece = Buffer.alloc(4 * MIB);
    for (let at = 0; at < plan.fileBytes; at += piece.length) {
      const n = Math.min(piece.length, plan.fileBytes - at);
      if (at < plan.fileBytes / 2) text.fill(piece.subarray(0, n));
      else rand.bytes(n).copy(piece);
      await fh.write(piece, 0, n, at);
    }
  } finally {
    await fh.close();
  }
  dataBytes += plan.fileBytes;
  log(`  ${bigFile} written (${plan.fileBytes / MIB} MiB)`);

  const mediumDir = 'medium';
  let mediumBytes = 0;
  let mediumFiles = 0;
  while (mediumBytes < plan.fileBytes) {
    const sub = path.join(mp, mediumDir, `set-${mediumFiles % 4}`);
    await mkdir(sub, { recursive: true });
    const len = Math.min(plan.fileBytes - mediumBytes, MIB + (sizes.bytes(4).readUInt32LE(0) % (7 * MIB)));
    const data = Buffer.alloc(len);
    if (mediumFiles % 2 === 0) text.fill(data);
    else rand.bytes(len).copy(data);
    await writeFile(path.join(sub, `part-${String(mediumFiles).padStart(4, '0')}.${mediumFiles % 2 === 0 ? 'txt' : 'bin'}`), data);
    mediumBytes += len;
    mediumFiles++;
  }
  dataBytes += mediumBytes;
  log(`  ${mediumFiles} medium files written (${(mediumBytes / MIB).toFixed(0)} MiB)`);

  await sh('sync', []);
  await unmount();
  await detach();
  // Unmounted clean: fsck must agree (the benchmark's own loop mounts skip the journal).
  const check = await host.attachLoop(image, partOffset, partSize, true);
  try {
    await sh('e2fsck', ['-n', '-f', check]);
  } finally {
    await host.detachLoop(check);
  }
  return {
    image,
    size: plan.size,
    partOffset,
    partSize,
    dataBytes,
    manyFiles: plan.manyFiles,
    bigFile,
    bigBytes: plan.fileBytes,
    mediumDir,
    mediumFiles,
    mediumBytes,
  };
}
