import { SnapshotSchema, TaskSchema, type Vm } from '@common/api/index.js';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { z } from 'zod';
import { useApiClient } from './api-client-context.js';
import { queryKeys } from './query-keys.js';
import { seedTask } from './task-cache.js';
import { vmPath } from './vms.queries.js';

const SnapshotListSchema = z.array(SnapshotSchema);
const snapshotPath = (vm: number, name: string): string => `${vmPath(vm)}/snapshots/${encodeURIComponent(name)}`;

/**
 * A VM's libvirt snapshots, oldest first. The server asks the VM's node over its connection and
 * waits (a read, no task; 503 while the node is offline), so this is never polled: the SNAPSHOT tasks that change the list write their result
 * into it when they end (see snapshot-cache.ts). A VM gone from its host has none to list.
 */
export function useVmSnapshotsQuery(vm: Pick<Vm, 'id' | 'uuid' | 'present'>) {
  const api = useApiClient();
  return useQuery({
    queryKey: queryKeys.vmSnapshots(vm.uuid),
    queryFn: ({ signal }) => api.json('GET', `${vmPath(vm.id)}/snapshots`, SnapshotListSchema, { signal }),
    enabled: vm.present,
    refetchOnWindowFocus: false,
  });
}

/** Each answers 202 with the SNAPSHOT task, which the caller follows; 'task' events move it. */
export function useTakeSnapshotMutation() {
  const api = useApiClient();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: ({ vmId, name }: { vmId: number; name: string | undefined }) =>
      api.json('POST', `${vmPath(vmId)}/snapshots`, TaskSchema, { body: name === undefined ? {} : { name } }),
    onSuccess: (task) => seedTask(queryClient, task),
    // The dialog shows a refusal (a bad name, the VM gone) itself.
    meta: { inlineErrors: true },
  });
}

export function useRevertSnapshotMutation() {
  const api = useApiClient();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: ({ vmId, name, discardCheckpoints }: { vmId: number; name: string; discardCheckpoints: boolean }) =>
      api.json('POST', `${snapshotPath(vmId, name)}/revert`, TaskSchema, { body: { discardCheckpoints } }),
    onSuccess: (task) => seedTask(queryClient, task),
    meta: { inlineErrors: true },
  });
}

export function useDeleteSnapshotMutation() {
  const api = useApiClient();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: ({ vmId, name }: { vmId: number; name: string }) => api.json('DELETE', snapshotPath(vmId, name), TaskSchema),
    onSuccess: (task) => seedTask(queryClient, task),
    meta: { inlineErrors: true },
  });
}
