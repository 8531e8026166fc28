import { isFinalState, type JobDetails, type Task } from '@common/api/index.js';
import { Alert, Anchor, Group, Paper, SimpleGrid, Skeleton, Stack, Text, Title } from '@mantine/core';
import { IconAlertTriangle } from '@tabler/icons-react';
import { useMemo } from 'react';
import { Link, useParams } from 'react-router-dom';
import { isApiError } from '../api/api-error.js';
import { useJobQuery } from '../api/jobs.queries.js';
import { BackLink } from '../components/back-link.js';
import { LogView, type LogViewLine } from '../components/log-view.js';
import { NotFoundState } from '../components/not-found-state.js';
import { PageHeader } from '../components/page-header.js';
import { QueryErrorAlert } from '../components/query-error-alert.js';
import { TaskProgressBar } from '../components/task-progress-bar.js';
import { TaskStateBadge } from '../components/task-state-badge.js';
import { TaskCancelButton } from '../components/tasks/task-cancel-button.js';
import { formatDateTime } from '../utils/format.js';
import { TASK_TYPE_LABELS } from '../utils/task-labels.js';
import { jobKindLabel, jobTitle, summaryFacts } from './jobs/job-labels.js';

/** One step of the job: its name, state, bar and outcome; the task's own page is for experts. */
function JobStep({ task, index }: { task: Task; index: number }) {
  const label = TASK_TYPE_LABELS[task.type];
  return (
    <Stack gap={6} role="group" aria-label={`Step ${index + 1}: ${label}`} data-testid={`job-step-${index + 1}`} data-state={task.state}>
      <Group justify="space-between" wrap="nowrap">
        <Group gap="xs">
          <Text fw={600} size="sm">{`${index + 1}. ${label}`}</Text>
          <TaskStateBadge task={task} />
          {task.node !== null && (
            <Text size="xs" c="dimmed">
              {`on ${task.node}`}
            </Text>
          )}
        </Group>
        <Group gap="xs">
          {!isFinalState(task.state) && <TaskCancelButton task={task} />}
          <Anchor component={Link} to={`/tasks/${task.id}`} size="xs">
            {`Task ${task.id}`}
          </Anchor>
        </Group>
      </Group>
      <TaskProgressBar progress={task.progress} state={task.state} size="lg" label={`${label} progress`} />
      {task.error !== null && (
        <Text size="sm" c={task.state === 'CANCELLED' ? 'dimmed' : 'red'} style={{ whiteSpace: 'pre-wrap', overflowWrap: 'anywhere' }}>
          {task.error}
        </Text>
      )}
    </Stack>
  );
}

function JobLog({ job }: { job: JobDetails }) {
  const lines = useMemo<LogViewLine[]>(
    () => job.log.map((l) => ({ key: `${l.taskId}-${l.id}`, at: l.at, level: l.level, text: `${TASK_TYPE_LABELS[l.step as Task['type']] ?? l.step}: ${l.message}` })),
    [job.log],
  );
  return <LogView lines={lines} label="Job log" height={360} empty={isFinalState(job.state) ? 'No log lines.' : 'No log lines yet.'} />;
}

/** A job as one piece of work: what it is about, its steps in order, a summary and one log. */
export function JobDetailsPage() {
  const id = useParams().id ?? '';
  const valid = /^[wt][1-9]\d*$/.test(id);
  const job = useJobQuery(id, valid);

  if (!valid || isApiError(job.error, 404)) {
    return (
      <NotFoundState
        pageTitle="Job not found"
        title={valid ? `There is no job ${id}` : 'This is not a job address'}
        description="It may have been removed, or the link is wrong."
        goTo={{ to: '/jobs', label: 'Go to jobs' }}
      />
    );
  }
  if (job.isPending) return <Skeleton h={320} radius="md" aria-label="Loading the job" />;
  if (job.isError) return <QueryErrorAlert title="Could not load the job" error={job.error} onRetry={() => void job.refetch()} />;

  const { data } = job;
  const facts = summaryFacts(data.summary);
  return (
    <>
      <BackLink to="/jobs" label="All jobs" />
      <PageHeader
        title={jobTitle(data)}
        description={`${jobKindLabel(data.kind)} started ${formatDateTime(data.createdAt)}${data.createdBy === null ? '' : ` by ${data.createdBy}`}${data.finishedAt === null ? '' : `, ended ${formatDateTime(data.finishedAt)}`}`}
        actions={<TaskStateBadge task={{ state: data.state, cancelRequested: false }} size="lg" />}
      />
      <Stack>
        {facts.length > 0 && (
          <SimpleGrid cols={{ base: 2, sm: facts.length }} role="region" aria-label="Summary">
            {facts.map(([label, value]) => (
              <Paper key={label} withBorder radius="md" p="sm">
                <Text size="xs" c="dimmed">
                  {label}
                </Text>
                <Text fw={600} data-fact={label}>
                  {value}
                </Text>
              </Paper>
            ))}
          </SimpleGrid>
        )}
        {data.summary.warnings.length > 0 && (
          <Alert color="yellow" icon={<IconAlertTriangle />} title="Warnings">
            {data.summary.warnings.map((w) => (
              <Text key={w} size="sm">
                {w}
              </Text>
            ))}
          </Alert>
        )}
        <Paper withBorder radius="md" p="md" role="region" aria-label="Steps">
          <Title order={2} size="h4" mb="sm">
            Steps
          </Title>
          <Stack gap="lg">
            {data.steps.map((task, index) => (
              <JobStep key={task.id} task={task} index={index} />
            ))}
          </Stack>
        </Paper>
        <Paper withBorder radius="md" p="md">
          <Title order={2} size="h4" mb="sm">
            Log
          </Title>
          <JobLog job={data} />
        </Paper>
      </Stack>
    </>
  );
}
