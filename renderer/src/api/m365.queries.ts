import {
  CreatedM365TenantSchema,
  M365BackupPageSchema,
  M365BackupRunResponseSchema,
  M365BackupSchema,
  M365ConnectionTestSchema,
  M365RestoreResponseSchema,
  MountSchema,
  M365SiteSchema,
  M365TenantSchema,
  M365UserSchema,
  TaskSchema,
  type CreateM365Tenant,
  type M365BackupListQuery,
  type M365BackupRunRequest,
  type M365ConnectionSettings,
  type M365RestoreRequest,
} from '@common/api/index.js';
import { keepPreviousData, useMutation, useQuery, useQueryClient, type QueryClient } from '@tanstack/react-query';
import { z } from 'zod';
import { useApiClient } from './api-client-context.js';
import { applyMount } from './mount-cache.js';
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
  backupPage: (filter: M365BackupFilter, cursor: string | undefined, limit: number) => ['m365', 'backups', 'page', filter, cursor ?? null, limit] as const,
  backup: (id: number) => ['m365', 'backups', 'detail', id] as const,
};

/** The filters of GET /api/m365/backups this UI uses (a tenant, a user or a site by name or id). */
export type M365BackupFilter = Pick<M365BackupListQuery, 'tenant' | 'user' | 'site' | 'destination'>;

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

export function useM365UsersQuery(tenant: string, enabled = true) {
  const api = useApiClient();
  return useQuery({
    queryKey: m365Keys.users(tenant),
    queryFn: ({ signal }) => api.json('GET', `/api/m365/users${inTenant(tenant)}`, z.array(M365UserSchema), { signal }),
    enabled,
  });
}

export function useM365SitesQuery(tenant: string, enabled = true) {
  const api = useApiClient();
  return useQuery({
    queryKey: m365Keys.sites(tenant),
    queryFn: ({ signal }) => api.json('GET', `/api/m365/sites${inTenant(tenant)}`, z.array(M365SiteSchema), { signal }),
    enabled,
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

/** One page of a tenant's (or a user's, a site's) Microsoft 365 backups, newest first. */
export function useM365BackupPageQuery(filter: M365BackupFilter, cursor: string | undefined, limit: number) {
  const api = useApiClient();
  return useQuery({
    queryKey: m365Keys.backupPage(filter, cursor, limit),
    queryFn: ({ signal }) => api.json('GET', '/api/m365/backups', M365BackupPageSchema, { signal, query: { ...filter, limit, cursor } }),
    placeholderData: keepPreviousData,
    refetchInterval: 60_000,
  });
}

export function useM365BackupQuery(id: number | null) {
  const api = useApiClient();
  return useQuery({
    queryKey: m365Keys.backup(id ?? 0),
    queryFn: ({ signal }) => api.json('GET', `/api/m365/backups/${id ?? 0}`, M365BackupSchema, { signal }),
    enabled: id !== null,
  });
}

/** Back up now: 202 with the M365_BACKUP task, which the dialog follows. */
export function useRunM365BackupMutation() {
  const api = useApiClient();
  return useMutation({
    mutationFn: (request: M365BackupRunRequest) => api.json('POST', '/api/m365/backups', M365BackupRunResponseSchema, { body: request }),
    // The dialog says why under the field the server names (destination) or at its foot.
    meta: { inlineErrors: true },
  });
}

/** Opens the backup as a mount (or answers the browse mount already open); the caller goes to its explorer. */
export function useBrowseM365BackupMutation() {
  const api = useApiClient();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (id: number) => api.json('POST', `/api/m365/backups/${id}/browse`, MountSchema, { body: {} }),
    onSuccess: (mount) => applyMount(queryClient, mount),
    meta: { inlineErrors: true },
  });
}

/** Restore to Microsoft 365: 202 with the M365_RESTORE task, which the wizard follows. */
export function useRestoreM365Mutation() {
  const api = useApiClient();
  return useMutation({
    mutationFn: ({ id, request }: { id: number; request: M365RestoreRequest }) => api.json('POST', `/api/m365/backups/${id}/restore`, M365RestoreResponseSchema, { body: request }),
    meta: { inlineErrors: true },
  });
}
