import type { Job, JobRun } from '@common/api/index.js';
import { Anchor, Group, Progress, Stack, Table, Text } from '@mantine/core';
import { Link } from 'react-router-dom';
import { RelativeTime } from '../../components/relative-time.js';
import { TaskProgressBar } from '../../components/task-progress-bar.js';
import { TaskStateBadge } from '../../components/task-state-badge.js';
import { POLICY_RUN_TRIGGER_LABELS } from '../../utils/policy-format.js';
import { jobStepsLabel, jobTitle, runCountLabel, runEnded, runOutcomeLabel, summaryFacts } from './job-labels.js';

/** The step a running job is at (or its last), whose bar the list shows. */
const currentStep = (job: Job) => job.steps.find((s) => s.state === 'RUNNING' || s.state === 'QUEUED') ?? job.steps.at(-1);

/** How far a running policy run is: its VMs that ended, of all. */
export function RunProgress({ run, label, size = 'sm' }: { run: JobRun; label: string; size?: 'sm' | 'lg' }) {
  const percent = run.total > 0 ? Math.round((runEnded(run) / run.total) * 100) : 0;
  return (
    <Stack gap={2} miw={160}>
      <Progress.Root size={size === 'lg' ? 'xl' : 'sm'} role="progressbar" aria-label={label} aria-valuemin={0} aria-valuemax={100} aria-valuenow={percent} aria-valuetext={runCountLabel(run)}>
        <Progress.Section withAria={false} value={percent} color="blue" animated={size === 'lg'} style={{ transition: 'width 400ms linear' }} />
      </Progress.Root>
      <Text size={size === 'lg' ? 'sm' : 'xs'} fw={500}>
        {runCountLabel(run)}
        {run.failed > 0 ? ` · ${run.failed} failed` : ''}
      </Text>
    </Stack>
  );
}

/** Under a job's title: its steps; a run's trigger and VMs; a VM's job the run it is part of. */
function JobSubline({ job }: { job: Job }) {
  if (job.run !== null) {
    return (
      <Text size="xs" c="dimmed">
        {`${POLICY_RUN_TRIGGER_LABELS[job.run.trigger]} · ${runOutcomeLabel(job.run)}`}
      </Text>
    );
  }
  return (
    <Group gap={4}>
      <Text size="xs" c="dimmed">
        {jobStepsLabel(job)}
      </Text>
      {job.parent !== null && (
        <Anchor component={Link} to={`/jobs/${job.parent.id}`} size="xs">
          {`· run of ${job.parent.policy}`}
        </Anchor>
      )}
    </Group>
  );
}

function JobProgressOrSummary({ job }: { job: Job }) {
  const running = job.state === 'RUNNING' || job.state === 'QUEUED';
  if (running && job.run !== null) return <RunProgress run={job.run} label={`Progress of ${jobTitle(job)}`} />;
  const step = currentStep(job);
  if (running && step) return <TaskProgressBar progress={step.progress} state={step.state} label={`Progress of ${jobTitle(job)}`} />;
  const facts = summaryFacts(job.summary);
  return <Text size="sm">{facts.map(([k, v]) => `${k} ${v}`).join(' · ') || (job.summary.error ?? '—')}</Text>;
}

/** One job of the list: what it is, its state, its progress (or what it did) and when it started. */
export function JobRow({ job }: { job: Job }) {
  return (
    <Table.Tr data-job={job.id} data-state={job.state}>
      <Table.Td>
        <Anchor component={Link} to={`/jobs/${job.id}`} size="sm" fw={500}>
          {jobTitle(job)}
        </Anchor>
        <JobSubline job={job} />
      </Table.Td>
      <Table.Td>
        <TaskStateBadge task={{ state: job.state, cancelRequested: job.steps.some((s) => s.cancelRequested) }} />
      </Table.Td>
      <Table.Td>
        <JobProgressOrSummary job={job} />
      </Table.Td>
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
