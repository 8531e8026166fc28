/**
 * The one place the KVM platform starts child processes (virsh, qemu-img, qemu-nbd):
 * argument arrays only (no shell), a timeout, bounded output, and failures as CommandError.
 */
import { spawn } from 'node:child_process';
import { CommandError } from './errors.js';

export interface RunOptions {
  timeoutMs?: number;
  /** Written to the child's stdin, then closed. */
  input?: string;
  signal?: AbortSignal;
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

export interface CommandRunner {
  run(file: string, args: readonly string[], options?: RunOptions): Promise<RunResult>;
}

const MAX_OUTPUT = 64 * 1024 * 1024;

export class ChildProcessRunner implements CommandRunner {
  constructor(private readonly defaultTimeoutMs = 120_000) {}

  run(file: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
    const label = [file, ...args.slice(0, 3)].join(' ');
    return new Promise<RunResult>((resolve, reject) => {
      // LC_ALL=C: we parse virsh output, which is translated otherwise.
      const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' }, signal: options.signal });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let size = 0;
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill('SIGKILL');
      }, options.timeoutMs ?? this.defaultTimeoutMs);
      const collect = (into: Buffer[]) => (d: Buffer) => {
        size += d.length;
        if (size <= MAX_OUTPUT) into.push(d);
      };
      child.stdout.on('data', collect(out));
      child.stderr.on('data', collect(err));
      child.stdin.on('error', () => undefined); // a child that exits without reading stdin is reported by its exit code
      child.stdin.end(options.input ?? '');
      child.once('error', (e) => {
        clearTimeout(timer);
        reject(new CommandError(label, null, e.message));
      });
      child.once('close', (code) => {
        clearTimeout(timer);
        const stdout = Buffer.concat(out).toString('utf8');
        const stderr = Buffer.concat(err).toString('utf8');
        if (code === 0 && !timedOut) resolve({ stdout, stderr });
        else reject(new CommandError(label, code, stderr, timedOut));
      });
    });
  }
}

/** A long-running child (qemu-nbd) the caller stops when done. */
export interface StartedProcess {
  readonly pid: number | undefined;
  /** Resolves with the exit code once the process is gone (null when killed by a signal). */
  readonly exited: Promise<number | null>;
  /** The stderr it printed so far (for a failure message). */
  stderr(): string;
  stop(): Promise<void>;
}

export interface ProcessStarter {
  start(file: string, args: readonly string[]): StartedProcess;
}

export class ChildProcessStarter implements ProcessStarter {
  start(file: string, args: readonly string[]): StartedProcess {
    const child = spawn(file, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, LC_ALL: 'C' } });
    let err = '';
    child.stderr.on('data', (d: Buffer) => {
      if (err.length < 64 * 1024) err += d.toString('utf8');
    });
    const exited = new Promise<number | null>((resolve) => {
      child.once('error', (e) => {
        err += e.message;
        resolve(null);
      });
      child.once('close', (code) => resolve(code));
    });
    return {
      pid: child.pid,
      exited,
      stderr: () => err,
      stop: async () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(killer);
      },
    };
  }
}
