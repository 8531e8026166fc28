import type { EventStream } from '../../../cli/client/event-stream.js';
import type { ServerEvent } from '../../../common/api/index.js';
import fs from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { CliContext, ServerModule } from '../../../cli/context.js';
import type { Backup, Destination, Hypervisor, Node, Task, TaskLogLine, Vm } from '../../../common/api/index.js';
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
  /** When set, this terminal answers; stdin is that terminal unless stdinIsTTY is false (/dev/tty with piped stdin). */
  terminal?: FakeTerminal | null;
  stdinIsTTY?: boolean;
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
  if (terminal && options.stdinIsTTY !== false) stdin.isTTY = true;
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
  /** Sent as it is instead of JSON (a download); chunks are written one by one. */
  raw?: Buffer | Buffer[];
  headers?: Record<string, string>;
};

/**
 * An HTTPS server with the same kind of self-signed certificate the real
 * server makes, answering with canned JSON. Enough to exercise pinning,
 * status codes and the CLI's messages without MariaDB.
 */
export interface FakeApiOptions {
  /**
   * Accepts WebSocket connections at /api/events (authenticated like the
   * routes: a bearer token the callback approves). Without it, the upgrade
   * is refused with 404, as by a proxy that does not pass WebSockets.
   */
  events?: { token: string; onConnection(socket: WebSocket): void };
}

