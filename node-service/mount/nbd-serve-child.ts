/**
 * Starts a mount session's NBD server in its own process (nbd-serve-process.ts) and stops it.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ServeReply, ServeRequest } from './nbd-serve-process.js';

/** The modules the server process loads from dist when we run from the TypeScript sources (vitest). */
const SERVE_MODULES = ['nbd-serve-process', 'nbd-server', 'nbd-connection', 'nbd-protocol', 'block-device', 'cow-overlay'];

/** The compiled entry: beside this module when compiled, else the one `npm run build` put in dist/. */
export function serveProcessPath(moduleUrl: string = import.meta.url): string {
  if (!moduleUrl.endsWith('.ts')) return fileURLToPath(new URL('./nbd-serve-process.js', moduleUrl));
  const compiledDir = new URL('../../dist/node-service/mount/', moduleUrl);
  for (const name of SERVE_MODULES) {
    const compiledAt = statSync(new URL(`${name}.js`, compiledDir), { throwIfNoEntry: false })?.mtimeMs;
    if (compiledAt === undefined) throw new Error(`the NBD server process is not compiled (${name}.js is missing in dist): run npm run build`);
    if (statSync(new URL(`./${name}.ts`, moduleUrl)).mtimeMs > compiledAt) {
      throw new Error(`the compiled NBD server process is out of date (${name}.ts changed since it was built): run npm run build`);
    }
  }
  return fileURLToPath(new URL('nbd-serve-process.js', compiledDir));
}

export interface ServedBackup {
  pid: number;
  disks: { name: string; size: number }[];
  close(): Promise<void>;
}

export class ServeError extends Error {
  constructor(
    message: string,
    readonly code = 'MOUNT_SERVE_FAILED',
  ) {
    super(message);
    this.name = 'ServeError';
  }
}

/** Spawns the server process for `workDir` and waits until it listens on request.socketPath. */
export async function serveInChild(workDir: string, request: Omit<ServeRequest, 'type'>, options: { timeoutMs?: number } = {}): Promise<ServedBackup> {
  const child = fork(serveProcessPath(), [workDir], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'], serialization: 'json' });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    if (stderr.length < 8000) stderr += d.toString('utf8');
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    const reply = await new Promise<ServeReply>((resolve, reject) => {
      const timer = setTimeout(() => reject(new ServeError(`the NBD server process did not start within ${(options.timeoutMs ?? 60_000) / 1000} s`)), options.timeoutMs ?? 60_000);
      child.once('message', (m: ServeReply) => {
        clearTimeout(timer);
        resolve(m);
      });
      void exited.then((code) => {
        clearTimeout(timer);
        reject(new ServeError(`the NBD server process exited (${code}) before serving: ${stderr.trim() || 'no output'}`));
      });
      child.send({ type: 'serve', ...request } satisfies ServeRequest);
    });
    if (reply.type === 'failed') throw new ServeError(reply.message, reply.code);
    return { pid: child.pid ?? 0, disks: reply.disks, close: () => stop(child, exited) };
  } catch (err) {
    await stop(child, exited);
    throw err;
  }
}

async function stop(child: ChildProcess, exited: Promise<number | null>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  if (child.connected) child.send({ type: 'close' });
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}
