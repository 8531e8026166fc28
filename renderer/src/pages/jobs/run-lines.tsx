import type { Job, JobDetails } from '@common/api/index.js';
import { Anchor, Group, Paper, Table, Text, Title } from '@mantine/core';
import { Link } from 'react-router-dom';
import { TaskProgressBar } from '../../components/task-progress-bar.js';
import { TaskStateBadge } from '../../components/task-state-badge.js';
import { formatBytes, formatShortDuration } from '../../utils/format.js';
import { TASK_TYPE_LABELS } from '../../utils/task-labels.js';
import { lineTitle } from './job-labels.js';

/** A line's steps in order, each with its state; the running one with its bar. */
function LineSteps({ job }: { job: Job }) {
  const running = job.steps.find((s) => s.state === 'RUNNING');
  return (
    <Group gap="xs" wrap="wrap">
      {job.steps.map((s, i) => (
        <Group key={s.id} gap={4} wrap="nowrap" role="group" aria-label={`${lineTitle(job)} step ${i + 1}: ${TASK_TYPE_LABELS[s.type]}`} data-state={s.state}>
          <Text size="sm">{`${i > 0 ? '→ ' : ''}${TASK_TYPE_LABELS[s.type]}`}</Text>
          <TaskStateBadge task={s} />
        </Group>
      ))}
      {running && <TaskProgressBar progress={running.progress} state={running.state} label={`Progress of ${lineTitle(job)}`} />}
    </Group>
  );
}

const bytes = (n: number | null): string => (n === null ? '—' : formatBytes(n));

/**
 * A policy run's VMs, a line each: the VM's name (a link to its own job), its state, its steps
 * and what it read and stored. A failed VM's reason is on its line.
 */
export function RunLines({ job }: { job: JobDetails }) {
  const purpose = job.run?.purpose ?? 'run';
  const heading = purpose === 'run' ? 'Virtual machines' : 'Steps';
  return (
    <Paper withBorder radius="md" p="md" role="region" aria-label={heading}>
      <Title order={2} size="h4" mb="sm">
        {heading}
      </Title>
      {job.lines.length === 0 ? (
        <Text size="sm" c="dimmed">
          {job.run?.message ?? 'This run started nothing.'}
        </Text>
      ) : (
        <Table aria-label={`${heading} of this run`} verticalSpacing="xs">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>{purpose === 'run' ? 'VM' : 'Job'}</Table.Th>
              <Table.Th>State</Table.Th>
              <Table.Th>Steps</Table.Th>
              <Table.Th>Read</Table.Th>
              <Table.Th>Stored</Table.Th>
              <Table.Th>Duration</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {job.lines.map((line) => (
              <Table.Tr key={line.id} data-job={line.id} data-state={line.state}>
                <Table.Td>
                  <Anchor component={Link} to={`/jobs/${line.id}`} size="sm" fw={500}>
                    {lineTitle(line)}
                  </Anchor>
                  {line.summary.error !== null && (
                    <Text size="xs" c={line.state === 'CANCELLED' ? 'dimmed' : 'red'} style={{ overflowWrap: 'anywhere' }}>
                      {line.summary.error}
                    </Text>
                  )}
                </Table.Td>
                <Table.Td>
                  <TaskStateBadge task={{ state: line.state, cancelRequested: line.steps.some((s) => s.cancelRequested) }} />
                </Table.Td>
                <Table.Td>
                  <LineSteps job={line} />
                </Table.Td>
                <Table.Td>{bytes(line.summary.bytesRead)}</Table.Td>
                <Table.Td>{bytes(line.summary.bytesStored)}</Table.Td>
                <Table.Td>{line.summary.durationSeconds === null ? '—' : formatShortDuration(line.summary.durationSeconds)}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
    </Paper>
  );
}
