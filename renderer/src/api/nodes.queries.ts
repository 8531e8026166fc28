import {
  EnrollmentTokenSchema,
  InstallNodeResponseSchema,
  NodeSchema,
  SshProbeResponseSchema,
  TaskSchema,
  type InstallNode,
  type Node,
} from '@common/api/index.js';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { z } from 'zod';
import { useApiClient } from './api-client-context.js';
import { queryKeys } from './query-keys.js';
import { upsertNode } from './node-cache.js';
import { seedTask } from './task-cache.js';

const nodePath = (ref: string | number): string => `/api/nodes/${encodeURIComponent(String(ref))}`;
const NodeListSchema = z.array(NodeSchema);
const NodeLogSchema = z.object({ lines: z.array(z.string()) });

/** Kept current by 'node' events; the poll is only a fallback while the socket reconnects. */
export function useNodesQuery() {
  const api = useApiClient();
  return useQuery({
    queryKey: queryKeys.nodeList,
    queryFn: ({ signal }) => api.json('GET', '/api/nodes', NodeListSchema, { signal }),
    refetchInterval: 60_000,
  });
}

export function useNodeQuery(ref: string) {
  const api = useApiClient();
  const queryClient = useQueryClient();
  return useQuery<Node>({
    queryKey: queryKeys.node(ref),
    queryFn: ({ signal }) => api.json('GET', nodePath(ref), NodeSchema, { signal }),
    // Coming from the list, the row is already known: show it while the details load.
    placeholderData: () =>
      queryClient.getQueryData<Node[]>(queryKeys.nodeList)?.find((node) => String(node.id) === ref || node.name === ref),
    refetchInterval: 60_000,
  });
}

/** Read on demand (the log modal); it goes over SSH for remote nodes, so it is never polled. */
export function useNodeLogQuery(ref: string, lines = 200) {
  const api = useApiClient();
  return useQuery({
    queryKey: queryKeys.nodeLog(ref),
    queryFn: ({ signal }) => api.json('GET', `${nodePath(ref)}/log`, NodeLogSchema, { signal, query: { lines } }),
    staleTime: Infinity,
    gcTime: 0,
    retry: false,
  });
}

export function useCreateEnrollmentTokenMutation() {
  const api = useApiClient();
  return useMutation({
    mutationFn: () => api.json('POST', '/api/nodes/tokens', EnrollmentTokenSchema),
    meta: { inlineErrors: true },
  });
}

export interface SshTarget {
  host: string;
  port: number;
}

export function useSshProbeMutation() {
  const api = useApiClient();
  return useMutation({
    mutationFn: (target: SshTarget) => api.json('POST', '/api/nodes/ssh-probe', SshProbeResponseSchema, { body: target }),
    meta: { inlineErrors: true },
  });
}

export function useInstallNodeMutation() {
  const api = useApiClient();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (install: InstallNode) => api.json('POST', '/api/nodes/install', InstallNodeResponseSchema, { body: install }),
    onSuccess: ({ node }) => {
      upsertNode(queryClient, node);
      void queryClient.invalidateQueries({ queryKey: queryKeys.status });
    },
    meta: { inlineErrors: true },
  });
}

/**
 * Upgrade and removal run as tasks; the caller follows the returned task. A refused removal
 * (the node holds destinations, …) is shown in its dialog, an upgrade's as a toast.
 */
function useNodeTaskMutation(action: 'upgrade' | 'remove', errorTitle?: string) {
  const api = useApiClient();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (node: Node) =>
      action === 'upgrade'
        ? api.json('POST', `${nodePath(node.id)}/upgrade`, TaskSchema)
        : api.json('DELETE', nodePath(node.id), TaskSchema),
    onSuccess: (task) => seedTask(queryClient, task),
    meta: errorTitle === undefined ? { inlineErrors: true } : { errorTitle },
  });
}

export function useUpgradeNodeMutation() {
  return useNodeTaskMutation('upgrade', 'Could not start the upgrade');
}

export function useRemoveNodeMutation() {
  return useNodeTaskMutation('remove');
}

export function useRestartNodeMutation() {
  const api = useApiClient();
  return useMutation({
    mutationFn: (node: Node) => api.empty('POST', `${nodePath(node.id)}/restart`),
    meta: { errorTitle: 'Could not restart the node' },
  });
}
