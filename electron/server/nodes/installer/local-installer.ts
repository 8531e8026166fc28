import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from 'pino';
import {
  cancelledError,
  InstallerError,
  type EnrollmentInfo,
  type InstallContext,
  type InstallOutcome,
  type InstallTarget,
  type LocalTarget,
  type NodeInstaller,
} from './installer.js';
import { serverUrl, systemdUnit } from './node-layout.js';
import type { NodeSupervisor, SupervisedNode } from './node-supervisor.js';

/** Result of a command run on this computer. */
export interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs programs on this computer (the child-process adapter; tests may replace it). */
export interface CommandRunner {
  run(file: string, args: readonly string[], options?: { timeoutMs?: number; env?: NodeJS.ProcessEnv; signal?: AbortSignal }): Promise<CommandResult>;
}

export const childProcessRunner: CommandRunner = {
  run(file, args, options = {}) {
    const timeoutMs = options.timeoutMs ?? 60_000;
    return new Promise((resolve) => {
      execFile(
        file,
        [...args],
        { timeout: timeoutMs, env: options.env ?? process.env, signal: options.signal, maxBuffer: 4 * 1024 * 1024 },
        (err, stdout, stderr) => {
          if (!err) return resolve({ code: 0, stdout, stderr });
          // A number: the exit code. Otherwise it did not run (ENOENT…) or was killed (timeout, abort).
          const code = typeof err.code === 'number' ? err.code : null;
          const why = code !== null ? '' : err.killed ? `stopped after ${Math.round(timeoutMs / 1000)} s` : err.message;
          resolve({ code, stdout, stderr: [stderr, why].filter(Boolean).join('\n') });
        },
      );
    });
  },
};

export interface LocalNodeInstallerOptions {
  /** Directory holding bin/vplus.js (the repository or the packaged app). */
  appRoot: string;
  /** Each local node lives in <nodesDir>/<name>/ (node.json, staging/, node.log). Typically <dataDir>/nodes. */
  nodesDir: string;
  supervisor: NodeSupervisor;
  logger: Logger;
  /** Default: the Node.js (or Electron, run as Node) running this server. */
  execPath?: string;
  /** Default: systemd when /run/systemd/system exists. */
  useSystemd?: boolean;
  runner?: CommandRunner;
  enrollTimeoutMs?: number;
}

interface LocalPaths extends SupervisedNode {
  dir: string;
  stagingDir: string;
  unitName: string;
}

interface SystemdScope {
  /** Extra systemctl/journalctl argument: --user for a user unit. */
  flag: string[];
  unitDir: string;
  wantedBy: 'multi-user.target' | 'default.target';
}

/**
 * Installs a node on this computer, without SSH: enrols it with this server
 * at https://127.0.0.1:PORT and runs it as a systemd service when systemd
 * runs here, otherwise as a child process the server supervises.
 */
export class LocalNodeInstaller implements NodeInstaller {
  private readonly execPath: string;
  private readonly cliEntry: string;
  private readonly runner: CommandRunner;

  constructor(private readonly options: LocalNodeInstallerOptions) {
    this.execPath = options.execPath ?? process.execPath;
    this.cliEntry = path.join(options.appRoot, 'bin', 'vplus.js');
    this.runner = options.runner ?? childProcessRunner;
  }

