import type { Problem, RecentProblems } from '@common/api/index.js';
import { Anchor, Badge, Group, Stack, Text } from '@mantine/core';
import { Link } from 'react-router-dom';
import { RelativeTime } from '../../components/relative-time.js';
import { DashboardCard } from './dashboard-card.js';

const SEVERITY = {
  failed: { label: 'Failed', color: 'red' },
  warning: { label: 'Warnings', color: 'yellow' },
  missed: { label: 'Missed', color: 'orange' },
} as const;

/** A problem links to its task; a policy run without a failed task links to its policy. */
function problemLink(p: Problem): string {
  if (p.taskId !== null) return `/tasks/${p.taskId}`;
  return p.policy === null ? '/tasks' : `/policies/${encodeURIComponent(p.policy)}`;
}

function ProblemRow({ problem }: { problem: Problem }) {
  const { label, color } = SEVERITY[problem.severity];
  return (
    <Stack gap={2} component="li" style={{ listStyle: 'none' }}>
      <Group justify="space-between" wrap="nowrap" gap="xs">
        <Anchor component={Link} to={problemLink(problem)} size="sm" fw={500} lineClamp={1}>
          {problem.title}
        </Anchor>
        <Badge color={color} variant="light" size="sm" style={{ flexShrink: 0 }}>
          {label}
        </Badge>
      </Group>
      {problem.message !== null && (
        <Text size="xs" c="dimmed" lineClamp={2} style={{ overflowWrap: 'anywhere' }}>
          {problem.message}
        </Text>
      )}
      <RelativeTime iso={problem.at} size="xs" />
    </Stack>
  );
}

/** What went wrong in the last 24 hours: the first thing to look at in the morning. */
export function ProblemsCard({ problems }: { problems: RecentProblems }) {
  const total = problems.failed + problems.warnings + problems.missed;
  return (
    <DashboardCard headingId="problems-heading" title="Failures and warnings (24 h)" link={{ to: '/tasks?state=FAILED', label: 'Failed tasks' }} testId="dashboard-problems">
      {total === 0 ? (
        <Text size="sm" c="green">
          Nothing failed, warned or was missed in the last 24 hours.
        </Text>
      ) : (
        <Stack gap="sm">
          <Group gap="xs">
            {(['failed', 'warning', 'missed'] as const).map((s) => {
              const n = s === 'failed' ? problems.failed : s === 'warning' ? problems.warnings : problems.missed;
              return n > 0 ? <Badge key={s} color={SEVERITY[s].color}>{`${n} ${SEVERITY[s].label.toLowerCase()}`}</Badge> : null;
            })}
          </Group>
          <Stack gap="sm" component="ul" p={0} m={0} aria-label="Problems of the last 24 hours">
            {problems.items.map((p) => (
              <ProblemRow key={`${p.kind}-${p.id}`} problem={p} />
            ))}
          </Stack>
        </Stack>
      )}
    </DashboardCard>
  );
}
