import fs from 'node:fs';
import type { Logger } from 'pino';
import { formatBytes } from '../../../../common/format.js';
import {
  cancelledError,
  InstallerError,
  type EnrollmentInfo,
  type InstallContext,
  type InstallOutcome,
  type InstallTarget,
  type NodeInstaller,
  type SshTarget,
} from './installer.js';
import type { BuiltBundle } from './node-bundle.js';
import {
  BUNDLE,
  REMOTE,
  serverUrl,
  shq,
  startSupervisorScript,
  stopSupervisorScript,
  systemdUnit,
  type SupervisorPaths,
} from './node-layout.js';
import { failureText, SshConnection } from './ssh-connection.js';

export { probeHostKey, openSshFingerprint, type HostKeyInfo } from './ssh-connection.js';

/** What the SSH installer needs of the node bundle (NodeBundle provides it). */
export interface BundleSource {
  ensure(): Promise<BuiltBundle>;
}

export interface SshNodeInstallerOptions {
  bundle: BundleSource;
  logger: Logger;
  connectTimeoutMs?: number;
  /** How long the enroll command may take (it calls the server). */
  enrollTimeoutMs?: number;
}

type ServiceKind = 'systemd' | 'supervised';

interface HostFacts {
  hostname: string;
  systemd: boolean;
  installed: boolean;
  /** Kind of the existing install, if any (a unit file means systemd). */
  installedKind: ServiceKind | null;
}

const SUPERVISOR_PATHS: SupervisorPaths = {
  root: REMOTE.installDir,
  config: REMOTE.configFile,
  stateDir: REMOTE.stateDir,
  logFile: REMOTE.logFile,
};

/** Free space wanted beyond the unpacked bundle (the old version stays until the swap). */
const SPACE_MARGIN = 1.2;

/**
 * Installs and manages a node on a Linux host over SSH: verifies the host key
 * the admin accepted before anything else, uploads the node bundle into
 * /opt/vplus-node, enrols the node with this server and runs it as a systemd
 * service, or under a small supervisor where there is no systemd.
 */
export class SshNodeInstaller implements NodeInstaller {
  constructor(private readonly options: SshNodeInstallerOptions) {}

  async install(target: InstallTarget, enrollment: EnrollmentInfo, ctx: InstallContext): Promise<InstallOutcome> {
    const t = sshTarget(target);
    // Host key and credentials first: a wrong one fails in a second, not after the bundle build.
    return this.withConnection(t, ctx, async (ssh) => {
      const bundle = await this.prepareBundle(ctx);
      const facts = await this.inspectHost(ssh, t, bundle, ctx);
      const kind: ServiceKind = facts.systemd ? 'systemd' : 'supervised';
      try {
        await this.uploadBundle(ssh, t, bundle, ctx);
        if (facts.installed) {
          ctx.log('info', 'A vPlus node is already installed there: stopping it, it is replaced and enrolled again');
          await this.stopService(ssh, facts.installedKind ?? kind, ctx);
        }
        await this.swapInNewVersion(ssh, ctx);
        await this.enroll(ssh, t, enrollment, ctx);
        await this.startService(ssh, kind, ctx, { rewriteUnit: true });
        await this.removeOldVersion(ssh);
      } catch (err) {
        if (ctx.signal.aborted) {
          ctx.log('warn', `Cancelled; the connection is closed, so files already sent may remain in ${REMOTE.newDir} or ${REMOTE.installDir} (uninstall removes them)`);
        } else if (!facts.installed) {
          await this.rollBackFreshInstall(ssh, ctx);
        } else {
          await this.restartPrevious(ssh, facts.installedKind ?? kind, ctx);
        }
        throw err;
      }
      ctx.log('info', `The node "${t.name}" is installed on ${facts.hostname}; waiting for it to come online`);
      return { host: facts.hostname, method: kind === 'systemd' ? 'ssh-systemd' : 'ssh-supervised' };
    });
  }

