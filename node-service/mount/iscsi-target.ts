/**
 * iSCSI export of a backup's disk for other tools: the node's own `tgtd` (started and stopped
 * by the node, no systemd), one target per export, its LUN read-only, reachable only by the
 * initiators named (IQN and/or address) and only with the export's CHAP credentials, which are
 * generated here and shown once. The disk is a file (the backup's disk exposed by nbdfuse, or
 * any image). tgtd's management socket is private to this node (`-C <port>`), so several
 * nodes, or a host's own tgt service, never see each other's targets.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import fs from 'node:fs';
import { ChildProcessRunner, type CommandRunner } from '../platforms/kvm/command-runner.js';

export interface IscsiInitiators {
  /** Initiator IQNs allowed, e.g. iqn.1993-08.org.debian:01:abcdef. */
  names: readonly string[];
  /** Initiator addresses allowed (IPv4/IPv6, or a CIDR tgt understands). */
  addresses: readonly string[];
}

export interface IscsiExport {
  tid: number;
  targetName: string;
  portal: string;
  lun: number;
  /** CHAP credentials the initiator must present (generated; shown to the admin once). */
  chap: { user: string; password: string };
}

export interface TgtdOptions {
  /** Where iSCSI listens, e.g. 0.0.0.0:3260 (tests: 127.0.0.1 and a free port). */
  portal: { host: string; port: number };
  /** IQN prefix of targets, e.g. iqn.2026-12.lan.vplus:node-3 (a suffix per export is added). */
  iqnPrefix: string;
  runner?: CommandRunner;
  /** Absolute path of tgtd / tgtadm (default: from PATH). */
  tgtd?: string;
  tgtadm?: string;
}

export class IscsiError extends Error {
  readonly code = 'ISCSI_FAILED';
}

const IQN_RE = /^iqn\.\d{4}-\d{2}\.[a-z0-9.-]+(:[\x21-\x7e]+)?$/;
const ADDRESS_RE = /^[0-9a-fA-F:.]+(\/\d{1,3})?$/;

/** One tgtd of this node: exports come and go; stop() ends them all and the daemon. */
export class TgtdInstance {
  private readonly runner: CommandRunner;
  private readonly exports = new Map<number, IscsiExport>();
  private nextTid = 1;
  private stopped = false;

  private constructor(
    private readonly options: TgtdOptions,
    private readonly child: ChildProcess,
    /** The management channel: /var/run/tgtd/socket.<controlPort>. */
    readonly controlPort: number,
    private readonly exited: Promise<void>,
  ) {
    this.runner = options.runner ?? new ChildProcessRunner(30_000);
  }

