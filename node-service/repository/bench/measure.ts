/** Measuring helpers shared by the benchmarks: child processes with wall time and peak RSS. */
import { spawn } from 'node:child_process';
import { readdir, stat } from 'node:fs/promises';
import * as path from 'node:path';

export interface RunResult {
  ms: number;
  /** Peak resident set size of the process tree's largest process, in bytes (from /usr/bin/time). */
  peakRssBytes: number | null;
  /** User + system CPU seconds of the process and the children it waited for (from /usr/bin/time). */
  cpuSeconds: number | null;
  stdout: string;
  stderr: string;
}

const TIME_BIN = '/usr/bin/time';
const RSS_MARK = '@@VPLUS_MAXRSS_KB=';
const CPU_MARK = ' @@VPLUS_CPU_S=';

/** Runs a command, measuring wall time and peak RSS; rejects with its stderr if it fails. */
export async function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}, cwd?: string): Promise<RunResult> {
  const useTime = await stat(TIME_BIN).then(
    () => true,
    () => false,
  );
  const argv = useTime ? ['-f', `${RSS_MARK}%M${CPU_MARK}%U+%S`, cmd, ...args] : args;
  const bin = useTime ? TIME_BIN : cmd;
  const started = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const child = spawn(bin, argv, { env: { ...process.env, ...env }, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      let stderr = Buffer.concat(err).toString('utf8');
      let peakRssBytes: number | null = null;
      let cpuSeconds: number | null = null;
      const i = stderr.lastIndexOf(RSS_MARK);
      if (i >= 0) {
        const [rss, cpu] = stderr.slice(i + RSS_MARK.length).split(CPU_MARK);
        peakRssBytes = Number.parseInt(rss ?? '', 10) * 1024;
        const [user, system] = (cpu ?? '').split('+').map(Number);
        cpuSeconds = Number.isFinite(user) && Number.isFinite(system) ? user! + system! : null;
        stderr = stderr.slice(0, i);
      }
      const stdout = Buffer.concat(out).toString('utf8');
      if (code !== 0) reject(new Error(`${cmd} ${args.join(' ')} exited with ${code}: ${stderr.trim().slice(-2000)}`));
      else resolve({ ms, peakRssBytes, cpuSeconds, stdout, stderr });
    });
  });
}

/** Bytes used on disk by a directory tree (allocated blocks, like du). */
export async function diskUsage(dir: string): Promise<number> {
  let total = 0;
  const walk = async (d: string): Promise<void> => {
    for (const entry of await readdir(d, { withFileTypes: true })) {
      const p = path.join(d, entry.name);
      if (entry.isDirectory()) await walk(p);
      else if (entry.isFile()) total += (await stat(p)).blocks * 512;
    }
  };
  await walk(dir);
  return total;
}

/** Sum of apparent file sizes in a tree. */
export async function apparentSize(dir: string): Promise<number> {
  let total = 0;
  const walk = async (d: string): Promise<void> => {
    for (const entry of await readdir(d, { withFileTypes: true })) {
      const p = path.join(d, entry.name);
      if (entry.isDirectory()) await walk(p);
      else if (entry.isFile()) total += (await stat(p)).size;
    }
  };
  await walk(dir);
  return total;
}

export const MB = 1e6;
export const GIB = 1024 ** 3;

export function fmtBytes(n: number): string {
  if (n >= GIB) return `${(n / GIB).toFixed(2)} GiB`;
  return `${(n / 1024 ** 2).toFixed(1)} MiB`;
}

export function fmtRate(bytes: number, ms: number): string {
  return `${(bytes / MB / (ms / 1000)).toFixed(0)} MB/s`;
}
