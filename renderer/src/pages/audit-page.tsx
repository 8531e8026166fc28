import type { AuditQuery } from '@common/api/index.js';
import { Paper } from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { IconHistory } from '@tabler/icons-react';
import { getCoreRowModel, useReactTable } from '@tanstack/react-table';
import { useState } from 'react';
import { useAuditQuery } from '../api/audit.queries.js';
import { CursorPager } from '../components/cursor-pager.js';
import { DataTable } from '../components/data-table.js';
import { EmptyState } from '../components/empty-state.js';
import { PageHeader } from '../components/page-header.js';
import { QueryErrorAlert } from '../components/query-error-alert.js';
import { useCursorPages } from '../hooks/use-cursor-pages.js';
import { dayEnd, dayStart } from '../utils/day-range.js';
import { auditColumns } from './audit/audit-columns.js';
import { AuditFilters, NO_AUDIT_FILTERS, type AuditFilterValues } from './audit/audit-filters.js';

const PAGE_SIZE = 50;

function toQuery(filters: AuditFilterValues, cursor: string | undefined): AuditQuery {
  const actor = filters.actor.trim();
  const action = filters.action.trim();
  return {
    limit: PAGE_SIZE,
    ...(cursor === undefined ? {} : { cursor }),
    ...(actor === '' ? {} : { actor }),
    ...(action === '' ? {} : { action }),
    ...(filters.from === '' ? {} : { from: dayStart(filters.from) }),
    ...(filters.to === '' ? {} : { to: dayEnd(filters.to) }),
  };
}

/** Who changed what, newest first, a page at a time. */
export function AuditPage() {
  const [filters, setFilters] = useState<AuditFilterValues>(NO_AUDIT_FILTERS);
  // Typing in a filter should not fire a request per keystroke.
  const [debounced] = useDebouncedValue(filters, 300);
  const pages = useCursorPages(JSON.stringify(debounced));

  const query = toQuery(debounced, pages.cursor);
  const audit = useAuditQuery(query);
  const entries = audit.data?.entries ?? [];

  const table = useReactTable({
    data: entries,
    columns: auditColumns,
    getCoreRowModel: getCoreRowModel(),
    getRowId: (entry) => String(entry.id),
    manualPagination: true,
  });

  const filtered = JSON.stringify(debounced) !== JSON.stringify(NO_AUDIT_FILTERS);

  return (
    <>
      <PageHeader title="Audit log" description="Who changed what, and when. New entries appear as they happen." />
      <AuditFilters values={filters} onChange={setFilters} />
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
          <CursorPager pages={pages} nextCursor={audit.data?.nextCursor} shown={entries.length} what="entries" busy={audit.isFetching && audit.isPlaceholderData} />
        </Paper>
      )}
    </>
  );
}
