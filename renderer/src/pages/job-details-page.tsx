import { JobIdSchema, type JobDetails } from '@common/api/index.js';
import { Alert, Anchor, Paper, Skeleton, Stack, Text, Title } from '@mantine/core';
import { IconAlertTriangle, IconInfoCircle } from '@tabler/icons-react';
import { Link, useParams } from 'react-router-dom';
import { isApiError } from '../api/api-error.js';
import { useJobQuery } from '../api/jobs.queries.js';
import { BackLink } from '../components/back-link.js';
import { NotFoundState } from '../components/not-found-state.js';
import { PageHeader } from '../components/page-header.js';
import { QueryErrorAlert } from '../components/query-error-alert.js';
import { TaskStateBadge } from '../components/task-state-badge.js';
import { formatDateTime } from '../utils/format.js';
import { POLICY_RUN_TRIGGER_LABELS } from '../utils/policy-format.js';
import { jobKindLabel, jobTitle, runEnded, runKindLabel, summaryFacts } from './jobs/job-labels.js';
import { RunProgress } from './jobs/job-row.js';
import { JobFacts, JobLog, JobStep } from './jobs/job-steps.js';
import { RunLines } from './jobs/run-lines.js';

/** Warnings a page lists before "and N more" (a run of many VMs may have many). */
const WARNINGS_SHOWN = 20;

/** "Policy run (schedule, incremental) started …, ended …". */
function describeJob(job: JobDetails): string {
  const what = job.run === null ? jobKindLabel(job.kind) : `${runKindLabel(job.run)} (${[POLICY_RUN_TRIGGER_LABELS[job.run.trigger], job.run.backupType].filter(Boolean).join(', ')})`;
  const by = job.createdBy === null ? '' : ` by ${job.createdBy}`;
  return `${what} started ${formatDateTime(job.createdAt)}${by}${job.finishedAt === null ? '' : `, ended ${formatDateTime(job.finishedAt)}`}`;
}

function Warnings({ warnings, count }: { warnings: string[]; count: number }) {
  if (count === 0) return null;
  const more = count - Math.min(warnings.length, WARNINGS_SHOWN);
  return (
    <Alert color="yellow" icon={<IconAlertTriangle />} title="Warnings">
      {warnings.slice(0, WARNINGS_SHOWN).map((w, i) => (
        <Text key={`${i}-${w}`} size="sm">
          {w}
        </Text>
      ))}
      {more > 0 && <Text size="sm" c="dimmed">{`and ${more} more`}</Text>}
    </Alert>
  );
}

/** A job as one piece of work: what it is about, its steps (a policy run: its VMs) in order, a summary and one log. */
export function JobDetailsPage() {
  const id = useParams().id ?? '';
  const valid = JobIdSchema.safeParse(id).success;
  const job = useJobQuery(id, valid);

  if (!valid || isApiError(job.error, 404)) {
    return (
      <NotFoundState
        pageTitle="Job not found"
        title={valid ? `There is no job ${id}` : 'This is not a job address'}
        description="It may have been removed, or the link is wrong."
        goTo={{ to: '/jobs', label: 'Go to jobs' }}
      />
    );
  }
  if (job.isPending) return <Skeleton h={320} radius="md" aria-label="Loading the job" />;
  if (job.isError) return <QueryErrorAlert title="Could not load the job" error={job.error} onRetry={() => void job.refetch()} />;

  const { data } = job;
  const run = data.run;
  const facts = summaryFacts(data.summary);
  if (run !== null) facts.unshift([run.purpose === 'run' ? 'VMs' : 'Steps', `${runEnded(run)}/${run.total}`], ...(run.failed > 0 ? [['Failed', String(run.failed)] as [string, string]] : []));
  return (
    <>
      {data.parent === null ? <BackLink to="/jobs" label="All jobs" /> : <BackLink to={`/jobs/${data.parent.id}`} label={`Policy run · ${data.parent.policy}`} />}
      <PageHeader title={jobTitle(data)} description={describeJob(data)} actions={<TaskStateBadge task={{ state: data.state, cancelRequested: false }} size="lg" />} />
      <Stack>
        {data.parent !== null && (
          <Text size="sm">
            {'Part of a '}
            <Anchor component={Link} to={`/jobs/${data.parent.id}`}>
              {`run of policy ${data.parent.policy}`}
            </Anchor>
            .
          </Text>
        )}
        {run !== null && (data.state === 'RUNNING' || data.state === 'QUEUED') && <RunProgress run={run} label={`Progress of ${jobTitle(data)}`} size="lg" />}
        {run !== null && run.message !== null && (
          <Alert color={data.state === 'FAILED' ? 'red' : 'blue'} icon={<IconInfoCircle />} title="The run says">
            {run.message}
          </Alert>
        )}
        <JobFacts facts={facts} />
        <Warnings warnings={data.summary.warnings} count={data.summary.warningCount} />
        {run !== null ? (
          <RunLines job={data} />
        ) : (
          <Paper withBorder radius="md" p="md" role="region" aria-label="Steps">
            <Title order={2} size="h4" mb="sm">
              Steps
            </Title>
            <Stack gap="lg">
              {data.steps.map((task, index) => (
                <JobStep key={task.id} task={task} index={index} />
              ))}
            </Stack>
          </Paper>
        )}
        <Paper withBorder radius="md" p="md">
          <Title order={2} size="h4" mb="sm">
            {run === null ? 'Log' : 'Warnings and errors'}
          </Title>
          <JobLog job={data} />
        </Paper>
      </Stack>
    </>
  );
}
