import { Button, Paper, Skeleton } from '@mantine/core';
import { IconDatabase, IconPlus } from '@tabler/icons-react';
import { getCoreRowModel, useReactTable } from '@tanstack/react-table';
import { useState } from 'react';
import { useNavigate, useSearchParams } from 'react-router-dom';
import { useDestinationsQuery } from '../api/destinations.queries.js';
import { useSession } from '../auth/session-context.js';
import { DataTable } from '../components/data-table.js';
import { EmptyState } from '../components/empty-state.js';
import { PageHeader } from '../components/page-header.js';
import { QueryErrorAlert } from '../components/query-error-alert.js';
import { AddDestinationModal } from './destinations/add-destination-modal.js';
import { destinationColumns } from './destinations/destination-columns.js';

export function DestinationsPage() {
  const { isAdmin } = useSession();
  const navigate = useNavigate();
  const destinations = useDestinationsQuery();
  // ?add=1 (the dashboard's getting-started checklist) opens the form at once.
  const [params] = useSearchParams();
  const [adding, setAdding] = useState(params.has('add'));
  const table = useReactTable({
    data: destinations.data ?? [],
    columns: destinationColumns,
    getCoreRowModel: getCoreRowModel(),
    getRowId: (destination) => String(destination.id),
  });
  const empty = destinations.isSuccess && destinations.data.length === 0;
  const addButton = isAdmin ? (
    <Button leftSection={<IconPlus size={16} aria-hidden />} onClick={() => setAdding(true)}>
      Add destination
    </Button>
  ) : undefined;

  return (
    <>
      <PageHeader
        title="Destinations"
        description="Where backups are stored: deduplicated across every VM and backup, compressed, and optionally encrypted."
        actions={empty ? undefined : addButton}
      />
      {destinations.isPending && <Skeleton h={180} radius="md" />}
      {destinations.isError && (
        <QueryErrorAlert title="Could not load destinations" error={destinations.error} onRetry={() => void destinations.refetch()} />
      )}
      {empty && (
        <EmptyState
          icon={IconDatabase}
          title="No destinations yet"
          description={
            isAdmin
              ? 'A destination is a directory on a node: a local disk, or an NFS/SMB share mounted there. Backups stored in it take only the space of data not stored already, compressed, and can be encrypted.'
              : 'Destinations are where backups are stored: a directory on a node, on a local disk or a mounted share. An administrator adds them.'
          }
          actions={addButton}
        />
      )}
      {destinations.isSuccess && !empty && (
        <Paper withBorder radius="md" p="xs">
          <DataTable
            table={table}
            label="Destinations"
            minWidth={900}
            onRowClick={(destination) => void navigate(`/destinations/${destination.id}`)}
          />
        </Paper>
      )}
      {adding && <AddDestinationModal onClose={() => setAdding(false)} />}
    </>
  );
}
