import { isFinalState, type TaskDetails } from '@common/api/index.js';
import { Skeleton, Stack, Text } from '@mantine/core';
import type { ReactNode } from 'react';
import { useTaskQuery } from '../../api/tasks.queries.js';
import { QueryErrorAlert } from '../../components/query-error-alert.js';
import { TaskProgressBar } from '../../components/task-progress-bar.js';
import { TaskCancelButton } from '../../components/tasks/task-cancel-button.js';
import { TaskHeader } from '../../components/tasks/task-header.js';
import { TaskLog } from '../../components/tasks/task-log.js';
import { TaskOutcome } from '../../components/tasks/task-outcome.js';

interface SnapshotTaskFollowProps {
  taskId: number;
  /** Names the bar and the log: "Revert" → "Revert progress", "Revert log". */
  label: string;
  errorTitle: string;
  /** Left of the state, e.g. what the task does, where several are listed. */
  title?: ReactNode;
  /** Right of the state, once the task ended (a dismiss button). */
  endAction?: ReactNode;
}

const failed = (task: TaskDetails): boolean => task.state === 'FAILED' || task.state === 'CANCELLED';

/**
 * A SNAPSHOT task followed live, from the tasks cache that 'task' events move: the shared
 * pieces of TaskFollow, kept small for a task that takes seconds. The bar goes once the task
 * failed (the reason says more than an empty bar), and the log shows only once it has lines.
 */
export function SnapshotTaskFollow({ taskId, label, errorTitle, title, endAction }: SnapshotTaskFollowProps) {
  const query = useTaskQuery(taskId);
  if (query.isPending) return <Skeleton h={56} radius="md" aria-label={`Loading task ${taskId}`} />;
  if (query.isError) return <QueryErrorAlert title={`Could not follow task ${taskId}`} error={query.error} onRetry={() => void query.refetch()} />;

  const task = query.data;
  const ended = isFinalState(task.state);
  return (
    <Stack gap="xs" data-testid="task-follow" data-state={task.state}>
      <TaskHeader
        task={task}
        title={
          title !== undefined && (
            <Text size="sm" fw={500}>
              {title}
            </Text>
          )
        }
        action={ended ? endAction : <TaskCancelButton task={task} />}
      />
      {!failed(task) && <TaskProgressBar progress={task.progress} state={task.state} label={`${label} progress`} />}
      <TaskOutcome task={task} errorTitle={errorTitle} />
      {task.log.length > 0 && <TaskLog log={task.log} label={`${label} log`} height={100} />}
    </Stack>
  );
}
