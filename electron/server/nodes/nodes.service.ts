import os from 'node:os';
import type { Logger } from 'pino';
import type { InstallNode, Node } from '../../../common/api/nodes.js';
import type { Task } from '../../../common/api/tasks.js';
import type { AuditService } from '../auth/audit.service.js';
import type { Principal } from '../auth/auth.service.js';
import { AppError, conflict, notFound } from '../errors.js';
import type { EventBus } from '../events/event-bus.js';
import type { SecretsRepository } from '../security/secrets.repository.js';
import type { TaskEngine } from '../tasks/task-engine.service.js';
import type { TasksRepository } from '../tasks/tasks.repository.js';
import type { ServerTaskContext, ServerTaskHandler } from '../tasks/task-types.js';
import type { EnrollmentService } from './enrollment.service.js';
import type { InstallTarget, NodeInstaller } from './installer/installer.js';
import type { NodeSessions } from './node-sessions.js';
import { toNode, type NodeRow, type NodesRepository } from './nodes.repository.js';

export interface NodeInstallers {
  local: NodeInstaller;
  ssh: NodeInstaller;
}

export interface NodesServiceOptions {
  fingerprint: string;
  /** The port this server listens on (known once it listens). */
  port: () => number;
  /** How long a freshly installed or upgraded node may take to connect. */
  onlineTimeoutMs: number;
}

const sshSecretName = (nodeId: number): string => `node-ssh:${nodeId}`;

/** Node lifecycle: list, install (local or SSH), upgrade, restart, remove, show log. */
export class NodesService {
  constructor(
    private readonly nodes: NodesRepository,
    private readonly tasks: TasksRepository,
    private readonly sessions: NodeSessions,
    private readonly enrollment: EnrollmentService,
    private readonly secrets: SecretsRepository,
    private readonly installers: NodeInstallers,
    private readonly audit: AuditService,
    private readonly bus: EventBus,
    private readonly logger: Logger,
    private readonly options: NodesServiceOptions,
  ) {}

  private engine!: TaskEngine;

  bindEngine(engine: TaskEngine): void {
    this.engine = engine;
  }

  /** Handlers for the task types the server runs itself. */
  serverTaskHandlers(): Map<string, ServerTaskHandler> {
    return new Map<string, ServerTaskHandler>([
      ['NODE_INSTALL', (ctx) => this.runInstall(ctx)],
      ['NODE_UPGRADE', (ctx) => this.runUpgrade(ctx)],
      ['NODE_REMOVE', (ctx) => this.runRemove(ctx)],
    ]);
  }

  async list(): Promise<Node[]> {
    const counts = await this.tasks.runningCounts();
    return (await this.nodes.list()).map((r) => toNode(r, counts.get(r.id) ?? 0));
  }

  async get(ref: string): Promise<Node> {
    const row = await this.require(ref);
    return toNode(row, (await this.tasks.runningCounts()).get(row.id) ?? 0);
  }

  async install(req: InstallNode, by: Principal, ip?: string): Promise<{ node: Node; taskId: number }> {
    const name = req.name ?? (req.method === 'local' ? os.hostname() : req.host);
    if (await this.nodes.byName(name)) throw conflict(`a node named "${name}" already exists; choose another name`, 'name');
    if (req.method === 'local') {
      const existing = (await this.nodes.list()).find((n) => n.install_method.startsWith('local-'));
      if (existing) throw conflict(`this computer already has a node ("${existing.name}")`);
    }
    if (req.method === 'ssh' && !req.password && !req.privateKey) throw new AppError(400, 'VALIDATION_FAILED', 'give a password or a private key for SSH', 'password');
    const nodeId = await this.nodes.insert({
      name,
      host: req.method === 'local' ? os.hostname() : req.host,
      status: 'installing',
      installMethod: req.method === 'local' ? 'local-supervised' : 'ssh-supervised',
      ...(req.method === 'ssh'
        ? { ssh: { host: req.host, port: req.port, user: req.user, hostKeyFingerprint: req.hostKeyFingerprint, auth: req.privateKey ? ('key' as const) : ('password' as const), serverAddress: req.serverAddress ?? null } }
        : {}),
    });
    if (req.method === 'ssh') {
      const secret = req.privateKey ? { privateKey: req.privateKey, ...(req.passphrase ? { passphrase: req.passphrase } : {}) } : { password: req.password! };
      await this.secrets.put(sshSecretName(nodeId), JSON.stringify(secret));
    }
    const task = await this.engine.create({ type: 'NODE_INSTALL', params: { nodeId }, priority: 90, subject: `node:${name}`, createdBy: by.user.username });
    await this.audit.record({ actor: by.user.username, action: 'node.install', target: `node:${name}`, details: { method: req.method, ...(req.method === 'ssh' ? { host: req.host, user: req.user } : {}) }, ip: ip ?? null });
    await this.publish(nodeId);
    return { node: await this.get(String(nodeId)), taskId: task.id };
  }