  /** Where the files of the local node NAME live. */
  pathsFor(name: string): LocalPaths {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) throw new InstallerError('COMMAND_FAILED', `"${name}" is not a valid node name`);
    const dir = path.join(this.options.nodesDir, name);
    return {
      name,
      dir,
      configFile: path.join(dir, 'node.json'),
      stagingDir: path.join(dir, 'staging'),
      logFile: path.join(dir, 'node.log'),
      pidFile: path.join(dir, 'node.pid'),
      unitName: `vplus-node-${name}.service`,
    };
  }

  /** At server start: runs again the local nodes the server supervises (their names, from the catalog). */
  reattach(names: readonly string[]): void {
    this.options.supervisor.startAll(names.map((n) => this.supervisedNode(n)));
  }

  supervisedNode(name: string): SupervisedNode {
    const { configFile, logFile, pidFile } = this.pathsFor(name);
    return { name, configFile, logFile, pidFile };
  }

  async install(target: InstallTarget, enrollment: EnrollmentInfo, ctx: InstallContext): Promise<InstallOutcome> {
    const t = localTarget(target);
    const p = this.pathsFor(t.name);
    const systemd = this.systemdScope();
    const fresh = !fs.existsSync(p.configFile);
    ctx.log('info', `Installing the node "${t.name}" on this computer (${p.dir})`);
    await fs.promises.mkdir(p.stagingDir, { recursive: true, mode: 0o700 });
    await fs.promises.chmod(p.dir, 0o700);
    try {
      await this.stopExisting(p, ctx);
      await this.enroll(p, enrollment, ctx);
      if (systemd) await this.startUnit(p, systemd, ctx, true);
      else this.startSupervised(p, ctx);
    } catch (err) {
      if (fresh && !ctx.signal.aborted) {
        // Undo what can be undone; what cannot is logged, and the install's own error is the one reported.
        await this.removeUnit(p, systemd).catch((err: unknown) =>
          this.options.logger.warn({ err, node: p.name, unit: p.unitName }, 'could not remove the systemd unit of a failed node install'),
        );
        await this.options.supervisor
          .stop(p.name, this.supervisedNode(p.name))
          .catch((err: unknown) => this.options.logger.warn({ err, node: p.name }, 'could not stop the supervised node of a failed install'));
        await fs.promises.rm(p.dir, { recursive: true, force: true });
        ctx.log('warn', `The install failed; removed ${p.dir}`);
      } else if (!fresh && !ctx.signal.aborted) {
        await this.restartPrevious(p, ctx);
      }
      throw err;
    }
    return { host: os.hostname(), method: systemd ? 'local-systemd' : 'local-supervised' };
  }

  /** The local node runs this computer's vPlus program: upgrading it is restarting it on the new files. */
  async upgrade(target: InstallTarget, ctx: InstallContext): Promise<void> {
    ctx.log('info', 'The node on this computer runs the program installed with this server; restarting it to run this version');
    await this.restart(target, ctx);
  }

  async restart(target: InstallTarget, ctx: InstallContext): Promise<void> {
    const t = localTarget(target);
    const p = this.requireInstalled(t);
    const unit = this.installedUnit(p);
    if (unit) {
      ctx.log('info', `Restarting the systemd service ${p.unitName}`);
      await this.systemctl(unit, ['restart', p.unitName], 'restarting the node service');
      return;
    }
    ctx.log('info', 'Restarting the node');
    await this.options.supervisor.restart(this.supervisedNode(t.name));
  }

  async uninstall(target: InstallTarget, ctx: InstallContext): Promise<void> {
    const t = localTarget(target);
    const p = this.pathsFor(t.name);
    const unit = this.installedUnit(p);
    if (unit) {
      ctx.log('info', `Stopping and removing the systemd service ${p.unitName}`);
      await this.removeUnit(p, unit);
    }
    await this.options.supervisor.stop(p.name, this.supervisedNode(p.name));
    if (ctx.signal.aborted) throw cancelledError();
    await fs.promises.rm(p.dir, { recursive: true, force: true });
    ctx.log('info', `Removed ${p.dir} (configuration and credential, staging and the node log)`);
  }

  async showLog(target: InstallTarget, lines: number): Promise<string[]> {
    const t = localTarget(target);
    const p = this.pathsFor(t.name);
    const n = Math.max(1, Math.min(10_000, Math.floor(lines)));
    const unit = this.installedUnit(p);
    if (unit) {
      const r = await this.runner.run('journalctl', [...unit.flag, '-u', p.unitName, '-n', String(n), '--no-pager', '-o', 'short-iso'], { timeoutMs: 30_000 });
      if (r.code !== 0) throw new InstallerError('COMMAND_FAILED', `reading the node log failed: ${lastLines(r.stderr)}`);
      return r.stdout.split('\n').filter((l) => l !== '');
    }
    return tailFile(p.logFile, n);
  }

  // ---------------------------------------------------------------------------

  private async stopExisting(p: LocalPaths, ctx: InstallContext): Promise<void> {
    const unit = this.installedUnit(p);
    if (unit) {
      ctx.log('info', `Stopping the existing systemd service ${p.unitName}`);
      await this.systemctl(unit, ['stop', p.unitName], 'stopping the node service');
    }
    if (this.options.supervisor.isSupervised(p.name) || fs.existsSync(p.pidFile)) {
      ctx.log('info', 'Stopping the running node; it is enrolled again');
      await this.options.supervisor.stop(p.name, this.supervisedNode(p.name));
    }
  }

  /** A reinstall that failed: the node that was there runs again, with its previous configuration. */
  private async restartPrevious(p: LocalPaths, ctx: InstallContext): Promise<void> {
    ctx.log('warn', 'The reinstall failed; starting the node that was installed before again');
    try {
      const unit = this.installedUnit(p);
      if (unit) await this.startUnit(p, unit, ctx, false);
      else this.startSupervised(p, ctx);
    } catch (err) {
      ctx.log('error', `Starting the previous node again failed: ${(err as Error).message}`);
    }
  }

  private async enroll(p: LocalPaths, enrollment: EnrollmentInfo, ctx: InstallContext): Promise<void> {
    const url = serverUrl('127.0.0.1', enrollment.port);
    ctx.log('info', `Enrolling the node with the server at ${url}`);
    const r = await this.runner.run(
      this.execPath,
      [
        this.cliEntry,
        'node-service',
        'enroll',
        '--server',
        url,
        '--token',
        enrollment.token,
        '--fingerprint',
        enrollment.fingerprint,
        '--name',
        p.name,
        '--config',
        p.configFile,
        '--staging',
        p.stagingDir,
      ],
      { timeoutMs: this.options.enrollTimeoutMs ?? 90_000, env: this.childEnv(), signal: ctx.signal },
    );
    if (ctx.signal.aborted) throw cancelledError();
    if (r.code !== 0) {
      throw new InstallerError('ENROLL_FAILED', `enrolling the node with the server at ${url} failed: ${lastLines(r.stderr || r.stdout) || `exit code ${r.code}`}`);
    }
    ctx.log('info', `The node is enrolled; its configuration and credential are in ${p.configFile}`);
  }

  private startSupervised(p: LocalPaths, ctx: InstallContext): void {
    ctx.log('info', `No systemd service for it (no systemd here, or none for this account): the server runs the node and restarts it if it stops (log: ${p.logFile})`);
    this.options.supervisor.start(this.supervisedNode(p.name));
  }

  private async startUnit(p: LocalPaths, scope: SystemdScope, ctx: InstallContext, rewrite: boolean): Promise<void> {
    const unitFile = path.join(scope.unitDir, p.unitName);
    if (rewrite) {
      const env = process.versions.electron ? { ELECTRON_RUN_AS_NODE: '1' } : undefined;
      const text = systemdUnit({
        description: `vPlus node ${p.name} (backup data mover)`,
        execStart: [this.execPath, this.cliEntry, 'node-service', 'run', '--config', p.configFile],
        ...(env ? { environment: env } : {}),
        wantedBy: scope.wantedBy,
      });
      await fs.promises.mkdir(scope.unitDir, { recursive: true });
      await fs.promises.writeFile(`${unitFile}.tmp`, text, { mode: 0o644 });
      await fs.promises.rename(`${unitFile}.tmp`, unitFile);
      ctx.log('info', `Wrote the systemd unit ${unitFile}`);
    }
    await this.systemctl(scope, ['daemon-reload'], 'reloading systemd');
    await this.systemctl(scope, ['enable', p.unitName], 'enabling the node service');
    await this.systemctl(scope, ['restart', p.unitName], 'starting the node service');
    if (scope.flag.length) {
      ctx.log('warn', `The node runs as a systemd user service of ${os.userInfo().username}; to keep it running while nobody is logged in, run: loginctl enable-linger ${os.userInfo().username}`);
    }
    ctx.log('info', `The node service ${p.unitName} is running (log: ${['journalctl', ...scope.flag, '-u', p.unitName].join(' ')})`);
  }

  private async removeUnit(p: LocalPaths, scope: SystemdScope | null): Promise<void> {
    if (!scope) return;
    const unitFile = path.join(scope.unitDir, p.unitName);
    if (!fs.existsSync(unitFile)) return;
    await this.runner.run('systemctl', [...scope.flag, 'disable', '--now', p.unitName], { timeoutMs: 60_000 });
    await fs.promises.rm(unitFile, { force: true });
    await this.runner.run('systemctl', [...scope.flag, 'daemon-reload'], { timeoutMs: 60_000 });
  }

  private async systemctl(scope: SystemdScope, args: string[], what: string): Promise<void> {
    const r = await this.runner.run('systemctl', [...scope.flag, ...args], { timeoutMs: 60_000 });
    if (r.code !== 0) throw new InstallerError('SERVICE_FAILED', `${what} failed: ${lastLines(r.stderr || r.stdout) || `exit code ${r.code}`}`);
  }

  /**
   * systemd system unit when we are root, a user unit otherwise; null without systemd. A
   * user unit needs the user's own systemd instance, which a service account has not (the
   * packaged server runs as the system user vplus, with no login session): the server
   * supervises its local nodes then.
   */
  private systemdScope(): SystemdScope | null {
    const useSystemd = this.options.useSystemd ?? fs.existsSync('/run/systemd/system');
    if (!useSystemd) return null;
    if (process.getuid?.() === 0) return { flag: [], unitDir: '/etc/systemd/system', wantedBy: 'multi-user.target' };
    if (this.options.useSystemd === undefined && !userManagerRuns()) return null;
    return { flag: ['--user'], unitDir: path.join(os.homedir(), '.config', 'systemd', 'user'), wantedBy: 'default.target' };
  }

  /** The systemd scope whose unit file for this node exists (an install under systemd), or null. */
  private installedUnit(p: LocalPaths): SystemdScope | null {
    const scope = this.systemdScope();
    return scope && fs.existsSync(path.join(scope.unitDir, p.unitName)) ? scope : null;
  }

  private requireInstalled(t: LocalTarget): LocalPaths {
    const p = this.pathsFor(t.name);
    if (!fs.existsSync(p.configFile)) {
      throw new InstallerError('NOT_INSTALLED', `the node "${t.name}" is not installed on this computer (${p.configFile} is missing)`);
    }
    return p;
  }

  private childEnv(): NodeJS.ProcessEnv {
    return { ...process.env, ...(process.versions.electron ? { ELECTRON_RUN_AS_NODE: '1' } : {}) };
  }
}

