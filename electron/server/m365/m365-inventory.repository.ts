import type { M365Library, M365Site, M365User } from '../../../common/api/m365.js';
import type { M365SyncResult } from '../../../common/m365-tasks.js';
import { m365MemberKey, type M365Candidate } from '../../../common/m365-policy-members.js';
import type { Sql, SqlValue } from '../db/catalog.js';

type DirectoryUser = NonNullable<M365SyncResult['users']>[number];
type DirectorySite = NonNullable<M365SyncResult['sites']>[number];

export interface UserRow {
  id: number;
  tenant_id: number;
  tenant_name: string;
  graph_id: string;
  upn: string;
  display_name: string;
  mail: string | null;
  account_enabled: number | null;
  drive_id: string | null;
  /** 1 an Exchange Online mailbox, 0 none, NULL unknown. */
  has_mailbox: number | null;
  present: number;
  last_seen_at: Date;
  removed_at: Date | null;
  last_backup_at?: Date | null;
}

export interface SiteRow {
  id: number;
  tenant_id: number;
  tenant_name: string;
  graph_id: string;
  name: string;
  display_name: string;
  web_url: string | null;
  present: number;
  last_seen_at: Date;
  removed_at: Date | null;
  last_backup_at?: Date | null;
}

export interface LibraryRow {
  id: number;
  site_id: number;
  drive_id: string;
  name: string;
  web_url: string | null;
  present: number;
}

/** The m365 policy that owns a user or site (by m365MemberKey), or null. */
export type M365PolicyOf = (key: string) => string | null;
const noPolicy: M365PolicyOf = () => null;

/** A user or site an m365 policy may back up, with its tenant. */
export type M365Protectable = M365Candidate & { tenantId: number; tenant: string };

/** Rows per INSERT: a tenant's thousands of users go in a few statements. */
const CHUNK = 500;

export function toM365User(r: UserRow, policyOf: M365PolicyOf = noPolicy): M365User {
  return {
    id: r.id,
    tenant: r.tenant_name,
    graphId: r.graph_id,
    upn: r.upn,
    displayName: r.display_name,
    mail: r.mail,
    enabled: r.account_enabled === null ? null : r.account_enabled === 1,
    driveId: r.drive_id,
    hasDrive: r.drive_id !== null,
    hasMailbox: r.has_mailbox === null ? null : r.has_mailbox === 1,
    present: r.present === 1,
    lastSeenAt: r.last_seen_at.toISOString(),
    removedAt: r.removed_at ? r.removed_at.toISOString() : null,
    policy: policyOf(m365MemberKey({ kind: 'user', id: r.id })),
    lastBackupAt: r.last_backup_at ? r.last_backup_at.toISOString() : null,
  };
}

function toLibrary(r: LibraryRow): M365Library {
  return { id: r.id, driveId: r.drive_id, name: r.name, url: r.web_url, present: r.present === 1, policy: null, lastBackupAt: null };
}

function toSite(r: SiteRow, libraries: LibraryRow[], policyOf: M365PolicyOf): M365Site {
  const policy = policyOf(m365MemberKey({ kind: 'site', id: r.id }));
  return {
    id: r.id,
    tenant: r.tenant_name,
    graphId: r.graph_id,
    name: r.name,
    displayName: r.display_name,
    url: r.web_url,
    present: r.present === 1,
    lastSeenAt: r.last_seen_at.toISOString(),
    removedAt: r.removed_at ? r.removed_at.toISOString() : null,
    libraries: libraries.map((l) => ({ ...toLibrary(l), policy: l.present === 1 ? policy : null, lastBackupAt: r.last_backup_at ? r.last_backup_at.toISOString() : null })),
    policy,
    lastBackupAt: r.last_backup_at ? r.last_backup_at.toISOString() : null,
  };
}

/**
 * Upserts `rows` (by the table's unique key) stamped with `seenAt`; the columns in `update`
 * take the new values, and a row seen again is present again.
 */
async function upsert(sql: Sql, table: string, columns: string[], rows: SqlValue[][], update: string[], seenAt: Date): Promise<void> {
  for (let i = 0; i < rows.length; i += CHUNK) {
    const part = rows.slice(i, i + CHUNK);
    const tuple = `(${[...columns, 'last_seen_at'].map(() => '?').join(', ')})`;
    await sql.execute(
      `INSERT INTO ${table} (${[...columns, 'last_seen_at'].join(', ')}) VALUES ${part.map(() => tuple).join(', ')}
       ON DUPLICATE KEY UPDATE ${[...update, 'last_seen_at'].map((c) => `${c} = VALUES(${c})`).join(', ')}, present = 1, removed_at = NULL`,
      part.flatMap((row) => [...row, seenAt]),
    );
  }
}

