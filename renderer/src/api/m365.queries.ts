import {
  CreatedM365TenantSchema,
  M365ConnectionTestSchema,
  M365SiteSchema,
  M365TenantSchema,
  M365UserSchema,
  TaskSchema,
  type CreateM365Tenant,
  type M365ConnectionSettings,
} from '@common/api/index.js';
import { useMutation, useQuery, useQueryClient, type QueryClient } from '@tanstack/react-query';
import { z } from 'zod';
import { useApiClient } from './api-client-context.js';
import { seedTask } from './task-cache.js';

/**
 * Microsoft 365 tenants, users and sites. No server event announces them: a sync is followed
 * by its task, and what it changed is fetched again when the task ends (refreshM365), with a
 * slow poll as the fallback.
 */
export const m365Keys = {
  all: ['m365'] as const,
  tenants: ['m365', 'tenants'] as const,
  tenant: (ref: string) => ['m365', 'tenants', ref] as const,
  users: (tenant: string) => ['m365', 'users', tenant] as const,
  sites: (tenant: string) => ['m365', 'sites', tenant] as const,
};

const tenantPath = (ref: string | number): string => `/api/m365/tenants/${encodeURIComponent(String(ref))}`;
const inTenant = (ref: string): string => `?${new URLSearchParams({ tenant: ref }).toString()}`;

/** Everything Microsoft 365 this UI holds: after a sync, a test, a change. */
export function refreshM365(queryClient: QueryClient): void {
  void queryClient.invalidateQueries({ queryKey: m365Keys.all });
}

export function useM365TenantsQuery() {
  const api = useApiClient();
  return useQuery({
    queryKey: m365Keys.tenants,
    queryFn: ({ signal }) => api.json('GET', '/api/m365/tenants', z.array(M365TenantSchema), { signal }),
    refetchInterval: 30_000,
  });
}

/** By id or name, as in the page's URL. */
export function useM365TenantQuery(ref: string) {
  const api = useApiClient();
  return useQuery({
    queryKey: m365Keys.tenant(ref),
    queryFn: ({ signal }) => api.json('GET', tenantPath(ref), M365TenantSchema, { signal }),
    refetchInterval: 30_000,
  });
}

export function useM365UsersQuery(tenant: string) {
  const api = useApiClient();
  return useQuery({
    queryKey: m365Keys.users(tenant),
    queryFn: ({ signal }) => api.json('GET', `/api/m365/users${inTenant(tenant)}`, z.array(M365UserSchema), { signal }),
  });
}

export function useM365SitesQuery(tenant: string) {
  const api = useApiClient();
  return useQuery({
    queryKey: m365Keys.sites(tenant),
    queryFn: ({ signal }) => api.json('GET', `/api/m365/sites${inTenant(tenant)}`, z.array(M365SiteSchema), { signal }),
  });
}

/** Test connection of the form's settings, not saved yet. */
export function useTestM365SettingsMutation() {
  const api = useApiClient();
  return useMutation({
    mutationFn: (settings: M365ConnectionSettings) => api.json('POST', '/api/m365/connection-test', M365ConnectionTestSchema, { body: settings }),
    // The form shows the reason under the field it is about.
    meta: { inlineErrors: true },
  });
}

/** The server signs in first (on the tenant's node) and refuses, saving nothing, when that fails. */
export function useAddM365TenantMutation() {
  const api = useApiClient();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (request: CreateM365Tenant) => api.json('POST', '/api/m365/tenants', CreatedM365TenantSchema, { body: request }),
    onSuccess: () => refreshM365(queryClient),
    meta: { inlineErrors: true },
  });
}

/** Test connection of a saved tenant; the outcome is kept on the tenant, so it is fetched again. */
export function useTestM365TenantMutation() {
  const api = useApiClient();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (id: number) => api.json('POST', `${tenantPath(id)}/test`, M365ConnectionTestSchema, { body: {} }),
    onSettled: () => refreshM365(queryClient),
    meta: { inlineErrors: true },
  });
}

/** Starts an M365_SYNC; the caller follows the returned task. */
export function useSyncM365TenantMutation() {
  const api = useApiClient();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (id: number) => api.json('POST', `${tenantPath(id)}/sync`, TaskSchema, { body: {} }),
    onSuccess: (task) => seedTask(queryClient, task),
    meta: { errorTitle: 'Could not start the sync' },
  });
}

export function useRemoveM365TenantMutation() {
  const api = useApiClient();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (id: number) => api.empty('DELETE', tenantPath(id)),
    onSuccess: () => refreshM365(queryClient),
    meta: { inlineErrors: true },
  });
}
