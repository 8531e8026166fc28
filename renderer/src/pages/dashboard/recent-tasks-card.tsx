import { isFinalState, type Task } from '@common/api/index.js';
import { Anchor, Group, Skeleton, Stack, Text } from '@mantine/core';
import { Link } from 'react-router-dom';
import { useTasksQuery } from '../../api/tasks.queries.js';
import { QueryErrorAlert } from '../../components/query-error-alert.js';
import { RelativeTime } from '../../components/relative-time.js';
import { TaskProgressBar } from '../../components/task-progress-bar.js';
import { TaskStateBadge } from '../../components/task-state-badge.js';
import { TASK_TYPE_LABELS } from '../../utils/task-labels.js';
import { DashboardCard } from './dashboard-card.js';

const RECENT = 5;

function RecentTask({ task }: { task: Task }) {
  return (
    <Stack gap={4} component="li" style={{ listStyle: 'none' }}>
      <Group justify="space-between" wrap="nowrap" gap="xs">
        <Anchor component={Link} to={`/tasks/${task.id}`} size="sm" fw={500} lineClamp={1}>
          {`${TASK_TYPE_LABELS[task.type]}${task.subject === null ? '' : ` · ${task.subject}`}`}
        </Anchor>
        <TaskStateBadge task={task} />
      </Group>
      {isFinalState(task.state) ? (
        <Group gap={4}>
          <Text size="xs" c="dimmed">
            Ended
          </Text>
          <RelativeTime iso={task.finishedAt} size="xs" />
        </Group>
      ) : (
        <TaskProgressBar progress={task.progress} state={task.state} label={`Progress of task ${task.id}`} />
      )}
    </Stack>
  );
}

/** The last few tasks, moving live, so the dashboard answers "is anything happening?". */
export function RecentTasksCard() {
  const tasks = useTasksQuery({ limit: RECENT });
  return (
    <DashboardCard headingId="recent-tasks-heading" title="Recent tasks" link={{ to: '/tasks', label: 'All tasks' }}>
      {tasks.isPending && <Skeleton h={120} />}
      {tasks.isError && <QueryErrorAlert title="Could not load tasks" error={tasks.error} onRetry={() => void tasks.refetch()} />}
      {tasks.isSuccess && tasks.data.tasks.length === 0 && (
        <Text size="sm" c="dimmed">
          No tasks yet. Installs, checks and backups show up here.
        </Text>
      )}
      {tasks.isSuccess && tasks.data.tasks.length > 0 && (
        <Stack gap="md" component="ul" p={0} m={0}>
          {tasks.data.tasks.map((task) => (
            <RecentTask key={task.id} task={task} />
          ))}
        </Stack>
      )}
    </DashboardCard>
  );
}
