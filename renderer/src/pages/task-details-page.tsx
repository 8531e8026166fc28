import { isFinalState, type TaskDetails } from '@common/api/index.js';
import { Grid, Group, Paper, Skeleton, Stack, Title } from '@mantine/core';
import { useParams } from 'react-router-dom';
import { isApiError } from '../api/api-error.js';
import { useTaskQuery } from '../api/tasks.queries.js';
import { BackLink } from '../components/back-link.js';
import { NotFoundState } from '../components/not-found-state.js';
import { PageHeader } from '../components/page-header.js';
import { QueryErrorAlert } from '../components/query-error-alert.js';
import { TaskProgressBar } from '../components/task-progress-bar.js';
import { TaskStateBadge } from '../components/task-state-badge.js';
import { TaskCancelButton } from '../components/tasks/task-cancel-button.js';
import { TaskOutcome } from '../components/tasks/task-outcome.js';
import { subjectLabel } from '../utils/subject-label.js';
import { TASK_TYPE_LABELS } from '../utils/task-labels.js';
import { M365BackupSummary } from './m365/m365-backup-now-modal.js';
import { M365RestoreSummary } from './m365/m365-restore-modal.js';
import { TaskFields } from './tasks/task-fields.js';
import { TaskLogPanel } from './tasks/task-log-panel.js';

export function TaskDetailsPage() {
  const id = Number.parseInt(useParams().id ?? '', 10);
  const valid = Number.isInteger(id) && id > 0;
  const task = useTaskQuery(id, valid);

  if (!valid || isApiError(task.error, 404)) {
    return (
      <NotFoundState
        pageTitle="Task not found"
        title={valid ? `There is no task ${id}` : 'This is not a task address'}
        description="It may have been removed, or the link is wrong."
        goTo={{ to: '/tasks', label: 'Go to tasks' }}
      />
    );
  }
  if (task.isPending) return <Skeleton h={320} radius="md" aria-label="Loading the task" />;
  if (task.isError) return <QueryErrorAlert title="Could not load the task" error={task.error} onRetry={() => void task.refetch()} />;

  const { data } = task;
  return (
    <>
      <BackLink to="/tasks" label="All tasks" />
      <PageHeader
        title={`Task ${data.id}: ${TASK_TYPE_LABELS[data.type]}`}
        description={subjectLabel(data) ?? undefined}
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
        <TaskSummary task={data} />
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
            <TaskLogPanel task={data} />
          </Grid.Col>
        </Grid>
      </Stack>
    </>
  );
}

/** What a Microsoft 365 backup or restore did, in words, once it ended (the raw result stays under Details). */
function TaskSummary({ task }: { task: TaskDetails }) {
  if (!isFinalState(task.state) || task.result === null) return null;
  if (task.type === 'M365_RESTORE') return <M365RestoreSummary task={task} />;
  if (task.type !== 'M365_BACKUP') return null;
  return (
    <Paper withBorder radius="md" p="md">
      <Title order={2} size="h4" mb="sm">
        Backed up
      </Title>
      <M365BackupSummary task={task} />
    </Paper>
  );
}
