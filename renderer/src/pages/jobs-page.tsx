import { Anchor, Button, Group, Paper, Skeleton, Table, Text } from '@mantine/core';
import { IconListCheck } from '@tabler/icons-react';
import { Link, useSearchParams } from 'react-router-dom';
import { useJobsQuery } from '../api/jobs.queries.js';
import { EmptyState } from '../components/empty-state.js';
import { PageHeader } from '../components/page-header.js';
import { QueryErrorAlert } from '../components/query-error-alert.js';
import { hasJobFilters, JobFiltersBar, parseJobSearch, toJobListQuery, toJobSearchParams, type JobFilters } from './jobs/job-filters.js';
import { JobRow } from './jobs/job-row.js';

const PAGE_SIZE = 50;

/**
 * What people started or policies ran, one line per job (a policy run is one), newest first;
 * its steps and VMs are inside it. Older jobs a page more at a time, by cursor: nothing is
 * counted, so the list costs the same with a year of history.
 */
export function JobsPage() {
  const [params, setParams] = useSearchParams();
  const filters = parseJobSearch(params);
  const jobs = useJobsQuery(toJobListQuery(filters, PAGE_SIZE));
  const rows = jobs.data?.pages.flatMap((page) => page.jobs) ?? [];
  const filtered = hasJobFilters(filters);
  // Replace, not push: filter clicks should not fill the back button's history.
  const changeFilters = (next: JobFilters) => setParams(toJobSearchParams(next), { replace: true });
  return (
    <>
      <PageHeader
        title="Jobs"
        description={
          <>
            Backups, restores, mounts, snapshots and policy runs, newest first, each with its steps; a policy run is one job with a line per VM. Every single task is on the{' '}
            <Anchor component={Link} to="/tasks">
              Tasks page
            </Anchor>{' '}
            (for experts).
          </>
        }
      />
      <JobFiltersBar values={filters} onChange={changeFilters} />
      {jobs.isPending && <Skeleton h={240} radius="md" />}
      {jobs.isError && <QueryErrorAlert title="Could not load jobs" error={jobs.error} onRetry={() => void jobs.refetch()} />}
      {jobs.isSuccess && rows.length === 0 && (
        <EmptyState
          icon={IconListCheck}
          title={filtered ? 'No matching jobs' : 'No jobs yet'}
          description={filtered ? 'No job matches these filters. Clear them to see everything.' : 'Backups, restores and policy runs appear here when they start.'}
        />
      )}
      {rows.length > 0 && (
        <Paper withBorder radius="md" aria-busy={jobs.isFetching}>
          <Table aria-label="Jobs" verticalSpacing="sm" highlightOnHover>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Job</Table.Th>
                <Table.Th>State</Table.Th>
                <Table.Th>Progress or summary</Table.Th>
                <Table.Th>Started</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {rows.map((job) => (
                <JobRow key={job.id} job={job} />
              ))}
            </Table.Tbody>
          </Table>
          <Group justify="space-between" p="xs" role="navigation" aria-label="More jobs">
            <Text size="sm" c="dimmed" aria-live="polite">
              {jobs.hasNextPage ? `The newest ${rows.length} jobs` : `All ${rows.length} jobs`}
            </Text>
            {jobs.hasNextPage && (
              <Button variant="default" size="xs" loading={jobs.isFetchingNextPage} onClick={() => void jobs.fetchNextPage()}>
                Load more
              </Button>
            )}
          </Group>
        </Paper>
      )}
    </>
  );
}
