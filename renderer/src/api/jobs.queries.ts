import { JobDetailsSchema, JobPageSchema, isFinalState, type Job, type JobDetails, type JobListQuery, type JobPage, type Task } from '@common/api/index.js';
import { keepPreviousData, useInfiniteQuery, useQuery, type InfiniteData, type QueryClient } from '@tanstack/react-query';
import { useConnectionState } from '../events/connection-state-context.js';
import { useApiClient } from './api-client-context.js';

/** Jobs are read from workflows and their tasks; 'task' events patch their steps in place. */
export const jobKeys = {
  all: ['jobs'] as const,
  list: (query: JobListFilters) => ['jobs', 'list', query] as const,
  detail: (id: string) => ['jobs', 'detail', id] as const,
};

const FALLBACK_POLL_MS = 3_000;

/** A jobs list's filters and page size; its pages follow each other by cursor. */
export type JobListFilters = Omit<JobListQuery, 'cursor'>;

/** The jobs list, newest first, one page more at a time ("Load more"): each page starts at the one before's nextCursor. */
export function useJobsQuery(query: JobListFilters) {
  const api = useApiClient();
  const live = useConnectionState() === 'open';
  return useInfiniteQuery({
    queryKey: jobKeys.list(query),
    queryFn: ({ signal, pageParam }) =>
      api.json('GET', '/api/jobs', JobPageSchema, {
        signal,
        query: { limit: query.limit, cursor: pageParam, kind: query.kind, state: query.state, subject: query.subject, flat: query.flat },
      }),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.nextCursor ?? undefined,
    placeholderData: keepPreviousData,
    refetchInterval: live ? false : FALLBACK_POLL_MS,
  });
}

export function useJobQuery(id: string, enabled = true) {
  const api = useApiClient();
  const live = useConnectionState() === 'open';
  return useQuery({
    queryKey: jobKeys.detail(id),
    queryFn: ({ signal }) => api.json('GET', `/api/jobs/${id}`, JobDetailsSchema, { signal }),
    enabled,
    refetchInterval: (query) => {
      const job: JobDetails | undefined = query.state.data;
      return live || (job !== undefined && isFinalState(job.state)) ? false : FALLBACK_POLL_MS;
    },
  });
}

const withStep = <J extends Job>(job: J, task: Task): J => (job.steps.some((s) => s.id === task.id) ? { ...job, steps: job.steps.map((s) => (s.id === task.id ? task : s)) } : job);

/** A policy run that started, moved (VMs done) or ended: its job's counts and state are the server's. */
export function refreshJobsAfterPolicyRun(queryClient: QueryClient): void {
  void queryClient.invalidateQueries({ queryKey: jobKeys.all });
}

/**
 * A pushed task moves the job that holds it: a progress tick patches the step in place (a VM's
 * line of a policy run too); a step that started or ended (or a new task) refetches the jobs,
 * whose state and summary the server derives.
 */
export function refreshJobsAfterTask(queryClient: QueryClient, task: Task, previous: Task | undefined): void {
  queryClient.setQueriesData<InfiniteData<JobPage>>({ queryKey: ['jobs', 'list'] }, (data) =>
    data === undefined ? data : { ...data, pages: data.pages.map((page) => ({ ...page, jobs: page.jobs.map((j) => withStep(j, task)) })) },
  );
  queryClient.setQueriesData<JobDetails>({ queryKey: ['jobs', 'detail'] }, (job) => (job === undefined ? job : { ...withStep(job, task), lines: job.lines.map((l) => withStep(l, task)) }));
  if (stateChanged(queryClient, task, previous)) void queryClient.invalidateQueries({ queryKey: jobKeys.all });
}

/** The last state pushed of each task, for tasks no task cache holds (a policy run's steps on the jobs page). */
const lastStates = new WeakMap<QueryClient, Map<number, Task['state']>>();
const REMEMBERED = 5_000;

/** A task seen for the first time, or in another state than last time; progress ticks are not. */
function stateChanged(queryClient: QueryClient, task: Task, previous: Task | undefined): boolean {
  let seen = lastStates.get(queryClient);
  if (seen === undefined) lastStates.set(queryClient, (seen = new Map<number, Task['state']>()));
  const before = previous?.state ?? seen.get(task.id);
  seen.set(task.id, task.state);
  if (seen.size > REMEMBERED) seen.delete(seen.keys().next().value!);
  return before !== task.state;
}