/** The user's systemd instance listens on $XDG_RUNTIME_DIR/systemd/private while the user has one. */
function userManagerRuns(): boolean {
  const runtimeDir = process.env.XDG_RUNTIME_DIR;
  return !!runtimeDir && fs.existsSync(path.join(runtimeDir, 'systemd', 'private'));
}

function localTarget(target: InstallTarget): LocalTarget {
  if (target.kind !== 'local') throw new Error(`the local installer was given a ${target.kind} target`);
  return target;
}

/** The message of a failed command: its last non-empty lines (the CLI prints one sentence on stderr). */
function lastLines(text: string, n = 3): string {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .slice(-n)
    .join(' / ');
}

/** The last n lines of a file, reading only its end. */
async function tailFile(file: string, n: number): Promise<string[]> {
  let fh: fs.promises.FileHandle;
  try {
    fh = await fs.promises.open(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  try {
    const { size } = await fh.stat();
    const length = Math.min(size, Math.max(64 * 1024, n * 512));
    const buf = Buffer.alloc(length);
    await fh.read(buf, 0, length, size - length);
    const lines = buf.toString('utf8').split('\n');
    if (length < size) lines.shift(); // a partial first line
    if (lines.at(-1) === '') lines.pop();
    return lines.slice(-n);
  } finally {
    await fh.close();
  }
}
