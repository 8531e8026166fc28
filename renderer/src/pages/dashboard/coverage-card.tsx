import type { Coverage } from '@common/api/index.js';
import { Anchor, Group, Progress, Stack, Text } from '@mantine/core';
import { Link } from 'react-router-dom';
import { RelativeTime } from '../../components/relative-time.js';
import { DashboardCard } from './dashboard-card.js';

const SHOWN = 6;

/** Which VMs have no backup younger than N days: being in a policy is not being backed up. */
export function CoverageCard({ coverage }: { coverage: Coverage }) {
  const { days, total, covered, stale } = coverage;
  return (
    <DashboardCard headingId="coverage-heading" title={`Protection (backup in the last ${days} days)`} link={{ to: '/vms', label: 'All virtual machines' }} testId="dashboard-coverage">
      {total === 0 ? (
        <Text size="sm" c="dimmed">
          No virtual machines yet. Add a hypervisor to see its VMs here.
        </Text>
      ) : (
        <Stack gap="sm">
          <Group justify="space-between" gap="xs">
            <Text fw={700} size="xl" c={stale.length === 0 ? 'green' : 'orange'}>{`${covered} of ${total}`}</Text>
            <Text size="sm" c="dimmed">
              VMs backed up
            </Text>
          </Group>
          <Progress value={(covered / total) * 100} color={stale.length === 0 ? 'green' : 'orange'} aria-label={`${covered} of ${total} VMs backed up in the last ${days} days`} />
          {stale.length > 0 && (
            <Stack gap={4} component="ul" p={0} m={0} aria-label={`VMs with no backup in ${days} days`}>
              {stale.slice(0, SHOWN).map((vm) => (
                <Group key={vm.id} component="li" justify="space-between" wrap="nowrap" gap="xs" style={{ listStyle: 'none' }}>
                  <Anchor component={Link} to={`/vms/${vm.id}`} size="sm" lineClamp={1}>
                    {vm.name}
                  </Anchor>
                  {vm.lastBackupAt === null ? (
                    <Text size="xs" c="red">
                      Never backed up
                    </Text>
                  ) : (
                    <Group gap={4} wrap="nowrap">
                      <Text size="xs" c="dimmed">
                        Last
                      </Text>
                      <RelativeTime iso={vm.lastBackupAt} size="xs" />
                    </Group>
                  )}
                </Group>
              ))}
              {stale.length > SHOWN && (
                <Text size="xs" c="dimmed" component="li" style={{ listStyle: 'none' }}>{`and ${stale.length - SHOWN} more`}</Text>
              )}
            </Stack>
          )}
        </Stack>
      )}
    </DashboardCard>
  );
}
