import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { startLifeline } from '../../lifecycle/lifeline.js';

/** A node on this computer that the server runs itself (no systemd). */
export interface SupervisedNode {
  name: string;
  configFile: string;
  /** The node's stdout and stderr are appended here. */
  logFile: string;
  /** Holds the node's pid, so a node left running by a server that died is found again. */
  pidFile: string;
}

export interface SupervisorBackoff {
  initialMs: number;
  maxMs: number;
  /** A node that ran at least this long starts again with initialMs. */
  resetAfterMs: number;
}

export interface NodeSupervisorOptions {
  /** `<app>/bin/vplus.js`. */
  cliEntry: string;
  logger: Logger;
  /** Default: the Node.js (or Electron, run as Node) running this server. */
  execPath?: string;
  backoff?: Partial<SupervisorBackoff>;
  /** SIGTERM, then SIGKILL after this long. */
  stopTimeoutMs?: number;
  /** Log files are rotated (one .1 kept) at a start when larger than this. */
  maxLogBytes?: number;
  /**
   * The command a node runs; the default is `vplus node-service run --config FILE`.
   * Tests replace it; its arguments must include the config file (that is how a running node is recognised).
   */
  command?: (node: SupervisedNode) => { file: string; args: string[] };
}

export interface SupervisedStatus {
  running: boolean;
  pid: number | null;
  /** Restarts after an unexpected exit since the supervisor took the node on. */
  restarts: number;
  lastExit: { code: number | null; signal: string | null; at: Date } | null;
  /** True when the process was started by an earlier server and taken over. */
  adopted: boolean;
}

const DEFAULT_BACKOFF: SupervisorBackoff = { initialMs: 1000, maxMs: 30_000, resetAfterMs: 60_000 };
const ADOPTED_POLL_MS = 1000;

interface Entry {
  node: SupervisedNode;
  child: ChildProcess | null;
  /** A node process started by an earlier server, watched by polling. */
  adoptedPid: number | null;
  adoptedTimer: NodeJS.Timeout | null;
  restartTimer: NodeJS.Timeout | null;
  stopping: boolean;
  backoffMs: number;
  startedAt: number;
  restarts: number;
  lastExit: SupervisedStatus['lastExit'];
  exited: Promise<void> | null;
}

/**
 * Runs local nodes as child processes of the server where there is no
 * systemd: restarts a node with backoff when it dies, appends its output to
 * its log file, stops it (SIGTERM, then SIGKILL) on uninstall or server
 * shutdown. At server start, startAll() re-attaches: a node still running from
 * the previous server (found by its pid file) is taken over, not duplicated.
 *
 * A supervised node does not outlive the server: it runs in a process group
 * of its own (the server stops it in order), and a lifeline watchdog
 * (lifecycle/lifeline.ts) stops it when the server dies without doing so. A
 * node installed as a systemd service is not a child and is not affected.
 */
export class NodeSupervisor {
  private readonly entries = new Map<string, Entry>();
  private readonly backoff: SupervisorBackoff;
  private readonly execPath: string;
  private readonly stopTimeoutMs: number;
  private readonly maxLogBytes: number;
  private closed = false;

  constructor(private readonly options: NodeSupervisorOptions) {
    this.backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    this.execPath = options.execPath ?? process.execPath;
    this.stopTimeoutMs = options.stopTimeoutMs ?? 10_000;
    this.maxLogBytes = options.maxLogBytes ?? 10 * 1024 * 1024;
  }

  /** Takes on each node (at server start): adopts a running one, starts the others. */
  startAll(nodes: readonly SupervisedNode[]): void {
    for (const node of nodes) this.start(node);
  }

  /** Starts supervising a node; does nothing if it is already supervised. */
  start(node: SupervisedNode): void {
    if (this.closed) throw new Error('the node supervisor is shut down');
    if (this.entries.has(node.name)) return;
    const entry: Entry = {
      node,
      child: null,
      adoptedPid: null,
      adoptedTimer: null,
      restartTimer: null,
      stopping: false,
      backoffMs: this.backoff.initialMs,
      startedAt: Date.now(),
      restarts: 0,
      lastExit: null,
      exited: null,
    };
    this.entries.set(node.name, entry);
    const leftover = this.runningPidOf(node);
    if (leftover !== null) this.adopt(entry, leftover);
    else this.spawn(entry);
  }

  status(name: string): SupervisedStatus | undefined {
    const e = this.entries.get(name);
    if (!e) return undefined;
    const pid = e.child?.pid ?? e.adoptedPid;
    return { running: pid != null, pid: pid ?? null, restarts: e.restarts, lastExit: e.lastExit, adopted: e.adoptedPid !== null };
  }

  isSupervised(name: string): boolean {
    return this.entries.has(name);
  }