  async upgrade(ref: string, by: Principal): Promise<Task> {
    const row = await this.requireManaged(ref);
    await this.audit.record({ actor: by.user.username, action: 'node.upgrade', target: `node:${row.name}` });
    return this.engine.create({ type: 'NODE_UPGRADE', params: { nodeId: row.id }, priority: 90, subject: `node:${row.name}`, createdBy: by.user.username });
  }

  /** `force` forgets the node even when its host cannot be reached to uninstall it. */
  async remove(ref: string, by: Principal, force = false): Promise<Task> {
    const row = await this.require(ref);
    if ((await this.tasks.runningCounts()).get(row.id)) throw conflict(`node "${row.name}" is running tasks; cancel them or wait until they end`);
    const destinations = await this.nodes.destinationNames(row.id);
    if (destinations.length) throw conflict(`node "${row.name}" holds destinations (${destinations.join(', ')}); remove them first`);
    const tenants = await this.nodes.m365TenantNames(row.id);
    if (tenants.length) throw conflict(`node "${row.name}" reaches Microsoft 365 tenants (${tenants.join(', ')}); give them another node or remove them first`);
    await this.audit.record({ actor: by.user.username, action: 'node.remove', target: `node:${row.name}`, details: { force } });
    return this.engine.create({ type: 'NODE_REMOVE', params: { nodeId: row.id, force }, priority: 90, subject: `node:${row.name}`, createdBy: by.user.username });
  }

