import type { Logger } from 'pino';
import type { CreatedM365Tenant, CreateM365Tenant, M365ConnectionSettings, M365ConnectionTest, M365Site, M365Tenant, M365User, UpdateM365Tenant } from '../../../common/api/m365.js';
import { isFinalState, type Task } from '../../../common/api/tasks.js';
import type { M365TenantSettings } from '../../../common/m365-tasks.js';
import type { TaskResultOf } from '../../../common/task-contracts.js';
import type { AuditService } from '../auth/audit.service.js';
import type { Principal } from '../auth/auth.service.js';
import type { Catalog } from '../db/catalog.js';
import { badRequest, conflict, notFound } from '../errors.js';
import type { NodeSessions } from '../nodes/node-sessions.js';
import type { NodesRepository } from '../nodes/nodes.repository.js';
import type { SecretsRepository } from '../security/secrets.repository.js';
import type { TaskEngine } from '../tasks/task-engine.service.js';
import { checkCaPem, credentialOf, m365SecretName, missingOf, normalizeHosts, sealedValueOf, storedSettings, testOnNode } from './m365-connection.js';
import type { M365InventoryRepository, M365PolicyOf } from './m365-inventory.repository.js';
import { toM365Tenant, type M365TenantFields, type M365TenantRow, type M365TenantsRepository } from './m365-tenants.repository.js';

/** Users and sites change slowly; a sync now and then keeps the lists current between backups. */
const PERIODIC_SYNC_MS = 6 * 3600_000;

export interface M365ServiceDeps {
  catalog: Catalog;
  tenants: M365TenantsRepository;
  inventory: M365InventoryRepository;
  nodes: NodesRepository;
  sessions: NodeSessions;
  secrets: SecretsRepository;
  engine: TaskEngine;
  audit: AuditService;
  logger: Logger;
  /** The m365 policy of each user and site (policies/m365-policy-members.ts); without it none is named. */
  policyOf?: () => Promise<M365PolicyOf>;
}

/** The settings of a change that reach the tenant: changing one of them runs Test connection first. */
const CONNECTION_FIELDS = ['node', 'tenantId', 'clientId', 'credentialKind', 'clientSecret', 'certificatePem', 'privateKeyPem', 'authorityHost', 'graphUrl', 'caPem'] as const;

/** The tenant's columns for these settings (the credential itself is sealed apart). */
function columnsOf(settings: M365TenantSettings, nodeId: number): Omit<M365TenantFields, 'name'> {
  const c = settings.credential;
  return {
    tenantId: settings.tenantId,
    clientId: settings.clientId,
    credentialKind: c.kind,
    certificatePem: c.kind === 'certificate' ? c.certificatePem : null,
    authorityHost: settings.authorityHost,
    graphUrl: settings.graphUrl,
    caPem: settings.caPem,
    nodeId,
  };
}

/**
 * Microsoft 365 tenants and their inventory. Adding or changing how a tenant is reached
 * signs in first, on the tenant's node (a call: the credential goes into no task or log), and
 * is refused, with nothing saved, when signing in fails; a missing permission is saved and
 * shown as a warning. The credential is sealed in the secrets table and added to the tenant's
 * tasks only when they are sent to the node. M365_SYNC lists users and sites there; the
 * inventory keeps what vanished, marked removed.
 */
export class M365Service {
  private readonly timer: NodeJS.Timeout;
  /** The sync of each tenant that has not ended yet: asking again follows it instead of starting another. */
  private readonly syncing = new Map<number, number>();

