import fs from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { CliContext, ServerModule } from '../../../cli/context.js';
import { runCli } from '../../../cli/program.js';
import type { Terminal } from '../../../cli/terminal.js';
import { ensureServerTls } from '../../../electron/server/security/certificates.js';

const created: string[] = [];

export function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `vplus-cli-${prefix}-`));
  created.push(dir);
  return dir;
}

/** Removes every directory tempDir made; test files call it in afterAll. */
export function removeTempDirs(): void {
  for (const dir of created.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
}

/** A terminal that answers scripted questions and records what it was told. */
export class FakeTerminal implements Terminal {
  readonly said: string[] = [];
  readonly asked: string[] = [];
  closed = false;

  constructor(private readonly answers: string[]) {}

  say(text: string): void {
    this.said.push(text);
  }
  question(prompt: string): Promise<string> {
    this.asked.push(prompt);
    return Promise.resolve(this.answers.shift() ?? '');
  }
  secret(prompt: string): Promise<string> {
    this.asked.push(prompt);
    return Promise.resolve(this.answers.shift() ?? '');
  }
  close(): void {
    this.closed = true;
  }
}

export interface FakeCliOptions {
  env?: Record<string, string | undefined>;
  /** Piped stdin content; stdin is not a TTY. */
  stdin?: string;
  /** When set, stdin is a TTY and this terminal answers. */
  terminal?: FakeTerminal | null;
  loadServer?: () => Promise<ServerModule>;
}

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
  /** Codes passed to forceExit (a second Ctrl-C). */
  forcedExits: number[];
}

export interface StartedCli {
  /** Delivers SIGINT/SIGTERM to whatever the command subscribed. */
  signal(signal: NodeJS.Signals): void;
  output(): { stdout: string; stderr: string };
  done: Promise<CliRun>;
}

/** Starts `vplus argv…` in-process against fakes, with the config file in a temp dir unless env says otherwise. */
export function startVplus(argv: string[], options: FakeCliOptions = {}): StartedCli {
  let stdout = '';
  let stderr = '';
  const forcedExits: number[] = [];
  const handlers: ((s: NodeJS.Signals) => void)[] = [];
  const terminal = options.terminal;
  const stdin = Readable.from(options.stdin === undefined ? [] : [Buffer.from(options.stdin)]) as Readable & {
    isTTY?: boolean;
  };
  if (terminal) stdin.isTTY = true;
  const ctx: CliContext = {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    stdin,
    env: { VPLUS_CONFIG: path.join(tempDir('cfg'), 'cli.json'), ...options.env },
    homedir: tempDir('home'),
    openTerminal: () => terminal ?? null,
    loadServer: options.loadServer ?? (() => Promise.reject(new Error('no server in unit tests'))),
    onShutdownSignal(handler) {
      handlers.push(handler);
      return () => void handlers.splice(handlers.indexOf(handler), 1);
    },
    forceExit: (code) => void forcedExits.push(code),
  };
  const done = runCli(argv, ctx).then((code) => ({ code, stdout, stderr, forcedExits }));
  return {
    signal: (s) => [...handlers].forEach((h) => h(s)),
    output: () => ({ stdout, stderr }),
    done,
  };
}

export function runVplus(argv: string[], options: FakeCliOptions = {}): Promise<CliRun> {
  return startVplus(argv, options).done;
}

export interface FakeApiServer {
  url: string;
  port: number;
  /** Colon hex, as the real server reports it. */
  fingerprint: string;
  requests: { method: string; url: string; authorization: string | undefined; body: string }[];
  close(): Promise<void>;
}

type Route = (req: { method: string; url: string; authorization: string | undefined; body: string }) => {
  status: number;
  body?: unknown;
};

/**
 * An HTTPS server with the same kind of self-signed certificate the real
 * server makes, answering with canned JSON. Enough to exercise pinning,
 * status codes and the CLI's messages without MariaDB.
 */
export async function startFakeApi(route: Route): Promise<FakeApiServer> {
  const tls = await ensureServerTls(path.join(tempDir('tls'), 'tls'));
  const requests: FakeApiServer['requests'] = [];
  const server = https.createServer({ key: tls.key, cert: tls.cert }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const record = {
        method: req.method ?? '',
        url: req.url ?? '',
        authorization: req.headers.authorization,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      requests.push(record);
      const { status, body } = route(record);
      if (body === undefined) {
        res.writeHead(status).end();
      } else {
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `https://127.0.0.1:${port}`,
    port,
    fingerprint: tls.fingerprint,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A port nothing listens on (bound, then released). */
export async function unusedPort(): Promise<number> {
  const net = await import('node:net');
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

export const SAMPLE_USER = {
  id: 1,
  username: 'admin',
  role: 'admin',
  createdAt: '2025-01-31T10:00:00.000Z',
  lastLoginAt: null,
} as const;
