import { isFinalState, type JobDetails, type Task } from '@common/api/index.js';
import { Anchor, Group, Paper, SimpleGrid, Stack, Text } from '@mantine/core';
import { useMemo } from 'react';
import { Link } from 'react-router-dom';
import { LogView, type LogViewLine } from '../../components/log-view.js';
import { TaskProgressBar } from '../../components/task-progress-bar.js';
import { TaskStateBadge } from '../../components/task-state-badge.js';
import { TaskCancelButton } from '../../components/tasks/task-cancel-button.js';
import { TASK_TYPE_LABELS } from '../../utils/task-labels.js';

/** One step of the job: its name, state, bar and outcome; the task's own page is for experts. */
export function JobStep({ task, index }: { task: Task; index: number }) {
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

/** The job's log, one for all its steps; a policy run's lines say which VM they are about. */
export function JobLog({ job }: { job: JobDetails }) {
  const lines = useMemo<LogViewLine[]>(
    () =>
      job.log.map((l) => ({
        key: `${l.taskId}-${l.id}`,
        at: l.at,
        level: l.level,
        text: `${l.about === null ? '' : `${l.about} · `}${TASK_TYPE_LABELS[l.step]}: ${l.message}`,
      })),
    [job.log],
  );
  const empty = job.run !== null ? 'No warnings or errors.' : isFinalState(job.state) ? 'No log lines.' : 'No log lines yet.';
  return <LogView lines={lines} label="Job log" height={360} empty={empty} />;
}

/** The summary's facts as tiles. */
export function JobFacts({ facts }: { facts: Array<[string, string]> }) {
  if (facts.length === 0) return null;
  return (
    <SimpleGrid cols={{ base: 2, sm: Math.min(facts.length, 7) }} role="region" aria-label="Summary">
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
  );
}