  constructor(private readonly d: M365ServiceDeps) {
    d.engine.listeners.onDispatch('M365_SYNC', async (_task, params) => {
      const row = await d.tenants.byId(params.m365TenantId);
      return row ? { tenant: await storedSettings(row, d.secrets) } : {};
    });
    d.engine.listeners.on('M365_SYNC', (task, params, result) => this.applySync(task, params.m365TenantId, result));
    this.timer = setInterval(() => void this.syncAll().catch((err: unknown) => d.logger.warn({ err }, 'periodic Microsoft 365 sync failed')), PERIODIC_SYNC_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  async list(): Promise<M365Tenant[]> {
    return (await this.d.tenants.list()).map(toM365Tenant);
  }

  async get(ref: string): Promise<M365Tenant> {
    return toM365Tenant(await this.require(ref));
  }

  /** Test connection of settings not saved yet: the "Add tenant" form's button. */
  async testSettings(req: M365ConnectionSettings): Promise<M365ConnectionTest> {
    const node = await this.onlineNode(req.node);
    return testOnNode(this.d.sessions, node, this.settingsOf(req));
  }

  async add(req: CreateM365Tenant, by: Principal): Promise<CreatedM365Tenant> {
    const node = await this.onlineNode(req.node);
    if (await this.d.tenants.find(req.name)) throw conflict(`a tenant named "${req.name}" already exists`, 'name');
    const settings = this.settingsOf(req);
    // Signing in must work before anything is saved; a missing permission is saved, with its warning.
    const test = await testOnNode(this.d.sessions, node, settings);
    const fields: M365TenantFields = { name: req.name, ...columnsOf(settings, node.id) };
    const { id, entry } = await this.d.catalog.transaction(async (tx) => {
      const id = await this.d.tenants.insert(fields, tx);
      await this.d.secrets.put(m365SecretName(id), sealedValueOf(settings.credential), tx);
      await this.d.tenants.setTest(id, { ok: test.ok, message: test.message, missing: missingOf(test) }, tx);
      const details = { tenantId: fields.tenantId, clientId: fields.clientId, credentialKind: fields.credentialKind, node: node.name, authorityHost: fields.authorityHost, graphUrl: fields.graphUrl, caPem: fields.caPem !== null, missingPermissions: missingOf(test) };
      const entry = await this.d.audit.record({ actor: by.user.username, action: 'm365_tenant.create', target: `m365-tenant:${fields.name}`, details }, tx);
      return { id, entry };
    });
    this.d.audit.announce(entry);
    const row = (await this.d.tenants.byId(id))!;
    const task = await this.syncTask(row, by.user.username);
    return { tenant: toM365Tenant(row), test, syncTaskId: task.id };
  }

  /** A change; one that touches how the tenant is reached is tested first and refused, unsaved, when signing in fails. */
  async update(ref: string, change: UpdateM365Tenant, by: Principal): Promise<M365Tenant> {
    const row = await this.require(ref);
    if (change.name !== undefined) {
      const other = await this.d.tenants.find(change.name);
      if (other && other.id !== row.id) throw conflict(`a tenant named "${change.name}" already exists`, 'name');
    }
    const node = change.node !== undefined ? await this.onlineNode(change.node) : { id: row.node_id, name: row.node_name };
    const reaching = CONNECTION_FIELDS.filter((f) => change[f] !== undefined);
    let fields: Partial<M365TenantFields> = { ...(change.name !== undefined ? { name: change.name } : {}) };
    let sealed: string | undefined;
    let test: M365ConnectionTest | undefined;
    if (reaching.length > 0) {
      const current = await storedSettings(row, this.d.secrets);
      const settings = this.changedSettings(current, change);
      if (!this.d.sessions.get(node.id)) throw conflict(`node "${node.name}" is offline; the changed settings are tested there before they are saved`, 'node');
      test = await testOnNode(this.d.sessions, node, settings);
      sealed = settings.credential === current.credential ? undefined : sealedValueOf(settings.credential);
      fields = { ...fields, ...columnsOf(settings, node.id) };
    }
    const entry = await this.d.catalog.transaction(async (tx) => {
      await this.d.tenants.update(row.id, fields, tx);
      if (sealed !== undefined) await this.d.secrets.put(m365SecretName(row.id), sealed, tx);
      if (test) await this.d.tenants.setTest(row.id, { ok: test.ok, message: test.message, missing: missingOf(test) }, tx);
      const changed = Object.keys(change).filter((k) => change[k as keyof UpdateM365Tenant] !== undefined);
      return this.d.audit.record({ actor: by.user.username, action: 'm365_tenant.update', target: `m365-tenant:${row.name}`, details: { changed, ...(test ? { missingPermissions: missingOf(test) } : {}) } }, tx);
    });
    this.d.audit.announce(entry);
    return toM365Tenant((await this.d.tenants.byId(row.id))!);
  }

  async remove(ref: string, by: Principal): Promise<void> {
    const row = await this.require(ref);
    const entry = await this.d.catalog.transaction(async (tx) => {
      await this.d.tenants.delete(row.id, tx);
      await this.d.secrets.delete(m365SecretName(row.id), tx);
      return this.d.audit.record({ actor: by.user.username, action: 'm365_tenant.remove', target: `m365-tenant:${row.name}`, details: { tenantId: row.tenant_id, users: Number(row.user_count), sites: Number(row.site_count) } }, tx);
    });
    this.d.audit.announce(entry);
    this.syncing.delete(row.id);
  }

  /** Test connection of a saved tenant; the outcome is kept on the tenant (its warning). */
  async test(ref: string): Promise<M365ConnectionTest> {
    const row = await this.require(ref);
    const test = await testOnNode(this.d.sessions, { id: row.node_id, name: row.node_name }, await storedSettings(row, this.d.secrets));
    await this.d.tenants.setTest(row.id, { ok: test.ok, message: test.message, missing: missingOf(test) });
    return test;
  }

  async sync(ref: string, actor: string): Promise<Task> {
    return this.syncTask(await this.require(ref), actor);
  }

  async users(tenant?: string): Promise<M365User[]> {
    const tenantId = tenant === undefined ? undefined : (await this.require(tenant)).id;
    return this.d.inventory.users(tenantId, await this.d.policyOf?.());
  }

  async sites(tenant?: string): Promise<M365Site[]> {
    const tenantId = tenant === undefined ? undefined : (await this.require(tenant)).id;
    return this.d.inventory.sites(tenantId, await this.d.policyOf?.());
  }

  private async syncTask(row: M365TenantRow, by: string): Promise<Task> {
    const running = this.syncing.get(row.id);
    if (running !== undefined) {
      const task = await this.d.engine.get(running).catch(() => undefined);
      if (task && !isFinalState(task.state)) return task;
    }
    const task = await this.d.engine.create({ type: 'M365_SYNC', params: { m365TenantId: row.id }, requiredNodeId: row.node_id, subject: `m365-tenant:${row.name}`, priority: 70, createdBy: by });
    this.syncing.set(row.id, task.id);
    return task;
  }

  private async syncAll(): Promise<void> {
    for (const row of await this.d.tenants.list()) {
      if (this.d.sessions.get(row.node_id)) await this.syncTask(row, 'scheduler');
    }
  }

  /** What a sync found goes into the inventory, part by part: a part it could not list stays as it was. */
  private async applySync(task: Task, id: number, result: TaskResultOf<'M365_SYNC'> | null): Promise<void> {
    if (this.syncing.get(id) === task.id) this.syncing.delete(id);
    if (!(await this.d.tenants.byId(id))) return;
    if (task.state === 'FAILED' || task.state === 'CANCELLED' || !result) {
      await this.d.tenants.setSync(id, 'failed', task.error ?? 'the sync was cancelled');
      return;
    }
    await this.d.catalog.transaction(async (tx) => {
      if (result.users) await this.d.inventory.applyUsers(id, result.users, tx);
      if (result.sites) await this.d.inventory.applySites(id, result.sites, tx);
    });
    const warnings = task.warnings.join('; ');
    await this.d.tenants.setSync(id, warnings ? 'warning' : 'ok', warnings || null);
  }

  private settingsOf(req: M365ConnectionSettings): M365TenantSettings {
    const v = normalizeHosts({ authorityHost: req.authorityHost ?? '', graphUrl: req.graphUrl ?? '', caPem: req.caPem });
    checkCaPem(v.caPem);
    const credential = credentialOf({ ...req, credentialKind: req.credentialKind ?? 'secret' });
    return { tenantId: req.tenantId.trim(), clientId: req.clientId.trim(), credential, authorityHost: v.authorityHost, graphUrl: v.graphUrl, caPem: v.caPem };
  }

  /** The stored settings with the change applied; the stored credential stays unless a new one is given. */
  private changedSettings(current: M365TenantSettings, change: UpdateM365Tenant): M365TenantSettings {
    const hosts = normalizeHosts({
      authorityHost: change.authorityHost ?? current.authorityHost,
      graphUrl: change.graphUrl ?? current.graphUrl,
      caPem: change.caPem === undefined ? current.caPem : change.caPem,
    });
    const kind = change.credentialKind ?? current.credential.kind;
    const given = change.clientSecret !== undefined || change.certificatePem !== undefined || change.privateKeyPem !== undefined;
    if (kind !== current.credential.kind && !given) {
      throw badRequest(kind === 'secret' ? "enter the client secret's Value" : 'paste the certificate registered on the app (PEM)', kind === 'secret' ? 'clientSecret' : 'certificatePem');
    }
    checkCaPem(hosts.caPem);
    const credential = given || kind !== current.credential.kind ? credentialOf({ ...change, credentialKind: kind }) : current.credential;
    return { tenantId: change.tenantId?.trim() ?? current.tenantId, clientId: change.clientId?.trim() ?? current.clientId, credential, authorityHost: hosts.authorityHost, graphUrl: hosts.graphUrl, caPem: hosts.caPem };
  }

  private async onlineNode(ref: string): Promise<{ id: number; name: string }> {
    const node = await this.d.nodes.byRef(ref);
    if (!node) throw notFound(`there is no node "${ref}"`, 'node');
    if (!this.d.sessions.get(node.id)) throw conflict(`node "${node.name}" is offline; start it first, or choose another node for this tenant`, 'node');
    return { id: node.id, name: node.name };
  }

  private async require(ref: string): Promise<M365TenantRow> {
    const row = await this.d.tenants.find(ref);
    if (!row) throw notFound(`there is no Microsoft 365 tenant "${ref}"`);
    return row;
  }
}
