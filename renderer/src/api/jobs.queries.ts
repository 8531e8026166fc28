import { JobDetailsSchema, JobPageSchema, isFinalState, type Job, type JobDetails, type JobListQuery, type JobPage, type Task } from '@common/api/index.js';
import { keepPreviousData, useQuery, type QueryClient } from '@tanstack/react-query';
import { useConnectionState } from '../events/connection-state-context.js';
import { useApiClient } from './api-client-context.js';

/** Jobs are read from workflows and their tasks; 'task' events patch their steps in place. */
export const jobKeys = {
  all: ['jobs'] as const,
  list: (query: JobListQuery) => ['jobs', 'list', query] as const,
  detail: (id: string) => ['jobs', 'detail', id] as const,
};

const FALLBACK_POLL_MS = 3_000;

export function useJobsQuery(query: JobListQuery) {
  const api = useApiClient();
  const live = useConnectionState() === 'open';
  return useQuery({
    queryKey: jobKeys.list(query),
    queryFn: ({ signal }) => api.json('GET', '/api/jobs', JobPageSchema, { signal, query: { limit: query.limit, offset: query.offset } }),
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

/**
 * A pushed task moves the job that holds it: a progress tick patches the step in place; a step
 * that started or ended (or a new task) refetches the jobs, whose state and summary the server derives.
 */
export function refreshJobsAfterTask(queryClient: QueryClient, task: Task, previous: Task | undefined): void {
  queryClient.setQueriesData<JobPage>({ queryKey: ['jobs', 'list'] }, (page) => (page === undefined ? page : { ...page, jobs: page.jobs.map((j) => withStep(j, task)) }));
  queryClient.setQueriesData<JobDetails>({ queryKey: ['jobs', 'detail'] }, (job) => (job === undefined ? job : withStep(job, task)));
  if (previous === undefined || previous.state !== task.state) void queryClient.invalidateQueries({ queryKey: jobKeys.all });
}
