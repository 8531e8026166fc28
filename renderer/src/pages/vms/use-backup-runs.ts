import type { Task } from '@common/api/index.js';
import { StoreParamsSchema, StoreResultSchema } from '@common/kvm-tasks.js';
import { useMemo } from 'react';
import { useTasksQuery } from '../../api/tasks.queries.js';

/** Backups are matched with the newest tasks of their kind; older ones show no duration. */
const TASK_WINDOW = 500;

/** What a backup's tasks tell about it, beyond the catalog's sizes. */
export interface BackupRun {
  /** From the start of its EXPORT (checkpoint, backup job) to the end of its STORE. */
  seconds: number | null;
  /** Bytes the STORE read from the disks: everything allocated for a full, the changed extents for an incremental. */
  bytesRead: number;
}

/**
 * How each of a VM's backups ran, by repository backup id. The catalog keeps sizes, the tasks
 * keep times and bytes read; the API has no VM filter on tasks, so the newest STORE and EXPORT
 * tasks are read and matched by the VM's UUID and the backup id in the STORE's result.
 */
export function useBackupRuns(vmUuid: string): ReadonlyMap<string, BackupRun> {
  const stores = useTasksQuery({ type: 'STORE', limit: TASK_WINDOW });
  const exports = useTasksQuery({ type: 'EXPORT', limit: TASK_WINDOW });
  return useMemo(() => {
    const exportsByWorkflow = new Map<number, Task>();
    for (const task of exports.data?.tasks ?? []) if (task.workflowId !== null) exportsByWorkflow.set(task.workflowId, task);
    const runs = new Map<string, BackupRun>();
    for (const store of stores.data?.tasks ?? []) {
      const params = StoreParamsSchema.safeParse(store.params);
      const result = StoreResultSchema.safeParse(store.result);
      if (!params.success || !result.success || params.data.vm.uuid !== vmUuid) continue;
      const started = (store.workflowId === null ? undefined : exportsByWorkflow.get(store.workflowId))?.startedAt ?? store.startedAt;
      const seconds = started === null || store.finishedAt === null ? Number.NaN : (Date.parse(store.finishedAt) - Date.parse(started)) / 1000;
      runs.set(result.data.backupId, { seconds: Number.isFinite(seconds) && seconds >= 0 ? seconds : null, bytesRead: result.data.bytesRead });
    }
    return runs;
  }, [stores.data, exports.data, vmUuid]);
}
