import { createHash } from 'node:crypto';
import net from 'node:net';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Client, type ClientChannel, type ConnectConfig } from 'ssh2';
import { cancelledError, InstallerError, type SshTarget } from './installer.js';
import { shq } from './node-layout.js';

const DEFAULT_CONNECT_TIMEOUT_MS = 20_000;
/** Output kept per command (the tail): enough for error messages and logs. */
const OUTPUT_LIMIT = 256 * 1024;

/** OpenSSH's fingerprint of a host key blob, as `ssh-keygen -lf` prints it: "SHA256:" + unpadded base64. */
export function openSshFingerprint(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

/** The key type named at the start of an SSH public key blob (e.g. "ssh-ed25519"). */
export function keyTypeOf(keyBlob: Buffer): string {
  if (keyBlob.length < 4) return 'unknown';
  const len = keyBlob.readUInt32BE(0);
  return len > 0 && len < 64 && keyBlob.length >= 4 + len ? keyBlob.subarray(4, 4 + len).toString('latin1') : 'unknown';
}

export interface HostKeyInfo {
  hostKeyFingerprint: string;
  keyType: string;
}

export interface ProbeOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
}

/**
 * Connects far enough to see the host key, then hangs up: nothing is
 * authenticated and nothing is sent. The UI shows the result to the admin
 * to accept before an install.
 */
export async function probeHostKey(host: string, port: number, options: ProbeOptions = {}): Promise<HostKeyInfo> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const sock = await openSocket(host, port, timeoutMs, options.signal);
  const client = new Client();
  let seen: HostKeyInfo | undefined;
  return new Promise<HostKeyInfo>((resolve, reject) => {
    let settled = false;
    const finish = (err?: Error): void => {
      if (settled) return;
      settled = true;
      options.signal?.removeEventListener('abort', onAbort);
      client.end();
      sock.destroy();
      if (seen) resolve(seen);
      else reject(err ?? new InstallerError('CONNECT_FAILED', `${host}:${port} closed the connection before showing its SSH host key`));
    };
    const onAbort = (): void => finish(cancelledError());
    options.signal?.addEventListener('abort', onAbort, { once: true });
    client.on('error', (err) => finish(new InstallerError('CONNECT_FAILED', `SSH connection to ${host}:${port} failed: ${err.message}`)));
    client.on('close', () => finish());
    try {
      client.connect({
        sock,
        username: 'vplus-probe',
        readyTimeout: timeoutMs,
        hostVerifier: (key: Buffer) => {
          seen = { hostKeyFingerprint: openSshFingerprint(key), keyType: keyTypeOf(key) };
          // Refusing ends the handshake before any authentication.
          setImmediate(() => finish());
          return false;
        },
      });
    } catch (err) {
      finish(new InstallerError('CONNECT_FAILED', `SSH connection to ${host}:${port} failed: ${(err as Error).message}`));
    }
  });
}

export interface ExecResult {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  /** Input for the command: a string, or a stream (its bytes are counted for onInputProgress). */
  stdin?: string | Readable;
  onInputProgress?: (bytes: number) => void;
  timeoutMs?: number;
}

/**
 * An authenticated SSH connection to a target, after its host key matched.
 * Commands run with root rights: directly when the user is root, through
 * `sudo -n` otherwise.
 */
export class SshConnection {
  private sudo = false;
  closed = false;
  /** The connection went away without our asking (network, sshd restart). */
  private lost = false;

  private constructor(
    private readonly client: Client,
    private readonly sock: net.Socket,
    private readonly target: SshTarget,
    /** Our address on this connection: the target reaches the server there. */
    readonly localAddress: string,
    private readonly signal: AbortSignal | undefined,
  ) {
    client.on('close', () => {
      if (!this.closed) this.lost = true;
    });
  }

