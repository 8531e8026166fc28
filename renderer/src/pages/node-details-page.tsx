import { Alert, Anchor, Grid, Group, Paper, Skeleton, Stack, Title } from '@mantine/core';
import { IconAlertCircle, IconInfoCircle } from '@tabler/icons-react';
import { getCoreRowModel, useReactTable } from '@tanstack/react-table';
import { Link, useNavigate, useParams } from 'react-router-dom';
import type { Node } from '@common/api/index.js';
import { isApiError } from '../api/api-error.js';
import { useNodeQuery } from '../api/nodes.queries.js';
import { useTasksQuery } from '../api/tasks.queries.js';
import { BackLink } from '../components/back-link.js';
import { DataTable } from '../components/data-table.js';
import { NodeStatusBadge } from '../components/node-status-badge.js';
import { NotFoundState } from '../components/not-found-state.js';
import { PageHeader } from '../components/page-header.js';
import { QueryErrorAlert } from '../components/query-error-alert.js';
import { NodeActions } from './nodes/node-actions.js';
import { NodeCapabilities, NodeStatusFields } from './nodes/node-info.js';
import { taskColumns } from './tasks/task-columns.js';

const RECENT_TASKS = 10;
// The node is the page's subject; a column repeating it would be noise.
const recentTaskColumns = taskColumns.filter((column) => column.id !== 'node');

export function NodeDetailsPage() {
  const ref = useParams().node ?? '';
  const node = useNodeQuery(ref);

  if (isApiError(node.error, 404)) {
    return (
      <NotFoundState
        pageTitle="Node not found"
        title={`There is no node "${ref}"`}
        description="It may have been removed, or the link is wrong."
        back={{ to: '/nodes', label: 'All nodes' }}
        goTo={{ to: '/nodes', label: 'Go to nodes' }}
      />
    );
  }
  if (node.data === undefined) {
    if (node.isError) return <QueryErrorAlert title="Could not load the node" error={node.error} onRetry={() => void node.refetch()} />;
    return <Skeleton h={320} radius="md" aria-label="Loading the node" />;
  }
  return <NodeDetails node={node.data} />;
}

function NodeDetails({ node }: { node: Node }) {
  return (
    <>
      <BackLink to="/nodes" label="All nodes" />
      <PageHeader
        title={node.name}
        description={
          <Group gap="xs" component="span">
            <NodeStatusBadge node={node} />
            {`${node.host}${node.version === null ? '' : ` · version ${node.version}`}`}
          </Group>
        }
        actions={<NodeActions node={node} />}
      />
      <Stack>
        {node.statusMessage !== null && node.status !== 'online' && (
          <Alert
            color={node.status === 'error' ? 'red' : 'gray'}
            icon={node.status === 'error' ? <IconAlertCircle /> : <IconInfoCircle />}
            title={node.status === 'error' ? 'The node has a problem' : 'Why it is not online'}
          >
            {node.statusMessage}
          </Alert>
        )}
        <Grid>
          <Grid.Col span={{ base: 12, lg: 6 }}>
            <Paper withBorder radius="md" p="md" h="100%">
              <Title order={2} size="h4" mb="sm">
                Capabilities
              </Title>
              <NodeCapabilities node={node} />
            </Paper>
          </Grid.Col>
          <Grid.Col span={{ base: 12, lg: 6 }}>
            <Paper withBorder radius="md" p="md" h="100%">
              <Title order={2} size="h4" mb="sm">
                Status
              </Title>
              <NodeStatusFields node={node} />
            </Paper>
          </Grid.Col>
        </Grid>
        <NodeRecentTasks node={node} />
      </Stack>
    </>
  );
}

function NodeRecentTasks({ node }: { node: Node }) {
  const navigate = useNavigate();
  const tasks = useTasksQuery({ node: String(node.id), limit: RECENT_TASKS });
  const table = useReactTable({
    data: tasks.data?.tasks ?? [],
    columns: recentTaskColumns,
    getCoreRowModel: getCoreRowModel(),
    getRowId: (task) => String(task.id),
  });
  return (
    <Paper withBorder radius="md" p="md">
      <Group justify="space-between" mb="sm">
        <Title order={2} size="h4">
          Recent tasks
        </Title>
        {(tasks.data?.nextCursor ?? null) !== null && (
          <Anchor component={Link} to={`/tasks?node=${node.id}`} size="sm">
            All tasks of this node
          </Anchor>
        )}
      </Group>
      {tasks.isPending && <Skeleton h={120} />}
      {tasks.isError && <QueryErrorAlert title="Could not load the node's tasks" error={tasks.error} onRetry={() => void tasks.refetch()} />}
      {tasks.isSuccess && tasks.data.tasks.length === 0 && (
        <Alert color="gray" variant="light" icon={<IconInfoCircle />}>
          This node has not run any task yet.
        </Alert>
      )}
      {tasks.isSuccess && tasks.data.tasks.length > 0 && (
        <DataTable table={table} label={`Recent tasks of ${node.name}`} minWidth={900} onRowClick={(task) => void navigate(`/tasks/${task.id}`)} />
      )}
    </Paper>
  );
}
