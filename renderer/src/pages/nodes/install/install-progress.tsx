import { isFinalState } from '@common/api/index.js';
import { Alert, Button, Group, Paper, Skeleton, Stack, Title } from '@mantine/core';
import { IconCircleCheck, IconInfoCircle } from '@tabler/icons-react';
import { Link } from 'react-router-dom';
import { useTaskQuery } from '../../../api/tasks.queries.js';
import { QueryErrorAlert } from '../../../components/query-error-alert.js';
import { TaskProgressBar } from '../../../components/task-progress-bar.js';
import { TaskStateBadge } from '../../../components/task-state-badge.js';
import { TaskCancelButton } from '../../../components/tasks/task-cancel-button.js';
import { TaskLog } from '../../../components/tasks/task-log.js';
import { TaskOutcome } from '../../../components/tasks/task-outcome.js';
import { nodeNameFromSubject } from './install-request.js';

interface InstallProgressProps {
  taskId: number;
  nodeId: number;
  /** Back to the settings, after a failure or a cancel. */
  onRetry: () => void;
}

/**
 * The install task, live: its bar and its log stream in from server events. The outcome
 * (online, or the error) appears above the log, where the user is already looking.
 */
export function InstallProgress({ taskId, nodeId, onRetry }: InstallProgressProps) {
  const task = useTaskQuery(taskId);
  if (task.isPending) return <Skeleton h={240} radius="md" aria-label="Loading the installation" />;
  if (task.isError) return <QueryErrorAlert title="Could not follow the installation" error={task.error} onRetry={() => void task.refetch()} />;

  const { data } = task;
  const name = nodeNameFromSubject(data.subject) ?? `node ${nodeId}`;
  const ended = isFinalState(data.state);
  const succeeded = data.state === 'FINISHED' || data.state === 'FINISHED_WITH_WARNINGS';

  return (
    <Stack>
      <Group justify="space-between" align="flex-start">
        <Group gap="sm">
          <Title order={2} size="h3">
            {succeeded ? `Node ${name} is installed` : `Installing node ${name}`}
          </Title>
          <TaskStateBadge task={data} />
        </Group>
        <TaskCancelButton task={data} />
      </Group>

      {succeeded && (
        <Alert color="green" icon={<IconCircleCheck />} title={`Node ${name} is online`} role="status" data-testid="install-success">
          <Group mt="xs">
            <Button component={Link} to={`/nodes/${nodeId}`} size="xs">
              Open node {name}
            </Button>
            <Button component={Link} to="/nodes" size="xs" variant="default">
              All nodes
            </Button>
          </Group>
        </Alert>
      )}
      <TaskOutcome task={data} errorTitle={data.state === 'CANCELLED' ? 'The installation was cancelled' : 'The installation failed'} />
      {ended && !succeeded && (
        <Alert color="gray" variant="light" icon={<IconInfoCircle />}>
          The node stays in the list with its error until you remove it; to install again under the same name, remove it first.
          <Group mt="xs">
            <Button size="xs" variant="default" onClick={onRetry}>
              Change settings and try again
            </Button>
            <Button component={Link} to={`/nodes/${nodeId}`} size="xs" variant="default">
              Open node {name}
            </Button>
          </Group>
        </Alert>
      )}

      <Paper withBorder radius="md" p="md">
        <TaskProgressBar progress={data.progress} state={data.state} size="lg" label="Installation progress" />
      </Paper>
      <TaskLog log={data.log} label="Install log" height={360} final={isFinalState(data.state)} />
      <Group>
        <Button component={Link} to={`/tasks/${taskId}`} variant="subtle" size="xs">
          Open task {taskId}
        </Button>
      </Group>
    </Stack>
  );
}