  async restart(ref: string, by: Principal): Promise<void> {
    const row = await this.requireManaged(ref);
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(new Error('restarting the node took longer than 60s')), 60_000);
    try {
      await this.installerFor(row).restart(await this.targetFor(row), { log: () => undefined, progress: () => undefined, signal: ac.signal });
    } finally {
      clearTimeout(timer);
    }
    await this.audit.record({ actor: by.user.username, action: 'node.restart', target: `node:${row.name}` });
  }

  async showLog(ref: string, lines: number): Promise<string[]> {
    const row = await this.requireManaged(ref);
    return this.installerFor(row).showLog(await this.targetFor(row), lines);
  }

  // ---- server tasks --------------------------------------------------------

  private async runInstall(ctx: ServerTaskContext): Promise<{ result: Record<string, unknown> }> {
    const row = await this.taskNode(ctx);
    try {
      const { token } = await this.enrollment.createToken(`task:${ctx.taskId}`, row.id);
      ctx.log('info', `installing node "${row.name}" ${row.install_method.startsWith('ssh') ? `on ${row.ssh_user}@${row.ssh_host}:${row.ssh_port}` : 'on this computer'}`);
      const outcome = await this.installerFor(row).install(await this.targetFor(row), { token, fingerprint: this.options.fingerprint, port: this.options.port() }, ctx);
      await this.nodes.setInstalled(row.id, { host: outcome.host, installMethod: outcome.method });
      ctx.log('info', 'the node service is started; waiting for it to connect');
      await this.waitOnline(row.id, ctx.signal);
      ctx.log('info', `node "${row.name}" is online`);
      return { result: { nodeId: row.id, host: outcome.host, method: outcome.method } };
    } catch (err) {
      this.logger.warn({ err, node: row.name }, 'node installation failed');
      await this.nodes.setStatus(row.id, 'error', `installation failed: ${(err as Error).message}`);
      await this.publish(row.id);
      throw err;
    }
  }

  private async runUpgrade(ctx: ServerTaskContext): Promise<void> {
    const row = await this.taskNode(ctx);
    await this.installerFor(row).upgrade(await this.targetFor(row), ctx);
    ctx.log('info', 'upgraded; waiting for the node to reconnect');
    await this.waitOnline(row.id, ctx.signal);
  }

  private async runRemove(ctx: ServerTaskContext): Promise<void> {
    const row = await this.taskNode(ctx);
    if (row.install_method !== 'manual') {
      ctx.log('info', `uninstalling the node service from ${row.host}`);
      try {
        await this.installerFor(row).uninstall(await this.targetFor(row), ctx);
      } catch (err) {
        if (ctx.params.force !== true) throw new Error(`${(err as Error).message}; to forget the node anyway, remove it with force`);
        ctx.log('warn', `could not uninstall (${(err as Error).message}); forgetting the node anyway, its files may remain on ${row.host}`);
      }
    } else {
      ctx.log('warn', 'this node was enrolled by hand; its files stay on its host');
    }
    this.sessions.disconnect(row.id, 'node removed');
    await this.secrets.delete(sshSecretName(row.id));
    await this.nodes.delete(row.id);
    this.bus.publish({ type: 'node.removed', nodeId: row.id });
    ctx.log('info', `node "${row.name}" removed`);
  }

  // ---- helpers ----------------------------------------------------------------

  private async waitOnline(nodeId: number, signal: AbortSignal): Promise<void> {
    const deadline = Date.now() + this.options.onlineTimeoutMs;
    while (!this.sessions.get(nodeId)) {
      if (signal.aborted) throw signal.reason as Error;
      if (Date.now() > deadline) {
        throw new Error(`the node was installed but did not connect within ${Math.round(this.options.onlineTimeoutMs / 1000)}s; check that it can reach this server and look at its log`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  private async taskNode(ctx: ServerTaskContext): Promise<NodeRow> {
    const row = await this.nodes.byId(Number(ctx.params.nodeId));
    if (!row) throw new Error('the node of this task no longer exists');
    return row;
  }

  private installerFor(row: NodeRow): NodeInstaller {
    return row.install_method.startsWith('ssh') ? this.installers.ssh : this.installers.local;
  }

  private async targetFor(row: NodeRow): Promise<InstallTarget> {
    if (!row.install_method.startsWith('ssh')) return { kind: 'local', name: row.name };
    const raw = await this.secrets.get(sshSecretName(row.id));
    if (!raw || !row.ssh_host || !row.ssh_user || !row.ssh_host_key_fingerprint) throw new Error(`the SSH details of node "${row.name}" are missing; remove and reinstall it`);
    return {
      kind: 'ssh',
      name: row.name,
      host: row.ssh_host,
      port: row.ssh_port ?? 22,
      user: row.ssh_user,
      hostKeyFingerprint: row.ssh_host_key_fingerprint,
      auth: JSON.parse(raw) as { password: string } | { privateKey: string; passphrase?: string },
      ...(row.server_address ? { serverAddress: row.server_address } : {}),
    };
  }

  private async require(ref: string): Promise<NodeRow> {
    const row = await this.nodes.byRef(ref);
    if (!row) throw notFound(`there is no node "${ref}"`);
    return row;
  }

  private async requireManaged(ref: string): Promise<NodeRow> {
    const row = await this.require(ref);
    if (row.install_method === 'manual') throw conflict(`node "${row.name}" was enrolled by hand; manage it on its host`);
    return row;
  }

  private async publish(nodeId: number): Promise<void> {
    const row = await this.nodes.byId(nodeId);
    if (row) this.bus.publish({ type: 'node', node: toNode(row, (await this.tasks.runningCounts()).get(nodeId) ?? 0) });
  }
}
