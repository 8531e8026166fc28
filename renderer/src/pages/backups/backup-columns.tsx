import type { Backup } from '@common/api/index.js';
import { Anchor, Badge, Group, Text, Tooltip, VisuallyHidden } from '@mantine/core';
import { IconNote, IconShieldLock } from '@tabler/icons-react';
import { createColumnHelper } from '@tanstack/react-table';
import { Link } from 'react-router-dom';
import { BackupTypeBadge } from '../../components/backup-type-badge.js';
import { RelativeTime } from '../../components/relative-time.js';
import { StatusBadge } from '../../components/status-badge.js';
import { useInventoryVm } from '../../hooks/use-inventory-vm.js';
import { formatBytes, formatShortDuration } from '../../utils/format.js';
import { NO_SHRINK } from '../../utils/styles.js';
import { BackupActions } from './backup-actions.js';
import { BackupCopiesCell } from './backup-copies.js';

const column = createColumnHelper<Backup>();
const nowrap = { whiteSpace: 'nowrap' } as const;

const STATUS_LOOK: Record<Backup['status'], { label: string; color: string }> = {
  available: { label: 'Available', color: 'green' },
  damaged: { label: 'Damaged', color: 'red' },
  missing: { label: 'Missing', color: 'red' },
  removed: { label: 'Removed', color: 'gray' },
};

/** Status with verify's findings: why a backup is damaged or missing, and when it was last verified intact. */
export function BackupStatusBadge({ backup }: { backup: Backup }) {
  const look = STATUS_LOOK[backup.status];
  const verified = backup.verifiedAt === null ? null : `Verified intact ${new Date(backup.verifiedAt).toLocaleString()}`;
  const message = backup.status === 'damaged' || backup.status === 'missing' ? backup.statusDetail : verified;
  return <StatusBadge label={look.label} color={look.color} message={message} data-status={backup.status} />;
}

/** What verify last said: intact on a date, damaged, or never verified. */
function VerifyCell({ backup }: { backup: Backup }) {
  if (backup.status === 'damaged' || backup.status === 'missing') {
    return (
      <Text size="sm" c="red" style={nowrap} data-verify="damaged">
        Failed
      </Text>
    );
  }
  if (backup.verifiedAt === null) {
    return (
      <Text size="sm" c="dimmed" style={nowrap} data-verify="never">
        Not yet
      </Text>
    );
  }
  return (
    <Text size="sm" c="teal" style={nowrap} data-verify="intact" title={new Date(backup.verifiedAt).toLocaleString()}>
      Intact <RelativeTime iso={backup.verifiedAt} />
    </Text>
  );
}

function Dimmable({ value, label }: { value: string | null; label: string }) {
  return (
    <Text size="sm" style={nowrap} c={value === null ? 'dimmed' : undefined} aria-label={value === null ? `${label} not known` : undefined}>
      {value ?? '—'}
    </Text>
  );
}

/** The VM by its name in the inventory (a link), else by its name when backed up, else its UUID. */
function VmCell({ backup }: { backup: Backup }) {
  const vm = useInventoryVm(backup.vm);
  if (vm === undefined) {
    return (
      <Text size="sm" fw={500} style={{ overflowWrap: 'anywhere' }} title={backup.vm}>
        {backup.vmName ?? backup.vm}
      </Text>
    );
  }
  return (
    <Anchor component={Link} to={`/vms/${vm.id}`} size="sm" fw={500} style={{ overflowWrap: 'anywhere' }} title={vm.uuid}>
      {vm.name}
    </Anchor>
  );
}

/** The points of one VM: when, what kind, where, read and stored, how long, verified, state, notes, and its actions (none for viewers). */
export const backupPointColumns = [
  column.accessor('createdAt', {
    header: 'Created',
    cell: ({ row }) => (
      <Group gap={6} wrap="nowrap">
        <RelativeTime iso={row.original.createdAt} />
        {/* The row names its VM for screen readers (the group's heading is out of the row). */}
        <VisuallyHidden>{`, ${row.original.vmName ?? row.original.vm}`}</VisuallyHidden>
        {row.original.protected && (
          <Tooltip label="Protected: retention never removes it">
            <Badge component="span" size="xs" color="violet" variant="light" leftSection={<IconShieldLock size={10} aria-hidden />} style={NO_SHRINK} data-testid="protected-badge">
              Protected
            </Badge>
          </Tooltip>
        )}
      </Group>
    ),
  }),
  column.accessor('type', { header: 'Type', cell: (info) => (info.getValue() === null ? '—' : <BackupTypeBadge type={info.getValue() ?? 'full'} />) }),
  column.accessor('destination', {
    id: 'destination',
    header: 'Destination',
    cell: ({ row }) => (
      <Anchor component={Link} to={`/destinations/${row.original.destinationId}`} size="sm">
        {row.original.destination}
      </Anchor>
    ),
  }),
  column.display({ id: 'copies', header: 'Copies', cell: ({ row }) => <BackupCopiesCell backup={row.original} /> }),
  column.accessor('logicalBytes', { header: 'Disk size', cell: (info) => <Dimmable label="Disk size" value={formatBytes(info.getValue())} /> }),
  column.accessor('readBytes', { header: 'Read', cell: (info) => <Dimmable label="Read" value={info.getValue() === null ? null : formatBytes(info.getValue() ?? 0)} /> }),
  column.accessor('storedBytes', {
    header: 'Stored',
    cell: (info) => (
      <span data-testid="stored-size">
        <Dimmable label="Stored" value={info.getValue() === null ? null : formatBytes(info.getValue() ?? 0)} />
      </span>
    ),
  }),
  column.accessor('durationSeconds', {
    header: 'Duration',
    cell: (info) => <Dimmable label="Duration" value={info.getValue() === null ? null : formatShortDuration(info.getValue() ?? 0)} />,
  }),
  column.display({ id: 'verify', header: 'Verified', cell: ({ row }) => <VerifyCell backup={row.original} /> }),
  column.accessor('status', { header: 'Status', cell: ({ row }) => <BackupStatusBadge backup={row.original} /> }),
  column.accessor('notes', {
    header: 'Notes',
    cell: (info) =>
      info.getValue() === null ? null : (
        <Group gap={4} wrap="nowrap" maw={220}>
          <IconNote size={14} aria-hidden style={NO_SHRINK} />
          <Text size="xs" lineClamp={2} title={info.getValue() ?? undefined} data-testid="backup-notes">
            {info.getValue()}
          </Text>
        </Group>
      ),
  }),
  column.display({
    id: 'actions',
    header: () => <VisuallyHidden>Actions</VisuallyHidden>,
    cell: ({ row }) => <BackupActions backup={row.original} />,
  }),
];

/** A flat list of backups of any VM (a destination's page): the VM first. */
export const backupColumns = [column.accessor('vm', { header: 'VM', cell: ({ row }) => <VmCell backup={row.original} /> }), ...backupPointColumns];
