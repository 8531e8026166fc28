import { Button, Paper, Skeleton } from '@mantine/core';
import { IconPlus, IconServer } from '@tabler/icons-react';
import { getCoreRowModel, useReactTable } from '@tanstack/react-table';
import { useNavigate } from 'react-router-dom';
import { useNodesQuery } from '../api/nodes.queries.js';
import { useSession } from '../auth/session-context.js';
import { DataTable } from '../components/data-table.js';
import { EmptyState } from '../components/empty-state.js';
import { PageHeader } from '../components/page-header.js';
import { QueryErrorAlert } from '../components/query-error-alert.js';
import { nodesColumns } from './nodes/nodes-columns.js';

/** A button (it starts the install flow), which navigates to the wizard's own page. */
function InstallNodeButton() {
  const navigate = useNavigate();
  return (
    <Button leftSection={<IconPlus size={16} aria-hidden />} onClick={() => void navigate('/nodes/install')}>
      Install node
    </Button>
  );
}

export function NodesPage() {
  const { isAdmin } = useSession();
  const navigate = useNavigate();
  const nodes = useNodesQuery();
  const table = useReactTable({
    data: nodes.data ?? [],
    columns: nodesColumns,
    getCoreRowModel: getCoreRowModel(),
    getRowId: (node) => String(node.id),
  });
  const empty = nodes.isSuccess && nodes.data.length === 0;

  return (
    <>
      <PageHeader
        title="Nodes"
        description="The data movers that run backups and restores on the machines holding your data."
        actions={isAdmin && !empty ? <InstallNodeButton /> : undefined}
      />
      {nodes.isPending && <Skeleton h={180} radius="md" />}
      {nodes.isError && <QueryErrorAlert title="Could not load nodes" error={nodes.error} onRetry={() => void nodes.refetch()} />}
      {empty && (
        <EmptyState
          icon={IconServer}
          title="No nodes yet"
          description={
            isAdmin
              ? 'Install a node on this computer or on a Linux host reachable over SSH, such as a KVM/libvirt host. It appears here once it is online, with its version and free staging space.'
              : 'Nodes are the data movers that run backups and restores. An administrator installs them; they appear here once enrolled.'
          }
          actions={isAdmin ? <InstallNodeButton /> : undefined}
        />
      )}
      {nodes.isSuccess && !empty && (
        <Paper withBorder radius="md" p="xs">
          <DataTable table={table} label="Nodes" minWidth={900} onRowClick={(node) => void navigate(`/nodes/${node.id}`)} />
        </Paper>
      )}
    </>
  );
}
