import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import mariadb from 'mariadb';
import type { Logger } from 'pino';
import { startLifeline, type Lifeline } from '../lifecycle/lifeline.js';

const execFileAsync = promisify(execFile);

export class MariaDbMissingError extends Error {
  readonly code = 'MARIADB_MISSING';
  constructor(missing: string[]) {
    super(
      `the MariaDB server binaries (${missing.join(', ')}) are not installed; ` +
        'install them with "sudo apt-get install mariadb-server", or point the server at a remote MariaDB with --db-url',
    );
  }
}

export class MariaDbStartError extends Error {
  readonly code = 'MARIADB_START_FAILED';
}

export interface ManagedMariaDbOptions {
  /** Everything of this instance lives here: data/, run/, mariadb.log. */
  baseDir: string;
  logger: Logger;
  /** Listen on 127.0.0.1:PORT as well as the private socket; off unless asked. */
  tcpPort?: number;
  readyTimeoutMs?: number;
  /** Where to look for the binaries; PATH plus the Debian sbin dirs by default. */
  searchPath?: string[];
  /** When the server is gone, its watchdog gives mariadbd this long to shut down cleanly before SIGKILL. */
  orphanGraceSeconds?: number;
  /** The system user mariadbd runs as and owns the data directory (default: this process's user). */
  user?: string;
}

/** How often a stop repeats SIGTERM until mariadbd is gone. */
const TERM_REPEAT_MS = 1_000;

type State = 'stopped' | 'starting' | 'running' | 'restarting' | 'stopping';

/**
 * The catalog's own MariaDB: a private data directory initialised once with
 * mariadb-install-db and a mariadbd child on a private socket. It is
 * supervised: if it dies it is restarted with backoff, and it is stopped
 * cleanly (SIGTERM, then SIGKILL after a timeout) when the server exits.
 * Once beginShutdown() is called nothing restarts it any more.
 *
 * mariadbd runs in a session and process group of its own, so a Ctrl-C or a
 * SIGTERM to the server's group reaches only the server, which stops it last,
 * after the catalog is closed. A lifeline watchdog (lifecycle/lifeline.ts)
 * stops it cleanly if the server dies without doing so (SIGKILL, a crash).
 *
 * Events: 'down' (exit info), 'up' (after a restart).
 */
export class ManagedMariaDb extends EventEmitter {
  readonly dataDir: string;
  readonly socketPath: string;
  readonly pidFile: string;
  readonly errorLog: string;
  /** Private temp dir: instances sharing /tmp collide on temporary table names. */
  readonly tmpDir: string;
  private child: ChildProcess | undefined;
  private state: State = 'stopped';
  private restartAttempts = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private lifeline: Lifeline | undefined;
  private shuttingDown = false;

  constructor(private readonly options: ManagedMariaDbOptions) {
    super();
    this.dataDir = path.join(options.baseDir, 'data');
    // Unix socket paths are limited to ~107 bytes; keep this one short and inside the base dir.
    this.socketPath = path.join(options.baseDir, 'run', 'mysqld.sock');
    this.pidFile = path.join(options.baseDir, 'run', 'mysqld.pid');
    this.errorLog = path.join(options.baseDir, 'mariadb.log');
    this.tmpDir = path.join(options.baseDir, 'tmp');
  }

  /** The OS account mariadbd runs as, which unix_socket authentication maps to a MariaDB account. */
  get user(): string {
    return this.options.user ?? os.userInfo().username;
  }

  get running(): boolean {
    return this.state === 'running';
  }

  async start(): Promise<void> {
    const binaries = this.findBinaries();
    await fs.promises.mkdir(path.dirname(this.socketPath), { recursive: true, mode: 0o700 });
    await fs.promises.mkdir(this.tmpDir, { recursive: true, mode: 0o700 });
    if (!fs.existsSync(path.join(this.dataDir, 'mysql'))) await this.install(binaries.installDb);
    await this.stopStaleInstance();
    this.state = 'starting';
    await this.spawnAndWait(binaries.mariadbd);
    this.state = 'running';
  }

