import type { Task } from '@common/api/index.js';
import { Anchor, Group } from '@mantine/core';
import type { ReactNode } from 'react';
import { Link } from 'react-router-dom';
import { TaskStateBadge } from '../task-state-badge.js';

/** A followed task's first line: what it is (when several are listed), its state and a link to its page; an action on the right. */
export function TaskHeader({ task, title, action }: { task: Pick<Task, 'id' | 'state' | 'cancelRequested'>; title?: ReactNode; action?: ReactNode }) {
  return (
    <Group justify="space-between" align="flex-start" wrap="nowrap">
      <Group gap="xs">
        {title}
        <TaskStateBadge task={task} />
        <Anchor component={Link} to={`/tasks/${task.id}`} size="sm">
          Task {task.id}
        </Anchor>
      </Group>
      {action}
    </Group>
  );
}
