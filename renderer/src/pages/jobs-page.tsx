import type { Job } from '@common/api/index.js';
import { Anchor, Group, Pagination, Paper, Skeleton, Stack, Table, Text } from '@mantine/core';
import { IconListCheck } from '@tabler/icons-react';
import { Link, useSearchParams } from 'react-router-dom';
import { useJobsQuery } from '../api/jobs.queries.js';
import { EmptyState } from '../components/empty-state.js';
import { PageHeader } from '../components/page-header.js';
import { QueryErrorAlert } from '../components/query-error-alert.js';
import { RelativeTime } from '../components/relative-time.js';
import { TaskProgressBar } from '../components/task-progress-bar.js';
import { TaskStateBadge } from '../components/task-state-badge.js';
import { jobStepsLabel, jobTitle, summaryFacts } from './jobs/job-labels.js';

const PAGE_SIZE = 50;

/** The step a running job is at (or its last), whose bar the list shows. */
const currentStep = (job: Job) => job.steps.find((s) => s.state === 'RUNNING' || s.state === 'QUEUED') ?? job.steps.at(-1);

function JobRow({ job }: { job: Job }) {
  const step = currentStep(job);
  const facts = summaryFacts(job.summary);
  return (
    <Table.Tr data-job={job.id} data-state={job.state}>
      <Table.Td>
        <Anchor component={Link} to={`/jobs/${job.id}`} size="sm" fw={500}>
          {jobTitle(job)}
        </Anchor>
        <Text size="xs" c="dimmed">
          {jobStepsLabel(job)}
        </Text>
      </Table.Td>
      <Table.Td>
        <TaskStateBadge task={{ state: job.state, cancelRequested: job.steps.some((s) => s.cancelRequested) }} />
      </Table.Td>
      <Table.Td>{step && (job.state === 'RUNNING' || job.state === 'QUEUED') ? <TaskProgressBar progress={step.progress} state={step.state} label={`Progress of ${jobTitle(job)}`} /> : <Text size="sm">{facts.map(([k, v]) => `${k} ${v}`).join(' · ') || (job.summary.error ?? '—')}</Text>}</Table.Td>
      <Table.Td>
        <RelativeTime iso={job.createdAt} />
        {job.createdBy !== null && (
          <Text size="xs" c="dimmed">
            {`by ${job.createdBy}`}
          </Text>
        )}
      </Table.Td>
    </Table.Tr>
  );
}

/** What people started or policies ran, one line per job; its steps are inside it. */
export function JobsPage() {
  const [params, setParams] = useSearchParams();
  const page = Math.max(1, Number.parseInt(params.get('page') ?? '1', 10) || 1);
  const jobs = useJobsQuery({ limit: PAGE_SIZE, offset: (page - 1) * PAGE_SIZE });
  const rows = jobs.data?.jobs ?? [];
  const total = jobs.data?.total ?? 0;
  return (
    <>
      <PageHeader
        title="Jobs"
        description={
          <>
            Backups, restores, mounts, snapshots and policy runs, newest first, each with its steps. Every single task is on the{' '}
            <Anchor component={Link} to="/tasks">
              Tasks page
            </Anchor>{' '}
            (for experts).
          </>
        }
      />
      {jobs.isPending && <Skeleton h={240} radius="md" />}
      {jobs.isError && <QueryErrorAlert title="Could not load jobs" error={jobs.error} onRetry={() => void jobs.refetch()} />}
      {jobs.isSuccess && rows.length === 0 && <EmptyState icon={IconListCheck} title="No jobs yet" description="Backups, restores and policy runs appear here when they start." />}
      {rows.length > 0 && (
        <Stack>
          <Paper withBorder radius="md">
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
          </Paper>
          {total > PAGE_SIZE && (
            <Group justify="center">
              <Pagination total={Math.ceil(total / PAGE_SIZE)} value={page} onChange={(p) => setParams({ page: String(p) })} />
            </Group>
          )}
        </Stack>
      )}
    </>
  );
}