  /** The server is stopping: mariadbd is not restarted any more, whatever happens to it. */
  beginShutdown(): void {
    this.shuttingDown = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
  }

  /** The last resort of a stop that ran out of time: SIGKILL; returns the pid signalled. */
  kill(): number[] {
    this.beginShutdown();
    const child = this.child;
    if (!child?.pid || child.exitCode !== null || child.signalCode !== null) return [];
    this.options.logger.error({ pid: child.pid }, 'killing mariadbd');
    child.kill('SIGKILL');
    return [child.pid];
  }

  async stop(timeoutMs = 30_000): Promise<void> {
    this.beginShutdown();
    const child = this.child;
    // A mariadbd started again after a crash that is not ready yet has served nothing: it may be
    // in crash recovery, deaf to SIGTERM for many seconds. Killing it loses nothing (InnoDB
    // recovers at the next start), so a stop then does not wait for it.
    const unready = this.state === 'starting' && this.restartAttempts > 0;
    this.state = 'stopping';
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      if (unready) {
        this.options.logger.warn({ pid: child.pid }, 'mariadbd is still starting again after a crash; killing it rather than waiting for its recovery');
        child.kill('SIGKILL');
      } else child.kill('SIGTERM');
      // mariadbd loses a SIGTERM that arrives early in its start (before its signal thread runs);
      // once it is shutting down, more are ignored. So repeat it until mariadbd is gone.
      const repeat = setInterval(() => child.kill('SIGTERM'), TERM_REPEAT_MS);
      const timer = setTimeout(() => {
        this.options.logger.warn('mariadbd did not stop within %ds; killing it', timeoutMs / 1000);
        child.kill('SIGKILL');
      }, timeoutMs);
      await exited;
      clearInterval(repeat);
      clearTimeout(timer);
    }
    this.child = undefined;
    this.state = 'stopped';
  }

  /** The process id of the running mariadbd, for diagnostics and tests. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  private findBinaries(): { mariadbd: string; installDb: string } {
    const dirs = this.options.searchPath ?? [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/usr/bin', '/usr/local/sbin'];
    const find = (names: string[]): string | undefined => {
      for (const dir of dirs) {
        for (const name of names) {
          const candidate = path.join(dir, name);
          try {
            fs.accessSync(candidate, fs.constants.X_OK);
            return candidate;
          } catch {
            // not in this directory; keep looking
          }
        }
      }
      return undefined;
    };
    const mariadbd = find(['mariadbd', 'mysqld']);
    const installDb = find(['mariadb-install-db', 'mysql_install_db']);
    const missing = [!mariadbd && 'mariadbd', !installDb && 'mariadb-install-db'].filter((x): x is string => !!x);
    if (!mariadbd || !installDb) throw new MariaDbMissingError(missing);
    return { mariadbd, installDb };
  }

  private async install(installDb: string): Promise<void> {
    const { logger } = this.options;
    logger.info({ dataDir: this.dataDir }, 'initialising the managed MariaDB data directory');
    await this.removeStaleInitDirs();
    // Initialise into a temp dir and rename, so an interrupted install never looks complete.
    const tmp = `${this.dataDir}.init-${process.pid}`;
    await fs.promises.rm(tmp, { recursive: true, force: true });
    await fs.promises.mkdir(tmp, { recursive: true, mode: 0o700 });
    try {
      await execFileAsync(
        installDb,
        [
          '--no-defaults',
          `--datadir=${tmp}`,
          `--tmpdir=${this.tmpDir}`,
          '--auth-root-authentication-method=socket',
          `--auth-root-socket-user=${this.user}`,
          '--skip-test-db',
          // Only the private socket is used: no grant names a host, so a host whose name does
          // not resolve (no "localhost" in /etc/hosts, a bare container) must not stop the
          // install (without --force mariadb-install-db refuses when resolveip fails).
          '--skip-name-resolve',
          '--force',
          `--user=${this.user}`,
        ],
        { maxBuffer: 16 * 1024 * 1024, env: { ...process.env, TMPDIR: this.tmpDir } },
      );
    } catch (err) {
      await fs.promises.rm(tmp, { recursive: true, force: true }).catch(() => undefined);
      throw new MariaDbStartError(`mariadb-install-db failed: ${installFailureReason(err)}`);
    }
    await fs.promises.rm(this.dataDir, { recursive: true, force: true });
    await fs.promises.rename(tmp, this.dataDir);
  }

  /** Init directories of earlier tries whose process is gone (a server killed during an install). */
  private async removeStaleInitDirs(): Promise<void> {
    const dir = path.dirname(this.dataDir);
    const prefix = `${path.basename(this.dataDir)}.init-`;
    for (const name of await fs.promises.readdir(dir).catch(() => [] as string[])) {
      if (!name.startsWith(prefix)) continue;
      const pid = Number(name.slice(prefix.length));
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid)) continue;
      this.options.logger.warn({ dir: name }, 'removing what an interrupted initialisation of the catalog left');
      await fs.promises.rm(path.join(dir, name), { recursive: true, force: true });
    }
  }

  /** A mariadbd left behind by a server that was killed still holds our data dir; stop it first. */
  private async stopStaleInstance(): Promise<void> {
    let pid: number;
    try {
      pid = Number.parseInt(await fs.promises.readFile(this.pidFile, 'utf8'), 10);
    } catch {
      return;
    }
    if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return;
    let cmdline = '';
    try {
      cmdline = (await fs.promises.readFile(`/proc/${pid}/cmdline`, 'utf8')).replaceAll('\0', ' ');
    } catch {
      return;
    }
    if (!cmdline.includes(this.dataDir)) return;
    this.options.logger.warn({ pid }, 'stopping a leftover mariadbd that still holds the catalog data directory');
    const deadline = Date.now() + 30_000;
    // SIGTERM again every second: one that arrives early in mariadbd's start is lost (see stop()).
    for (let lastTerm = 0; isAlive(pid) && Date.now() < deadline; await sleep(200)) {
      if (Date.now() - lastTerm >= TERM_REPEAT_MS) {
        process.kill(pid, 'SIGTERM');
        lastTerm = Date.now();
      }
    }
    if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  }

  private args(): string[] {
    const args = [
      '--no-defaults',
      `--datadir=${this.dataDir}`,
      `--tmpdir=${this.tmpDir}`,
      `--socket=${this.socketPath}`,
      `--pid-file=${this.pidFile}`,
      `--log-error=${this.errorLog}`,
      `--user=${this.user}`,
      '--character-set-server=utf8mb4',
      '--collation-server=utf8mb4_unicode_ci',
      '--innodb-buffer-pool-size=64M',
    ];
    if (this.options.tcpPort) args.push(`--port=${this.options.tcpPort}`, '--bind-address=127.0.0.1');
    else args.push('--skip-networking');
    return args;
  }

  private async spawnAndWait(binary: string): Promise<void> {
    const { logger } = this.options;
    await fs.promises.rm(this.socketPath, { force: true });
    // A restart that was under way when the stop began: no new mariadbd.
    if (this.shuttingDown) throw new MariaDbStartError('the server is stopping');
    // detached: its own session and process group (see the class comment).
    const child = spawn(binary, this.args(), { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
    this.child = child;
    this.lifeline?.retire();
    this.lifeline =
      child.pid === undefined
        ? undefined
        : startLifeline({ pid: child.pid, mark: `--datadir=${this.dataDir}`, graceSeconds: this.options.orphanGraceSeconds ?? 30, repeatTerm: true, logger });
    const lifeline = this.lifeline;
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    let exited = false;
    child.once('exit', (code, signal) => {
      exited = true;
      lifeline?.retire();
      this.onExit(child, code, signal);
    });
    child.once('error', (err) => logger.error({ err }, 'could not start mariadbd'));

    const deadline = Date.now() + (this.options.readyTimeoutMs ?? 60_000);
    while (Date.now() < deadline) {
      if (exited) break;
      if (await this.ping()) {
        logger.info({ pid: child.pid, socket: this.socketPath }, 'managed MariaDB is ready');
        return;
      }
      await sleep(100);
    }
    if (!exited) child.kill('SIGKILL');
    throw new MariaDbStartError(`mariadbd did not become ready: ${(await this.logTail()) || stderr.trim() || 'no output'} (log: ${this.errorLog})`);
  }

  private async ping(): Promise<boolean> {
    if (!fs.existsSync(this.socketPath)) return false;
    try {
      const conn = await mariadb.createConnection({ socketPath: this.socketPath, user: this.user, connectTimeout: 1000 });
      await conn.end();
      return true;
    } catch {
      return false;
    }
  }

  private onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.child !== child) return;
    if (this.state === 'stopping' || this.state === 'stopped') return;
    if (this.shuttingDown) {
      this.options.logger.warn({ code, signal }, 'managed MariaDB exited while the server is stopping; not restarting it');
      this.state = 'stopped';
      this.emit('down', { code, signal });
      return;
    }
    if (this.state === 'starting' || this.state === 'restarting') return; // spawnAndWait reports it / already scheduled
    const { logger } = this.options;
    this.state = 'restarting';
    const delay = Math.min(30_000, 500 * 2 ** this.restartAttempts);
    this.restartAttempts += 1;
    logger.error({ code, signal, restartInMs: delay }, 'managed MariaDB exited unexpectedly; restarting it');
    this.emit('down', { code, signal });
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      void this.restart();
    }, delay);
  }

  private async restart(): Promise<void> {
    if (this.state !== 'restarting' || this.shuttingDown) return;
    try {
      const { mariadbd } = this.findBinaries();
      this.state = 'starting';
      await this.spawnAndWait(mariadbd);
      if (this.state !== 'starting') return;
      this.state = 'running';
      this.restartAttempts = 0;
      this.emit('up');
    } catch (err) {
      if (this.shuttingDown && this.state === 'starting') this.state = 'stopped';
      if (this.state !== 'starting') return;
      this.options.logger.error({ err }, 'restarting the managed MariaDB failed; trying again');
      this.state = 'running';
      // Re-enter the backoff path as if it had died again.
      this.onExit(this.child!, null, null);
    }
  }

  private async logTail(): Promise<string> {
    try {
      const text = await fs.promises.readFile(this.errorLog, 'utf8');
      return text
        .split('\n')
        .filter((l) => /\[(ERROR|Warning)\]/.test(l) && !/max_open_files/.test(l))
        .slice(-3)
        .join(' ');
    } catch {
      return '';
    }
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Why mariadb-install-db failed, in its own words: it prints its reasons on stdout (e.g.
 * "Cannot change ownership of the database directories to the 'x' user."), stderr holds
 * only what the commands it runs said. The lines that say what went wrong, else the last.
 */
export function installFailureReason(err: unknown): string {
  const e = err as { stdout?: string; stderr?: string; message?: string; code?: unknown };
  const lines = `${e.stdout ?? ''}\n${e.stderr ?? ''}`
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0 && !/^(The latest information about|https?:\/\/)/.test(l));
  if (lines.length === 0) return (e.message ?? String(err)).trim().split('\n')[0] ?? 'no reason given';
  const start = lines.findIndex((l) => /\b(error|cannot|can't|could not|couldn't|failed|fatal|neither|invalid|denied|no such)\b/i.test(l));
  return lines.slice(start >= 0 ? start : Math.max(0, lines.length - 3), (start >= 0 ? start : lines.length - 3) + 3).join(' ');
}
