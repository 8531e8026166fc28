import type { Backup } from '@common/api/index.js';
import { Anchor, Button, Group, Text, VisuallyHidden } from '@mantine/core';
import { IconRestore } from '@tabler/icons-react';
import { createColumnHelper } from '@tanstack/react-table';
import { Link, useNavigate } from 'react-router-dom';
import { useSession } from '../../auth/session-context.js';
import { RelativeTime } from '../../components/relative-time.js';
import { StatusBadge } from '../../components/status-badge.js';
import { useInventoryVm } from '../../hooks/use-inventory-vm.js';
import { formatBytes } from '../../utils/format.js';
import { NO_SHRINK } from '../../utils/styles.js';
import { BackupMountActions } from '../mounts/backup-mount-actions.js';

const column = createColumnHelper<Backup>();

function VmCell({ backup }: { backup: Backup }) {
  const vm = useInventoryVm(backup.vm);
  if (vm === undefined) {
    return (
      <Text size="sm" fw={500} style={{ overflowWrap: 'anywhere' }}>
        {backup.vm}
      </Text>
    );
  }
  return (
    <Anchor component={Link} to={`/vms/${vm.id}`} size="sm" fw={500} style={{ overflowWrap: 'anywhere' }} title={vm.uuid}>
      {vm.name}
    </Anchor>
  );
}

/** Opens the restore wizard on the VM's page, on this backup; VMs no longer in the inventory have none here. */
function RestoreCell({ backup }: { backup: Backup }) {
  const { canChange } = useSession();
  const navigate = useNavigate();
  const vm = useInventoryVm(backup.vm);
  if (!canChange || vm === undefined || backup.status !== 'available') return null;
  return (
    <Button
      size="xs"
      variant="default"
      leftSection={<IconRestore size={14} aria-hidden />}
      onClick={() => void navigate(`/vms/${vm.id}?restore=${backup.id}`)}
      style={NO_SHRINK}
    >
      Restore
    </Button>
  );
}

/** Restore, Browse files and Export over iSCSI; viewers see none of them. */
function ActionsCell({ backup }: { backup: Backup }) {
  const { canChange } = useSession();
  const vm = useInventoryVm(backup.vm);
  if (!canChange) return null;
  return (
    <Group gap="xs" wrap="nowrap" justify="flex-end" align="flex-start">
      <RestoreCell backup={backup} />
      <BackupMountActions backup={backup} diskHints={vm?.disks.map((disk) => disk.target)} />
    </Group>
  );
}

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
  column.accessor('vm', { header: 'VM', cell: ({ row }) => <VmCell backup={row.original} /> }),
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
    cell: ({ row }) => <BackupStatusBadge backup={row.original} />,
  }),
  column.accessor('repoBackupId', {
    header: 'Backup ID',
    cell: (info) => (
      <Text size="xs" ff="monospace" c="dimmed" style={{ overflowWrap: 'anywhere' }} maw={200}>
        {info.getValue()}
      </Text>
    ),
  }),
  column.display({
    id: 'actions',
    header: () => <VisuallyHidden>Actions</VisuallyHidden>,
    cell: ({ row }) => <ActionsCell backup={row.original} />,
  }),
];
