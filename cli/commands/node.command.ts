import type { Command } from 'commander';
import { type EnrollmentToken, type Node } from '../../common/api/index.js';
import { formatFingerprint, withClient } from '../client/session.js';
import type { CliContext } from '../context.js';
import { formatBytes, formatTable, formatTimestamp } from '../format.js';
import { Output, formatFields } from '../output.js';
import { followStartedTask, intParser } from './task.command.js';

import { hostWithPort, installNode, type NodeInstallOptions } from './node-install.js';
export { parseHostKeyFingerprint, parseSshTarget, planInstall, sshKeyTypeLabel, type InstallPlan, type NodeInstallOptions, type SshTarget } from './node-install.js';
const MiB = 1024 * 1024;
/** The API's limit for a private key (InstallNodeSchema). */

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
