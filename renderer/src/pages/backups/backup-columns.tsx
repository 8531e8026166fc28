import type { Backup } from '@common/api/index.js';
import { Anchor, Badge, Text } from '@mantine/core';
import { createColumnHelper } from '@tanstack/react-table';
import { Link } from 'react-router-dom';
import { RelativeTime } from '../../components/relative-time.js';
import { formatBytes } from '../../utils/format.js';
import { NO_SHRINK } from '../../utils/styles.js';

const column = createColumnHelper<Backup>();

const TYPE_LABELS: Record<NonNullable<Backup['type']>, string> = { full: 'Full', incremental: 'Incremental' };

export const backupColumns = [
  column.accessor('destination', {
    id: 'destination',
    header: 'Destination',
    cell: ({ row }) => (
      <Anchor component={Link} to={`/destinations/${row.original.destinationId}`} size="sm">
        {row.original.destination}
      </Anchor>
    ),
  }),
  column.accessor('vm', {
    header: 'VM',
    cell: (info) => (
      <Text size="sm" fw={500} style={{ overflowWrap: 'anywhere' }}>
        {info.getValue()}
      </Text>
    ),
  }),
  column.accessor('type', { header: 'Type', cell: (info) => (info.getValue() === null ? '—' : TYPE_LABELS[info.getValue() ?? 'full']) }),
  column.accessor('createdAt', { header: 'Created', cell: (info) => <RelativeTime iso={info.getValue()} /> }),
  column.accessor('logicalBytes', {
    header: 'Logical size',
    cell: (info) => (
      <Text size="sm" style={{ whiteSpace: 'nowrap' }}>
        {formatBytes(info.getValue())}
      </Text>
    ),
  }),
  column.accessor('status', {
    header: 'Status',
    cell: (info) => (
      <Badge component="span" size="sm" variant="light" color={info.getValue() === 'available' ? 'green' : 'gray'} style={NO_SHRINK}>
        {info.getValue() === 'available' ? 'Available' : 'Removed'}
      </Badge>
    ),
  }),
  column.accessor('repoBackupId', {
    header: 'Backup ID',
    cell: (info) => (
      <Text size="xs" ff="monospace" c="dimmed" style={{ overflowWrap: 'anywhere' }} maw={200}>
        {info.getValue()}
      </Text>
    ),
  }),
];
