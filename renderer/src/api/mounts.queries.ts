import {
  BrowseListingSchema,
  BrowseSearchHitSchema,
  BrowseSearchResultSchema,
  IscsiStartResponseSchema,
  MountSchema,
  TaskSchema,
  type IscsiStartRequest,
  type Mount,
  type MountRestoreRequest,
} from '@common/api/index.js';
import { keepPreviousData, queryOptions, useMutation, useQueries, useQuery, useQueryClient } from '@tanstack/react-query';
import { z } from 'zod';
import { useConnectionState } from '../events/connection-state-context.js';
import { isActiveMount } from '../utils/mount-format.js';
import { useApiClient } from './api-client-context.js';
import type { ApiClient, ByteRange } from './api-client.js';
import { applyMount } from './mount-cache.js';
import { queryKeys, type MountFilesQuery } from './query-keys.js';
import { seedTask } from './task-cache.js';

const MountListSchema = z.array(MountSchema);
export const mountPath = (id: number): string => `/api/mounts/${id}`;

/** Events keep mounts current; while the socket is down, poll the ones still changing. */
const FALLBACK_POLL_MS = 5_000;

/** What a preview reads of a file at most: enough to see what it is, never the whole of a large one. */
export const PREVIEW_BYTES = 256 * 1024;

export function useMountsQuery(activeOnly: boolean) {
  const api = useApiClient();
  const live = useConnectionState() === 'open';
  return useQuery({
    queryKey: queryKeys.mountList(activeOnly),
    queryFn: ({ signal }) => api.json('GET', '/api/mounts', MountListSchema, { signal, query: { active: activeOnly ? 'true' : undefined } }),
    placeholderData: keepPreviousData,
    refetchInterval: live ? 60_000 : FALLBACK_POLL_MS,
  });
}

export function useMountQuery(id: number, enabled = true) {
  const api = useApiClient();
  const live = useConnectionState() === 'open';
  return useQuery({
    queryKey: queryKeys.mount(id),
    queryFn: ({ signal }) => api.json('GET', mountPath(id), MountSchema, { signal }),
    enabled,
    refetchInterval: (query) => {
      const mount: Mount | undefined = query.state.data;
      // Mounting and closing are short and the page waits on them: a missed event must not leave it waiting.
      if (mount?.state === 'MOUNTING' || mount?.state === 'CLOSING') return FALLBACK_POLL_MS;
      return live || (mount !== undefined && !isActiveMount(mount.state)) ? false : FALLBACK_POLL_MS;
    },
  });
}

/** 202 with the mount, MOUNTING; its MOUNT task's events show the progress. */
export function useStartMountMutation() {
  const api = useApiClient();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (backupId: number) => api.json('POST', '/api/mounts', MountSchema, { body: { backup: backupId } }),
    onSuccess: (mount) => applyMount(queryClient, mount),
    // The button says why next to itself (the node offline, the backup damaged…).
    meta: { inlineErrors: true },
  });
}

/** The CHAP password is in this answer only: the dialog shows it once. */
export function useStartIscsiMutation() {
  const api = useApiClient();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (request: IscsiStartRequest) => api.json('POST', '/api/mounts/iscsi', IscsiStartResponseSchema, { body: request }),
    onSuccess: (response) => applyMount(queryClient, response.mount),
    meta: { inlineErrors: true },
  });
}

export function useExtendMountMutation() {
  const api = useApiClient();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: ({ id, idleSeconds }: { id: number; idleSeconds: number }) =>
      api.json('POST', `${mountPath(id)}/extend`, MountSchema, { body: { idleSeconds } }),
    onSuccess: (mount) => applyMount(queryClient, mount),
    meta: { inlineErrors: true },
  });
}

export function useCloseMountMutation() {
  const api = useApiClient();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (id: number) => api.json('DELETE', mountPath(id), MountSchema),
    onSuccess: (mount) => applyMount(queryClient, mount),
    meta: { inlineErrors: true },
  });
}

/** One page of a directory; the previous page stays on screen while the next loads. */
export function useMountFilesQuery(id: number, query: MountFilesQuery, enabled: boolean) {
  const api = useApiClient();
  return useQuery({
    queryKey: queryKeys.mountFiles(id, query),
    queryFn: ({ signal }) => api.json('GET', `${mountPath(id)}/files`, BrowseListingSchema, { signal, query: { ...query } }),
    enabled,
    placeholderData: keepPreviousData,
    // A backup never changes: what was listed stays true while the mount is open.
    staleTime: Infinity,
    retry: false,
  });
}

/** One entry, a symlink described rather than followed; also fetched on demand (following a link). */
export function mountStatOptions(api: ApiClient, id: number, path: string) {
  return queryOptions({
    queryKey: queryKeys.mountStat(id, path),
    queryFn: ({ signal }) => api.json('GET', `${mountPath(id)}/stat`, BrowseSearchHitSchema, { signal, query: { path } }),
    staleTime: Infinity,
    retry: false,
  });
}

export function useMountStatQuery(id: number, path: string, enabled: boolean) {
  const api = useApiClient();
  return useQuery({ ...mountStatOptions(api, id, path), enabled });
}

/**
 * A search under each of `paths` (the node searches one filesystem at a time, so a search
 * from the mount's root asks each readable filesystem), merged in the order given.
 */
export function useMountSearchQueries(id: number, paths: readonly string[], pattern: string, enabled: boolean) {
  const api = useApiClient();
  return useQueries({
    queries: paths.map((path) => ({
      queryKey: queryKeys.mountSearch(id, path, pattern),
      queryFn: ({ signal }: { signal: AbortSignal }) =>
        api.json('GET', `${mountPath(id)}/search`, BrowseSearchResultSchema, { signal, query: { path, pattern, limit: 500 } }),
      enabled: enabled && pattern !== '',
      staleTime: Infinity,
      retry: false,
    })),
    combine: (results) => ({
      isFetching: results.some((result) => result.isFetching),
      error: results.find((result) => result.isError)?.error ?? null,
      data: results.every((result) => result.data !== undefined)
        ? {
            hits: results.flatMap((result) => result.data?.hits ?? []),
            visited: results.reduce((sum, result) => sum + (result.data?.visited ?? 0), 0),
            truncated: results.some((result) => result.data?.truncated === true),
          }
        : undefined,
    }),
  });
}

/**
 * The first PREVIEW_BYTES of a file (fewer when it is smaller: the node refuses a range that
 * ends past the file), with a Range request; closed previews are dropped at once.
 */
export function useMountPreviewQuery(id: number, path: string, size: number, enabled: boolean) {
  const api = useApiClient();
  return useQuery<ByteRange>({
    queryKey: queryKeys.mountPreview(id, path),
    queryFn: ({ signal }) => api.range(`${mountPath(id)}/content`, Math.max(1, Math.min(size, PREVIEW_BYTES)), { signal, query: { path } }),
    enabled: enabled && size > 0,
    staleTime: Infinity,
    gcTime: 0,
    retry: false,
  });
}

/** 202 with the FILE_RESTORE task, which the dialog follows. */
export function useRestoreFilesMutation() {
  const api = useApiClient();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: ({ id, request }: { id: number; request: MountRestoreRequest }) =>
      api.json('POST', `${mountPath(id)}/restore`, TaskSchema, { body: request }),
    onSuccess: (task) => seedTask(queryClient, task),
    meta: { inlineErrors: true },
  });
}
