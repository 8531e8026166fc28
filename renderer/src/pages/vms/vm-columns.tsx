import type { Vm } from '@common/api/index.js';
import { Anchor, Button, Group, Stack, Text, VisuallyHidden } from '@mantine/core';
import { IconPlayerPlay } from '@tabler/icons-react';
import { createColumnHelper } from '@tanstack/react-table';
import { useState } from 'react';
import { Link } from 'react-router-dom';
import { useSession } from '../../auth/session-context.js';
import { BackupTypeBadge } from '../../components/backup-type-badge.js';
import { ProtectionBadge } from '../../components/protection-badge.js';
import { RelativeTime } from '../../components/relative-time.js';
import { VmStateBadge } from '../../components/vm-state-badge.js';
import { formatBytes } from '../../utils/format.js';
import { NO_SHRINK } from '../../utils/styles.js';
import { describeDisks } from '../../utils/vm-format.js';
import { BackupNowModal } from './backup-now-modal.js';

const column = createColumnHelper<Vm>();
const nowrap = { whiteSpace: 'nowrap' } as const;

/** "Back up now" for operators; a VM gone from its host cannot be read, so it has none. */
export function BackupNowButton({ vm, size = 'xs' }: { vm: Vm; size?: 'xs' | 'sm' }) {
  const { canChange } = useSession();
  const [open, setOpen] = useState(false);
  if (!canChange) return null;
  return (
    <>
      <Button
        size={size}
        variant={size === 'xs' ? 'default' : 'filled'}
        leftSection={<IconPlayerPlay size={size === 'xs' ? 14 : 16} aria-hidden />}
        disabled={!vm.present}
        title={vm.present ? `Back up ${vm.name} now` : `${vm.name} is no longer on its host`}
        onClick={() => setOpen(true)}
        style={NO_SHRINK}
      >
        Back up now
      </Button>
      {open && <BackupNowModal vm={vm} onClose={() => setOpen(false)} />}
    </>
  );
}

export function LastBackup({ vm }: { vm: Pick<Vm, 'lastBackupAt' | 'lastBackupType' | 'backups'> }) {
  if (vm.lastBackupAt === null) {
    return (
      <Text size="sm" c="dimmed">
        Never
      </Text>
    );
  }
  return (
    <Group gap={6} wrap="nowrap">
      <RelativeTime iso={vm.lastBackupAt} />
      {vm.lastBackupType !== null && <BackupTypeBadge type={vm.lastBackupType} size="xs" />}
    </Group>
  );
}

export const vmColumns = [
  column.accessor('name', {
    header: 'Name',
    cell: ({ row }) => (
      <Stack gap={0}>
        <Anchor component={Link} to={`/vms/${row.original.id}`} size="sm" fw={500} style={{ overflowWrap: 'anywhere' }}>
          {row.original.name}
        </Anchor>
        <Text size="xs" c="dimmed" style={nowrap}>
          {row.original.hypervisor}
        </Text>
      </Stack>
    ),
  }),
  column.accessor('state', { header: 'State', cell: ({ row }) => <VmStateBadge vm={row.original} /> }),
  column.accessor('vcpus', { header: 'vCPUs' }),
  column.accessor('memoryBytes', { header: 'Memory', cell: (info) => <Text size="sm" style={nowrap}>{formatBytes(info.getValue())}</Text> }),
  column.display({ id: 'disks', header: 'Disks', cell: ({ row }) => <Text size="sm" style={nowrap}>{describeDisks(row.original)}</Text> }),
  column.accessor('lastBackupAt', { header: 'Last backup', cell: ({ row }) => <LastBackup vm={row.original} /> }),
  column.accessor('policy', { header: 'Policy', cell: ({ row }) => <ProtectionBadge vm={row.original} link /> }),
  column.display({
    id: 'actions',
    header: () => <VisuallyHidden>Actions</VisuallyHidden>,
    cell: ({ row }) => <BackupNowButton vm={row.original} />,
  }),
];
