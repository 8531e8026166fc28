import type { Backup } from '@common/api/index.js';
import { Anchor, Badge, Group, Paper, Text, Title } from '@mantine/core';
import { getCoreRowModel, useReactTable } from '@tanstack/react-table';
import { Link } from 'react-router-dom';
import { DataTable } from '../../components/data-table.js';
import { ProtectionBadge } from '../../components/protection-badge.js';
import { RelativeTime } from '../../components/relative-time.js';
import { useInventoryVm } from '../../hooks/use-inventory-vm.js';
import { formatBytes } from '../../utils/format.js';
import { backupPointColumns } from './backup-columns.js';

/** One VM and its restore points, newest first. */
export function BackupGroup({ vm: uuid, backups }: { vm: string; backups: Backup[] }) {
  const vm = useInventoryVm(uuid);
  const table = useReactTable({ data: backups, columns: backupPointColumns, getCoreRowModel: getCoreRowModel(), getRowId: (backup) => String(backup.id) });
  const name = vm?.name ?? backups.find((b) => b.vmName !== null)?.vmName ?? uuid;
  const stored = backups.reduce((sum, b) => sum + (b.status === 'removed' ? 0 : (b.storedBytes ?? 0)), 0);
  const newest = backups[0];
  const headingId = `backup-group-${uuid}`;
  return (
    <Paper withBorder radius="md" p="xs" component="section" aria-labelledby={headingId} data-testid="backup-group" data-vm={name}>
      <Group justify="space-between" px="xs" pt={4} pb="xs" wrap="wrap">
        <Group gap="sm">
          <Title order={2} size="h4" id={headingId}>
            {vm ? (
              <Anchor component={Link} to={`/vms/${vm.id}`} inherit>
                {name}
              </Anchor>
            ) : (
              name
            )}
          </Title>
          {vm ? <ProtectionBadge vm={vm} link /> : <Badge variant="outline" color="gray" tt="none">No longer in the inventory</Badge>}
        </Group>
        <Text size="sm" c="dimmed">
          {`${backups.length} ${backups.length === 1 ? 'backup' : 'backups'} · ${formatBytes(stored)} stored · newest `}
          {newest && <RelativeTime iso={newest.createdAt} />}
        </Text>
      </Group>
      <DataTable table={table} label={`Backups of ${name}`} minWidth={900} />
    </Paper>
  );
}
