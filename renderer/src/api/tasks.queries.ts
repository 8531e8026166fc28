import { isFinalState, TaskDetailsSchema, TaskPageSchema, TaskSchema, type TaskDetails, type TaskListQuery } from '@common/api/index.js';
import { keepPreviousData, useMutation, useQueries, useQuery, useQueryClient } from '@tanstack/react-query';
import { useConnectionState } from '../events/connection-state-context.js';
import { useApiClient } from './api-client-context.js';
import { queryKeys } from './query-keys.js';
import { seedTask, upsertTask } from './task-cache.js';

/** Events keep task caches live; while the socket is down, poll so bars do not freeze. */
const FALLBACK_POLL_MS = 3_000;

export function useTasksQuery(query: TaskListQuery) {
  const api = useApiClient();
  const live = useConnectionState() === 'open';
  return useQuery({
    queryKey: queryKeys.taskList(query),
    queryFn: ({ signal }) =>
      api.json('GET', '/api/tasks', TaskPageSchema, {
        signal,
        query: { state: query.state, type: query.type, node: query.node, subject: query.subject, from: query.from, to: query.to, limit: query.limit, cursor: query.cursor },
      }),
    placeholderData: keepPreviousData,
    refetchInterval: live ? false : FALLBACK_POLL_MS,
  });
}

export function useTaskQuery(id: number, enabled = true) {
  const api = useApiClient();
  const live = useConnectionState() === 'open';
  return useQuery({
    queryKey: queryKeys.task(id),
    queryFn: ({ signal }) => api.json('GET', `/api/tasks/${id}`, TaskDetailsSchema, { signal }),
    enabled,
    refetchInterval: (query) => {
      const task: TaskDetails | undefined = query.state.data;
      return live || (task !== undefined && isFinalState(task.state)) ? false : FALLBACK_POLL_MS;
    },
  });
}

/** Several tasks followed together (a workflow's steps), in the order given. */
export function useTaskQueries(ids: readonly number[]) {
  const api = useApiClient();
  const live = useConnectionState() === 'open';
  return useQueries({
    queries: ids.map((id) => ({
      queryKey: queryKeys.task(id),
      queryFn: ({ signal }: { signal: AbortSignal }) => api.json('GET', `/api/tasks/${id}`, TaskDetailsSchema, { signal }),
      refetchInterval: (query: { state: { data: TaskDetails | undefined } }) => {
        const task = query.state.data;
        return live || (task !== undefined && isFinalState(task.state)) ? false : FALLBACK_POLL_MS;
      },
    })),
  });
}

export function useCancelTaskMutation() {
  const api = useApiClient();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: ({ id, force }: { id: number; force: boolean }) =>
      api.json('POST', `/api/tasks/${id}/cancel`, TaskSchema, { body: force ? { force: true } : {} }),
    onSuccess: (task) => upsertTask(queryClient, task),
    // Usually "already ended": the task changed under us, so fetch what it is now.
    onError: (_error, { id }) => queryClient.invalidateQueries({ queryKey: queryKeys.task(id) }),
    // The button shows the server's reason next to itself.
    meta: { inlineErrors: true },
  });
}

export interface NodeCheckRequest {
  /** Node id or name. */
  node: string;
  sampleBytes?: number;
}

export function useCreateNodeCheckMutation() {
  const api = useApiClient();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (request: NodeCheckRequest) => api.json('POST', '/api/tasks/node-check', TaskSchema, { body: request }),
    onSuccess: (task) => seedTask(queryClient, task),
    meta: { errorTitle: 'Could not start the node check' },
  });
}
