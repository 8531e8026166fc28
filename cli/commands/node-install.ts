import fs from 'node:fs/promises';
import { NodeNameSchema, type InstallNode } from '../../common/api/index.js';
import type { ApiClient } from '../client/api-client.js';
import { withClient } from '../client/session.js';
import type { CliContext } from '../context.js';
import { CliError, UsageError, errorMessage } from '../errors.js';
import { Output } from '../output.js';
import { readSecret } from '../secrets.js';
import { followStartedTask } from './task.command.js';


/** `vplus node install`: planning (local or SSH target, key and host key checks) and running an install. */
const MAX_KEY_CHARS = 16_384;

export interface NodeInstallOptions {
  local?: boolean;
  ssh?: string;
  passwordStdin?: boolean;
  key?: string;
  passphraseStdin?: boolean;
  hostKeyFingerprint?: string;
  serverAddress?: string;
  name?: string;
  wait?: boolean;
}

export interface SshTarget {
  user: string;
  host: string;
  port: number;
}

/** An install as the flags describe it, checked before anything is read or sent. */
export type InstallPlan =
  | { method: 'local'; name?: string }
  | {
      method: 'ssh';
      name?: string;
      target: SshTarget;
      auth: { kind: 'password' } | { kind: 'key'; file: string; passphrase: boolean };
      hostKeyFingerprint?: string;
      serverAddress?: string;
    };


export function parseSshTarget(input: string): SshTarget {
  const wrong = (why = ''): UsageError =>
    new UsageError(`--ssh "${input}" is not USER@HOST[:PORT]${why}; e.g. root@10.0.0.7 or admin@backup-host:2222`);
  const at = input.lastIndexOf('@');
  if (at <= 0 || at === input.length - 1) throw wrong();
  const user = input.slice(0, at);
  const rest = input.slice(at + 1);
  if (/[\s:/]/.test(user) || user.length > 64) throw wrong(' (the user name is not valid)');

  let host: string;
  let portText: string | undefined;
  const bracketed = /^\[([0-9A-Fa-f:.%\w]+)\](?::(.*))?$/.exec(rest);
  if (bracketed) {
    host = bracketed[1]!;
    portText = bracketed[2];
  } else if ((rest.match(/:/g) ?? []).length > 1) {
    host = rest; // a bare IPv6 address: no port can follow it
  } else {
    const colon = rest.indexOf(':');
    host = colon < 0 ? rest : rest.slice(0, colon);
    portText = colon < 0 ? undefined : rest.slice(colon + 1);
  }
  if (host === '' || /[\s/@[\]]/.test(host) || host.length > 255) throw wrong(' (the host is not valid)');
  let port = 22;
  if (portText !== undefined) {
    if (!/^\d+$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) {
      throw wrong(' (the port must be a number from 1 to 65535)');
    }
    port = Number(portText);
  }
  return { user, host, port };
}

/** "SHA256:…" as ssh-keygen -lf prints it; the prefix in any case, the padding optional. */
export function parseHostKeyFingerprint(input: string): string {
  // Only the prefix is matched without case: the base64 itself is case-sensitive.
  const m = /^(?:[Ss][Hh][Aa]256:)?([A-Za-z0-9+/]{43})=?$/.exec(input.trim());
  if (!m) {
    throw new UsageError(
      `--host-key-fingerprint "${input}" is not an SSH host key fingerprint; give it as SHA256:… the way ssh-keygen -lf prints it`,
    );
  }
  return `SHA256:${m[1]}`;
}

