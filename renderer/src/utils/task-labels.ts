import type { NodeStatus, Task, TaskState, TaskType } from '@common/api/index.js';

/** Words for people; the API's upper-case codes stay in URLs and filters. */
export const TASK_STATE_LABELS: Record<TaskState, string> = {
  QUEUED: 'Queued',
  RUNNING: 'Running',
  FINISHED: 'Finished',
  FINISHED_WITH_WARNINGS: 'Finished with warnings',
  FAILED: 'Failed',
  CANCELLED: 'Cancelled',
};

export const TASK_STATE_COLORS: Record<TaskState, string> = {
  QUEUED: 'gray',
  RUNNING: 'blue',
  FINISHED: 'green',
  FINISHED_WITH_WARNINGS: 'yellow',
  FAILED: 'red',
  // Not 'dark': it vanishes on the dark theme's background.
  CANCELLED: 'gray',
};

export const TASK_TYPE_LABELS: Record<TaskType, string> = {
  EXPORT: 'Export',
  STORE: 'Store',
  RESTORE: 'Restore',
  IMPORT: 'Import',
  MOUNT: 'Mount',
  FILE_RESTORE: 'File restore',
  SNAPSHOT: 'Snapshot',
  NODE_CHECK: 'Node check',
  DESTINATION_CHECK: 'Destination check',
  NODE_INSTALL: 'Node install',
  NODE_UPGRADE: 'Node upgrade',
  NODE_REMOVE: 'Node removal',
  INVENTORY_SYNC: 'Inventory sync',
  VERIFY: 'Verify',
  PRUNE: 'Prune',
  GC: 'Garbage collection',
  REIMPORT: 'Re-import',
  BACKUP_DELETE: 'Delete backup',
  M365_SYNC: 'Microsoft 365 sync',
  M365_BACKUP: 'Microsoft 365 backup',
  M365_RESTORE: 'Microsoft 365 restore',
  COPY: 'Copy backup',
};

/** A running task whose cancel was requested is still running, but people should see why it lingers. */
export function taskStateLabel(task: Pick<Task, 'state' | 'cancelRequested'>): string {
  if (task.state === 'RUNNING' && task.cancelRequested) return 'Cancelling';
  return TASK_STATE_LABELS[task.state];
}

export function taskStateColor(task: Pick<Task, 'state' | 'cancelRequested'>): string {
  if (task.state === 'RUNNING' && task.cancelRequested) return 'orange';
  return TASK_STATE_COLORS[task.state];
}

export const NODE_STATUS_LABELS: Record<NodeStatus, string> = {
  online: 'Online',
  offline: 'Offline',
  installing: 'Installing',
  error: 'Error',
};

export const NODE_STATUS_COLORS: Record<NodeStatus, string> = {
  online: 'green',
  offline: 'gray',
  installing: 'blue',
  error: 'red',
};
