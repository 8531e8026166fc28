import type { Health, ServerEvent, Status } from '@common/api/index.js';
import type { QueryClient } from '@tanstack/react-query';
import { invalidateBackups, removeDestination, upsertDestination } from '../api/destination-cache.js';
import { refreshJobsAfterPolicyRun, refreshJobsAfterTask } from '../api/jobs.queries.js';
import { refreshInventoryAfterTask, upsertHypervisor, upsertVm } from '../api/inventory-cache.js';
import { applyMount } from '../api/mount-cache.js';
import { removeNode, upsertNode } from '../api/node-cache.js';
import { applyPolicyRun, invalidatePolicies } from '../api/policy-cache.js';
import { queryKeys } from '../api/query-keys.js';
import { refreshSnapshotsAfterTask } from '../api/snapshot-cache.js';
import { appendTaskLog, cachedTask, upsertTask } from '../api/task-cache.js';

/** Turns a pushed event into cache updates; the pages re-render from the cache. */
export function applyServerEvent(queryClient: QueryClient, event: ServerEvent): void {
  switch (event.type) {
    case 'hello':
      return;
    case 'audit':
      // Invalidate rather than prepend: the visible page may be filtered or not the first one.
      void queryClient.invalidateQueries({ queryKey: queryKeys.auditAll });
      return;
    case 'users.changed':
      void queryClient.invalidateQueries({ queryKey: queryKeys.users });
      void queryClient.invalidateQueries({ queryKey: queryKeys.status });
      // The change may be our own role, which decides what this UI shows.
      void queryClient.invalidateQueries({ queryKey: queryKeys.me });
      return;
    case 'catalog':
      // Show the new catalog state at once, then refetch the rest of the status.
      queryClient.setQueryData<Status>(queryKeys.status, (old) => (old ? { ...old, catalog: event.catalog } : old));
      queryClient.setQueryData<Health>(queryKeys.health, (old) => (old ? { ...old, catalog: event.catalog } : old));
      void queryClient.invalidateQueries({ queryKey: queryKeys.status });
      return;
    // Tasks and nodes are patched in place: progress ticks (~2/s per task) must not refetch.
    case 'task': {
      const previous = cachedTask(queryClient, event.task.id);
      upsertTask(queryClient, event.task);
      refreshInventoryAfterTask(queryClient, event.task, previous);
      refreshSnapshotsAfterTask(queryClient, event.task, previous);
      refreshJobsAfterTask(queryClient, event.task, previous);
      return;
    }
    case 'task.log':
      appendTaskLog(queryClient, event.taskId, event.line);
      return;
    case 'node':
      upsertNode(queryClient, event.node);
      return;
    case 'node.removed':
      removeNode(queryClient, event.nodeId);
      return;
    case 'destination':
      upsertDestination(queryClient, event.destination);
      return;
    case 'destination.removed':
      removeDestination(queryClient, event.destinationId);
      return;
    case 'backups.changed':
      invalidateBackups(queryClient);
      // The dashboard counts backups per day and the stored size.
      void queryClient.invalidateQueries({ queryKey: queryKeys.dashboard });
      return;
    // A sync pushes every VM it saw; each is patched in place, never a refetch per VM.
    case 'hypervisor':
      upsertHypervisor(queryClient, event.hypervisor);
      return;
    case 'vm':
      upsertVm(queryClient, event.vm);
      return;
    case 'policies.changed':
      invalidatePolicies(queryClient);
      return;
    // Sent when a run starts, moves (VMs done) and ends: rare enough to refetch what it changes.
    case 'policy.run':
      applyPolicyRun(queryClient, event.run);
      refreshJobsAfterPolicyRun(queryClient);
      return;
    case 'mount':
      applyMount(queryClient, event.mount);
      return;
    default: {
      // A new event type in common/api/events.ts fails the renderer typecheck here until handled.
      const unhandled: never = event;
      return unhandled;
    }
  }
}
