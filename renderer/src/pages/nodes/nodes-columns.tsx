import type { Node } from '@common/api/index.js';
import { Anchor, Stack, Text, VisuallyHidden } from '@mantine/core';
import { createColumnHelper } from '@tanstack/react-table';
import { Link } from 'react-router-dom';
import { NodeStatusBadge } from '../../components/node-status-badge.js';
import { RelativeTime } from '../../components/relative-time.js';
import { formatBytes } from '../../utils/format.js';
import { NodeActions } from './node-actions.js';

const column = createColumnHelper<Node>();

export function StagingFree({ node }: { node: Node }) {
  const staging = node.capabilities?.staging;
  if (staging === undefined) return <Text size="sm" c="dimmed">—</Text>;
  return (
    <Stack gap={0}>
      <Text size="sm" style={{ whiteSpace: 'nowrap' }}>
        {formatBytes(staging.freeBytes)}
      </Text>
      <Text size="xs" c="dimmed" style={{ whiteSpace: 'nowrap' }}>
        of {formatBytes(staging.totalBytes)}
      </Text>
    </Stack>
  );
}

export const nodesColumns = [
  column.accessor('name', {
    header: 'Name',
    cell: (info) => (
      <Anchor component={Link} to={`/nodes/${info.row.original.id}`} size="sm" fw={500}>
        {info.getValue()}
      </Anchor>
    ),
  }),
  column.accessor('host', { header: 'Host' }),
  column.accessor('status', { header: 'Status', cell: ({ row }) => <NodeStatusBadge node={row.original} /> }),
  column.accessor('version', { header: 'Version', cell: (info) => info.getValue() ?? '—' }),
  column.accessor((node) => node.capabilities?.os ?? null, {
    id: 'os',
    header: 'OS',
    cell: (info) => (
      <Text size="sm" lineClamp={1} maw={220}>
        {info.getValue() ?? '—'}
      </Text>
    ),
  }),
  column.display({ id: 'staging', header: 'Staging free space', cell: ({ row }) => <StagingFree node={row.original} /> }),
  column.accessor('runningTasks', { header: 'Running tasks' }),
  column.accessor('lastSeenAt', { header: 'Last seen', cell: (info) => <RelativeTime iso={info.getValue()} /> }),
  column.display({
    id: 'actions',
    header: () => <VisuallyHidden>Actions</VisuallyHidden>,
    cell: ({ row }) => <NodeActions node={row.original} variant="row" />,
  }),
];