  get portal(): string {
    return `${this.options.portal.host}:${this.options.portal.port}`;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  static async start(options: TgtdOptions): Promise<TgtdInstance> {
    const runner = options.runner ?? new ChildProcessRunner(30_000);
    // A control port no other tgtd of this host uses (its socket file would exist).
    let controlPort = 0;
    for (let i = 0; i < 50 && controlPort === 0; i++) {
      const candidate = randomInt(10_000, 32_768); // tgtd takes 0..32767
      if (!fs.existsSync(`/var/run/tgtd/socket.${candidate}`)) controlPort = candidate;
    }
    if (controlPort === 0) throw new IscsiError('no free tgtd control port');
    const portal = `${options.portal.host}:${options.portal.port}`;
    let output = '';
    const child = spawn(options.tgtd ?? 'tgtd', ['-f', '-C', String(controlPort), '--iscsi', `portal=${portal}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
    child.stderr?.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const spawnFailed = new Promise<never>((_, reject) => child.once('error', (err) => reject(new IscsiError(`cannot start tgtd (${err.message}); install the tgt package`))));
    const instance = new TgtdInstance(options, child, controlPort, exited);
    // Ready once its management channel answers.
    const deadline = Date.now() + 15_000;
    for (;;) {
      const ready = await Promise.race([
        runner.run(options.tgtadm ?? 'tgtadm', ['-C', String(controlPort), '--lld', 'iscsi', '--mode', 'target', '--op', 'show']).then(
          () => true,
          () => false,
        ),
        spawnFailed,
        exited.then(() => {
          throw new IscsiError(`tgtd exited at start (is the portal ${portal} in use?): ${output.trim()}`);
        }),
      ]);
      if (ready) return instance;
      if (Date.now() > deadline) {
        await instance.stop();
        throw new IscsiError(`tgtd did not answer within 15 s: ${output.trim()}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /**
   * Exports `file` read-only as LUN 1 of a new target, for the given initiators only, with
   * fresh CHAP credentials. At least one initiator name or address is required: an export
   * open to anyone is refused.
   */
  async addExport(file: string, initiators: IscsiInitiators, suffix: string): Promise<IscsiExport> {
    if (this.stopped) throw new IscsiError('tgtd is stopped');
    if (initiators.names.length === 0 && initiators.addresses.length === 0) {
      throw new IscsiError('name at least one initiator (its IQN or address): an export open to any initiator is refused');
    }
    for (const n of initiators.names) if (!IQN_RE.test(n)) throw new IscsiError(`"${n}" is not an initiator IQN (iqn.YYYY-MM.domain[:name])`);
    for (const a of initiators.addresses) if (!ADDRESS_RE.test(a)) throw new IscsiError(`"${a}" is not an IP address`);
    if (!/^[a-z0-9.-]{1,64}$/.test(suffix)) throw new IscsiError(`invalid target name suffix "${suffix}"`);
    const tid = this.nextTid++;
    const targetName = `${this.options.iqnPrefix}.${suffix}`;
    const chap = { user: `vplus-${randomBytes(4).toString('hex')}`, password: randomBytes(12).toString('base64url').slice(0, 16) };
    const exp: IscsiExport = { tid, targetName, portal: this.portal, lun: 1, chap };
    try {
      await this.adm(['--mode', 'target', '--op', 'new', '--tid', String(tid), '--targetname', targetName]);
      await this.adm(['--mode', 'logicalunit', '--op', 'new', '--tid', String(tid), '--lun', '1', '--backing-store', file, '--bsoflags', 'sync']);
      await this.adm(['--mode', 'logicalunit', '--op', 'update', '--tid', String(tid), '--lun', '1', '--params', 'readonly=1']);
      for (const name of initiators.names) await this.adm(['--mode', 'target', '--op', 'bind', '--tid', String(tid), '--initiator-name', name]);
      for (const address of initiators.addresses) await this.adm(['--mode', 'target', '--op', 'bind', '--tid', String(tid), '--initiator-address', address]);
      await this.adm(['--mode', 'account', '--op', 'new', '--user', chap.user, '--password', chap.password]);
      await this.adm(['--mode', 'account', '--op', 'bind', '--tid', String(tid), '--user', chap.user]);
    } catch (err) {
      await this.removeTarget(tid, chap.user);
      throw err;
    }
    this.exports.set(tid, exp);
    return exp;
  }

  async removeExport(tid: number): Promise<void> {
    const exp = this.exports.get(tid);
    if (!exp) return;
    this.exports.delete(tid);
    await this.removeTarget(tid, exp.chap.user);
  }

  list(): IscsiExport[] {
    return [...this.exports.values()];
  }

  /** Ends every export (connected initiators are dropped) and the daemon. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const tid of [...this.exports.keys()]) await this.removeExport(tid);
    if (this.child.exitCode === null && this.child.signalCode === null) {
      await this.adm(['--mode', 'system', '--op', 'delete'], false).catch(() => this.child.kill('SIGKILL'));
      const gone = await Promise.race([this.exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 5_000).unref())]);
      if (!gone) {
        this.child.kill('SIGKILL');
        await this.exited;
      }
    }
    // tgtd leaves its management socket and lock behind.
    for (const f of [`/var/run/tgtd/socket.${this.controlPort}`, `/var/run/tgtd/socket.${this.controlPort}.lock`]) fs.rmSync(f, { force: true });
  }

  private async removeTarget(tid: number, user: string): Promise<void> {
    // Each step may fail when the one before never happened; what remains goes with the daemon.
    await this.adm(['--mode', 'target', '--op', 'delete', '--force', '--tid', String(tid)]).catch(() => undefined);
    await this.adm(['--mode', 'account', '--op', 'delete', '--user', user]).catch(() => undefined);
  }

  private async adm(args: string[], lld = true): Promise<void> {
    try {
      await this.runner.run(this.options.tgtadm ?? 'tgtadm', ['-C', String(this.controlPort), ...(lld ? ['--lld', 'iscsi'] : []), ...args]);
    } catch (err) {
      throw new IscsiError(`tgtadm ${args.slice(0, 4).join(' ')} failed: ${(err as Error).message}`);
    }
  }
}
