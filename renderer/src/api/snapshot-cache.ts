import { isFinalState, type Snapshot, type Task } from '@common/api/index.js';
import { SnapshotParamsSchema, SnapshotResultSchema } from '@common/kvm-tasks.js';
import type { QueryClient } from '@tanstack/react-query';
import { queryKeys } from './query-keys.js';

/** The VM a SNAPSHOT task changed, or null for a listing (which changes nothing) and other tasks. */
export function snapshotTaskVm(task: Pick<Task, 'type' | 'params'>): string | null {
  if (task.type !== 'SNAPSHOT') return null;
  const params = SnapshotParamsSchema.safeParse(task.params);
  if (!params.success || params.data.op === 'list') return null;
  return params.data.vm.uuid;
}

/**
 * A SNAPSHOT task that took, reverted or deleted a snapshot ended: its VM's snapshot list
 * changed. Every such task answers with the VM's snapshots afterwards, so the list is written
 * from its result; without one (it failed) the list is fetched again, since a failure midway
 * (a policy's rotation) may still have changed it. Only a list on screen refetches.
 */
export function applySnapshotTask(queryClient: QueryClient, task: Task): void {
  const vmUuid = snapshotTaskVm(task);
  if (vmUuid === null || !isFinalState(task.state)) return;
  const key = queryKeys.vmSnapshots(vmUuid);
  const result = SnapshotResultSchema.safeParse(task.result);
  if (result.success && (task.state === 'FINISHED' || task.state === 'FINISHED_WITH_WARNINGS')) {
    // Only a list someone looked at: the answer of a fetch on its way would be older than this.
    if (queryClient.getQueryData(key) !== undefined) {
      void queryClient.cancelQueries({ queryKey: key, exact: true });
      queryClient.setQueryData<Snapshot[]>(key, result.data.snapshots);
    }
    return;
  }
  void queryClient.invalidateQueries({ queryKey: key, exact: true });
}

/** From a 'task' event: once per task, when it reaches its end. */
export function refreshSnapshotsAfterTask(queryClient: QueryClient, task: Task, previous: Task | undefined): void {
  if (previous !== undefined && isFinalState(previous.state)) return;
  applySnapshotTask(queryClient, task);
}