  async upgrade(target: InstallTarget, ctx: InstallContext): Promise<void> {
    const t = sshTarget(target);
    await this.withConnection(t, ctx, async (ssh) => {
      await this.installedKind(ssh, t);
      const bundle = await this.prepareBundle(ctx);
      const facts = await this.inspectHost(ssh, t, bundle, ctx);
      if (!facts.installed) throw notInstalled(t);
      await this.uploadBundle(ssh, t, bundle, ctx);
      const kind = facts.installedKind ?? (facts.systemd ? 'systemd' : 'supervised');
      await this.stopService(ssh, kind, ctx);
      await this.swapInNewVersion(ssh, ctx);
      await this.startService(ssh, kind, ctx, { rewriteUnit: true });
      await this.removeOldVersion(ssh);
      ctx.log('info', `The node on ${facts.hostname} now runs version ${bundle.version}`);
    });
  }

  async restart(target: InstallTarget, ctx: InstallContext): Promise<void> {
    const t = sshTarget(target);
    await this.withConnection(t, ctx, async (ssh) => {
      const kind = await this.installedKind(ssh, t);
      await this.stopService(ssh, kind, ctx);
      await this.startService(ssh, kind, ctx, { rewriteUnit: false });
    });
  }

  async uninstall(target: InstallTarget, ctx: InstallContext): Promise<void> {
    const t = sshTarget(target);
    await this.withConnection(t, ctx, async (ssh) => {
      const unit = await ssh.exec(`test -f ${shq(REMOTE.unitFile)}`);
      if (unit.code === 0) await this.stopService(ssh, 'systemd', ctx);
      await this.stopService(ssh, 'supervised', ctx);
      await this.removeFiles(ssh, ctx);
      ctx.log('info', `The node is removed from ${t.host}`);
    });
  }

  async showLog(target: InstallTarget, lines: number): Promise<string[]> {
    const t = sshTarget(target);
    const n = Math.max(1, Math.min(10_000, Math.floor(lines)));
    const signal = AbortSignal.timeout(60_000);
    const ctx: InstallContext = { log: () => undefined, progress: () => undefined, signal };
    return this.withConnection(t, ctx, async (ssh) => {
      const kind = await this.installedKind(ssh, t);
      const script =
        kind === 'systemd'
          ? `journalctl -u ${REMOTE.unitName} -n ${n} --no-pager -o short-iso`
          : `if [ -f ${shq(REMOTE.logFile)} ]; then tail -n ${n} ${shq(REMOTE.logFile)}; fi`;
      const out = await ssh.run(script, 'reading the node log', { timeoutMs: 30_000 });
      return out.split('\n').filter((l, i, all) => l !== '' || i < all.length - 1);
    });
  }

  // --- steps -----------------------------------------------------------------

  private async prepareBundle(ctx: InstallContext): Promise<BuiltBundle> {
    ctx.log('info', 'Preparing the node program for upload');
    const bundle = await this.options.bundle.ensure();
    if (ctx.signal.aborted) throw cancelledError();
    ctx.log('info', `Node program version ${bundle.version}: ${formatBytes(bundle.sizeBytes)} to upload${bundle.built ? ` (built in ${(bundle.buildMs / 1000).toFixed(1)} s)` : ''}`);
    return bundle;
  }

  private async withConnection<T>(t: SshTarget, ctx: InstallContext, work: (ssh: SshConnection) => Promise<T>): Promise<T> {
    const log = this.options.logger.child({ sshHost: t.host, sshPort: t.port, sshUser: t.user, node: t.name });
    ctx.log('info', `Connecting to ${t.host}:${t.port} as ${t.user}`);
    let conn: SshConnection;
    try {
      conn = await SshConnection.open(t, { signal: ctx.signal, timeoutMs: this.options.connectTimeoutMs });
    } catch (err) {
      log.warn({ code: (err as InstallerError).code, err: (err as Error).message }, 'SSH connection failed');
      throw err;
    }
    ctx.log('info', `The host key matches ${t.hostKeyFingerprint}; signed in as ${t.user}${conn.usesSudo ? ' (using sudo)' : ''}`);
    try {
      return await work(conn);
    } catch (err) {
      if (ctx.signal.aborted) throw cancelledError();
      log.warn({ code: (err as InstallerError).code, err: (err as Error).message }, 'SSH node operation failed');
      throw err;
    } finally {
      conn.close();
    }
  }

