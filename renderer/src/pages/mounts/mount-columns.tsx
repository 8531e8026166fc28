import type { Mount } from '@common/api/index.js';
import { Anchor, Button, Group, Stack, Text, VisuallyHidden } from '@mantine/core';
import { IconFolderOpen } from '@tabler/icons-react';
import { createColumnHelper } from '@tanstack/react-table';
import { Link } from 'react-router-dom';
import { RelativeTime } from '../../components/relative-time.js';
import { useInventoryVm } from '../../hooks/use-inventory-vm.js';
import { formatDateTime } from '../../utils/format.js';
import { isActiveMount } from '../../utils/mount-format.js';
import { NO_SHRINK } from '../../utils/styles.js';
import { MountActions } from './mount-actions.js';
import { MountStateBadge } from './mount-state-badge.js';

const column = createColumnHelper<Mount>();

/** The VM by its inventory name when it is still there (the catalog knows it by UUID), and the backup's date. */
function BackupCell({ mount }: { mount: Mount }) {
  const vm = useInventoryVm(mount.vm);
  return (
    <Stack gap={0}>
      <Anchor component={Link} to={`/mounts/${mount.id}`} size="sm" fw={500} style={{ overflowWrap: 'anywhere' }} title={vm?.uuid ?? mount.vm}>
        {vm?.name ?? mount.vm}
      </Anchor>
      <Text size="xs" c="dimmed">
        {`${mount.m365BackupId !== null ? 'Microsoft 365 · ' : ''}${formatDateTime(mount.backupCreatedAt)} · ${mount.destination}`}
      </Text>
    </Stack>
  );
}
const KIND_LABELS: Record<Mount['kind'], string> = { browse: 'Files', iscsi: 'iSCSI' };

export const mountColumns = [
  column.accessor('vm', { header: 'Backup', cell: ({ row }) => <BackupCell mount={row.original} /> }),
  column.accessor('node', { header: 'Node', cell: (info) => <Text size="sm">{info.getValue()}</Text> }),
  column.accessor('kind', {
    header: 'Kind',
    cell: ({ row }) => (
      <Text size="sm" style={{ whiteSpace: 'nowrap' }}>
        {row.original.kind === 'iscsi' && row.original.iscsi !== null ? `iSCSI (${row.original.iscsi.disk})` : KIND_LABELS[row.original.kind]}
      </Text>
    ),
  }),
  column.accessor('state', { header: 'State', cell: ({ row }) => <MountStateBadge mount={row.original} /> }),
  column.accessor('expiresAt', {
    header: 'Closes',
    cell: ({ row }) =>
      isActiveMount(row.original.state) ? <RelativeTime iso={row.original.expiresAt} never="—" /> : <RelativeTime iso={row.original.closedAt} never="—" />,
  }),
  column.accessor('createdBy', {
    header: 'Opened by',
    cell: ({ row }) => (
      <Stack gap={0}>
        <Text size="sm">{row.original.createdBy}</Text>
        <RelativeTime iso={row.original.createdAt} size="xs" />
      </Stack>
    ),
  }),
  column.display({
    id: 'actions',
    header: () => <VisuallyHidden>Actions</VisuallyHidden>,
    cell: ({ row }) => (
      <Group gap="xs" wrap="nowrap" justify="flex-end" align="flex-start">
        {row.original.kind === 'browse' && isActiveMount(row.original.state) && (
          <Button component={Link} to={`/mounts/${row.original.id}`} size="xs" variant="default" leftSection={<IconFolderOpen size={14} aria-hidden />} style={NO_SHRINK}>
            Open
          </Button>
        )}
        <MountActions mount={row.original} />
      </Group>
    ),
  }),
];
