import type { Task } from '@common/api/index.js';
import { Anchor, Text, Tooltip } from '@mantine/core';
import { createColumnHelper } from '@tanstack/react-table';
import { Link } from 'react-router-dom';
import { LiveDuration } from '../../components/live-duration.js';
import { RelativeTime } from '../../components/relative-time.js';
import { TaskProgressBar } from '../../components/task-progress-bar.js';
import { TaskStateBadge } from '../../components/task-state-badge.js';
import { subjectLabel } from '../../utils/subject-label.js';
import { TASK_TYPE_LABELS } from '../../utils/task-labels.js';

const column = createColumnHelper<Task>();

export const taskColumns = [
  column.accessor('id', {
    header: 'ID',
    // The row is clickable too; this link is how keyboard and screen-reader users open a task.
    cell: (info) => (
      <Anchor component={Link} to={`/tasks/${info.getValue()}`} size="sm" fw={500} aria-label={`Task ${info.getValue()}`}>
        {info.getValue()}
      </Anchor>
    ),
  }),
  column.accessor('type', {
    header: 'Type',
    cell: (info) => (
      <Text size="sm" style={{ whiteSpace: 'nowrap' }}>
        {TASK_TYPE_LABELS[info.getValue()]}
      </Text>
    ),
  }),
  column.accessor('subject', { header: 'Subject', cell: ({ row }) => subjectLabel(row.original) ?? '—' }),
  column.accessor('node', {
    id: 'node',
    header: 'Node',
    cell: ({ row }) =>
      row.original.nodeId === null ? (
        <Text size="sm" c="dimmed">
          {row.original.node ?? '—'}
        </Text>
      ) : (
        <Anchor component={Link} to={`/nodes/${row.original.nodeId}`} size="sm">
          {row.original.node ?? `Node ${row.original.nodeId}`}
        </Anchor>
      ),
  }),
  column.accessor('state', { header: 'State', cell: ({ row }) => <TaskStateBadge task={row.original} /> }),
  column.accessor('progress', {
    header: 'Progress',
    cell: ({ row }) => <TaskProgressBar progress={row.original.progress} state={row.original.state} label={`Progress of task ${row.original.id}`} />,
  }),
  column.accessor('createdAt', { header: 'Created', cell: (info) => <RelativeTime iso={info.getValue()} /> }),
  column.display({
    id: 'duration',
    header: 'Duration',
    cell: ({ row }) => <LiveDuration start={row.original.startedAt} end={row.original.finishedAt} />,
  }),
  column.accessor('error', { header: 'Error', cell: ({ row }) => <ErrorCell error={row.original.error} cancelled={row.original.state === 'CANCELLED'} /> }),
];

function ErrorCell({ error, cancelled }: { error: string | null; cancelled: boolean }) {
  if (error === null || error === '') return null;
  // Long messages would stretch the table; the whole text is one hover away and on the task's page.
  return (
    <Tooltip label={error} multiline maw={480} openDelay={300}>
      <Text size="sm" c={cancelled ? 'dimmed' : 'red'} lineClamp={1} maw={280}>
        {error}
      </Text>
    </Tooltip>
  );
}