  private async inspectHost(ssh: SshConnection, t: SshTarget, bundle: BuiltBundle, ctx: InstallContext): Promise<HostFacts> {
    ctx.log('info', 'Checking the host: processor, system libraries, tools and free space');
    const out = await ssh.run(
      [
        'echo "arch=$(uname -m)"',
        'echo "hostname=$(uname -n)"',
        'if [ -e /lib64/ld-linux-x86-64.so.2 ]; then echo glibc=yes; else echo glibc=no; fi',
        'for t in tar gzip setsid nohup; do command -v $t >/dev/null 2>&1 || echo "missing=$t"; done',
        'if [ -d /run/systemd/system ]; then echo systemd=yes; else echo systemd=no; fi',
        `if [ -x ${shq(`${REMOTE.installDir}/${BUNDLE.node}`)} ]; then echo installed=yes; else echo installed=no; fi`,
        `if [ -f ${shq(REMOTE.unitFile)} ]; then echo unit=yes; else echo unit=no; fi`,
        'd=/opt; [ -d "$d" ] || d=/',
        'echo "freekb=$(df -Pk "$d" | awk \'NR==2 {print $4}\')"',
      ].join('\n'),
      'checking the host',
      { timeoutMs: 30_000 },
    );
    const facts = parseFacts(out);
    const arch = facts.get('arch') ?? 'unknown';
    if (arch !== 'x86_64') {
      throw new InstallerError('UNSUPPORTED_HOST', `${t.host} is a ${arch} machine; the vPlus node runs on x86_64 Linux only`);
    }
    if (facts.get('glibc') !== 'yes') {
      throw new InstallerError('UNSUPPORTED_HOST', `${t.host} has no glibc (/lib64/ld-linux-x86-64.so.2 is missing, e.g. Alpine); the vPlus node needs a glibc-based Linux`);
    }
    const missing = facts.getAll('missing');
    if (missing.length) {
      throw new InstallerError('UNSUPPORTED_HOST', `${t.host} lacks ${missing.join(', ')}; install ${missing.length > 1 ? 'them' : 'it'} (e.g. apt-get install tar gzip util-linux coreutils) and try again`);
    }
    const freeBytes = Number(facts.get('freekb') ?? NaN) * 1024;
    const needed = Math.ceil(bundle.unpackedBytes * SPACE_MARGIN);
    if (Number.isFinite(freeBytes) && freeBytes < needed) {
      throw new InstallerError('NO_SPACE', `${t.host} has ${formatBytes(freeBytes)} free for /opt; the node needs ${formatBytes(needed)}`);
    }
    const systemd = facts.get('systemd') === 'yes';
    const installed = facts.get('installed') === 'yes';
    const hostname = facts.get('hostname') || t.host;
    ctx.log(
      'info',
      `${hostname}: x86_64, ${Number.isFinite(freeBytes) ? `${formatBytes(freeBytes)} free for /opt, ` : ''}${systemd ? 'systemd' : 'no systemd (the node will run under the vPlus supervisor)'}`,
    );
    return { hostname, systemd, installed, installedKind: installed ? (facts.get('unit') === 'yes' ? 'systemd' : 'supervised') : null };
  }

  private async installedKind(ssh: SshConnection, t: SshTarget): Promise<ServiceKind> {
    const out = await ssh.run(
      `if [ ! -x ${shq(`${REMOTE.installDir}/${BUNDLE.node}`)} ]; then echo none; elif [ -f ${shq(REMOTE.unitFile)} ]; then echo systemd; else echo supervised; fi`,
      'checking the installed node',
    );
    const kind = out.trim();
    if (kind === 'none') throw notInstalled(t);
    return kind === 'systemd' ? 'systemd' : 'supervised';
  }

