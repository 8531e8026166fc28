import type { Destination } from '@common/api/index.js';
import { Anchor, Progress, Stack, Text, Tooltip, VisuallyHidden } from '@mantine/core';
import { IconLock, IconLockOpen } from '@tabler/icons-react';
import { createColumnHelper } from '@tanstack/react-table';
import { Link } from 'react-router-dom';
import { DestinationStatusBadge } from '../../components/destination-status-badge.js';
import { PathText } from '../../components/path-text.js';
import { describeFreeSpace } from '../../utils/destination-format.js';
import { formatBytes } from '../../utils/format.js';
import { DestinationActions } from './destination-actions.js';

const column = createColumnHelper<Destination>();

export function EncryptedIcon({ encrypted }: { encrypted: boolean }) {
  const label = encrypted ? 'Encrypted' : 'Not encrypted';
  return (
    <Tooltip label={label}>
      {encrypted ? (
        <IconLock size={18} role="img" aria-label={label} color="var(--mantine-color-teal-6)" />
      ) : (
        <IconLockOpen size={18} role="img" aria-label={label} color="var(--mantine-color-dimmed)" />
      )}
    </Tooltip>
  );
}

export function FreeSpace({ destination, width = 130 }: { destination: Destination; width?: number }) {
  const view = describeFreeSpace(destination);
  if (view === null) {
    return (
      <Text size="sm" c="dimmed">
        —
      </Text>
    );
  }
  return (
    <Stack gap={4} miw={width} maw={width * 1.5}>
      <Progress value={view.usedPercent} size="sm" color={view.color} aria-label={`Space used on ${destination.name}`} aria-valuetext={view.text} />
      <Text size="xs" c="dimmed" style={{ whiteSpace: 'nowrap' }}>
        {view.text}
      </Text>
    </Stack>
  );
}

const nowrap = { whiteSpace: 'nowrap' } as const;

export const destinationColumns = [
  column.accessor('name', {
    header: 'Name',
    cell: (info) => (
      <Anchor component={Link} to={`/destinations/${info.row.original.id}`} size="sm" fw={500} style={{ whiteSpace: 'nowrap' }}>
        {info.getValue()}
      </Anchor>
    ),
  }),
  column.accessor('node', {
    header: 'Node',
    cell: ({ row }) => (
      <Anchor component={Link} to={`/nodes/${row.original.nodeId}`} size="sm">
        {row.original.node}
      </Anchor>
    ),
  }),
  column.accessor('path', {
    header: 'Path',
    cell: ({ row }) => {
      const s3 = row.original.s3;
      if (s3) {
        return (
          <Stack gap={2} miw={220} maw={280}>
            <Text size="sm" ff="monospace" style={{ overflowWrap: 'anywhere' }}>
              {`s3://${s3.bucket}${s3.prefix ? `/${s3.prefix}` : ''}`}
            </Text>
            <Text size="xs" c="dimmed" style={{ overflowWrap: 'anywhere' }}>
              {s3.endpoint ?? `AWS S3, ${s3.region}`}
              {s3.lock ? ` · object lock ${s3.lock.mode}, ${s3.lock.days} d` : ''}
            </Text>
          </Stack>
        );
      }
      // Wide enough for a directory name per line: a narrower column would split names.
      return (
        <Text size="sm" ff="monospace" miw={220} maw={280}>
          <PathText path={row.original.path} />
        </Text>
      );
    },
  }),
  column.accessor('encrypted', {
    header: () => (
      <>
        <IconLock size={16} aria-hidden />
        <VisuallyHidden>Encrypted</VisuallyHidden>
      </>
    ),
    cell: (info) => <EncryptedIcon encrypted={info.getValue()} />,
  }),
  column.accessor('status', { header: 'Status', cell: ({ row }) => <DestinationStatusBadge destination={row.original} /> }),
  column.accessor('backups', { header: 'Backups' }),
  // Stored over logical in one column, the ratios on the destination's page: the row keeps its actions on a 1280 px screen.
  column.accessor('storedBytes', {
    header: 'Stored',
    cell: ({ row }) => (
      <>
        <Text size="sm" style={nowrap}>
          {formatBytes(row.original.storedBytes)}
        </Text>
        <Text size="xs" c="dimmed" style={nowrap}>
          {`of ${formatBytes(row.original.logicalBytes)} backed up`}
        </Text>
      </>
    ),
  }),
  column.display({ id: 'free', header: 'Free space', cell: ({ row }) => <FreeSpace destination={row.original} /> }),
  column.display({
    id: 'actions',
    header: () => <VisuallyHidden>Actions</VisuallyHidden>,
    cell: ({ row }) => <DestinationActions destination={row.original} variant="row" />,
  }),
];