  /** Stops the node and stops supervising it. Also stops a leftover process of this node that is not supervised. */
  async stop(name: string, node?: SupervisedNode): Promise<void> {
    const e = this.entries.get(name);
    if (!e) {
      const pid = node ? this.runningPidOf(node) : null;
      if (node && pid !== null) await this.terminatePid(pid, node);
      if (node) removeQuietly(node.pidFile);
      return;
    }
    e.stopping = true;
    if (e.restartTimer) clearTimeout(e.restartTimer);
    if (e.adoptedTimer) clearInterval(e.adoptedTimer);
    if (e.child && e.child.exitCode === null && e.child.signalCode === null) {
      const child = e.child;
      child.kill('SIGTERM');
      const exited = e.exited ?? Promise.resolve();
      // An unref'd timer: once the node is gone, a pending timeout must not keep a stopped server's process alive.
      const timedOut = await Promise.race([exited.then(() => false), sleep(this.stopTimeoutMs, { unref: true }).then(() => true)]);
      if (timedOut) {
        this.options.logger.warn({ node: name, pid: child.pid }, 'the node did not stop in time; killing it');
        killGroup(child.pid, 'SIGKILL');
        await exited;
      }
    } else if (e.adoptedPid !== null) {
      await this.terminatePid(e.adoptedPid, e.node);
    }
    removeQuietly(e.node.pidFile);
    this.entries.delete(name);
  }

  async restart(node: SupervisedNode): Promise<void> {
    await this.stop(node.name, node);
    this.start(node);
  }

  /** The server is stopping: no node is started or restarted any more. */
  beginShutdown(): void {
    this.closed = true;
    for (const e of this.entries.values()) {
      if (e.restartTimer) clearTimeout(e.restartTimer);
      e.restartTimer = null;
    }
  }

  /** Server shutdown: stops every node, in parallel. */
  async stopAll(): Promise<void> {
    this.beginShutdown();
    await Promise.all([...this.entries.keys()].map((name) => this.stop(name)));
  }

  /** The last resort of a stop that ran out of time: SIGKILL to every node's process group; returns the pids. */
  killAll(): number[] {
    this.beginShutdown();
    const pids: number[] = [];
    for (const e of this.entries.values()) {
      const pid = e.child?.pid ?? e.adoptedPid;
      if (pid == null) continue;
      this.options.logger.error({ node: e.node.name, pid }, 'killing the node');
      killGroup(pid, 'SIGKILL');
      pids.push(pid);
    }
    return pids;
  }

  // ---------------------------------------------------------------------------

