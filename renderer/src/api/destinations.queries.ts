import {
  CreatedDestinationSchema,
  DestinationSchema,
  DestinationUsagePointSchema,
  S3CheckAnswerSchema,
  TaskSchema,
  type CheckS3Destination,
  type CreateDestination,
  type Destination,
  type ResetDestinationPassword,
  type Retention,
} from '@common/api/index.js';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { z } from 'zod';
import { useApiClient } from './api-client-context.js';
import { invalidateBackups, removeDestination, upsertDestination } from './destination-cache.js';
import { queryKeys } from './query-keys.js';
import { seedTask } from './task-cache.js';

export const destinationPath = (ref: string | number): string => `/api/destinations/${encodeURIComponent(String(ref))}`;
const DestinationListSchema = z.array(DestinationSchema);
const UsageSchema = z.array(DestinationUsagePointSchema);
export type UsagePoint = z.infer<typeof DestinationUsagePointSchema>;

/** Kept current by 'destination' events; the poll is only a fallback while the socket reconnects. */
export function useDestinationsQuery(enabled = true) {
  const api = useApiClient();
  return useQuery({
    queryKey: queryKeys.destinationList,
    queryFn: ({ signal }) => api.json('GET', '/api/destinations', DestinationListSchema, { signal }),
    refetchInterval: 60_000,
    enabled,
  });
}

export function useDestinationQuery(ref: string) {
  const api = useApiClient();
  const queryClient = useQueryClient();
  return useQuery<Destination>({
    queryKey: queryKeys.destination(ref),
    queryFn: ({ signal }) => api.json('GET', destinationPath(ref), DestinationSchema, { signal }),
    // Coming from the list, the row is already known: show it while the details load.
    placeholderData: () =>
      queryClient
        .getQueryData<Destination[]>(queryKeys.destinationList)
        ?.find((destination) => String(destination.id) === ref || destination.name === ref),
    refetchInterval: 60_000,
  });
}

/** Oldest first, one point per destination task; 'destination' events make it refetch. */
export function useDestinationUsageQuery(id: number) {
  const api = useApiClient();
  return useQuery({
    queryKey: queryKeys.destinationUsage(id),
    queryFn: ({ signal }) => api.json('GET', `${destinationPath(id)}/usage`, UsageSchema, { signal }),
  });
}

/** The S3 form's Check: the node reaches the bucket and opens (or finds no) repository there; nothing is kept. */
export function useCheckS3DestinationMutation() {
  const api = useApiClient();
  return useMutation({
    mutationFn: (check: CheckS3Destination) => api.json('POST', '/api/destinations/check-s3', S3CheckAnswerSchema, { body: check }),
    // The form shows what is wrong under the field it is about.
    meta: { inlineErrors: true },
  });
}

/**
 * Mutations update the caches themselves: the 'destination' event does it too, but the
 * WebSocket may be reconnecting at that moment.
 */
export function useCreateDestinationMutation() {
  const api = useApiClient();
  const queryClient = useQueryClient();
  return useMutation({
    // The server checks the path on the node before it answers, which may take seconds.
    mutationFn: (destination: CreateDestination) => api.json('POST', '/api/destinations', CreatedDestinationSchema, { body: destination }),
    onSuccess: (destination) => {
      upsertDestination(queryClient, destination);
      void queryClient.invalidateQueries({ queryKey: queryKeys.destinationList });
    },
    // The form shows the node's reason under the field it is about.
    meta: { inlineErrors: true },
  });
}

/**
 * Sets a new password with the recovery key (the node rewrites the repository's key, then the
 * destination is checked with the new password): answers with the destination as found then.
 */
export function useResetDestinationPasswordMutation() {
  const api = useApiClient();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: ({ id, request }: { id: number; request: ResetDestinationPassword }) =>
      api.json('POST', `${destinationPath(id)}/reset-password`, DestinationSchema, { body: request }),
    onSuccess: (destination) => upsertDestination(queryClient, destination),
    // The dialog shows a refused key or password under its field.
    meta: { inlineErrors: true },
  });
}

export function useRenameDestinationMutation() {
  const api = useApiClient();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: ({ id, name }: { id: number; name: string }) =>
      api.json('PATCH', destinationPath(id), DestinationSchema, { body: { name } }),
    onSuccess: (destination) => {
      upsertDestination(queryClient, destination);
      // Backups carry the destination's name.
      invalidateBackups(queryClient);
    },
    meta: { inlineErrors: true },
  });
}

export function useRemoveDestinationMutation() {
  const api = useApiClient();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: ({ id, force }: { id: number; force: boolean }) =>
      api.empty('DELETE', destinationPath(id), force ? { query: { force: 'true' } } : {}),
    onSuccess: (_result, { id }) => removeDestination(queryClient, id),
    // A 409 (backups in the catalog) is answered in the dialog, with the option to force.
    meta: { inlineErrors: true },
  });
}

/** What each maintenance action sends; all of them answer 202 with the task to follow. */
export type DestinationAction =
  | { action: 'verify'; body: { subset?: { part: number; of: number } } }
  | { action: 'prune'; body: { retention: Retention; dryRun: boolean } }
  | { action: 'gc'; body: { graceHours?: number } }
  | { action: 'import'; body: Record<string, never> }
  | { action: 'refresh'; body: Record<string, never> };

export type DestinationActionName = DestinationAction['action'];

/**
 * Starts a destination task (verify, prune, gc, import, refresh). `inline` is for dialogs that
 * show the refusal themselves; otherwise it is toasted.
 */
export function useDestinationActionMutation(inline = true) {
  const api = useApiClient();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: ({ destinationId, request }: { destinationId: number; request: DestinationAction }) =>
      api.json('POST', `${destinationPath(destinationId)}/${request.action}`, TaskSchema, { body: request.body }),
    onSuccess: (task) => seedTask(queryClient, task),
    meta: inline ? { inlineErrors: true } : { errorTitle: 'Could not start the task' },
  });
}