/** Checks the flags of `node install` against each other (exit 2), before any network or file access. */
export function planInstall(o: NodeInstallOptions): InstallPlan {
  const name = o.name === undefined ? undefined : validateNodeName(o.name);
  if (o.local && o.ssh !== undefined) throw new UsageError('--local and --ssh exclude each other; give one of them');
  if (!o.local && o.ssh === undefined) {
    throw new UsageError('say where to install: --local for this computer, or --ssh USER@HOST for a Linux host over SSH');
  }
  if (o.local) {
    const sshOnly: [keyof NodeInstallOptions, string][] = [
      ['passwordStdin', '--password-stdin'],
      ['key', '--key'],
      ['passphraseStdin', '--passphrase-stdin'],
      ['hostKeyFingerprint', '--host-key-fingerprint'],
      ['serverAddress', '--server-address'],
    ];
    for (const [option, flag] of sshOnly) {
      if (o[option] !== undefined) throw new UsageError(`${flag} applies to --ssh only`);
    }
    return { method: 'local', ...(name ? { name } : {}) };
  }

  const target = parseSshTarget(o.ssh!);
  if (o.passwordStdin && o.key !== undefined) throw new UsageError('--password-stdin and --key exclude each other; sign in with one of them');
  if (!o.passwordStdin && o.key === undefined) {
    throw new UsageError(`say how to sign in to ${target.host}: --password-stdin, or --key FILE with a private key`);
  }
  if (o.passphraseStdin && o.key === undefined) throw new UsageError('--passphrase-stdin goes with --key FILE');
  if (o.serverAddress !== undefined && (o.serverAddress.trim() === '' || o.serverAddress.length > 255)) {
    throw new UsageError('--server-address must be a host name or address, at most 255 characters');
  }
  return {
    method: 'ssh',
    ...(name ? { name } : {}),
    target,
    auth: o.key !== undefined ? { kind: 'key', file: o.key, passphrase: o.passphraseStdin === true } : { kind: 'password' },
    ...(o.hostKeyFingerprint !== undefined ? { hostKeyFingerprint: parseHostKeyFingerprint(o.hostKeyFingerprint) } : {}),
    ...(o.serverAddress !== undefined ? { serverAddress: o.serverAddress.trim() } : {}),
  };
}

export function validateNodeName(name: string): string {
  const result = NodeNameSchema.safeParse(name);
  if (result.success) return result.data;
  throw new UsageError(`invalid node name "${name}": ${result.error.issues[0]?.message ?? 'not accepted'}`);
}

export async function installNode(ctx: CliContext, options: NodeInstallOptions): Promise<void> {
  const out = new Output(ctx);
  const plan = planInstall(options);
  // A key that cannot work is a usage error, found before the network.
  const key = plan.method === 'ssh' && plan.auth.kind === 'key' ? await readPrivateKey(plan.auth.file, plan.auth.passphrase) : undefined;

  await withClient(ctx, async (client) => {
    let request: InstallNode;
    if (plan.method === 'local') {
      request = { method: 'local', ...(plan.name ? { name: plan.name } : {}) };
    } else {
      const { target } = plan;
      const hostKeyFingerprint = plan.hostKeyFingerprint ?? (await confirmHostKey(ctx, client, target));
      const where = `${target.user}@${hostWithPort(target)}`;
      let secret: { password: string } | { privateKey: string; passphrase?: string };
      if (plan.auth.kind === 'password') {
        secret = { password: await readSecret(ctx, { prompt: `SSH password for ${where}: ` }) };
      } else {
        const file = plan.auth.file;
        const passphrase = plan.auth.passphrase
          ? await readSecret(ctx, { prompt: `Passphrase for ${file}: `, what: 'passphrase' })
          : undefined;
        if (passphrase !== undefined) await checkPassphrase(file, key!, passphrase);
        secret = { privateKey: key!, ...(passphrase !== undefined ? { passphrase } : {}) };
      }
      request = {
        method: 'ssh',
        ...(plan.name ? { name: plan.name } : {}),
        host: target.host,
        port: target.port,
        user: target.user,
        ...secret,
        hostKeyFingerprint,
        ...(plan.serverAddress ? { serverAddress: plan.serverAddress } : {}),
      };
    }

    const started = await client.installNode(request);
    const where = plan.method === 'local' ? 'this computer' : hostWithPort(plan.target);
    out.line(`Installing node "${started.node.name}" on ${where}: task ${started.taskId}.`);
    const ended = await followStartedTask(ctx, client, started.taskId, options);
    if (ended) {
      const node = await client.getNode(String(started.node.id));
      out.line(`Node "${node.name}" is ${node.status}${node.version ? `, version ${node.version}` : ''}.`);
    }
  });
}

export function hostWithPort(t: SshTarget): string {
  const host = t.host.includes(':') ? `[${t.host}]` : t.host;
  return t.port === 22 ? host : `${host}:${t.port}`;
}

/**
 * Without --host-key-fingerprint: the server reads the host key (nothing is
 * sent to the host but the handshake) and the user compares it, on the
 * terminal (stdin, or /dev/tty when the password is piped in), as ssh does.
 * With no terminal nobody can compare it: usage error.
 */