/** The users, sites and libraries of the tenants as their last syncs found them. */
export class M365InventoryRepository {
  constructor(private readonly sql: Sql) {}

  /** The users just listed; those not in the list are kept, marked removed. */
  async applyUsers(tenantId: number, users: readonly DirectoryUser[], sql: Sql = this.sql): Promise<void> {
    const seenAt = await now(sql);
    const rows = users.map((u) => [tenantId, u.id, u.userPrincipalName, u.displayName.slice(0, 255), u.mail, u.accountEnabled === null ? null : u.accountEnabled ? 1 : 0, u.driveId, u.hasMailbox === null ? null : u.hasMailbox ? 1 : 0]);
    await upsert(sql, 'm365_users', ['tenant_id', 'graph_id', 'upn', 'display_name', 'mail', 'account_enabled', 'drive_id', 'has_mailbox'], rows, ['upn', 'display_name', 'mail', 'account_enabled', 'drive_id', 'has_mailbox'], seenAt);
    await sql.execute('UPDATE m365_users SET present = 0, removed_at = ? WHERE tenant_id = ? AND present = 1 AND last_seen_at < ?', [seenAt, tenantId, seenAt]);
  }

  /** The sites and their libraries just listed; what is not in the list is kept, marked removed. */
  async applySites(tenantId: number, sites: readonly DirectorySite[], sql: Sql = this.sql): Promise<void> {
    const seenAt = await now(sql);
    const siteRows = sites.map((s) => [tenantId, s.id, s.name.slice(0, 255), s.displayName.slice(0, 255), s.webUrl]);
    await upsert(sql, 'm365_sites', ['tenant_id', 'graph_id', 'name', 'display_name', 'web_url'], siteRows, ['name', 'display_name', 'web_url'], seenAt);
    const ids = new Map((await sql.query<{ id: number; graph_id: string }>('SELECT id, graph_id FROM m365_sites WHERE tenant_id = ?', [tenantId])).map((r) => [r.graph_id, r.id]));
    const libraryRows = sites.flatMap((s) => s.libraries.map((l) => [ids.get(s.id)!, l.id, l.name.slice(0, 255), l.webUrl]));
    await upsert(sql, 'm365_libraries', ['site_id', 'drive_id', 'name', 'web_url'], libraryRows, ['name', 'web_url'], seenAt);
    await sql.execute('UPDATE m365_sites SET present = 0, removed_at = ? WHERE tenant_id = ? AND present = 1 AND last_seen_at < ?', [seenAt, tenantId, seenAt]);
    await sql.execute(
      `UPDATE m365_libraries l JOIN m365_sites s ON s.id = l.site_id SET l.present = 0, l.removed_at = ?
       WHERE s.tenant_id = ? AND l.present = 1 AND l.last_seen_at < ?`,
      [seenAt, tenantId, seenAt],
    );
  }

  /** Users by catalog id or UPN (any case), in one tenant or all. */
  async findUsers(ref: string, tenantId?: number): Promise<UserRow[]> {
    const byId = /^\d+$/.test(ref);
    return this.sql.query<UserRow>(
      `SELECT u.*, t.name AS tenant_name FROM m365_users u JOIN m365_tenants t ON t.id = u.tenant_id
        WHERE ${byId ? 'u.id = ?' : 'LOWER(u.upn) = LOWER(?)'}${tenantId === undefined ? '' : ' AND u.tenant_id = ?'} ORDER BY u.present DESC, u.id`,
      tenantId === undefined ? [ref] : [ref, tenantId],
    );
  }

  /** Sites by catalog id, name or display name (any case), in one tenant or all. */
  async findSites(ref: string, tenantId?: number): Promise<SiteRow[]> {
    const byId = /^\d+$/.test(ref);
    return this.sql.query<SiteRow>(
      `SELECT s.*, t.name AS tenant_name FROM m365_sites s JOIN m365_tenants t ON t.id = s.tenant_id
        WHERE ${byId ? 's.id = ?' : '(LOWER(s.name) = LOWER(?) OR LOWER(s.display_name) = LOWER(?))'}${tenantId === undefined ? '' : ' AND s.tenant_id = ?'} ORDER BY s.present DESC, s.id`,
      [ref, ...(byId ? [] : [ref]), ...(tenantId === undefined ? [] : [tenantId])],
    );
  }

