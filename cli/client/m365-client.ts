import { z } from 'zod';
import {
  CreatedM365TenantSchema,
  M365BackupPageSchema,
  M365BackupRunResponseSchema,
  M365BackupSchema,
  M365ConnectionTestSchema,
  M365RestoreResponseSchema,
  M365SiteSchema,
  M365TenantSchema,
  M365UserSchema,
  type CreatedM365Tenant,
  type CreateM365Tenant,
  type M365Backup,
  type M365BackupPage,
  type M365BackupRunRequest,
  type M365ConnectionTest,
  type M365RestoreRequest,
  type M365Site,
  type M365Tenant,
  type M365User,
} from '../../common/api/m365.js';
import {
  ContactListResultSchema,
  EventListResultSchema,
  MailSearchResultSchema,
  type ContactListQuery,
  type ContactListResult,
  type EventListQuery,
  type EventListResult,
  type MailSearchQuery,
  type MailSearchResult,
} from '../../common/api/m365-mail.js';
import { MountSchema, type Mount } from '../../common/api/mounts.js';
import type { ApiStream } from './api-types.js';
import { TaskSchema, type Task } from '../../common/api/tasks.js';
import { queryString, type ApiClient } from './api-client.js';

/** Adding a tenant signs in on its node first (a minute and a half at most), then answers. */
const TEST_TIMEOUT_MS = 120_000;

const tenantPath = (ref: string): string => `/api/m365/tenants/${encodeURIComponent(ref)}`;
const backupPath = (id: number): string => `/api/m365/backups/${id}`;
const query = (tenant?: string): string => (tenant === undefined ? '' : `?${new URLSearchParams({ tenant }).toString()}`);

/** A query's values as a query string takes them (yes/no as "true"/"false"). */
function flat(query: object): Record<string, string | number | undefined> {
  return Object.fromEntries(Object.entries(query).map(([k, v]) => [k, typeof v === 'boolean' ? String(v) : (v as string | number | undefined)]));
}

/** GET /api/m365/backups as the CLI asks it (M365BackupListQuerySchema). */
export interface M365BackupQuery {
  tenant?: string;
  user?: string;
  site?: string;
  destination?: string;
  limit?: number;
  cursor?: string;
}

/** The Microsoft 365 part of the REST API, over the CLI's pinned client. */
export class M365Client {
  constructor(private readonly api: ApiClient) {}

  listTenants(): Promise<M365Tenant[]> {
    return this.api.request('GET', '/api/m365/tenants', { schema: z.array(M365TenantSchema) });
  }

  addTenant(request: CreateM365Tenant): Promise<CreatedM365Tenant> {
    return this.api.request('POST', '/api/m365/tenants', { body: request, schema: CreatedM365TenantSchema, timeoutMs: TEST_TIMEOUT_MS });
  }

  async removeTenant(ref: string): Promise<void> {
    await this.api.request('DELETE', tenantPath(ref));
  }

  testTenant(ref: string): Promise<M365ConnectionTest> {
    return this.api.request('POST', `${tenantPath(ref)}/test`, { body: {}, schema: M365ConnectionTestSchema, timeoutMs: TEST_TIMEOUT_MS });
  }

  /** Starts an M365_SYNC task. */
  syncTenant(ref: string): Promise<Task> {
    return this.api.request('POST', `${tenantPath(ref)}/sync`, { body: {}, schema: TaskSchema });
  }

  listUsers(tenant?: string): Promise<M365User[]> {
    return this.api.request('GET', `/api/m365/users${query(tenant)}`, { schema: z.array(M365UserSchema) });
  }

  listSites(tenant?: string): Promise<M365Site[]> {
    return this.api.request('GET', `/api/m365/sites${query(tenant)}`, { schema: z.array(M365SiteSchema) });
  }

  // ---- backups -----------------------------------------------------------

  /** Backup now: starts an M365_BACKUP task on the destination's node. */
  async runBackup(request: M365BackupRunRequest): Promise<number> {
    return (await this.api.request('POST', '/api/m365/backups', { body: request, schema: M365BackupRunResponseSchema })).taskId;
  }

  /** Newest first, a page at a time: pass a page's nextCursor as the next one's cursor. */
  listBackups(query: M365BackupQuery = {}): Promise<M365BackupPage> {
    const qs = queryString({ ...query });
    return this.api.request('GET', `/api/m365/backups${qs ? `?${qs}` : ''}`, { schema: M365BackupPageSchema });
  }

  getBackup(id: number): Promise<M365Backup> {
    return this.api.request('GET', backupPath(id), { schema: M365BackupSchema });
  }

  /** Opens the backup as a browse mount (one folder per drive), or answers the one already open. */
  browse(id: number, idleSeconds?: number): Promise<Mount> {
    return this.api.request('POST', `${backupPath(id)}/browse`, { body: idleSeconds === undefined ? {} : { idleSeconds }, schema: MountSchema });
  }

  /** Starts an M365_RESTORE task. */
  async restore(id: number, request: M365RestoreRequest): Promise<number> {
    return (await this.api.request('POST', `${backupPath(id)}/restore`, { body: request, schema: M365RestoreResponseSchema })).taskId;
  }

  // ---- mail, calendars and contacts of an open backup (its mount) ---------------

  /** Messages of a mail folder, searched and sorted by the backup's metadata. */
  searchMail(mountId: number, query: MailSearchQuery): Promise<MailSearchResult> {
    return this.api.request('GET', `/api/mounts/${mountId}/mail/messages?${queryString(flat(query))}`, { schema: MailSearchResultSchema });
  }

  listEvents(mountId: number, query: EventListQuery): Promise<EventListResult> {
    return this.api.request('GET', `/api/mounts/${mountId}/calendar/events?${queryString(flat(query))}`, { schema: EventListResultSchema });
  }

  listContacts(mountId: number, query: ContactListQuery): Promise<ContactListResult> {
    return this.api.request('GET', `/api/mounts/${mountId}/contacts/list?${queryString(flat(query))}`, { schema: ContactListResultSchema });
  }

  /** Mail as mbox, events as ICS, contacts as VCF, or a zip of them, streamed as the node writes it. */
  downloadExport(mountId: number, format: 'mbox' | 'ics' | 'vcf' | 'zip', paths: readonly string[]): Promise<ApiStream> {
    return this.api.stream('GET', `/api/mounts/${mountId}/export?${queryString({ format, path: [...paths] })}`);
  }
}
