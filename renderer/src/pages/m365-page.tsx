import { Button, Paper, Skeleton } from '@mantine/core';
import { IconBrandOffice, IconPlus } from '@tabler/icons-react';
import { getCoreRowModel, useReactTable } from '@tanstack/react-table';
import { useState } from 'react';
import { useNavigate } from 'react-router-dom';
import { useM365TenantsQuery } from '../api/m365.queries.js';
import { useSession } from '../auth/session-context.js';
import { DataTable } from '../components/data-table.js';
import { EmptyState } from '../components/empty-state.js';
import { PageHeader } from '../components/page-header.js';
import { QueryErrorAlert } from '../components/query-error-alert.js';
import { AddTenantModal } from './m365/add-tenant-modal.js';
import { tenantColumns } from './m365/tenant-columns.js';

/** Microsoft 365 tenants: how each is reached, whether signing in works, and what its last sync found. */
export function M365Page() {
  const { isAdmin } = useSession();
  const navigate = useNavigate();
  const tenants = useM365TenantsQuery();
  const [adding, setAdding] = useState(false);
  const table = useReactTable({ data: tenants.data ?? [], columns: tenantColumns, getCoreRowModel: getCoreRowModel(), getRowId: (tenant) => String(tenant.id) });
  const empty = tenants.isSuccess && tenants.data.length === 0;
  const addButton = isAdmin ? (
    <Button leftSection={<IconPlus size={16} aria-hidden />} onClick={() => setAdding(true)}>
      Add tenant
    </Button>
  ) : undefined;

  return (
    <>
      <PageHeader
        title="Microsoft 365"
        description="Tenants, their users with their OneDrive, and SharePoint sites with their document libraries."
        actions={empty ? undefined : addButton}
      />
      {tenants.isPending && <Skeleton h={180} radius="md" />}
      {tenants.isError && <QueryErrorAlert title="Could not load the tenants" error={tenants.error} onRetry={() => void tenants.refetch()} />}
      {empty && (
        <EmptyState
          icon={IconBrandOffice}
          title="No tenant yet"
          description={
            isAdmin
              ? 'Register an app in Microsoft Entra ID with the application permissions User.Read.All, Sites.Read.All and Files.Read.All (admin consent), then add the tenant with its IDs and a client secret or certificate. A node signs in and lists its users and sites.'
              : 'Microsoft 365 tenants are added by an administrator. Their users and SharePoint sites appear here once they are.'
          }
          actions={addButton}
        />
      )}
      {tenants.isSuccess && !empty && (
        <Paper withBorder radius="md" p="xs">
          <DataTable table={table} label="Microsoft 365 tenants" minWidth={1050} onRowClick={(tenant) => void navigate(`/m365/${tenant.id}`)} />
        </Paper>
      )}
      {adding && <AddTenantModal onClose={() => setAdding(false)} />}
    </>
  );
}
