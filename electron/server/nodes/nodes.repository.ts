import type { InstallMethod, Node, NodeCapabilities, NodeStatus } from '../../../common/api/nodes.js';
import { canonicalName, looksLikeId, sameName } from '../../../common/names.js';
import type { Sql } from '../db/catalog.js';

export interface NodeRow {
  id: number;
  name: string;
  host: string;
  status: NodeStatus;
  status_message: string | null;
  version: string | null;
  install_method: InstallMethod;
  capabilities: string | NodeCapabilities | null;
  credential_hash: string | null;
  ssh_host: string | null;
  ssh_port: number | null;
  ssh_user: string | null;
  ssh_host_key_fingerprint: string | null;
  ssh_auth: 'password' | 'key' | null;
  server_address: string | null;
  last_seen_at: Date | null;
  created_at: Date;
}

export function toNode(r: NodeRow, runningTasks: number): Node {
  return {
    id: r.id,
    name: r.name,
    host: r.host,
    status: r.status,
    version: r.version,
    installMethod: r.install_method,
    capabilities: typeof r.capabilities === 'string' ? (JSON.parse(r.capabilities) as NodeCapabilities) : r.capabilities,
    runningTasks,
    lastSeenAt: r.last_seen_at ? r.last_seen_at.toISOString() : null,
    statusMessage: r.status_message,
    ssh:
      r.ssh_host && r.ssh_user && r.ssh_host_key_fingerprint && r.ssh_auth
        ? { host: r.ssh_host, port: r.ssh_port ?? 22, user: r.ssh_user, hostKeyFingerprint: r.ssh_host_key_fingerprint, auth: r.ssh_auth }
        : null,
    createdAt: r.created_at.toISOString(),
  };
}

export interface NewNode {
  name: string;
  host: string;
  status: NodeStatus;
  installMethod: InstallMethod;
  ssh?: { host: string; port: number; user: string; hostKeyFingerprint: string; auth: 'password' | 'key'; serverAddress: string | null };
}

export class NodesRepository {
  constructor(private readonly sql: Sql) {}

  async list(): Promise<NodeRow[]> {
    return this.sql.query<NodeRow>('SELECT * FROM nodes ORDER BY name');
  }

  async byId(id: number, sql: Sql = this.sql): Promise<NodeRow | undefined> {
    return (await sql.query<NodeRow>('SELECT * FROM nodes WHERE id = ?', [id]))[0];
  }

  /** The node of this name (common/names.ts), never one whose name merely collates alike. */
  async byName(name: string, sql: Sql = this.sql): Promise<NodeRow | undefined> {
    return (await sql.query<NodeRow>('SELECT * FROM nodes WHERE name = ?', [canonicalName(name)])).find((r) => sameName(r.name, name));
  }

  async byRef(ref: string, sql: Sql = this.sql): Promise<NodeRow | undefined> {
    if (looksLikeId(ref)) {
      const byId = await this.byId(Number(ref), sql);
      if (byId) return byId;
    }
    return this.byName(ref, sql);
  }

  async byCredentialHash(hash: string): Promise<NodeRow | undefined> {
    return (await this.sql.query<NodeRow>('SELECT * FROM nodes WHERE credential_hash = ?', [hash]))[0];
  }

  async insert(n: NewNode, sql: Sql = this.sql): Promise<number> {
    const res = await sql.execute(
      `INSERT INTO nodes (name, host, status, install_method, ssh_host, ssh_port, ssh_user, ssh_host_key_fingerprint, ssh_auth, server_address)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [canonicalName(n.name), n.host, n.status, n.installMethod, n.ssh?.host ?? null, n.ssh?.port ?? null, n.ssh?.user ?? null, n.ssh?.hostKeyFingerprint ?? null, n.ssh?.auth ?? null, n.ssh?.serverAddress ?? null],
    );
    return res.insertId;
  }

  async setCredential(id: number, credentialHash: string, f: { host: string; version: string }, sql: Sql = this.sql): Promise<void> {
    await sql.execute('UPDATE nodes SET credential_hash = ?, host = ?, version = ? WHERE id = ?', [credentialHash, f.host, f.version, id]);
  }

  async setStatus(id: number, status: NodeStatus, message: string | null): Promise<void> {
    await this.sql.execute('UPDATE nodes SET status = ?, status_message = ? WHERE id = ?', [status, message?.slice(0, 1000) ?? null, id]);
  }

  async setInstalled(id: number, f: { host: string; installMethod: InstallMethod }): Promise<void> {
    await this.sql.execute('UPDATE nodes SET host = ?, install_method = ? WHERE id = ?', [f.host, f.installMethod, id]);
  }

  async markOnline(id: number, f: { version: string; capabilities: NodeCapabilities }): Promise<void> {
    await this.sql.execute(
      "UPDATE nodes SET status = 'online', status_message = NULL, version = ?, capabilities = ?, last_seen_at = CURRENT_TIMESTAMP(3) WHERE id = ?",
      [f.version, JSON.stringify(f.capabilities), id],
    );
  }

  async touch(id: number, capabilities?: NodeCapabilities): Promise<void> {
    if (capabilities) {
      await this.sql.execute('UPDATE nodes SET last_seen_at = CURRENT_TIMESTAMP(3), capabilities = ? WHERE id = ?', [JSON.stringify(capabilities), id]);
    } else {
      await this.sql.execute('UPDATE nodes SET last_seen_at = CURRENT_TIMESTAMP(3) WHERE id = ?', [id]);
    }
  }

  async delete(id: number): Promise<void> {
    await this.sql.execute('DELETE FROM nodes WHERE id = ?', [id]);
  }

  /** At server start nobody is connected yet. */
  async markAllOffline(): Promise<void> {
    await this.sql.execute("UPDATE nodes SET status = 'offline', status_message = 'waiting for the node to connect' WHERE status = 'online'");
  }

  /** Destinations live on a node; it cannot go while any does. */
  async destinationNames(id: number): Promise<string[]> {
    return (await this.sql.query<{ name: string }>('SELECT name FROM destinations WHERE node_id = ? ORDER BY name', [id])).map((r) => r.name);
  }

  /** Microsoft 365 tenants are reached through a node; it cannot go while one is. */
  async m365TenantNames(id: number): Promise<string[]> {
    return (await this.sql.query<{ name: string }>('SELECT name FROM m365_tenants WHERE node_id = ? ORDER BY name', [id])).map((r) => r.name);
  }

  async countOnline(): Promise<{ total: number; online: number }> {
    const rows = await this.sql.query<{ total: number; online: number }>("SELECT COUNT(*) AS total, COALESCE(SUM(status = 'online'), 0) AS online FROM nodes");
    return { total: Number(rows[0]?.total ?? 0), online: Number(rows[0]?.online ?? 0) };
  }
}
