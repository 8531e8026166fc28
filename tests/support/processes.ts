import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export const ROOT = path.resolve(import.meta.dirname, '../..');
const BIN = path.join(ROOT, 'bin', 'vplus.js');

export function requireBuiltCli(): void {
  if (!fs.existsSync(path.join(ROOT, 'dist', 'cli', 'main.js'))) throw new Error('the CLI is not built; run "npm run build" first');
}

export interface Proc {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
}

/** Runs `vplus ARGS…` as a real process (the built CLI), capturing its output. */
export function vplus(args: string[], env: Record<string, string> = {}): Proc {
  requireBuiltCli();
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => out, exited };
}

/** Runs a short `vplus` command to completion; rejects with its output on failure. */
export async function vplusOk(args: string[], env: Record<string, string> = {}, stdin?: string): Promise<string> {
  const p = vplus(args, env);
  if (stdin !== undefined) p.child.stdin!.end(stdin);
  else p.child.stdin!.end();
  const code = await p.exited;
  if (code !== 0) throw new Error(`vplus ${args.join(' ')} exited ${code}: ${p.output()}`);
  return p.output();
}
