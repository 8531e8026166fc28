import fs from 'node:fs/promises';
import type { Command } from 'commander';
import { NodeNameSchema, type EnrollmentToken, type InstallNode, type Node } from '../../common/api/index.js';
import type { ApiClient } from '../client/api-client.js';
import { formatFingerprint, withClient } from '../client/session.js';
import type { CliContext } from '../context.js';
import { CliError, UsageError, errorMessage } from '../errors.js';
import { formatBytes, formatTable, formatTimestamp } from '../format.js';
import { Output, formatFields } from '../output.js';
import { readSecret } from '../secrets.js';
import { followStartedTask, intParser } from './task.command.js';

const MiB = 1024 * 1024;
/** The API's limit for a private key (InstallNodeSchema). */
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

export function registerNodeCommands(program: Command, ctx: CliContext): void {
  const node = program.command('node').description('install and manage nodes, the machines that move the data');

  node
    .command('token')
    .description('enrollment tokens, for a node installed by hand')
    .command('create')
    .description('create a one-time enrollment token and print the command that enrolls a node with it')
    .option('--json', 'print JSON only')
    .action((options: { json?: boolean }) => createToken(ctx, options));

  node
    .command('install')
    .description('install a node on this computer or on a Linux host over SSH (runs as a task)')
    .option('--local', 'install on this computer')
    .option('--ssh <user@host[:port]>', 'install on HOST over SSH, signing in as USER (port 22 unless given)')
    .option('--password-stdin', 'the SSH password, from stdin (asked without echo on a terminal)')
    .option('--key <file>', 'sign in with this SSH private key file')
    .option('--passphrase-stdin', "the key's passphrase, from stdin (asked without echo on a terminal)")
    .option('--host-key-fingerprint <sha256>', "the host's SSH key fingerprint as `ssh-keygen -lf` prints it (SHA256:…); without it, it is shown and you are asked")
    .option('--server-address <addr>', 'address the node uses to reach this server (default: our side of the SSH connection)')
    .option('--name <name>', 'node name (default: the host name)')
    .option('--wait', 'follow the install, printing its log, until it ends')
    .action((options: NodeInstallOptions) => installNode(ctx, options));

  node
    .command('list')
    .description('list nodes')
    .option('--json', 'print JSON only (with capabilities)')
    .action((options: { json?: boolean }) => listNodes(ctx, options));

  node
    .command('show')
    .description('show a node: status, version, capabilities, staging space')
    .argument('<node>', 'node name or id')
    .option('--json', 'print JSON only')
    .action((ref: string, options: { json?: boolean }) => showNode(ctx, ref, options));

  node
    .command('restart')
    .description('restart the node service')
    .argument('<node>', 'node name or id')
    .action((ref: string) => restartNode(ctx, ref));

  node
    .command('upgrade')
    .description("upgrade the node to this server's version (runs as a task)")
    .argument('<node>', 'node name or id')
    .option('--wait', 'follow the upgrade until it ends')
    .action((ref: string, options: { wait?: boolean }) => upgradeNode(ctx, ref, options));

  node
    .command('remove')
    .description('uninstall the node service and forget the node (runs as a task)')
    .argument('<node>', 'node name or id')
    .option('--force', 'forget the node even if its host cannot be reached to uninstall it')
    .option('--wait', 'follow the removal until it ends')
    .action((ref: string, options: { force?: boolean; wait?: boolean }) => removeNode(ctx, ref, options));

  node
    .command('log')
    .description("print the last lines of the node service's log")
    .argument('<node>', 'node name or id')
    .option('--lines <n>', 'how many lines, 1 to 5000', intParser('--lines', 1, 5000), 200)
    .action((ref: string, options: { lines: number }) => nodeLog(ctx, ref, options));

  node
    .command('check')
    .description("check a node: free staging space and staging write speed (a NODE_CHECK task)")
    .argument('<node>', 'node name or id')
    .option('--sample-mib <n>', 'MiB to write when measuring the write speed, 1 to 4096 (default: 256)', intParser('--sample-mib', 1, 4096))
    .option('--wait', 'follow the check until it ends')
    .action((ref: string, options: { sampleMib?: number; wait?: boolean }) => checkNode(ctx, ref, options));
}

