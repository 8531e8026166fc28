import { Paper, Skeleton } from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { IconListCheck } from '@tabler/icons-react';
import { getCoreRowModel, useReactTable } from '@tanstack/react-table';
import { useNavigate, useSearchParams } from 'react-router-dom';
import { useNodesQuery } from '../api/nodes.queries.js';
import { useTasksQuery } from '../api/tasks.queries.js';
import { CursorPager } from '../components/cursor-pager.js';
import { DataTable } from '../components/data-table.js';
import { EmptyState } from '../components/empty-state.js';
import { PageHeader } from '../components/page-header.js';
import { QueryErrorAlert } from '../components/query-error-alert.js';
import { useCursorPages } from '../hooks/use-cursor-pages.js';
import { taskColumns } from './tasks/task-columns.js';
import { TaskFilters } from './tasks/task-filters.js';
import { hasTaskFilters, parseTaskSearch, toTaskListQuery, toTaskSearchParams, type TaskFilters as Filters } from './tasks/task-search-params.js';

const PAGE_SIZE = 50;

/** Every piece of work the system does, newest first, a page at a time; bars move live from server events. */
export function TasksPage() {
  const [params, setParams] = useSearchParams();
  const navigate = useNavigate();
  const filters = parseTaskSearch(params);
  // Typing a subject should not fire a request per keystroke.
  const [debounced] = useDebouncedValue(filters, 300);
  const pages = useCursorPages(toTaskSearchParams(debounced).toString());
  const nodes = useNodesQuery();

  const tasks = useTasksQuery(toTaskListQuery(debounced, PAGE_SIZE, pages.cursor));
  const rows = tasks.data?.tasks ?? [];

  const table = useReactTable({
    data: rows,
    columns: taskColumns,
    getCoreRowModel: getCoreRowModel(),
    getRowId: (task) => String(task.id),
    manualPagination: true,
  });

  // Replace, not push: filter clicks should not fill the back button's history.
  const changeFilters = (next: Filters) => setParams(toTaskSearchParams(next), { replace: true });
  const filtered = hasTaskFilters(filters);

  return (
    <>
      <PageHeader title="Tasks" description="Everything the system does, newest first. Progress updates live." />
      <TaskFilters values={filters} nodes={nodes.data ?? []} onChange={changeFilters} />
      {tasks.isPending && <Skeleton h={240} radius="md" />}
      {tasks.isError && <QueryErrorAlert title="Could not load tasks" error={tasks.error} onRetry={() => void tasks.refetch()} />}
      {tasks.isSuccess && rows.length === 0 && (
        <EmptyState
          icon={IconListCheck}
          title={filtered ? 'No matching tasks' : 'No tasks yet'}
          description={
            filtered
              ? 'No task matches these filters. Clear them to see everything.'
              : 'Installs, node checks, backups and restores appear here as tasks, with their progress and log.'
          }
        />
      )}
      {rows.length > 0 && (
        <Paper withBorder radius="md" p="xs" aria-busy={tasks.isFetching}>
          <DataTable table={table} label="Tasks" minWidth={1100} onRowClick={(task) => void navigate(`/tasks/${task.id}`)} />
          <CursorPager pages={pages} nextCursor={tasks.data?.nextCursor} shown={rows.length} what="tasks" busy={tasks.isFetching && tasks.isPlaceholderData} />
        </Paper>
      )}
    </>
  );
}
