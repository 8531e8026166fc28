import type { Policy } from '@common/api/index.js';
import { Alert, Paper, Skeleton, Title } from '@mantine/core';
import { IconInfoCircle } from '@tabler/icons-react';
import { getCoreRowModel, useReactTable } from '@tanstack/react-table';
import { useMemo } from 'react';
import { usePolicyRunsQuery } from '../../api/policies.queries.js';
import { CursorPager } from '../../components/cursor-pager.js';
import { DataTable } from '../../components/data-table.js';
import { QueryErrorAlert } from '../../components/query-error-alert.js';
import { useCursorPages } from '../../hooks/use-cursor-pages.js';
import { policyRunColumns } from './policy-run-columns.js';

const PAGE_SIZE = 50;

/** A policy's runs and misses, newest first, a page at a time; the first page moves live. */
export function PolicyRunsSection({ policy }: { policy: Policy }) {
  const pages = useCursorPages(String(policy.id));
  const runs = usePolicyRunsQuery(policy.id, PAGE_SIZE, pages.cursor);
  const rows = runs.data?.runs ?? [];
  const columns = useMemo(() => policyRunColumns(policy.kind), [policy.kind]);
  const table = useReactTable({
    data: rows,
    columns,
    getCoreRowModel: getCoreRowModel(),
    getRowId: (run) => String(run.id),
  });
  return (
    <Paper withBorder radius="md" p="md" component="section" aria-labelledby="runs-heading">
      <Title order={2} size="h4" mb="sm" id="runs-heading">
        Runs
      </Title>
      {runs.isPending && <Skeleton h={120} />}
      {runs.isError && <QueryErrorAlert title="Could not load the runs" error={runs.error} onRetry={() => void runs.refetch()} />}
      {runs.isSuccess && rows.length === 0 && (
        <Alert color="gray" variant="light" icon={<IconInfoCircle />}>
          This policy has not run yet. Runs appear here as they start, by schedule or by “Run now”, together with runs that were missed.
        </Alert>
      )}
      {rows.length > 0 && (
        <>
          <DataTable table={table} label={`Runs of ${policy.name}`} minWidth={1000} />
          <CursorPager pages={pages} nextCursor={runs.data?.nextCursor} shown={rows.length} what="runs" busy={runs.isFetching && runs.isPlaceholderData} />
        </>
      )}
    </Paper>
  );
}
