/**
 * Runs the repository library in a separate Node process (for SIGKILL and cross-process
 * tests). The library is compiled with tsc into node_modules/.cache so the child resolves
 * zstd-napi and zod from the project, exactly like dist/ does.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** A child script: backs up IMAGE into REPO as BACKUP_ID; after READS_BEFORE_SLOW reads it slows down and prints "slow". */
const CHILD_SCRIPT = `
import { Repository, openFileSource } from './node-service/repository/index.js';
const [repoPath, image, backupId, readsBeforeSlow, password] = process.argv.slice(2);
const repo = await Repository.open(repoPath, password ? { password } : {});
const src = await openFileSource(image);
let reads = 0;
const source = {
  kind: 'random-access',
  read: async (into, position) => {
    reads++;
    if (reads === Number(readsBeforeSlow)) process.stdout.write('slow\\n');
    if (reads >= Number(readsBeforeSlow)) await new Promise((r) => setTimeout(r, 200));
    return src.source.read(into, position);
  },
};
const w = await repo.startBackup({ id: backupId, group: 'child' });
await w.writeDisk('vda', src.size, source);
const m = await w.commit();
process.stdout.write('committed ' + m.id + '\\n');
await src.close();
await repo.close();
`;

export class ChildRepository {
  private constructor(private readonly dir: string) {}

  /** Compiles the library (about 3 s). */
  static async build(): Promise<ChildRepository> {
    const dir = path.join(root, 'node_modules', '.cache', 'vplus-repository-tests', randomBytes(6).toString('hex'));
    await mkdir(dir, { recursive: true });
    const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
    try {
      await promisify(execFile)(process.execPath, [
        tsc,
        '-p',
        path.join(root, 'node-service/repository/tsconfig.standalone.json'),
        '--outDir',
        dir,
        '--sourceMap',
        'false',
      ]);
    } catch (err) {
      await rm(dir, { recursive: true, force: true });
      const out = (err as { stdout?: unknown }).stdout;
      throw new Error(`compiling the repository library for the child process failed: ${typeof out === 'string' ? out : String(err)}`);
    }
    await writeFile(path.join(dir, 'child-backup.mjs'), CHILD_SCRIPT);
    return new ChildRepository(dir);
  }

  /** Starts a backup in a child process; `readsBeforeSlow` = 0 means full speed. */
  backup(repo: string, image: string, backupId: string, readsBeforeSlow: number, password = ''): ChildProcess {
    return spawn(process.execPath, [path.join(this.dir, 'child-backup.mjs'), repo, image, backupId, String(readsBeforeSlow || Number.MAX_SAFE_INTEGER), password], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  }

  /** Adds another child script (an ES module beside the compiled library, which it imports as './node-service/repository/index.js'). */
  async addScript(name: string, source: string): Promise<void> {
    await writeFile(path.join(this.dir, name), source);
  }

  /** Where a script added with addScript is (to run it under another program, e.g. strace). */
  scriptPath(name: string): string {
    return path.join(this.dir, name);
  }

  spawnScript(name: string, args: string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
    return spawn(process.execPath, [path.join(this.dir, name), ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
  }

  async cleanup(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** Resolves when the child prints `line`; rejects if it exits first. */
export function waitForLine(child: ChildProcess, line: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.split('\n').some((l) => l.startsWith(line))) resolve();
    });
    child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    child.on('exit', (code, signal) => reject(new Error(`child exited (${code ?? signal}) before printing "${line}": ${err}`)));
  });
}

export function waitForExit(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve({ code: child.exitCode, signal: child.signalCode });
    else child.on('exit', (code, signal) => resolve({ code, signal }));
  });
}
