import type { Hypervisor, Task, Vm } from '@common/api/index.js';
import { isFinalState } from '@common/api/index.js';
import type { QueryClient } from '@tanstack/react-query';
import { queryKeys } from './query-keys.js';

const byName = <T extends { name: string; id: number }>(a: T, b: T): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.id - b.id);

/** The list is sorted by name, as the server sends it. */
export function upsertHypervisorInList(hypervisors: readonly Hypervisor[], hypervisor: Hypervisor): Hypervisor[] {
  return [...hypervisors.filter((candidate) => candidate.id !== hypervisor.id), hypervisor].sort(byName);
}

/** VMs are sorted by name (names may repeat across hypervisors; the id breaks the tie). */
export function upsertVmInList(vms: readonly Vm[], vm: Vm): Vm[] {
  return [...vms.filter((candidate) => candidate.id !== vm.id), vm].sort(byName);
}

/** Writes a hypervisor from an event or a mutation answer into the list that shows it. */
export function upsertHypervisor(queryClient: QueryClient, hypervisor: Hypervisor): void {
  queryClient.setQueryData<Hypervisor[]>(queryKeys.hypervisorList, (old) => (old === undefined ? old : upsertHypervisorInList(old, hypervisor)));
}

export function removeHypervisor(queryClient: QueryClient, hypervisorId: number): void {
  queryClient.setQueryData<Hypervisor[]>(queryKeys.hypervisorList, (old) => old?.filter((hypervisor) => hypervisor.id !== hypervisorId));
  // Its VMs leave the inventory with it; the server knows what that means for each.
  void queryClient.invalidateQueries({ queryKey: queryKeys.vms });
}

/** Writes a VM from an event or a mutation answer into the list and into an open details page. */
export function upsertVm(queryClient: QueryClient, vm: Vm): void {
  queryClient.setQueryData<Vm[]>(queryKeys.vmList, (old) => (old === undefined ? old : upsertVmInList(old, vm)));
  queryClient.setQueriesData<Vm>({ queryKey: queryKeys.vmDetails }, (old) => (old?.id === vm.id ? vm : old));
}

/** Task types whose end changes the inventory: VMs found or gone, a last backup, a new VM. */
const INVENTORY_TASKS: ReadonlySet<Task['type']> = new Set(['INVENTORY_SYNC', 'STORE', 'IMPORT']);

/**
 * 'vm' and 'hypervisor' events carry these changes as they happen; this refetch after such a
 * task ends covers an event missed while the socket reconnected. Only lists on screen refetch.
 */
export function refreshInventoryAfterTask(queryClient: QueryClient, task: Task, previous: Task | undefined): void {
  if (!INVENTORY_TASKS.has(task.type) || !isFinalState(task.state)) return;
  if (previous !== undefined && isFinalState(previous.state)) return;
  void queryClient.invalidateQueries({ queryKey: queryKeys.hypervisors });
  void queryClient.invalidateQueries({ queryKey: queryKeys.vms });
}
