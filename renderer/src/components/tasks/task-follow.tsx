import { isFinalState, type TaskDetails } from '@common/api/index.js';
import { Skeleton, Stack, Text } from '@mantine/core';
import type { ReactNode } from 'react';
import { useTaskQuery } from '../../api/tasks.queries.js';
import { QueryErrorAlert } from '../query-error-alert.js';
import { TaskProgressBar } from '../task-progress-bar.js';
import { TaskCancelButton } from './task-cancel-button.js';
import { TaskHeader } from './task-header.js';
import { TaskLog } from './task-log.js';
import { TaskOutcome } from './task-outcome.js';

interface TaskFollowProps {
  taskId: number;
  /** Names the bar and the log, e.g. "Verify" → "Verify progress", "Verify log". */
  label: string;
  /** What the task found, once it ended with a result (a failed verify still names bad chunks). */
  renderResult?: (task: TaskDetails) => ReactNode;
  errorTitle?: string;
  logHeight?: number;
}

/**
 * One task followed live inside a dialog or a page section: state, bar, outcome, result and
 * log, all from the task's cache, which server events keep moving.
 */
export function TaskFollow({ taskId, label, renderResult, errorTitle, logHeight = 180 }: TaskFollowProps) {
  const task = useTaskQuery(taskId);
  if (task.isPending) return <Skeleton h={120} radius="md" aria-label={`Loading task ${taskId}`} />;
  if (task.isError) return <QueryErrorAlert title={`Could not follow task ${taskId}`} error={task.error} onRetry={() => void task.refetch()} />;

  const { data } = task;
  return (
    <Stack gap="sm" data-testid="task-follow" data-state={data.state}>
      <TaskHeader task={data} action={<TaskCancelButton task={data} />} />
      <TaskProgressBar progress={data.progress} state={data.state} size="lg" label={`${label} progress`} />
      <TaskOutcome task={data} errorTitle={errorTitle} />
      {isFinalState(data.state) && data.result !== null && renderResult?.(data)}
      {!isFinalState(data.state) && (
        <Text size="xs" c="dimmed">
          You may close this dialog; the task goes on, and its page shows how it ends.
        </Text>
      )}
      <TaskLog log={data.log} label={`${label} log`} height={logHeight} final={isFinalState(data.state)} />
    </Stack>
  );
}