  async userById(id: number): Promise<UserRow | undefined> {
    return (await this.findUsers(String(id)))[0];
  }

  async siteById(id: number): Promise<SiteRow | undefined> {
    return (await this.findSites(String(id)))[0];
  }

  /** A site's document libraries, present ones first. */
  async libraries(siteId: number): Promise<LibraryRow[]> {
    return this.sql.query<LibraryRow>('SELECT * FROM m365_libraries WHERE site_id = ? ORDER BY present DESC, name', [siteId]);
  }

  /**
   * What m365 policies may back up, in every tenant: present users with a OneDrive or a
   * mailbox, and present sites with at least one present document library
   * (common/m365-policy-members.ts).
   */
  async protectable(): Promise<M365Protectable[]> {
    const users = await this.sql.query<{ id: number; upn: string; tenant_id: number; tenant_name: string }>(
      `SELECT u.id, u.upn, u.tenant_id, t.name AS tenant_name FROM m365_users u JOIN m365_tenants t ON t.id = u.tenant_id
        WHERE u.present = 1 AND (u.drive_id IS NOT NULL OR u.has_mailbox = 1) ORDER BY t.name, u.upn`,
    );
    const sites = await this.sql.query<{ id: number; name: string; display_name: string; tenant_id: number; tenant_name: string }>(
      `SELECT s.id, s.name, s.display_name, s.tenant_id, t.name AS tenant_name FROM m365_sites s JOIN m365_tenants t ON t.id = s.tenant_id
        WHERE s.present = 1 AND EXISTS (SELECT 1 FROM m365_libraries l WHERE l.site_id = s.id AND l.present = 1) ORDER BY t.name, s.name`,
    );
    return [
      ...users.map((u) => ({ kind: 'user' as const, id: Number(u.id), name: u.upn, tenantId: Number(u.tenant_id), tenant: u.tenant_name })),
      ...sites.map((s) => ({ kind: 'site' as const, id: Number(s.id), name: s.name, displayName: s.display_name, tenantId: Number(s.tenant_id), tenant: s.tenant_name })),
    ];
  }

  async users(tenantId?: number, policyOf: M365PolicyOf = noPolicy): Promise<M365User[]> {
    const where = tenantId === undefined ? '' : 'WHERE u.tenant_id = ?';
    const rows = await this.sql.query<UserRow>(
      `SELECT u.*, t.name AS tenant_name,
              (SELECT MAX(mb.created_at) FROM m365_backups mb WHERE mb.user_id = u.id AND mb.status = 'available') AS last_backup_at
         FROM m365_users u JOIN m365_tenants t ON t.id = u.tenant_id ${where} ORDER BY t.name, u.present DESC, u.upn`,
      tenantId === undefined ? [] : [tenantId],
    );
    return rows.map((r) => toM365User(r, policyOf));
  }

  async sites(tenantId?: number, policyOf: M365PolicyOf = noPolicy): Promise<M365Site[]> {
    const where = tenantId === undefined ? '' : 'WHERE s.tenant_id = ?';
    const params = tenantId === undefined ? [] : [tenantId];
    const sites = await this.sql.query<SiteRow>(
      `SELECT s.*, t.name AS tenant_name,
              (SELECT MAX(mb.created_at) FROM m365_backups mb WHERE mb.site_id = s.id AND mb.status = 'available') AS last_backup_at
         FROM m365_sites s JOIN m365_tenants t ON t.id = s.tenant_id ${where} ORDER BY t.name, s.present DESC, s.display_name`,
      params,
    );
    const libraries = await this.sql.query<LibraryRow>(
      `SELECT l.* FROM m365_libraries l JOIN m365_sites s ON s.id = l.site_id ${where} ORDER BY l.present DESC, l.name`,
      params,
    );
    const bySite = new Map<number, LibraryRow[]>();
    for (const l of libraries) bySite.set(l.site_id, [...(bySite.get(l.site_id) ?? []), l]);
    return sites.map((s) => toSite(s, bySite.get(s.id) ?? [], policyOf));
  }
}

/** The catalog's clock, to the millisecond: every row a sync touches gets the same stamp. */
async function now(sql: Sql): Promise<Date> {
  return (await sql.query<{ now: Date }>('SELECT NOW(3) AS now'))[0]!.now;
}
