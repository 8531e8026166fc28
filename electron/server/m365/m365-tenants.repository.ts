import { X509Certificate } from 'node:crypto';
import type { M365Tenant } from '../../../common/api/m365.js';
import { canonicalName, looksLikeId, sameName } from '../../../common/names.js';
import type { Sql } from '../db/catalog.js';

export interface M365TenantRow {
  id: number;
  name: string;
  tenant_id: string;
  client_id: string;
  credential_kind: 'secret' | 'certificate';
  certificate_pem: string | null;
  authority_host: string;
  graph_url: string;
  ca_pem: string | null;
  node_id: number;
  node_name: string;
  sync_state: M365Tenant['syncState'];
  sync_message: string | null;
  last_sync_at: Date | null;
  test_ok: number | null;
  test_message: string | null;
  test_missing: string | string[] | null;
  tested_at: Date | null;
  created_at: Date;
  user_count: number | bigint;
  drive_count: number | bigint;
  site_count: number | bigint;
  library_count: number | bigint;
}

/** A tenant's settings as stored (the credential itself is a sealed secret, not a column). */
export interface M365TenantFields {
  name: string;
  tenantId: string;
  clientId: string;
  credentialKind: 'secret' | 'certificate';
  certificatePem: string | null;
  authorityHost: string;
  graphUrl: string;
  caPem: string | null;
  nodeId: number;
}

export interface M365TestRecord {
  ok: boolean;
  message: string;
  missing: string[];
}

const COLUMNS: Record<keyof M365TenantFields, string> = {
  name: 'name',
  tenantId: 'tenant_id',
  clientId: 'client_id',
  credentialKind: 'credential_kind',
  certificatePem: 'certificate_pem',
  authorityHost: 'authority_host',
  graphUrl: 'graph_url',
  caPem: 'ca_pem',
  nodeId: 'node_id',
};

const TENANTS = `SELECT t.*, n.name AS node_name,
    (SELECT COUNT(*) FROM m365_users u WHERE u.tenant_id = t.id AND u.present = 1) AS user_count,
    (SELECT COUNT(*) FROM m365_users u WHERE u.tenant_id = t.id AND u.present = 1 AND u.drive_id IS NOT NULL) AS drive_count,
    (SELECT COUNT(*) FROM m365_sites s WHERE s.tenant_id = t.id AND s.present = 1) AS site_count,
    (SELECT COUNT(*) FROM m365_libraries l JOIN m365_sites s ON s.id = l.site_id WHERE s.tenant_id = t.id AND s.present = 1 AND l.present = 1) AS library_count
  FROM m365_tenants t JOIN nodes n ON n.id = t.node_id`;

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

/** The certificate's SHA-1 thumbprint (what the Azure portal lists) and end of validity; nulls when unreadable. */
export function certificateInfo(pem: string | null): { thumbprint: string | null; expiresAt: string | null } {
  if (!pem) return { thumbprint: null, expiresAt: null };
  try {
    const cert = new X509Certificate(pem);
    return { thumbprint: cert.fingerprint.replaceAll(':', ''), expiresAt: new Date(cert.validTo).toISOString() };
  } catch {
    return { thumbprint: null, expiresAt: null };
  }
}

export function toM365Tenant(r: M365TenantRow): M365Tenant {
  const cert = certificateInfo(r.certificate_pem);
  const missing = typeof r.test_missing === 'string' ? (JSON.parse(r.test_missing) as string[]) : (r.test_missing ?? []);
  return {
    id: r.id,
    name: r.name,
    tenantId: r.tenant_id,
    clientId: r.client_id,
    credentialKind: r.credential_kind,
    certificateThumbprint: cert.thumbprint,
    certificateExpiresAt: cert.expiresAt,
    authorityHost: r.authority_host,
    graphUrl: r.graph_url,
    caPem: r.ca_pem,
    nodeId: r.node_id,
    node: r.node_name,
    syncState: r.sync_state,
    syncMessage: r.sync_message,
    lastSyncAt: iso(r.last_sync_at),
    test: r.tested_at && r.test_ok !== null ? { ok: r.test_ok === 1, message: r.test_message ?? '', missing, testedAt: r.tested_at.toISOString() } : null,
    users: Number(r.user_count),
    drives: Number(r.drive_count),
    sites: Number(r.site_count),
    libraries: Number(r.library_count),
    createdAt: r.created_at.toISOString(),
  };
}

/** Microsoft 365 tenants: their settings, the last connection test and the last sync's outcome. */
export class M365TenantsRepository {
  constructor(private readonly sql: Sql) {}

  async list(): Promise<M365TenantRow[]> {
    return this.sql.query<M365TenantRow>(`${TENANTS} ORDER BY t.name`);
  }

  /** By id, or by name (common/names.ts): never a tenant whose name merely collates alike. */
  async find(ref: string): Promise<M365TenantRow | undefined> {
    if (looksLikeId(ref)) {
      const byId = (await this.sql.query<M365TenantRow>(`${TENANTS} WHERE t.id = ?`, [Number(ref)]))[0];
      if (byId) return byId;
    }
    return (await this.sql.query<M365TenantRow>(`${TENANTS} WHERE t.name = ?`, [canonicalName(ref)])).find((r) => sameName(r.name, ref));
  }

  async byId(id: number): Promise<M365TenantRow | undefined> {
    return (await this.sql.query<M365TenantRow>(`${TENANTS} WHERE t.id = ?`, [id]))[0];
  }

  async insert(f: M365TenantFields, sql: Sql = this.sql): Promise<number> {
    const res = await sql.execute(
      `INSERT INTO m365_tenants (name, tenant_id, client_id, credential_kind, certificate_pem, authority_host, graph_url, ca_pem, node_id)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [canonicalName(f.name), f.tenantId, f.clientId, f.credentialKind, f.certificatePem, f.authorityHost, f.graphUrl, f.caPem, f.nodeId],
    );
    return res.insertId;
  }

  async update(id: number, change: Partial<M365TenantFields>, sql: Sql = this.sql): Promise<void> {
    const entries = (Object.keys(COLUMNS) as (keyof M365TenantFields)[]).filter((k) => change[k] !== undefined);
    if (entries.length === 0) return;
    const values = entries.map((k) => (k === 'name' ? canonicalName(change.name!) : change[k]!));
    await sql.execute(`UPDATE m365_tenants SET ${entries.map((k) => `${COLUMNS[k]} = ?`).join(', ')} WHERE id = ?`, [...values, id]);
  }

  async delete(id: number, sql: Sql = this.sql): Promise<void> {
    await sql.execute('DELETE FROM m365_tenants WHERE id = ?', [id]);
  }

  async setTest(id: number, test: M365TestRecord, sql: Sql = this.sql): Promise<void> {
    await sql.execute('UPDATE m365_tenants SET test_ok = ?, test_message = ?, test_missing = ?, tested_at = CURRENT_TIMESTAMP(3) WHERE id = ?', [
      test.ok ? 1 : 0,
      test.message.slice(0, 1000),
      JSON.stringify(test.missing),
      id,
    ]);
  }

  /** The last sync's outcome; its time only when it listed something. */
  async setSync(id: number, state: Exclude<M365Tenant['syncState'], 'never'>, message: string | null): Promise<void> {
    await this.sql.execute(`UPDATE m365_tenants SET sync_state = ?, sync_message = ?, last_sync_at = IF(? <> 'failed', CURRENT_TIMESTAMP(3), last_sync_at) WHERE id = ?`, [
      state,
      message?.slice(0, 1000) ?? null,
      state,
      id,
    ]);
  }
}