// ---- token ----------------------------------------------------------------

async function createToken(ctx: CliContext, options: { json?: boolean }): Promise<void> {
  const out = new Output(ctx);
  await withClient(ctx, async (client) => {
    const token = await client.createEnrollmentToken();
    const command = enrollCommand(client.server, token);
    if (options.json) {
      out.json({ ...token, fingerprint: prettyFingerprint(token.fingerprint), server: client.server, enrollCommand: command });
      return;
    }
    out.line(formatEnrollmentToken(token, client.server));
    if (isLoopback(client.server)) {
      out.note(`note: ${client.server} is this computer's loopback address; on another host use an address of this server it can reach.`);
    }
  });
}

/** The exact command line that enrolls a node with this token. */
export function enrollCommand(server: string, token: EnrollmentToken): string {
  return ['vplus', 'node-service', 'enroll', '--server', server, '--token', token.token, '--fingerprint', prettyFingerprint(token.fingerprint)]
    .map(shellWord)
    .join(' ');
}

export function formatEnrollmentToken(token: EnrollmentToken, server: string): string {
  return [
    formatFields([
      ['Token', token.token],
      ['Expires', `${formatTimestamp(token.expiresAt)} (single use)`],
      ['Fingerprint', prettyFingerprint(token.fingerprint)],
    ]),
    'Enroll a node with it by running on the node:',
    `  ${enrollCommand(server, token)}`,
  ].join('\n');
}

function prettyFingerprint(fp: string): string {
  try {
    return formatFingerprint(fp);
  } catch {
    return fp;
  }
}

