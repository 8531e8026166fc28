import { VmSchema, type Vm } from '@common/api/index.js';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { z } from 'zod';
import { useApiClient } from './api-client-context.js';
import { upsertVm } from './inventory-cache.js';
import { queryKeys } from './query-keys.js';

export const vmPath = (ref: string | number): string => `/api/vms/${encodeURIComponent(String(ref))}`;
const VmListSchema = z.array(VmSchema);

/**
 * Every VM of every hypervisor, kept current by 'vm' events; the poll is only a fallback while
 * the socket reconnects. Pages filter by hypervisor themselves, so they share this one cache.
 */
export function useVmsQuery(enabled = true) {
  const api = useApiClient();
  return useQuery({
    queryKey: queryKeys.vmList,
    queryFn: ({ signal }) => api.json('GET', '/api/vms', VmListSchema, { signal }),
    refetchInterval: 60_000,
    enabled,
  });
}

/** By id, name or UUID, as the URL has it. */
export function useVmQuery(ref: string) {
  const api = useApiClient();
  const queryClient = useQueryClient();
  return useQuery<Vm>({
    queryKey: queryKeys.vm(ref),
    queryFn: ({ signal }) => api.json('GET', vmPath(ref), VmSchema, { signal }),
    // Coming from the list, the row is already known: show it while the details load.
    placeholderData: () =>
      queryClient.getQueryData<Vm[]>(queryKeys.vmList)?.find((vm) => String(vm.id) === ref || vm.uuid === ref || vm.name === ref),
    refetchInterval: 60_000,
  });
}

/** The disk set as the change asks for it, written into the caches before the server answers. */
function withExcluded(vm: Vm, excludedDisks: readonly string[]): Vm {
  const excluded = new Set(excludedDisks);
  return { ...vm, disks: vm.disks.map((disk) => ({ ...disk, excluded: excluded.has(disk.target) })) };
}

export function useUpdateVmExclusionsMutation() {
  const api = useApiClient();
  const queryClient = useQueryClient();
  return useMutation({
    // The answer is the VM as it is now; an empty answer is taken as "done" and the VM refetched.
    mutationFn: ({ vm, excludedDisks }: { vm: Vm; excludedDisks: string[] }) =>
      api.json('PATCH', vmPath(vm.id), VmSchema.optional(), { body: { excludedDisks } }),
    // A switch answers at once; a refusal puts it back (onError).
    onMutate: ({ vm, excludedDisks }) => upsertVm(queryClient, withExcluded(vm, excludedDisks)),
    onSuccess: (updated) => {
      if (updated !== undefined) upsertVm(queryClient, updated);
      else void queryClient.invalidateQueries({ queryKey: queryKeys.vms });
    },
    onError: (_error, { vm }) => {
      upsertVm(queryClient, vm);
      // Another change may have landed meanwhile: ask the server what holds now.
      void queryClient.invalidateQueries({ queryKey: queryKeys.vms });
    },
    meta: { errorTitle: 'The disk exclusion was not changed' },
  });
}
