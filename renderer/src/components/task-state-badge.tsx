import type { Task } from '@common/api/index.js';
import { Badge } from '@mantine/core';
import { NO_SHRINK } from '../utils/styles.js';
import { taskStateColor, taskStateLabel } from '../utils/task-labels.js';

export function TaskStateBadge({ task, size = 'sm' }: { task: Pick<Task, 'state' | 'cancelRequested'>; size?: 'sm' | 'lg' }) {
  return (
    <Badge component="span" color={taskStateColor(task)} variant="light" size={size} style={NO_SHRINK} data-state={task.state}>
      {taskStateLabel(task)}
    </Badge>
  );
}