  /** Streams the bundle into /opt/vplus-node.new and checks that its Node.js runs there. */
  private async uploadBundle(ssh: SshConnection, t: SshTarget, bundle: BuiltBundle, ctx: InstallContext): Promise<void> {
    const total = bundle.sizeBytes;
    ctx.log('info', `Uploading the node program (${formatBytes(total)})`);
    ctx.progress(0, total, 'Uploading the node program');
    let lastReport = 0;
    const started = Date.now();
    const r = await ssh.exec(
      `rm -rf ${shq(REMOTE.newDir)} && mkdir -p ${shq(REMOTE.newDir)} && tar xzf - --no-same-owner -C ${shq(REMOTE.newDir)}`,
      {
        stdin: fs.createReadStream(bundle.file),
        onInputProgress: (done) => {
          const now = Date.now();
          if (now - lastReport >= 250 || done === total) {
            lastReport = now;
            ctx.progress(done, total, 'Uploading the node program');
          }
        },
        timeoutMs: 30 * 60_000,
      },
    );
    if (r.code !== 0) {
      await ssh.exec(`rm -rf ${shq(REMOTE.newDir)}`);
      throw new InstallerError('UPLOAD_FAILED', `unpacking the node program on ${t.host} failed: ${failureText(r)}`);
    }
    ctx.progress(total, total, 'Uploaded');
    ctx.log('info', `Uploaded and unpacked in ${((Date.now() - started) / 1000).toFixed(1)} s`);

    const v = await ssh.exec(`${shq(`${REMOTE.newDir}/${BUNDLE.node}`)} --version`, { timeoutMs: 30_000 });
    if (v.code !== 0) {
      await ssh.exec(`rm -rf ${shq(REMOTE.newDir)}`);
      throw new InstallerError('UNSUPPORTED_HOST', `the node's Node.js does not run on ${t.host}: ${failureText(v)}`);
    }
    ctx.log('info', `Node.js ${v.stdout.trim()} runs on the host`);
  }

  /**
   * Puts /opt/vplus-node.new in place of /opt/vplus-node. The old version is
   * kept until the new one is in place (two renames, a moment apart) and is
   * put back if the second rename fails. It stays in /opt/vplus-node.old
   * until removeOldVersion: deleting ~150 MB takes seconds on slow disks, and
   * the node should not wait for that.
   */
  private async swapInNewVersion(ssh: SshConnection, ctx: InstallContext): Promise<void> {
    const [dir, next, old] = [shq(REMOTE.installDir), shq(REMOTE.newDir), shq(REMOTE.oldDir)];
    await ssh.run(
      [
        'set -e',
        `rm -rf ${old}`,
        `if [ -e ${dir} ]; then mv ${dir} ${old}; fi`,
        `if ! mv ${next} ${dir}; then [ -e ${old} ] && mv ${old} ${dir}; exit 1; fi`,
      ].join('\n'),
      `moving the node program into ${REMOTE.installDir}`,
      { code: 'UPLOAD_FAILED' },
    );
    ctx.log('info', `Installed the program in ${REMOTE.installDir}`);
  }

  private async removeOldVersion(ssh: SshConnection): Promise<void> {
    await ssh.run(`rm -rf ${shq(REMOTE.oldDir)}`, 'removing the previous version', { timeoutMs: 10 * 60_000 });
  }

