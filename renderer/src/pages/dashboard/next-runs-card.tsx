import type { Dashboard } from '@common/api/index.js';
import { Anchor, Group, Stack, Text } from '@mantine/core';
import { Link } from 'react-router-dom';
import { useSession } from '../../auth/session-context.js';
import { BackupTypeBadge } from '../../components/backup-type-badge.js';
import { RelativeTime } from '../../components/relative-time.js';
import { formatRunTime } from '../../utils/policy-format.js';
import { DashboardCard } from './dashboard-card.js';

/** Enough to see tonight and the next few days; each policy's page has the rest. */
const SHOWN = 6;

/** The next scheduled runs over every enabled policy, soonest first. */
export function NextRunsCard({ runs: all }: { runs: Dashboard['nextRuns'] }) {
  const runs = all.slice(0, SHOWN);
  const { isAdmin } = useSession();
  return (
    <DashboardCard headingId="next-runs-heading" title="Next runs" link={{ to: '/policies', label: 'All policies' }} testId="dashboard-next-runs">
      {runs.length === 0 ? (
        <Text size="sm" c="dimmed">
          Nothing scheduled. Enabled policies with schedule rules show their next runs here.{' '}
          {isAdmin && (
            <Anchor component={Link} to="/policies/new" size="sm">
              Create a policy
            </Anchor>
          )}
        </Text>
      ) : (
        <Stack gap="xs" component="ul" p={0} m={0}>
          {runs.map((run) => (
            <Group key={`${run.policyId}-${run.at}`} justify="space-between" wrap="nowrap" gap="xs" component="li" style={{ listStyle: 'none' }}>
              <Stack gap={0} style={{ minWidth: 0 }}>
                <Anchor component={Link} to={`/policies/${run.policyId}`} size="sm" fw={500} lineClamp={1}>
                  {run.policy}
                </Anchor>
                <Text size="xs" c="dimmed" component="time" dateTime={run.at}>
                  {formatRunTime(run.at)}
                </Text>
              </Stack>
              <Group gap={6} wrap="nowrap">
                <RelativeTime iso={run.at} size="xs" />
                {run.backupType !== null && <BackupTypeBadge type={run.backupType} />}
              </Group>
            </Group>
          ))}
        </Stack>
      )}
    </DashboardCard>
  );
}
