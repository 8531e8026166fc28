import type { TaskListQuery } from '@common/api/index.js';
import { Group, Pagination, Paper, Skeleton, Text } from '@mantine/core';
import { IconListCheck } from '@tabler/icons-react';
import { getCoreRowModel, useReactTable } from '@tanstack/react-table';
import { useNavigate, useSearchParams } from 'react-router-dom';
import { useNodesQuery } from '../api/nodes.queries.js';
import { useTasksQuery } from '../api/tasks.queries.js';
import { DataTable } from '../components/data-table.js';
import { EmptyState } from '../components/empty-state.js';
import { PageHeader } from '../components/page-header.js';
import { QueryErrorAlert } from '../components/query-error-alert.js';
import { taskColumns } from './tasks/task-columns.js';
import { TaskFilters } from './tasks/task-filters.js';
import { parseTaskSearch, toTaskSearchParams, type TaskFilters as Filters } from './tasks/task-search-params.js';

const PAGE_SIZE = 50;

/** Every piece of work the system does, newest first; bars move live from server events. */
export function TasksPage() {
  const [params, setParams] = useSearchParams();
  const navigate = useNavigate();
  const search = parseTaskSearch(params);
  const nodes = useNodesQuery();

  const query: TaskListQuery = {
    limit: PAGE_SIZE,
    offset: (search.page - 1) * PAGE_SIZE,
    ...(search.state === null ? {} : { state: search.state }),
    ...(search.type === null ? {} : { type: search.type }),
    ...(search.node === null ? {} : { node: search.node }),
  };
  const tasks = useTasksQuery(query);
  const rows = tasks.data?.tasks ?? [];
  const total = tasks.data?.total ?? 0;

  const table = useReactTable({
    data: rows,
    columns: taskColumns,
    getCoreRowModel: getCoreRowModel(),
    getRowId: (task) => String(task.id),
    manualPagination: true,
  });

  // Replace, not push: filter clicks should not fill the back button's history.
  const changeFilters = (filters: Filters) => setParams(toTaskSearchParams({ ...filters, page: 1 }), { replace: true });
  const changePage = (page: number) => setParams(toTaskSearchParams({ ...search, page }));
  const filtered = search.state !== null || search.type !== null || search.node !== null;

  return (
    <>
      <PageHeader title="Tasks" description="Everything the system does, newest first. Progress updates live." />
      <TaskFilters values={search} nodes={nodes.data ?? []} onChange={changeFilters} />
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
          <Group justify="space-between" p="xs">
            <Text size="sm" c="dimmed">
              {`Showing ${query.offset + 1}–${query.offset + rows.length} of ${total}`}
            </Text>
            <Pagination total={Math.max(1, Math.ceil(total / PAGE_SIZE))} value={search.page} onChange={changePage} size="sm" />
          </Group>
        </Paper>
      )}
    </>
  );
}