  private async enroll(ssh: SshConnection, t: SshTarget, enrollment: EnrollmentInfo, ctx: InstallContext): Promise<void> {
    const address = t.serverAddress?.trim() || ssh.localAddress;
    if (!address) throw new InstallerError('ENROLL_FAILED', 'the server address for the node is unknown; give one (--server-address)');
    const url = serverUrl(address, enrollment.port);
    ctx.log('info', `Enrolling the node with the server at ${url}`);
    const command = [
      `${REMOTE.installDir}/${BUNDLE.node}`,
      `${REMOTE.installDir}/${BUNDLE.cli}`,
      'node-service',
      'enroll',
      '--server',
      url,
      '--token',
      enrollment.token,
      '--fingerprint',
      enrollment.fingerprint,
      '--name',
      t.name,
      '--config',
      REMOTE.configFile,
      '--staging',
      REMOTE.stagingDir,
    ]
      .map(shq)
      .join(' ');
    const r = await ssh.exec(
      [`mkdir -p -m 0700 ${shq(REMOTE.configDir)}`, `mkdir -p ${shq(REMOTE.stagingDir)}`, command].join(' && '),
      { timeoutMs: this.options.enrollTimeoutMs ?? 90_000 },
    );
    if (r.code !== 0) {
      throw new InstallerError('ENROLL_FAILED', `enrolling the node with the server at ${url} failed: ${failureText(r)}`);
    }
    ctx.log('info', `The node is enrolled; its configuration and credential are in ${REMOTE.configFile}`);
  }

  private async startService(ssh: SshConnection, kind: ServiceKind, ctx: InstallContext, opts: { rewriteUnit: boolean }): Promise<void> {
    if (kind === 'systemd') {
      if (opts.rewriteUnit) {
        const unit = systemdUnit({
          description: 'vPlus node (backup data mover)',
          execStart: [`${REMOTE.installDir}/${BUNDLE.node}`, `${REMOTE.installDir}/${BUNDLE.cli}`, 'node-service', 'run', '--config', REMOTE.configFile],
          wantedBy: 'multi-user.target',
        });
        await ssh.run(`cat > ${shq(`${REMOTE.unitFile}.tmp`)} && mv ${shq(`${REMOTE.unitFile}.tmp`)} ${shq(REMOTE.unitFile)}`, 'writing the systemd unit', {
          stdin: unit,
          code: 'SERVICE_FAILED',
        });
        ctx.log('info', `Wrote the systemd unit ${REMOTE.unitFile}`);
      }
      ctx.log('info', `Starting the systemd service ${REMOTE.unitName}`);
      await ssh.run(`systemctl daemon-reload && systemctl enable ${REMOTE.unitName} && systemctl restart ${REMOTE.unitName}`, 'starting the node service', {
        code: 'SERVICE_FAILED',
        timeoutMs: 60_000,
      });
      await delay(2000, ctx.signal);
      const state = await ssh.exec(`systemctl is-active ${REMOTE.unitName}`);
      if (state.stdout.trim() !== 'active' && state.stdout.trim() !== 'activating') {
        const journal = await ssh.exec(`journalctl -u ${REMOTE.unitName} -n 5 --no-pager -o cat`);
        throw new InstallerError('SERVICE_FAILED', `the node service is ${state.stdout.trim() || 'not running'}: ${journal.stdout.trim().split('\n').join(' / ')}`);
      }
      ctx.log('info', 'The node service is running under systemd (log: journalctl -u vplus-node)');
      return;
    }

    ctx.log('info', 'Starting the node under the vPlus supervisor (restarts it if it stops)');
    const out = await ssh.run(startSupervisorScript(SUPERVISOR_PATHS), 'starting the node supervisor', { code: 'SERVICE_FAILED', timeoutMs: 30_000 });
    if (out.trim() === 'running') ctx.log('warn', 'The supervisor was already running; it keeps running the node');
    // Give the node a moment; if it exits at once, show why (the supervisor keeps retrying).
    await delay(2000, ctx.signal);
    const check = await ssh.exec(
      `pid=$(cat ${shq(`${REMOTE.stateDir}/node.pid`)} 2>/dev/null); if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then echo up; else echo down; tail -n 5 ${shq(REMOTE.logFile)} 2>/dev/null; fi`,
    );
    if (check.stdout.startsWith('up')) {
      ctx.log('info', `The node service is running (log: ${REMOTE.logFile})`);
    } else {
      const tail = check.stdout.split('\n').slice(1).filter(Boolean).join(' / ');
      ctx.log('warn', `The node service is not running yet; the supervisor retries it. Last log lines: ${tail || '(none)'}`);
    }
  }

