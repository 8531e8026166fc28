import { HypervisorSchema, TaskSchema } from '@common/api/index.js';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { z } from 'zod';
import { useApiClient } from './api-client-context.js';
import { removeHypervisor, upsertHypervisor } from './inventory-cache.js';
import { queryKeys } from './query-keys.js';
import { seedTask } from './task-cache.js';

const hypervisorPath = (ref: string | number): string => `/api/hypervisors/${encodeURIComponent(String(ref))}`;
const HypervisorListSchema = z.array(HypervisorSchema);

/** What the "Add hypervisor" form sends; the server fills in qemu:///system when uri is left out. */
export interface CreateHypervisorRequest {
  name: string;
  /** Node id or name. */
  node: string;
  uri?: string;
}

/** Kept current by 'hypervisor' events; the poll is only a fallback while the socket reconnects. */
export function useHypervisorsQuery(enabled = true) {
  const api = useApiClient();
  return useQuery({
    queryKey: queryKeys.hypervisorList,
    queryFn: ({ signal }) => api.json('GET', '/api/hypervisors', HypervisorListSchema, { signal }),
    refetchInterval: 60_000,
    enabled,
  });
}

export function useCreateHypervisorMutation() {
  const api = useApiClient();
  const queryClient = useQueryClient();
  return useMutation({
    // The server lists the host's VMs through the node (an INVENTORY_SYNC task) before it answers.
    mutationFn: (request: CreateHypervisorRequest) => api.json('POST', '/api/hypervisors', HypervisorSchema, { body: request }),
    onSuccess: (hypervisor) => {
      upsertHypervisor(queryClient, hypervisor);
      void queryClient.invalidateQueries({ queryKey: queryKeys.hypervisors });
      // The sync that ran first found its VMs.
      void queryClient.invalidateQueries({ queryKey: queryKeys.vms });
    },
    // The form shows the node's reason (libvirt not reachable, …) itself.
    meta: { inlineErrors: true },
  });
}

export function useRemoveHypervisorMutation() {
  const api = useApiClient();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (id: number) => api.empty('DELETE', hypervisorPath(id)),
    onSuccess: (_result, id) => removeHypervisor(queryClient, id),
    meta: { inlineErrors: true },
  });
}

/** Starts an INVENTORY_SYNC; the caller follows the returned task. */
export function useSyncHypervisorMutation() {
  const api = useApiClient();
  const queryClient = useQueryClient();
  return useMutation({
    // An empty object, not no body: the route's schema wants an object.
    mutationFn: (id: number) => api.json('POST', `${hypervisorPath(id)}/sync`, TaskSchema, { body: {} }),
    onSuccess: (task) => seedTask(queryClient, task),
    meta: { errorTitle: 'Could not start the inventory sync' },
  });
}
