import type { BrowseEntry, BrowseSort, Mount } from '@common/api/index.js';
import { Group, Pagination, Skeleton, Text } from '@mantine/core';
import { IconFolder } from '@tabler/icons-react';
import { getCoreRowModel, useReactTable, type RowSelectionState, type SortingState } from '@tanstack/react-table';
import { useMemo, useState } from 'react';
import { useMountFilesQuery } from '../../api/mounts.queries.js';
import { DataTable } from '../../components/data-table.js';
import { isM365Mount, joinMountPath } from '../../utils/mount-format.js';
import { BrowseErrorAlert } from './browse-error.js';
import { fileColumns, type FileColumnsContext } from './file-columns.js';
import { EXPLORER_PAGE_SIZE } from './folder-tree.js';
import { SelectionActions } from './selection-actions.js';

interface FileTableProps {
  mount: Mount;
  /** The folder; the parent keys this component by it, so sort, page and selection start afresh. */
  path: string;
  onPreview: FileColumnsContext['onPreview'];
  onFollowLink: FileColumnsContext['onFollowLink'];
}

const SORT_KEYS: readonly string[] = ['name', 'size', 'mtime'] satisfies BrowseSort[];
/** OneDrive and SharePoint keep no Unix owner or mode: the node's made-up ones would only mislead. */
const M365_HIDDEN = { owner: false, mode: false };

/** One folder, a page at a time, sorted on the node; rows selected for download or restore. */
export function FileTable({ mount, path, onPreview, onFollowLink }: FileTableProps) {
  const [sorting, setSorting] = useState<SortingState>([{ id: 'name', desc: false }]);
  const [page, setPage] = useState(1);
  const [rowSelection, setRowSelection] = useState<RowSelectionState>({});
  const sort = sorting[0];
  const query = {
    path,
    offset: (page - 1) * EXPLORER_PAGE_SIZE,
    limit: EXPLORER_PAGE_SIZE,
    sort: (sort !== undefined && SORT_KEYS.includes(sort.id) ? sort.id : 'name') as BrowseSort,
    order: sort?.desc === true ? ('desc' as const) : ('asc' as const),
  };
  const listing = useMountFilesQuery(mount.id, query, mount.state === 'MOUNTED');
  const entries = useMemo(() => listing.data?.entries ?? [], [listing.data]);
  const columns = useMemo(() => fileColumns({ mountId: mount.id, dir: path, onPreview, onFollowLink }), [mount.id, path, onPreview, onFollowLink]);

  const table = useReactTable({
    data: entries,
    columns,
    getCoreRowModel: getCoreRowModel(),
    getRowId: (entry) => entry.name,
    manualSorting: true,
    manualPagination: true,
    enableSortingRemoval: false,
    enableMultiSort: false,
    state: { sorting, rowSelection, ...(isM365Mount(mount) ? { columnVisibility: M365_HIDDEN } : {}) },
    onSortingChange: (updater) => {
      setSorting(updater);
      setPage(1);
      setRowSelection({});
    },
    onRowSelectionChange: setRowSelection,
  });

  const changePage = (next: number) => {
    setPage(next);
    setRowSelection({});
  };
  const selected: BrowseEntry[] = table.getSelectedRowModel().rows.map((row) => row.original);

  if (listing.isError) return <BrowseErrorAlert error={listing.error} path={path} />;
  if (listing.data === undefined) return <Skeleton h={240} radius="md" aria-label="Loading the folder" />;

  const total = listing.data.total;
  return (
    <>
      <SelectionActions mount={mount} paths={selected.map((entry) => joinMountPath(path, entry.name))} entries={selected} onClear={() => setRowSelection({})} />
      {entries.length === 0 ? (
        <Group gap="xs" c="dimmed" p="md">
          <IconFolder size={18} aria-hidden />
          <Text size="sm" c="dimmed">
            This folder is empty.
          </Text>
        </Group>
      ) : (
        <div aria-busy={listing.isFetching} data-testid="file-table">
          <DataTable table={table} label={`Contents of ${path}`} minWidth={720} />
        </div>
      )}
      <Group justify="space-between" mt="xs">
        <Text size="sm" c="dimmed" data-testid="entry-count">
          {`${total} ${total === 1 ? 'entry' : 'entries'}${listing.data.truncated ? ', truncated: the folder holds more than the node reads; search to find the rest' : ''}`}
        </Text>
        {total > EXPLORER_PAGE_SIZE && (
          <Pagination total={Math.ceil(total / EXPLORER_PAGE_SIZE)} value={page} onChange={changePage} size="sm" aria-label="Pages of this folder" />
        )}
      </Group>
    </>
  );
}