  private async stopService(ssh: SshConnection, kind: ServiceKind, ctx: InstallContext): Promise<void> {
    if (kind === 'systemd') {
      ctx.log('info', `Stopping the systemd service ${REMOTE.unitName}`);
      await ssh.run(`systemctl stop ${REMOTE.unitName} || true`, 'stopping the node service', { timeoutMs: 60_000 });
      return;
    }
    const out = (await ssh.run(stopSupervisorScript(SUPERVISOR_PATHS), 'stopping the node', { timeoutMs: 60_000 })).trim();
    if (out === 'stopped') ctx.log('info', 'Stopped the node service');
    else if (out === 'forced') ctx.log('warn', 'The node service did not stop in time and was killed');
  }

  private async removeFiles(ssh: SshConnection, ctx: InstallContext): Promise<void> {
    const unit = await ssh.exec(`test -f ${shq(REMOTE.unitFile)}`);
    if (unit.code === 0) {
      await ssh.run(
        `systemctl disable --now ${REMOTE.unitName} >/dev/null 2>&1 || true; rm -f ${shq(REMOTE.unitFile)}; systemctl daemon-reload || true`,
        'removing the systemd unit',
      );
      ctx.log('info', `Removed the systemd unit ${REMOTE.unitFile}`);
    }
    const dirs = [REMOTE.installDir, REMOTE.newDir, REMOTE.oldDir, REMOTE.configDir, REMOTE.stateDir, REMOTE.logDir];
    await ssh.run(`rm -rf ${dirs.map(shq).join(' ')}`, 'removing the node files');
    ctx.log(
      'info',
      `Removed ${REMOTE.installDir} (program), ${REMOTE.configDir} (configuration and credential), ${REMOTE.stateDir} (staging and state) and ${REMOTE.logDir} (logs)`,
    );
  }

  /** A reinstall that failed: the node that was there runs again, with its previous configuration. */
  private async restartPrevious(ssh: SshConnection, kind: ServiceKind, ctx: InstallContext): Promise<void> {
    try {
      ctx.log('warn', 'The reinstall failed; starting the node that was installed before again');
      await this.startService(ssh, kind, ctx, { rewriteUnit: false });
    } catch (err) {
      ctx.log('error', `Starting the previous node again failed: ${(err as Error).message}`);
    }
  }

  /** A first install that failed leaves nothing behind. */
  private async rollBackFreshInstall(ssh: SshConnection, ctx: InstallContext): Promise<void> {
    try {
      ctx.log('warn', 'The install failed; removing what it put on the host');
      await this.stopService(ssh, 'supervised', ctx);
      await this.removeFiles(ssh, ctx);
    } catch (err) {
      ctx.log('error', `Removing the partly installed node failed: ${(err as Error).message}`);
    }
  }
}

function sshTarget(target: InstallTarget): SshTarget {
  if (target.kind !== 'ssh') throw new Error(`the SSH installer was given a ${target.kind} target`);
  return target;
}

function notInstalled(t: SshTarget): InstallerError {
  return new InstallerError('NOT_INSTALLED', `no vPlus node is installed on ${t.host} (${REMOTE.installDir} is missing); install it first`);
}

class Facts {
  constructor(private readonly pairs: [string, string][]) {}
  get(key: string): string | undefined {
    return this.pairs.find(([k]) => k === key)?.[1];
  }
  getAll(key: string): string[] {
    return this.pairs.filter(([k]) => k === key).map(([, v]) => v);
  }
}

function parseFacts(out: string): Facts {
  const pairs: [string, string][] = [];
  for (const line of out.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) pairs.push([line.slice(0, i).trim(), line.slice(i + 1).trim()]);
  }
  return new Facts(pairs);
}

function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(cancelledError());
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(cancelledError());
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
