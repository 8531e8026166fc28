import { z } from 'zod';
import {
  CreatedM365TenantSchema,
  M365ConnectionTestSchema,
  M365SiteSchema,
  M365TenantSchema,
  M365UserSchema,
  type CreatedM365Tenant,
  type CreateM365Tenant,
  type M365ConnectionTest,
  type M365Site,
  type M365Tenant,
  type M365User,
} from '../../common/api/m365.js';
import { TaskSchema, type Task } from '../../common/api/tasks.js';
import type { ApiClient } from './api-client.js';

/** Adding a tenant signs in on its node first (a minute and a half at most), then answers. */
const TEST_TIMEOUT_MS = 120_000;

const tenantPath = (ref: string): string => `/api/m365/tenants/${encodeURIComponent(ref)}`;
const query = (tenant?: string): string => (tenant === undefined ? '' : `?${new URLSearchParams({ tenant }).toString()}`);

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
}