async function confirmHostKey(ctx: CliContext, client: ApiClient, target: SshTarget): Promise<string> {
  const where = hostWithPort(target);
  const probe = await client.probeSshHostKey(target.host, target.port);
  const type = sshKeyTypeLabel(probe.keyType);
  const shown = `The host key of ${where} is ${probe.hostKeyFingerprint} (${type}); compare it with \`ssh-keygen -lf ${hostKeyFile(type)}\` on the host`;
  const terminal = ctx.openTerminal();
  if (!terminal) {
    ctx.stderr.write(`${shown}\n`);
    throw new UsageError(
      `cannot ask whether to trust the host key of ${where} without a terminal; if it is right, pass --host-key-fingerprint ${probe.hostKeyFingerprint}`,
    );
  }
  try {
    terminal.say(shown);
    const answer = await terminal.question('Trust this host key? [y/N] ');
    if (!/^y(es)?$/i.test(answer.trim())) {
      throw new CliError(`the host key of ${where} was not trusted; nothing was installed`);
    }
  } finally {
    terminal.close();
  }
  return probe.hostKeyFingerprint;
}

/** "ssh-ed25519" → "ED25519", as ssh-keygen -l names key types. */
export function sshKeyTypeLabel(keyType: string): string {
  const known: Record<string, string> = {
    'ssh-ed25519': 'ED25519',
    'ssh-rsa': 'RSA',
    'rsa-sha2-256': 'RSA',
    'rsa-sha2-512': 'RSA',
    'ssh-dss': 'DSA',
    'sk-ssh-ed25519@openssh.com': 'ED25519-SK',
    'sk-ecdsa-sha2-nistp256@openssh.com': 'ECDSA-SK',
  };
  if (known[keyType]) return known[keyType];
  if (keyType.startsWith('ecdsa-sha2-')) return 'ECDSA';
  return keyType.toUpperCase();
}

function hostKeyFile(typeLabel: string): string {
  const files: Record<string, string> = { ED25519: 'ed25519', RSA: 'rsa', ECDSA: 'ecdsa', DSA: 'dsa' };
  return `/etc/ssh/ssh_host_${files[typeLabel] ?? '*'}_key.pub`;
}

/**
 * Reads and checks the private key file: it must be a private key ssh2 can
 * use (not the .pub), and an encrypted one needs --passphrase-stdin.
 */
async function readPrivateKey(file: string, withPassphrase: boolean): Promise<string> {
  let text: string;
  try {
    const stat = await fs.stat(file);
    if (!stat.isFile()) throw new UsageError(`--key ${file} is not a file`);
    if (stat.size > MAX_KEY_CHARS) throw new UsageError(`--key ${file} is larger than ${MAX_KEY_CHARS / 1024} KiB; is it a private key?`);
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`cannot read the key file ${file}: ${describeFsError(err)}`);
  }
  const { default: ssh2 } = await import('ssh2');
  const parsed = ssh2.utils.parseKey(text);
  if (parsed instanceof Error) {
    if (/no passphrase given/i.test(parsed.message)) {
      if (withPassphrase) return text;
      throw new UsageError(`the key ${file} is encrypted; give its passphrase with --passphrase-stdin`);
    }
    throw new UsageError(`${file} is not a private key SSH can use (${parsed.message})`);
  }
  if (!parsed.isPrivateKey()) {
    const hint = file.endsWith('.pub') ? `; give the private key, ${file.replace(/\.pub$/, '')}` : '';
    throw new UsageError(`${file} is a public key${hint}`);
  }
  return text;
}

async function checkPassphrase(file: string, key: string, passphrase: string): Promise<void> {
  const { default: ssh2 } = await import('ssh2');
  const parsed = ssh2.utils.parseKey(key, passphrase);
  if (parsed instanceof Error) throw new CliError(`the passphrase does not unlock the key ${file}`);
}

function describeFsError(err: unknown): string {
  switch ((err as NodeJS.ErrnoException).code) {
    case 'ENOENT':
      return 'no such file';
    case 'EACCES':
      return 'permission denied';
    case 'EISDIR':
      return 'it is a directory';
    default:
      return errorMessage(err);
  }
}

// ---- list, show, manage -----------------------------------------------------

