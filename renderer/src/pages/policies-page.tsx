import type { Policy } from '@common/api/index.js';
import { Alert, Anchor, Button, Paper, Skeleton } from '@mantine/core';
import { IconCalendarTime, IconDatabaseOff, IconPlus } from '@tabler/icons-react';
import { getCoreRowModel, useReactTable } from '@tanstack/react-table';
import { useMemo } from 'react';
import { Link, useNavigate } from 'react-router-dom';
import { useDestinationsQuery } from '../api/destinations.queries.js';
import { usePoliciesQuery } from '../api/policies.queries.js';
import { useSession } from '../auth/session-context.js';
import { DataTable } from '../components/data-table.js';
import { EmptyState } from '../components/empty-state.js';
import { PageHeader } from '../components/page-header.js';
import { QueryErrorAlert } from '../components/query-error-alert.js';
import { policyColumns, policyPath } from './policies/policy-columns.js';

/** The order the scheduler weighs them in: higher priority first, then by name. */
function comparePolicies(a: Policy, b: Policy): number {
  return b.priority - a.priority || a.name.localeCompare(b.name);
}

export function PoliciesPage() {
  const { isAdmin } = useSession();
  const navigate = useNavigate();
  const policies = usePoliciesQuery();
  const destinations = useDestinationsQuery(isAdmin);
  const rows = useMemo(() => [...(policies.data ?? [])].sort(comparePolicies), [policies.data]);
  const table = useReactTable({
    data: rows,
    columns: policyColumns,
    getCoreRowModel: getCoreRowModel(),
    getRowId: (policy) => String(policy.id),
  });
  const empty = policies.isSuccess && rows.length === 0;
  const noDestination = isAdmin && destinations.isSuccess && destinations.data.length === 0;
  const createButton = isAdmin ? (
    <Button component={Link} to="/policies/new" leftSection={<IconPlus size={16} aria-hidden />}>
      Create policy
    </Button>
  ) : undefined;

  return (
    <>
      <PageHeader
        title="Policies"
        description="Which virtual machines are backed up or snapshotted, when, where to, and how long their backups and snapshots are kept."
        actions={empty ? undefined : createButton}
      />
      {policies.isPending && <Skeleton h={180} radius="md" />}
      {policies.isError && <QueryErrorAlert title="Could not load policies" error={policies.error} onRetry={() => void policies.refetch()} />}
      {empty && noDestination && (
        <Alert color="yellow" icon={<IconDatabaseOff />} title="No destination yet" mb="md">
          A policy stores its backups in a destination. <Anchor component={Link} to="/destinations">Add a destination</Anchor> first.
        </Alert>
      )}
      {empty && (
        <EmptyState
          icon={IconCalendarTime}
          title="No policies yet"
          description={
            isAdmin
              ? 'A policy backs up the virtual machines its rules match (by name or by host) on a schedule, to one destination, and keeps as many backups as its retention says.'
              : 'Policies decide which virtual machines are backed up, when, to which destination and how long backups are kept. An administrator creates them.'
          }
          actions={createButton}
        />
      )}
      {policies.isSuccess && !empty && (
        <Paper withBorder radius="md" p="xs">
          <DataTable table={table} label="Policies" minWidth={1100} onRowClick={(policy) => void navigate(policyPath(policy))} />
        </Paper>
      )}
    </>
  );
}