  /**
   * Opens the TCP connection ourselves (so its local address is known),
   * verifies the host key before anything else, then authenticates.
   */
  static async open(target: SshTarget, options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<SshConnection> {
    const { host, port, user } = target;
    const timeoutMs = options.timeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    const sock = await openSocket(host, port, timeoutMs, options.signal);
    const localAddress = sock.localAddress ?? '';
    const client = new Client();
    let hostKeyError: InstallerError | undefined;

    await new Promise<void>((resolve, reject) => {
      let settled = false;
      const finish = (err?: Error): void => {
        if (settled) return;
        settled = true;
        options.signal?.removeEventListener('abort', onAbort);
        if (err) {
          client.end();
          sock.destroy();
          reject(err);
        } else resolve();
      };
      const onAbort = (): void => finish(cancelledError());
      options.signal?.addEventListener('abort', onAbort, { once: true });

      client.on('ready', () => finish());
      client.on('error', (err: Error & { level?: string }) => {
        if (hostKeyError) finish(hostKeyError);
        else if (err.level === 'client-authentication') {
          finish(new InstallerError('AUTH_FAILED', `SSH authentication as ${user}@${host} failed: wrong password or key`));
        } else if (err.level === 'client-timeout') {
          finish(new InstallerError('CONNECT_FAILED', `${host}:${port} did not complete the SSH handshake within ${Math.round(timeoutMs / 1000)} s`));
        } else {
          finish(new InstallerError('CONNECT_FAILED', `SSH connection to ${host}:${port} failed: ${err.message}`));
        }
      });
      client.on('close', () => finish(hostKeyError ?? new InstallerError('CONNECT_FAILED', `${host}:${port} closed the SSH connection during sign-in`)));
      if ('password' in target.auth) {
        const password = target.auth.password;
        // Hosts that only allow PAM's keyboard-interactive get the password there.
        client.on('keyboard-interactive', (_name, _instructions, _lang, prompts, answer) => answer(prompts.map(() => password)));
      }

      const config: ConnectConfig = {
        sock,
        username: user,
        readyTimeout: timeoutMs,
        keepaliveInterval: 15_000,
        keepaliveCountMax: 4,
        hostVerifier: (key: Buffer) => {
          const actual = openSshFingerprint(key);
          if (actual === normalizeSshFingerprint(target.hostKeyFingerprint)) return true;
          hostKeyError = new InstallerError(
            'HOST_KEY_MISMATCH',
            `the SSH host key of ${host} is ${actual}, not the expected ${target.hostKeyFingerprint}; nothing was sent`,
          );
          return false;
        },
        ...('password' in target.auth
          ? { password: target.auth.password, tryKeyboard: true, authHandler: ['password', 'keyboard-interactive'] }
          : { privateKey: target.auth.privateKey, passphrase: target.auth.passphrase, authHandler: ['publickey'] }),
      };
      try {
        client.connect(config);
      } catch (err) {
        // ssh2 parses the private key synchronously; its message never contains the key.
        finish(new InstallerError('AUTH_FAILED', `the private key for ${user}@${host} cannot be used: ${(err as Error).message}`));
      }
    });

    const conn = new SshConnection(client, sock, target, localAddress, options.signal);
    options.signal?.addEventListener('abort', () => conn.close(), { once: true });
    try {
      await conn.checkPrivileges();
    } catch (err) {
      conn.close();
      throw err;
    }
    return conn;
  }

  get usesSudo(): boolean {
    return this.sudo;
  }

  /** Idempotent; an abort of the install's signal closes the connection too. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.client.end();
    this.sock.destroy();
  }

  /** Runs a shell script with root rights; resolves with its exit code and output. */
  exec(script: string, options: ExecOptions = {}): Promise<ExecResult> {
    const command = this.sudo ? `sudo -n sh -c ${shq(script)}` : `sh -c ${shq(script)}`;
    return this.rawExec(command, options);
  }

  /** Runs a script with root rights and returns its stdout; a non-zero exit is an InstallerError saying what failed. */
  async run(script: string, what: string, options: ExecOptions & { code?: InstallerError['code'] } = {}): Promise<string> {
    const r = await this.exec(script, options);
    if (r.code !== 0) {
      throw new InstallerError(options.code ?? 'COMMAND_FAILED', `${what} failed on ${this.target.host}: ${failureText(r)}`);
    }
    return r.stdout;
  }

  private async checkPrivileges(): Promise<void> {
    const id = await this.rawExec('id -u');
    if (id.stdout.trim() === '0') return;
    const { user, host } = this.target;
    const probe = await this.rawExec('sudo -n true');
    if (probe.code === 0) {
      this.sudo = true;
      return;
    }
    if (probe.code === 127 || /not found/i.test(probe.stderr)) {
      throw new InstallerError('SUDO_PASSWORD_REQUIRED', `${user} on ${host} is not root and sudo is not installed; connect as root or install sudo with passwordless rights for ${user}`);
    }
    throw new InstallerError(
      'SUDO_PASSWORD_REQUIRED',
      `${user} on ${host} is not root and sudo asks for a password; connect as root or allow ${user} passwordless sudo (NOPASSWD)`,
    );
  }

  private rawExec(command: string, options: ExecOptions = {}): Promise<ExecResult> {
    const { host } = this.target;
    if (this.signal?.aborted) return Promise.reject(cancelledError());
    return new Promise<ExecResult>((resolve, reject) => {
      this.client.exec(command, (err, channel: ClientChannel) => {
        if (err) {
          reject(this.signal?.aborted ? cancelledError() : new InstallerError('CONNECT_FAILED', `running a command on ${host} failed: ${err.message}`));
          return;
        }
        let stdout = '';
        let stderr = '';
        let code: number | null = null;
        let signal: string | null = null;
        let timer: NodeJS.Timeout | undefined;
        const onAbort = (): void => channel.close();
        this.signal?.addEventListener('abort', onAbort, { once: true });
        const timeoutMs = options.timeoutMs;
        if (timeoutMs) {
          timer = setTimeout(() => {
            stderr += `\n(stopped after ${Math.round(timeoutMs / 1000)} s)`;
            channel.close();
          }, timeoutMs);
        }
        channel.on('data', (d: Buffer) => (stdout = keepTail(stdout + d.toString('utf8'))));
        channel.stderr.on('data', (d: Buffer) => (stderr = keepTail(stderr + d.toString('utf8'))));
        channel.on('exit', (c: number | null, s?: string) => {
          code = c;
          signal = s ?? null;
        });
        let inputError: Error | undefined;
        channel.on('close', () => {
          clearTimeout(timer);
          this.signal?.removeEventListener('abort', onAbort);
          if (this.signal?.aborted) reject(cancelledError());
          else if (code === null && this.lost) reject(new InstallerError('CONNECT_FAILED', `the SSH connection to ${host} was lost`));
          else if (inputError && code === null) reject(new InstallerError('UPLOAD_FAILED', `sending data to ${host} failed: ${inputError.message}`));
          else resolve({ code, signal, stdout, stderr });
        });

        if (options.stdin === undefined) channel.end();
        else if (typeof options.stdin === 'string') channel.end(options.stdin);
        else {
          let sent = 0;
          const counter = new Transform({
            transform(chunk: Buffer, _enc, cb: TransformCallback) {
              sent += chunk.length;
              options.onInputProgress?.(sent);
              cb(null, chunk);
            },
          });
          // The remote side may exit early (tar fails): the channel then closes and we report its error.
          pipeline(options.stdin, counter, channel).catch((e: unknown) => {
            inputError = e as Error;
            channel.close();
          });
        }
      });
    });
  }
}

/** Accepts "SHA256:abc…" with or without base64 padding, as users paste it. */
export function normalizeSshFingerprint(fp: string): string {
  const trimmed = fp.trim();
  const body = trimmed.replace(/^sha256:/i, '');
  return `SHA256:${body.replace(/=+$/, '')}`;
}

function keepTail(s: string): string {
  return s.length > OUTPUT_LIMIT ? s.slice(s.length - OUTPUT_LIMIT) : s;
}

/** The useful part of a failed command's output, for an error message. */
export function failureText(r: ExecResult): string {
  const text = (r.stderr.trim() || r.stdout.trim()).split('\n').filter(Boolean).slice(-5).join(' / ');
  const how = r.code === null ? `stopped${r.signal ? ` by ${r.signal}` : ''}` : `exit code ${r.code}`;
  return text ? `${text} (${how})` : how;
}

function openSocket(host: string, port: number, timeoutMs: number, signal: AbortSignal | undefined): Promise<net.Socket> {
  if (signal?.aborted) return Promise.reject(cancelledError());
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host, port });
    const done = (err?: Error): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      sock.off('error', onError);
      if (err) {
        sock.destroy();
        reject(err);
      } else resolve(sock);
    };
    const onAbort = (): void => done(cancelledError());
    const onError = (err: Error): void => done(new InstallerError('CONNECT_FAILED', `cannot reach ${host}:${port}: ${err.message}`));
    const timer = setTimeout(() => done(new InstallerError('CONNECT_FAILED', `cannot reach ${host}:${port}: no answer within ${Math.round(timeoutMs / 1000)} s`)), timeoutMs);
    signal?.addEventListener('abort', onAbort, { once: true });
    sock.once('error', onError);
    sock.once('connect', () => done());
  });
}