/** Quotes a word for a POSIX shell only when it needs it. */
function shellWord(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

function isLoopback(server: string): boolean {
  const host = new URL(server).hostname.replace(/^\[(.*)\]$/, '$1');
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

// ---- install --------------------------------------------------------------

/**
 * USER@HOST[:PORT] → its parts. HOST may be a name, an IPv4 address, or an
 * IPv6 address in brackets when a port follows ([fe80::1]:2222).
 */
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

function validateNodeName(name: string): string {
  const result = NodeNameSchema.safeParse(name);
  if (result.success) return result.data;
  throw new UsageError(`invalid node name "${name}": ${result.error.issues[0]?.message ?? 'not accepted'}`);
}

async function installNode(ctx: CliContext, options: NodeInstallOptions): Promise<void> {
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

function hostWithPort(t: SshTarget): string {
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

async function listNodes(ctx: CliContext, options: { json?: boolean }): Promise<void> {
  const out = new Output(ctx);
  await withClient(ctx, async (client) => {
    const nodes = await client.listNodes();
    if (options.json) out.json(nodes);
    else out.line(formatNodes(nodes));
  });
}

async function showNode(ctx: CliContext, ref: string, options: { json?: boolean }): Promise<void> {
  const out = new Output(ctx);
  await withClient(ctx, async (client) => {
    const node = await client.getNode(ref);
    if (options.json) out.json(node);
    else out.line(formatNode(node));
  });
}

async function restartNode(ctx: CliContext, ref: string): Promise<void> {
  const out = new Output(ctx);
  await withClient(ctx, async (client) => {
    await client.restartNode(ref);
    out.line(`Restarted node ${ref}.`);
  });
}

async function upgradeNode(ctx: CliContext, ref: string, options: { wait?: boolean }): Promise<void> {
  const out = new Output(ctx);
  await withClient(ctx, async (client) => {
    const task = await client.upgradeNode(ref);
    out.line(`Upgrading node ${subjectName(task.subject, ref)}: task ${task.id}.`);
    await followStartedTask(ctx, client, task.id, options);
  });
}

async function removeNode(ctx: CliContext, ref: string, options: { force?: boolean; wait?: boolean }): Promise<void> {
  const out = new Output(ctx);
  await withClient(ctx, async (client) => {
    const task = await client.removeNode(ref, options.force ?? false);
    out.line(`Removing node ${subjectName(task.subject, ref)}: task ${task.id}.`);
    await followStartedTask(ctx, client, task.id, options);
  });
}

async function nodeLog(ctx: CliContext, ref: string, options: { lines: number }): Promise<void> {
  const out = new Output(ctx);
  await withClient(ctx, async (client) => {
    for (const line of await client.nodeLog(ref, options.lines)) out.line(line);
  });
}

async function checkNode(ctx: CliContext, ref: string, options: { sampleMib?: number; wait?: boolean }): Promise<void> {
  const out = new Output(ctx);
  await withClient(ctx, async (client) => {
    const task = await client.createNodeCheck({ node: ref, ...(options.sampleMib ? { sampleBytes: options.sampleMib * MiB } : {}) });
    out.line(`Checking node ${subjectName(task.subject, ref)}: task ${task.id}.`);
    await followStartedTask(ctx, client, task.id, options);
  });
}

/** "node:office-1" → "office-1"; the name the user gave otherwise. */
function subjectName(subject: string | null, fallback: string): string {
  return subject?.startsWith('node:') ? subject.slice('node:'.length) : fallback;
}

export function formatNodes(nodes: readonly Node[]): string {
  if (nodes.length === 0) return 'No nodes. Install one with vplus node install --local, or --ssh USER@HOST.';
  return formatTable(
    ['ID', 'NAME', 'HOST', 'STATUS', 'VERSION', 'TASKS', 'LAST SEEN'],
    nodes.map((n) => [String(n.id), n.name, n.host, n.status, n.version ?? '-', String(n.runningTasks), formatTimestamp(n.lastSeenAt)]),
  );
}

const INSTALL_METHODS: Record<Node['installMethod'], string> = {
  'local-systemd': 'this computer, systemd service',
  'local-supervised': 'this computer, supervised by the server',
  'ssh-systemd': 'over SSH, systemd service',
  'ssh-supervised': 'over SSH, supervised process',
  manual: 'by hand (enrollment token)',
};

export function formatNode(node: Node): string {
  const fields: [string, string][] = [
    ['ID', String(node.id)],
    ['Name', node.name],
    ['Host', node.host],
    ['Status', node.statusMessage ? `${node.status} (${node.statusMessage})` : node.status],
    ['Version', node.version ?? '-'],
    ['Installed', INSTALL_METHODS[node.installMethod] ?? node.installMethod],
  ];
  if (node.ssh) {
    fields.push(['SSH', `${node.ssh.user}@${hostWithPort(node.ssh)} (${node.ssh.auth}), host key ${node.ssh.hostKeyFingerprint}`]);
  }
  fields.push(['Running tasks', String(node.runningTasks)], ['Last seen', formatTimestamp(node.lastSeenAt)], ['Created', formatTimestamp(node.createdAt)]);
  const c = node.capabilities;
  if (c) {
    const tool = (t: { available: boolean; version: string | null }): string => (t.available ? (t.version ?? 'yes') : 'not installed');
    fields.push(
      ['OS', `${c.os} (${c.arch}, kernel ${c.kernel})`],
      ['Host name', c.hostname],
      ['Staging', `${c.staging.path}: ${formatBytes(c.staging.freeBytes)} free of ${formatBytes(c.staging.totalBytes)}`],
      ['libvirt', tool(c.libvirt)],
      ['qemu-img', tool(c.qemuImg)],
      ['Task types', c.taskTypes.length > 0 ? c.taskTypes.join(', ') : '-'],
      ['Max tasks', String(c.maxConcurrentTasks)],
      ['Node.js', c.nodeVersion],
    );
  }
  return formatFields(fields);
}
