import type { Task } from '@common/api/index.js';
import { taskStateColor, taskStateLabel } from '../utils/task-labels.js';
import { StatusBadge } from './status-badge.js';

export function TaskStateBadge({ task, size = 'sm' }: { task: Pick<Task, 'state' | 'cancelRequested'>; size?: 'sm' | 'lg' }) {
  return <StatusBadge label={taskStateLabel(task)} color={taskStateColor(task)} size={size} data-state={task.state} />;
}
