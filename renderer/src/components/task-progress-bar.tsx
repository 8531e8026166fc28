import { isFinalState, type TaskProgress, type TaskState } from '@common/api/index.js';
import { Group, Progress, Stack, Text } from '@mantine/core';
import { describeProgress } from '../utils/task-progress.js';
import { TASK_STATE_COLORS } from '../utils/task-labels.js';

interface TaskProgressBarProps {
  progress: TaskProgress;
  state: TaskState;
  /** 'sm' for table cells and lists, 'lg' for a task's own page. */
  size?: 'sm' | 'lg';
  /** Accessible name, e.g. "Progress of task 42". */
  label?: string;
}

/**
 * The one progress bar for tasks: percent, bytes done of total, rate and ETA, or an animated
 * bar when the total is unknown. Every place that shows a task's progress uses this.
 */
export function TaskProgressBar({ progress, state, size = 'sm', label = 'Task progress' }: TaskProgressBarProps) {
  const view = describeProgress(progress, state);
  const indeterminate = view.percent === null;
  const large = size === 'lg';
  const textSize = large ? 'sm' : 'xs';
  const color = state === 'RUNNING' ? 'blue' : TASK_STATE_COLORS[state];

  return (
    <Stack gap={large ? 6 : 2} miw={large ? undefined : 160}>
      <Progress.Root
        size={large ? 'xl' : 'sm'}
        role="progressbar"
        aria-label={label}
        aria-valuemin={0}
        aria-valuemax={100}
        // Left out while indeterminate, which is how ARIA says "busy, amount unknown".
        aria-valuenow={indeterminate ? undefined : Math.round(view.percent ?? 0)}
        aria-valuetext={view.summary}
        data-state={state}
      >
        <Progress.Section
          withAria={false}
          value={indeterminate ? 100 : (view.percent ?? 0)}
          color={color}
          striped={indeterminate}
          animated={view.active && (indeterminate || large)}
          style={{ transition: 'width 400ms linear' }}
        />
      </Progress.Root>
      <Group gap="xs" justify="space-between" wrap="nowrap">
        <Text size={textSize} fw={500} style={{ whiteSpace: 'nowrap' }}>
          {state === 'QUEUED' ? 'Queued' : [view.percentText, view.bytesText].filter(Boolean).join(' · ') || 'Working…'}
        </Text>
        {(view.rateText !== null || view.etaText !== null) && (
          <Text size={textSize} c="dimmed" style={{ whiteSpace: 'nowrap' }}>
            {[view.rateText, view.etaText === null ? null : `ETA ${view.etaText}`].filter(Boolean).join(' · ')}
          </Text>
        )}
      </Group>
      {/* What it is doing now; once it ended, that is history the log keeps. */}
      {large && !isFinalState(state) && progress.message !== null && progress.message !== '' && (
        <Text size="sm" c="dimmed">
          {progress.message}
        </Text>
      )}
    </Stack>
  );
}