export async function startFakeApi(route: Route, options: FakeApiOptions = {}): Promise<FakeApiServer> {
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
      const { status, body, raw, headers } = route(record);
      if (raw !== undefined) {
        res.writeHead(status, headers);
        for (const chunk of Array.isArray(raw) ? raw : [raw]) res.write(chunk);
        res.end();
      } else if (body === undefined) {
        res.writeHead(status).end();
      } else {
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      }
    });
  });
  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => {
    const refuse = (status: number): void => {
      socket.end(`HTTP/1.1 ${status} ${status === 401 ? 'Unauthorized' : 'Not Found'}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    };
    requests.push({ method: 'UPGRADE', url: req.url ?? '', authorization: req.headers.authorization, body: '' });
    const events = options.events;
    if (!events || req.url !== '/api/events') return refuse(404);
    if (req.headers.authorization !== `Bearer ${events.token}`) return refuse(401);
    wss.handleUpgrade(req, socket, head, (ws) => events.onConnection(ws));
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
        for (const client of wss.clients) client.terminate();
        wss.close();
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

/** A task as the API returns it, with the fields a test does not care about filled in. */
export function sampleTask(overrides: Partial<Task> = {}): Task {
  return {
    id: 7,
    type: 'NODE_CHECK',
    state: 'QUEUED',
    priority: 60,
    workflowId: null,
    dependsOn: null,
    nodeId: 1,
    node: 'n1',
    subject: 'node:n1',
    subjectInfo: { kind: 'node', name: 'n1', at: null },
    params: {},
    progress: { bytesDone: 0, bytesTotal: null, percent: null, rate: null, etaSeconds: null, message: null },
    // The server counts an attempt when it starts one.
    attempt: (overrides.state ?? 'QUEUED') === 'QUEUED' ? 0 : 1,
    maxAttempts: 2,
    cancelRequested: false,
    error: null,
    warnings: [],
    result: null,
    createdBy: 'admin',
    createdAt: '2025-01-31T10:00:00.000Z',
    startedAt: null,
    finishedAt: null,
    ...overrides,
  };
}

export function sampleLog(id: number, message: string, level: TaskLogLine['level'] = 'info'): TaskLogLine {
  return { id, at: '2025-01-31T10:00:0' + String(id % 10) + '.000Z', level, message };
}

export function sampleNode(overrides: Partial<Node> = {}): Node {
  return {
    id: 1,
    name: 'n1',
    host: 'backup-host',
    status: 'online',
    version: '0.1.0',
    installMethod: 'ssh-supervised',
    capabilities: {
      os: 'Debian GNU/Linux 12 (bookworm)',
      arch: 'x64',
      kernel: '6.1.0',
      nodeVersion: 'v20.19.0',
      hostname: 'backup-host',
      libvirt: { available: true, version: '9.0.0' },
      qemuImg: { available: false, version: null },
      staging: { path: '/var/lib/vplus-node/staging', freeBytes: 120 * 1024 ** 3, totalBytes: 500 * 1024 ** 3 },
      taskTypes: ['NODE_CHECK'],
      maxConcurrentTasks: 2,
    },
    runningTasks: 0,
    lastSeenAt: '2025-01-31T10:00:00.000Z',
    statusMessage: null,
    ssh: { host: 'backup-host', port: 22, user: 'root', hostKeyFingerprint: `SHA256:${'A'.repeat(43)}`, auth: 'password' },
    createdAt: '2025-01-31T09:00:00.000Z',
    ...overrides,
  };
}

export function sampleDestination(overrides: Partial<Destination> = {}): Destination {
  return {
    id: 3,
    name: 'nas',
    nodeId: 1,
    node: 'n1',
    kind: 'directory',
    path: '/mnt/nas/vplus',
    s3: null,
    encrypted: true,
    status: 'ok',
    statusMessage: null,
    backups: 4,
    logicalBytes: 40 * 1024 ** 3,
    storedBytes: 12.5 * 1024 ** 3,
    dedupRatio: 3.24,
    compressionRatio: 1.5,
    freeBytes: 120 * 1024 ** 3,
    totalBytes: 500 * 1024 ** 3,
    lastCheckedAt: '2025-01-31T10:00:00.000Z',
    createdAt: '2025-01-30T09:00:00.000Z',
    ...overrides,
  };
}

export function sampleBackup(overrides: Partial<Backup> = {}): Backup {
  return {
    id: 11,
    destinationId: 3,
    destination: 'nas',
    repoBackupId: '2025-01-31T100000Z-ab12',
    vm: 'prod-db',
    vmName: null,
    type: 'full',
    status: 'available',
    createdAt: '2025-01-31T10:00:00.000Z',
    logicalBytes: 10 * 1024 ** 3,
    storedBytes: 3 * 1024 ** 3,
    verifiedAt: null,
    damagedChunks: null,
    statusDetail: null,
    protected: false,
    notes: null,
    readBytes: null,
    durationSeconds: null,
    ...overrides,
  };
}

/** The numbers every destination task reports. */
export const SAMPLE_STATS = { backups: 2, logicalBytes: 24 * 1024 ** 2, storedBytes: 12 * 1024 ** 2, dedupRatio: 1.84, compressionRatio: 1.1 };

export function sampleHypervisor(overrides: Partial<Hypervisor> = {}): Hypervisor {
  return {
    id: 2,
    name: 'kvm1',
    nodeId: 1,
    node: 'n1',
    uri: 'qemu:///system',
    status: 'ok',
    statusMessage: null,
    vms: 2,
    lastSyncAt: '2025-01-31T10:00:00.000Z',
    createdAt: '2025-01-30T09:00:00.000Z',
    ...overrides,
  };
}

export const VM_UUID = '6f1c2b7e-3d4a-4b8e-9c0d-1e2f3a4b5c6d';

export function sampleVm(overrides: Partial<Vm> = {}): Vm {
  return {
    id: 5,
    hypervisorId: 2,
    hypervisor: 'kvm1',
    name: 'prod-db',
    uuid: VM_UUID,
    state: 'running',
    present: true,
    vcpus: 2,
    memoryBytes: 4 * 1024 ** 3,
    disks: [
      { target: 'vda', path: '/var/lib/libvirt/images/prod-db.qcow2', format: 'qcow2', virtualBytes: 40 * 1024 ** 3, allocatedBytes: 12 * 1024 ** 3, excluded: false },
      { target: 'vdb', path: '/var/lib/libvirt/images/prod-db-data.raw', format: 'raw', virtualBytes: 100 * 1024 ** 3, allocatedBytes: null, excluded: false },
    ],
    lastBackupAt: '2025-01-31T10:00:00.000Z',
    lastBackupType: 'incremental',
    backups: 3,
    protectedBackups: 0,
    damagedBackups: 0,
    policy: null,
    updatedAt: '2025-01-31T10:05:00.000Z',
    ...overrides,
  };
}

/** The event stream as a test drives it: events before anyone listens are kept; drop() is the server going away. */
export class FakeEventStream implements EventStream {
  closed = false;
  private listener: ((e: ServerEvent) => void) | undefined;
  private closeListener: ((reason: string) => void) | undefined;
  private readonly early: ServerEvent[] = [];

  onEvent(listener: (e: ServerEvent) => void): void {
    this.listener = listener;
    for (const e of this.early.splice(0)) listener(e);
  }
  onClose(listener: (reason: string) => void): void {
    this.closeListener = listener;
  }
  close(): void {
    this.closed = true;
  }
  emit(event: ServerEvent): void {
    if (this.listener) this.listener(event);
    else this.early.push(event);
  }
  drop(reason = 'connection reset'): void {
    this.closeListener?.(reason);
  }
}
