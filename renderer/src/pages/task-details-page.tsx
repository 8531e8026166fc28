import { Anchor, Button, Grid, Group, Paper, Skeleton, Stack, Title } from '@mantine/core';
import { IconArrowLeft, IconMapOff } from '@tabler/icons-react';
import { Link, useParams } from 'react-router-dom';
import { isApiError } from '../api/api-error.js';
import { useTaskQuery } from '../api/tasks.queries.js';
import { EmptyState } from '../components/empty-state.js';
import { PageHeader } from '../components/page-header.js';
import { QueryErrorAlert } from '../components/query-error-alert.js';
import { TaskProgressBar } from '../components/task-progress-bar.js';
import { TaskStateBadge } from '../components/task-state-badge.js';
import { TaskCancelButton } from '../components/tasks/task-cancel-button.js';
import { TaskLog } from '../components/tasks/task-log.js';
import { TaskOutcome } from '../components/tasks/task-outcome.js';
import { TASK_TYPE_LABELS } from '../utils/task-labels.js';
import { TaskFields } from './tasks/task-fields.js';

function BackToTasks() {
  return (
    <Anchor component={Link} to="/tasks" size="sm">
      <Group gap={4} component="span">
        <IconArrowLeft size={14} aria-hidden />
        All tasks
      </Group>
    </Anchor>
  );
}

export function TaskDetailsPage() {
  const id = Number.parseInt(useParams().id ?? '', 10);
  const valid = Number.isInteger(id) && id > 0;
  const task = useTaskQuery(id, valid);

  if (!valid || isApiError(task.error, 404)) {
    return (
      <>
        <PageHeader title="Task not found" />
        <EmptyState
          icon={IconMapOff}
          title={valid ? `There is no task ${id}` : 'This is not a task address'}
          description="It may have been removed, or the link is wrong."
          actions={
            <Button component={Link} to="/tasks" variant="default">
              Go to tasks
            </Button>
          }
        />
      </>
    );
  }
  if (task.isPending) return <Skeleton h={320} radius="md" aria-label="Loading the task" />;
  if (task.isError) return <QueryErrorAlert title="Could not load the task" error={task.error} onRetry={() => void task.refetch()} />;

  const { data } = task;
  return (
    <>
      <BackToTasks />
      <PageHeader
        title={`Task ${data.id}: ${TASK_TYPE_LABELS[data.type]}`}
        description={data.subject ?? undefined}
        actions={<TaskCancelButton task={data} />}
      />
      <Stack>
        <Paper withBorder radius="md" p="md">
          <Group justify="space-between" mb="sm">
            <Title order={2} size="h4">
              Progress
            </Title>
            <TaskStateBadge task={data} size="lg" />
          </Group>
          <TaskProgressBar progress={data.progress} state={data.state} size="lg" label={`Progress of task ${data.id}`} />
        </Paper>
        <TaskOutcome task={data} />
        <Grid>
          <Grid.Col span={{ base: 12, lg: 5 }}>
            <Paper withBorder radius="md" p="md">
              <Title order={2} size="h4" mb="sm">
                Details
              </Title>
              <TaskFields task={data} />
            </Paper>
          </Grid.Col>
          <Grid.Col span={{ base: 12, lg: 7 }}>
            <Paper withBorder radius="md" p="md">
              <Title order={2} size="h4" mb="sm">
                Log
              </Title>
              <TaskLog log={data.log} height={520} />
            </Paper>
          </Grid.Col>
        </Grid>
      </Stack>
    </>
  );
}
