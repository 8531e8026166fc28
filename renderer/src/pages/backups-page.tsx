import { Button, Group, Paper, Select, Skeleton, Text } from '@mantine/core';
import { IconArchive, IconFilterOff } from '@tabler/icons-react';
import { getCoreRowModel, useReactTable } from '@tanstack/react-table';
import { useMemo } from 'react';
import { useSearchParams } from 'react-router-dom';
import { BACKUP_LIST_LIMIT, useBackupsQuery } from '../api/backups.queries.js';
import { useDestinationsQuery } from '../api/destinations.queries.js';
import { DataTable } from '../components/data-table.js';
import { EmptyState } from '../components/empty-state.js';
import { PageHeader } from '../components/page-header.js';
import { QueryErrorAlert } from '../components/query-error-alert.js';
import { backupColumns } from './backups/backup-columns.js';

/** Every backup the catalog lists, newest first; ?destination=ID narrows it to one destination. */
export function BackupsPage() {
  const [params, setParams] = useSearchParams();
  const destinationFilter = params.get('destination') || null;
  const destinations = useDestinationsQuery();
  const backups = useBackupsQuery(destinationFilter === null ? {} : { destination: destinationFilter });
  const rows = useMemo(() => [...(backups.data ?? [])].sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt)), [backups.data]);

  const table = useReactTable({
    data: rows,
    columns: backupColumns,
    getCoreRowModel: getCoreRowModel(),
    getRowId: (backup) => String(backup.id),
  });

  const options = (destinations.data ?? []).map((destination) => ({ value: String(destination.id), label: destination.name }));
  // A filter on a destination that has since been removed must still show (and be clearable).
  if (destinationFilter !== null && !options.some((option) => option.value === destinationFilter)) {
    options.push({ value: destinationFilter, label: `Destination ${destinationFilter}` });
  }
  // Replace, not push: filter clicks should not fill the back button's history.
  const filter = (destination: string | null) => setParams(destination === null ? {} : { destination }, { replace: true });

  return (
    <>
      <PageHeader title="Backups" description="Every backup the catalog lists, full or incremental, newest first." />
      <Group mb="md" align="flex-end">
        <Select
          label="Destination"
          placeholder="Any destination"
          data={options}
          value={destinationFilter}
          onChange={filter}
          clearable
          searchable
          nothingFoundMessage="No destination with that name"
          w={240}
        />
        {destinationFilter !== null && (
          <Button variant="subtle" leftSection={<IconFilterOff size={16} aria-hidden />} onClick={() => filter(null)}>
            Clear filter
          </Button>
        )}
      </Group>
      {backups.isPending && <Skeleton h={240} radius="md" />}
      {backups.isError && <QueryErrorAlert title="Could not load backups" error={backups.error} onRetry={() => void backups.refetch()} />}
      {backups.isSuccess && rows.length === 0 && (
        <EmptyState
          icon={IconArchive}
          title={destinationFilter === null ? 'No backups yet' : 'No backups on this destination'}
          description={
            destinationFilter === null
              ? 'Backups appear here once a backup has run, or after a re-import of a destination that already holds backups (Destinations → Re-import). Each one is listed with its VM, destination and size.'
              : 'None listed in the catalog. Backups appear here after a backup to this destination, or after a re-import from it.'
          }
        />
      )}
      {rows.length > 0 && (
        <Paper withBorder radius="md" p="xs" aria-busy={backups.isFetching}>
          <DataTable table={table} label="Backups" minWidth={1000} />
          {rows.length >= BACKUP_LIST_LIMIT && (
            <Text size="sm" c="dimmed" p="xs">
              {`Showing the newest ${BACKUP_LIST_LIMIT}; filter by destination to see older ones.`}
            </Text>
          )}
        </Paper>
      )}
    </>
  );
}
