import { Anchor, Paper, SegmentedControl, Skeleton } from '@mantine/core';
import { IconFolderSearch } from '@tabler/icons-react';
import { getCoreRowModel, useReactTable } from '@tanstack/react-table';
import { useMemo } from 'react';
import { Link, useSearchParams } from 'react-router-dom';
import { useMountsQuery } from '../api/mounts.queries.js';
import { DataTable } from '../components/data-table.js';
import { EmptyState } from '../components/empty-state.js';
import { PageHeader } from '../components/page-header.js';
import { QueryErrorAlert } from '../components/query-error-alert.js';
import { mountColumns } from './mounts/mount-columns.js';

/** Backups opened for browsing or exported over iSCSI; ?all=1 shows the closed ones too. */
export function MountsPage() {
  const [params, setParams] = useSearchParams();
  const all = params.get('all') === '1';
  const mounts = useMountsQuery(!all);
  const rows = useMemo(() => [...(mounts.data ?? [])].sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt)), [mounts.data]);
  const table = useReactTable({ data: rows, columns: mountColumns, getCoreRowModel: getCoreRowModel(), getRowId: (mount) => String(mount.id) });

  return (
    <>
      <PageHeader
        title="Mounts"
        description="Backups opened to browse and restore files, or exported over iSCSI. Each closes by itself once unused for its idle time."
        actions={
          <SegmentedControl
            aria-label="Which mounts"
            value={all ? 'all' : 'active'}
            onChange={(value) => setParams(value === 'all' ? { all: '1' } : {}, { replace: true })}
            data={[
              { value: 'active', label: 'Open' },
              { value: 'all', label: 'All' },
            ]}
          />
        }
      />
      {mounts.isPending && <Skeleton h={200} radius="md" />}
      {mounts.isError && <QueryErrorAlert title="Could not load the mounts" error={mounts.error} onRetry={() => void mounts.refetch()} />}
      {mounts.isSuccess && rows.length === 0 && (
        <EmptyState
          icon={IconFolderSearch}
          title={all ? 'No mounts yet' : 'No open mounts'}
          description={
            <>
              {'Open a backup with "Browse files" on the '}
              <Anchor component={Link} to="/backups" inherit>
                Backups
              </Anchor>
              {' page or in a VM\'s backup history, to download or restore single files without restoring the whole VM.'}
            </>
          }
        />
      )}
      {rows.length > 0 && (
        <Paper withBorder radius="md" p="xs" aria-busy={mounts.isFetching}>
          <DataTable table={table} label="Mounts" minWidth={960} />
        </Paper>
      )}
    </>
  );
}
