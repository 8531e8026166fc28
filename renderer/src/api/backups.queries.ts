import { BackupPageSchema, BackupSchema, RunBackupResponseSchema, TaskSchema, type Restore, type UpdateBackup } from '@common/api/index.js';
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type { z } from 'zod';
import { useApiClient } from './api-client-context.js';
import { invalidateBackups } from './destination-cache.js';
import { queryKeys, type BackupListFilter } from './query-keys.js';
import { seedTask } from './task-cache.js';

/** The most the server returns at once. */
export const BACKUP_LIST_LIMIT = 1000;

/**
 * The newest backups a filter selects (at most BACKUP_LIST_LIMIT), for a VM's or a destination's
 * page. 'backups.changed' events invalidate these lists; the poll is a fallback.
 */
export function useBackupsQuery(filter: BackupListFilter, enabled = true) {
  const api = useApiClient();
  return useQuery({
    queryKey: queryKeys.backupList(filter),
    queryFn: ({ signal }) => api.json('GET', '/api/backups', BackupPageSchema, { signal, query: backupListQuery(filter, BACKUP_LIST_LIMIT) }),
    select: (page) => page.backups,
    placeholderData: keepPreviousData,
    refetchInterval: 60_000,
    enabled,
  });
}

/** One page of the backup browser, newest first: `cursor` is the nextCursor of the page before (undefined: the newest). */
export function useBackupPageQuery(filter: BackupListFilter, cursor: string | undefined, limit: number) {
  const api = useApiClient();
  return useQuery({
    queryKey: queryKeys.backupPage(filter, cursor, limit),
    queryFn: ({ signal }) => api.json('GET', '/api/backups', BackupPageSchema, { signal, query: backupListQuery(filter, limit, cursor) }),
    placeholderData: keepPreviousData,
    refetchInterval: 60_000,
  });
}

function backupListQuery(filter: BackupListFilter, limit: number, cursor?: string): Record<string, string | number | undefined> {
  const { destination, vm, status, from, to, search } = filter;
  return { destination, vm, status, from, to, search, protected: filter.protected === undefined ? undefined : String(filter.protected), limit, cursor };
}

export interface RunBackupRequest {
  /** VM id, name or UUID. */
  vm: string;
  /** Destination id or name. */
  destination: string;
  full: boolean;
}

/** A started workflow: its tasks in order (backup: EXPORT, STORE; restore: RESTORE[, IMPORT]). */
export type StartedWorkflow = z.infer<typeof RunBackupResponseSchema>;

/** 202 with the workflow's tasks, which the caller follows; 'task' events move them. */
export function useRunBackupMutation() {
  const api = useApiClient();
  return useMutation({
    mutationFn: (request: RunBackupRequest) => api.json('POST', '/api/backups/run', RunBackupResponseSchema, { body: request }),
    // The dialog says why the server refused (no such destination, a backup already running…).
    meta: { inlineErrors: true },
  });
}

export function useStartRestoreMutation() {
  const api = useApiClient();
  return useMutation({
    mutationFn: (request: Restore) => api.json('POST', '/api/restores', RunBackupResponseSchema, { body: request }),
    meta: { inlineErrors: true },
  });
}

/** Protect or unprotect a backup, or change its notes; the dialogs show the server's reason. */
export function useUpdateBackupMutation() {
  const api = useApiClient();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: ({ id, change }: { id: number; change: UpdateBackup }) => api.json('PATCH', `/api/backups/${id}`, BackupSchema, { body: change }),
    onSuccess: () => invalidateBackups(queryClient),
    meta: { inlineErrors: true },
  });
}

/**
 * Deletes one backup, with its copies unless keepCopies: 202 with the BACKUP_DELETE task on its
 * destination; the list changes when it has run ('backups.changed').
 */
export function useDeleteBackupMutation() {
  const api = useApiClient();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: ({ id, keepCopies }: { id: number; keepCopies: boolean }) => api.json('DELETE', `/api/backups/${id}`, TaskSchema, keepCopies ? { query: { keepCopies: 'true' } } : {}),
    onSuccess: (task) => seedTask(queryClient, task),
    meta: { inlineErrors: true },
  });
}

/** Copies a backup to another destination: 202 with the COPY task, which the dialog follows; the copy shows on the backup at once ('copying'). */
export function useCopyBackupMutation() {
  const api = useApiClient();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: ({ id, to }: { id: number; to: string }) => api.json('POST', `/api/backups/${id}/copies`, TaskSchema, { body: { to } }),
    onSuccess: (task) => {
      seedTask(queryClient, task);
      invalidateBackups(queryClient);
    },
    meta: { inlineErrors: true },
  });
}