  private spawn(entry: Entry): void {
    const { node } = entry;
    const log = this.options.logger.child({ node: node.name });
    const { file, args } = this.options.command?.(node) ?? {
      file: this.execPath,
      args: [this.options.cliEntry, 'node-service', 'run', '--config', node.configFile],
    };
    let fd: number;
    try {
      fs.mkdirSync(path.dirname(node.logFile), { recursive: true, mode: 0o700 });
      this.rotateLog(node.logFile);
      fd = fs.openSync(node.logFile, 'a', 0o600);
    } catch (err) {
      log.error({ err }, 'cannot open the node log; retrying');
      this.scheduleRestart(entry);
      return;
    }
    appendLine(fd, `${new Date().toISOString()} supervisor: starting the node service`);
    entry.startedAt = Date.now();
    const child = spawn(file, args, {
      stdio: ['ignore', fd, fd],
      // Own process group: a Ctrl-C at the server's terminal reaches the server, which stops the node in order.
      detached: true,
      env: { ...process.env, ...(process.versions.electron ? { ELECTRON_RUN_AS_NODE: '1' } : {}) },
    });
    entry.child = child;
    const lifeline =
      child.pid === undefined ? undefined : startLifeline({ pid: child.pid, mark: node.configFile, graceSeconds: this.stopTimeoutMs / 1000, logger: log });
    let fdOpen = true;
    const closeFd = (): void => {
      if (fdOpen) fs.closeSync(fd);
      fdOpen = false;
    };
    entry.exited = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        lifeline?.retire();
        closeFd();
        entry.child = null;
        entry.lastExit = { code, signal, at: new Date() };
        if (entry.stopping) {
          resolve();
          return;
        }
        removeQuietly(node.pidFile);
        if (this.closed) {
          // The server is stopping: nothing is restarted.
          log.info({ code, signal }, 'the node exited while the server is stopping');
          resolve();
          return;
        }
        log.warn({ code, signal }, 'the node exited; restarting it');
        this.appendToLog(node, `supervisor: the node service exited (${signal ?? `code ${code}`}); restarting it in ${Math.round(this.nextDelay(entry) / 1000)} s`);
        this.scheduleRestart(entry);
        resolve();
      });
    });
    child.once('error', (err) => {
      // spawn failures (ENOENT, EACCES) come as 'error' and also as 'exit' on Linux, except when the process never started.
      log.error({ err }, 'the node could not be started');
      if (child.pid === undefined) {
        closeFd();
        entry.child = null;
        this.scheduleRestart(entry);
      }
    });
    if (child.pid !== undefined) {
      writePidFile(node.pidFile, child.pid);
      log.info({ pid: child.pid }, 'node started');
    }
  }

  /** Watches a node process left by an earlier server; starts a new one when it ends. */
  private adopt(entry: Entry, pid: number): void {
    const log = this.options.logger.child({ node: entry.node.name });
    log.info({ pid }, 'taking over the node left running by the previous server');
    this.appendToLog(entry.node, `supervisor: the server restarted and took over the running node (pid ${pid})`);
    entry.adoptedPid = pid;
    entry.adoptedTimer = setInterval(() => {
      if (this.runningPidOf(entry.node) === pid) return;
      if (entry.adoptedTimer) clearInterval(entry.adoptedTimer);
      entry.adoptedTimer = null;
      entry.adoptedPid = null;
      if (entry.stopping) return;
      entry.lastExit = { code: null, signal: null, at: new Date() };
      log.warn({ pid }, 'the node exited; restarting it');
      this.appendToLog(entry.node, 'supervisor: the node service exited; restarting it');
      this.scheduleRestart(entry);
    }, ADOPTED_POLL_MS);
    entry.adoptedTimer.unref();
  }

  private nextDelay(entry: Entry): number {
    if (Date.now() - entry.startedAt >= this.backoff.resetAfterMs) entry.backoffMs = this.backoff.initialMs;
    return entry.backoffMs;
  }

  private scheduleRestart(entry: Entry): void {
    if (entry.stopping || this.closed) return;
    const delay = this.nextDelay(entry);
    entry.backoffMs = Math.min(this.backoff.maxMs, entry.backoffMs * 2);
    entry.restartTimer = setTimeout(() => {
      entry.restartTimer = null;
      if (entry.stopping || this.closed) return;
      entry.restarts++;
      this.spawn(entry);
    }, delay);
  }

  /** SIGTERM a process we did not spawn, poll until it is gone, SIGKILL its group after the timeout. */
  private async terminatePid(pid: number, node: SupervisedNode): Promise<void> {
    signalPid(pid, 'SIGTERM');
    const deadline = Date.now() + this.stopTimeoutMs;
    while (this.isNodeProcess(pid, node) && Date.now() < deadline) await sleep(100);
    if (this.isNodeProcess(pid, node)) {
      this.options.logger.warn({ node: node.name, pid }, 'the node did not stop in time; killing it');
      killGroup(pid, 'SIGKILL');
      while (this.isNodeProcess(pid, node)) await sleep(50);
    }
  }

  /** The pid in the node's pid file, if that process is alive and is this node (not a recycled pid). */
  private runningPidOf(node: SupervisedNode): number | null {
    let pid: number;
    try {
      pid = Number(fs.readFileSync(node.pidFile, 'utf8').trim());
    } catch {
      return null;
    }
    return Number.isInteger(pid) && pid > 0 && this.isNodeProcess(pid, node) ? pid : null;
  }

  private isNodeProcess(pid: number, node: SupervisedNode): boolean {
    try {
      const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      // A zombie has an empty command line: it is gone for our purposes.
      return cmdline.includes(node.configFile);
    } catch {
      return false;
    }
  }

  private rotateLog(file: string): void {
    try {
      if (fs.statSync(file).size > this.maxLogBytes) fs.renameSync(file, `${file}.1`);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }

  private appendToLog(node: SupervisedNode, line: string): void {
    try {
      fs.appendFileSync(node.logFile, `${new Date().toISOString()} ${line}\n`, { mode: 0o600 });
    } catch (err) {
      this.options.logger.warn({ err, node: node.name }, 'cannot write to the node log');
    }
  }
}

function appendLine(fd: number, line: string): void {
  fs.writeSync(fd, `${line}\n`);
}

function writePidFile(file: string, pid: number): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${pid}\n`, { mode: 0o600 });
  fs.renameSync(tmp, file);
}

function removeQuietly(file: string): void {
  fs.rmSync(file, { force: true });
}

function signalPid(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

/** The node and anything it started (it leads its own process group). */
function killGroup(pid: number | undefined, sig: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, sig);
  } catch {
    signalPid(pid, sig);
  }
}

function sleep(ms: number, o: { unref?: boolean } = {}): Promise<void> {
  return new Promise((r) => {
    const t = setTimeout(r, ms);
    if (o.unref) t.unref();
  });
}
