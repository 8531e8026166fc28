import { isFinalState, TaskLogPageSchema, type TaskDetails } from '@common/api/index.js';
import { Button, Group, Paper, Title } from '@mantine/core';
import { IconArrowUp } from '@tabler/icons-react';
import { useInfiniteQuery } from '@tanstack/react-query';
import { useMemo, useState } from 'react';
import { useApiClient } from '../../api/api-client-context.js';
import { queryKeys } from '../../api/query-keys.js';
import { TaskLog } from '../../components/tasks/task-log.js';

const EARLIER_PAGE = 1000;

/**
 * The task's log: the newest lines come with the task (and live ones are pushed); a long log's
 * earlier lines are fetched a page at a time, from the task's logCursor back.
 */
export function TaskLogPanel({ task }: { task: TaskDetails }) {
  const api = useApiClient();
  const [wanted, setWanted] = useState(false);
  const start = task.logCursor ?? null;
  const earlier = useInfiniteQuery({
    queryKey: queryKeys.taskLogPages(task.id, start),
    queryFn: ({ pageParam, signal }) => api.json('GET', `/api/tasks/${task.id}/log`, TaskLogPageSchema, { signal, query: { cursor: pageParam, limit: EARLIER_PAGE } }),
    initialPageParam: start ?? '',
    getNextPageParam: (page) => page.nextCursor ?? undefined,
    enabled: wanted && start !== null,
    staleTime: Infinity,
  });
  const log = useMemo(() => [...(earlier.data?.pages ?? []).toReversed().flatMap((page) => page.lines), ...task.log], [earlier.data, task.log]);
  const more = start !== null && (!wanted || earlier.hasNextPage);

  return (
    <Paper withBorder radius="md" p="md">
      <Group justify="space-between" mb="sm">
        <Title order={2} size="h4">
          Log
        </Title>
        {more && (
          <Button
            variant="subtle"
            size="xs"
            leftSection={<IconArrowUp size={14} aria-hidden />}
            loading={earlier.isFetching}
            onClick={() => (wanted ? void earlier.fetchNextPage() : setWanted(true))}
          >
            Earlier lines
          </Button>
        )}
      </Group>
      <TaskLog log={log} height={520} final={isFinalState(task.state)} />
    </Paper>
  );
}
