import type { Backup } from '@common/api/index.js';
import { Anchor, Badge, Button, Group, Text, VisuallyHidden } from '@mantine/core';
import { IconRestore } from '@tabler/icons-react';
import { createColumnHelper } from '@tanstack/react-table';
import { Link } from 'react-router-dom';
import { BackupTypeBadge } from '../../components/backup-type-badge.js';
import { RelativeTime } from '../../components/relative-time.js';
import { formatBytes, formatShortDuration } from '../../utils/format.js';
import { NO_SHRINK } from '../../utils/styles.js';
import { BackupMountActions } from '../mounts/backup-mount-actions.js';
import type { BackupRun } from './use-backup-runs.js';

const column = createColumnHelper<Backup>();
const nowrap = { whiteSpace: 'nowrap' } as const;

interface VmBackupColumnsOptions {
  runs: ReadonlyMap<string, BackupRun>;
  /** Absent for viewers: they see the history, not the actions. */
  onRestore?: (backup: Backup) => void;
  /** The VM's disks, offered for an iSCSI export. */
  disks?: readonly string[];
}

function Dimmable({ value }: { value: string | null }) {
  return (
    <Text size="sm" style={nowrap} c={value === null ? 'dimmed' : undefined}>
      {value ?? '—'}
    </Text>
  );
}

/** A VM's backup history: when, what kind, where, how big, how much it read, how long it took. */
export function vmBackupColumns({ runs, onRestore, disks }: VmBackupColumnsOptions) {
  const columns = [
    column.accessor('createdAt', { header: 'Created', cell: (info) => <RelativeTime iso={info.getValue()} /> }),
    column.accessor('type', {
      header: 'Type',
      cell: (info) => {
        const type = info.getValue();
        if (type === null) return '—';
        return <BackupTypeBadge type={type} />;
      },
    }),
    column.accessor('destination', {
      header: 'Destination',
      cell: ({ row }) => (
        <Anchor component={Link} to={`/destinations/${row.original.destinationId}`} size="sm">
          {row.original.destination}
        </Anchor>
      ),
    }),
    column.accessor('logicalBytes', { header: 'Logical size', cell: (info) => <Text size="sm" style={nowrap}>{formatBytes(info.getValue())}</Text> }),
    column.accessor('storedBytes', {
      header: 'Stored',
      cell: (info) => {
        const stored = info.getValue();
        return <Dimmable value={stored === null ? null : formatBytes(stored)} />;
      },
    }),
    column.display({
      id: 'read',
      header: 'Read',
      cell: ({ row }) => {
        const run = runs.get(row.original.repoBackupId);
        return <Dimmable value={run === undefined ? null : formatBytes(run.bytesRead)} />;
      },
    }),
    column.display({
      id: 'duration',
      header: 'Duration',
      cell: ({ row }) => {
        const seconds = runs.get(row.original.repoBackupId)?.seconds ?? null;
        return <Dimmable value={seconds === null ? null : formatShortDuration(seconds)} />;
      },
    }),
    column.accessor('status', {
      header: 'Status',
      cell: (info) => (
        <Badge component="span" size="sm" variant="light" color={info.getValue() === 'available' ? 'green' : 'gray'} style={NO_SHRINK}>
          {info.getValue() === 'available' ? 'Available' : 'Removed'}
        </Badge>
      ),
    }),
  ];
  if (onRestore === undefined) return columns;
  return [
    ...columns,
    column.display({
      id: 'actions',
      header: () => <VisuallyHidden>Actions</VisuallyHidden>,
      cell: ({ row }) => (
        <Group gap="xs" wrap="nowrap" justify="flex-end" align="flex-start">
          {row.original.status === 'available' && (
            <Button size="xs" variant="default" leftSection={<IconRestore size={14} aria-hidden />} onClick={() => onRestore(row.original)} style={NO_SHRINK}>
              Restore
            </Button>
          )}
          <BackupMountActions backup={row.original} diskHints={disks} />
        </Group>
      ),
    }),
  ];
}
