import type { AuditQuery } from '@common/api/index.js';
import { Group, Pagination, Paper, Text } from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { IconHistory } from '@tabler/icons-react';
import { getCoreRowModel, useReactTable } from '@tanstack/react-table';
import { useState } from 'react';
import { useAuditQuery } from '../api/audit.queries.js';
import { DataTable } from '../components/data-table.js';
import { EmptyState } from '../components/empty-state.js';
import { PageHeader } from '../components/page-header.js';
import { QueryErrorAlert } from '../components/query-error-alert.js';
import { auditColumns } from './audit/audit-columns.js';
import { AuditFilters, type AuditFilterValues } from './audit/audit-filters.js';

const PAGE_SIZE = 50;

export function AuditPage() {
  const [page, setPage] = useState(1);
  const [filters, setFilters] = useState<AuditFilterValues>({ actor: '', action: '' });
  // Typing in a filter should not fire a request per keystroke.
  const [debounced] = useDebouncedValue(filters, 300);

  const query: AuditQuery = {
    limit: PAGE_SIZE,
    offset: (page - 1) * PAGE_SIZE,
    actor: debounced.actor.trim() || undefined,
    action: debounced.action.trim() || undefined,
  };
  const audit = useAuditQuery(query);
  const entries = audit.data?.entries ?? [];
  const total = audit.data?.total ?? 0;

  const table = useReactTable({
    data: entries,
    columns: auditColumns,
    getCoreRowModel: getCoreRowModel(),
    getRowId: (entry) => String(entry.id),
    manualPagination: true,
  });

  const changeFilters = (values: AuditFilterValues) => {
    setFilters(values);
    setPage(1);
  };
  const filtered = query.actor !== undefined || query.action !== undefined;

  return (
    <>
      <PageHeader title="Audit log" description="Who changed what, and when. New entries appear as they happen." />
      <AuditFilters values={filters} onChange={changeFilters} />
      {audit.isError && <QueryErrorAlert title="Could not load the audit log" error={audit.error} onRetry={() => void audit.refetch()} />}
      {audit.isSuccess && entries.length === 0 && (
        <EmptyState
          icon={IconHistory}
          title={filtered ? 'No matching entries' : 'Nothing recorded yet'}
          description={filtered ? 'No audit entries match these filters. Clear them to see everything.' : 'Sign-ins, user changes and configuration changes are recorded here.'}
        />
      )}
      {entries.length > 0 && (
        <Paper withBorder radius="md" p="xs" aria-busy={audit.isFetching}>
          <DataTable table={table} label="Audit log" />
          <Group justify="space-between" p="xs">
            <Text size="sm" c="dimmed">
              {`Showing ${query.offset + 1}–${query.offset + entries.length} of ${total}`}
            </Text>
            <Pagination total={Math.max(1, Math.ceil(total / PAGE_SIZE))} value={page} onChange={setPage} size="sm" />
          </Group>
        </Paper>
      )}
    </>
  );
}
