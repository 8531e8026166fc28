import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { ApiClient } from '../../support/api-client.js';
import { requireBuiltCli, ROOT } from '../../support/processes.js';
import { ADMIN, waitFor } from '../../support/test-server.js';

/** A real `vplus server start` (the built CLI) in a process group of its own, as a terminal or systemd runs it. */
export interface ServerProcess {
  child: ChildProcess;
  /** Its process group: the server leads it. */
  pgid: number;
  url: string;
  api: ApiClient;
  token: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output(): string;
}

export interface ServerProcessOptions {
  dataDir: string;
  port: number;
  env?: Record<string, string>;
}

/** A port free right now on 127.0.0.1 (the server keeps one port across restarts: its local node is enrolled with it). */
export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

export async function startServerProcess(o: ServerProcessOptions): Promise<ServerProcess> {
  requireBuiltCli();
  const passwordFile = path.join(o.dataDir, 'admin.pw');
  if (!fs.existsSync(passwordFile)) fs.writeFileSync(passwordFile, ADMIN.password, { mode: 0o600 });
  const child = spawn(
    process.execPath,
    [path.join(ROOT, 'bin', 'vplus.js'), 'server', 'start', '--data-dir', o.dataDir, '--port', String(o.port), '--bind', '127.0.0.1', '--admin-password-file', passwordFile],
    // detached: its own process group (and session), which the test signals as a whole.
    { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...o.env } },
  );
  let out = '';
  const keep = (d: Buffer): void => {
    out = (out + d.toString()).slice(-20_000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  let gone = false;
  void exited.then(() => (gone = true));
  const fingerprint = await waitFor(
    'the server to be ready',
    async () => {
      if (gone) throw new Error(`the server exited during its start: ${out}`);
      return /Certificate SHA-256 fingerprint: ([0-9A-F:]+)/.exec(out)?.[1];
    },
    90_000,
  ).catch((err: unknown) => {
    if (!gone) child.kill('SIGKILL');
    throw err;
  });
  const url = `https://127.0.0.1:${o.port}`;
  const api = new ApiClient(url, fingerprint);
  const token = await api.login(ADMIN.username, ADMIN.password);
  return { child, pgid: child.pid!, url, api, token, exited, output: () => out };
}

/** Live processes whose command line mentions this data dir: the server, mariadbd, nodes, helpers, lifeline watchdogs. */
export function processesOf(dataDir: string): { pid: number; cmd: string }[] {
  const found: { pid: number; cmd: string }[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ');
      // A zombie has an empty command line: it is gone.
      if (cmd.includes(dataDir)) found.push({ pid: Number(entry), cmd: cmd.replace(/\s+/g, ' ').slice(0, 160) });
    } catch {
      // it ended while we looked
    }
  }
  return found;
}
