import type { Dashboard } from '@common/api/index.js';
import { Anchor, Badge, Group, Paper, Stack, Text } from '@mantine/core';
import { Link } from 'react-router-dom';
import { useSession } from '../../auth/session-context.js';
import { RelativeTime } from '../../components/relative-time.js';
import { BACKUP_TYPE_COLORS, backupTypeLabel, formatRunTime } from '../../utils/policy-format.js';
import { NO_SHRINK } from '../../utils/styles.js';

/** Enough to see tonight and the next few days; each policy's page has the rest. */
const SHOWN = 6;

/** The next scheduled runs over every enabled policy, soonest first. */
export function NextRunsCard({ runs: all }: { runs: Dashboard['nextRuns'] }) {
  const runs = all.slice(0, SHOWN);
  const { isAdmin } = useSession();
  return (
    <Paper withBorder p="md" radius="md" role="group" aria-labelledby="next-runs-heading" data-testid="dashboard-next-runs">
      <Group justify="space-between" mb="sm">
        <Text id="next-runs-heading" size="xs" c="dimmed" tt="uppercase" fw={700}>
          Next runs
        </Text>
        <Anchor component={Link} to="/policies" size="sm">
          All policies
        </Anchor>
      </Group>
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
                {run.backupType !== null && (
                  <Badge component="span" size="sm" variant="light" color={BACKUP_TYPE_COLORS[run.backupType]} style={NO_SHRINK}>
                    {backupTypeLabel(run.backupType)}
                  </Badge>
                )}
              </Group>
            </Group>
          ))}
        </Stack>
      )}
    </Paper>
  );
}
