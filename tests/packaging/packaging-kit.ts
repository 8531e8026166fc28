import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { requireBinary } from '../support/requirements.js';

const execFileAsync = promisify(execFile);

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** package.json's version, and the next one (what an upgrade installs). */
export function versions(): { current: string; next: string } {
  const { version } = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
  const [major, minor, patch] = version.split(/[.+-]/).map(Number) as [number, number, number];
  return { current: version, next: `${major}.${minor}.${patch + 1}` };
}

export function requirePackagingTools(): void {
  const hint = 'sudo apt-get install -y dpkg-dev makeself';
  requireBinary(['/usr/bin/dpkg-deb'], hint);
  requireBinary(['/usr/bin/dpkg-shlibdeps'], hint);
  requireBinary(['/usr/bin/makeself'], hint);
  if (!fs.existsSync(path.join(REPO_ROOT, 'dist', 'cli', 'main.js'))) throw new Error('the program is not built; run npm run build');
}

export interface BuiltPackages {
  deb: string;
  run: string | undefined;
  /** What `npm run package` printed. */
  output: string;
  seconds: number;
}

/** `npm run package` (the script itself, on the dist/ the suite built) into outDir. */
export async function buildPackages(outDir: string, options: { version?: string; run?: boolean; env?: NodeJS.ProcessEnv } = {}): Promise<BuiltPackages> {
  const version = options.version ?? versions().current;
  const args = [path.join(REPO_ROOT, 'build', 'package.js'), '--no-build', '--out', outDir, '--version', version];
  if (options.run === false) args.push('--no-run');
  const started = Date.now();
  const { stdout, stderr } = await execFileAsync(process.execPath, args, {
    cwd: REPO_ROOT,
    env: { ...process.env, ELECTRON_DIST: '', ...options.env },
    maxBuffer: 16 * 1024 * 1024,
    timeout: 10 * 60_000,
  });
  const debVersion = version.replace('-', '~');
  const run = path.join(outDir, `vplus-${debVersion}.run`);
  return {
    deb: path.join(outDir, `vplus_${debVersion}_amd64.deb`),
    run: options.run === false ? undefined : run,
    output: stdout + stderr,
    seconds: (Date.now() - started) / 1000,
  };
}

/** Runs a program and returns its stdout; a failure throws with its stderr. */
export async function run(file: string, args: string[], options: { cwd?: string; timeoutMs?: number } = {}): Promise<string> {
  const { stdout } = await execFileAsync(file, args, { cwd: options.cwd, timeout: options.timeoutMs ?? 120_000, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' });
  return stdout;
}
