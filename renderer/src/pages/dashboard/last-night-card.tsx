import type { Dashboard } from '@common/api/index.js';
import { SimpleGrid, Stack, Text } from '@mantine/core';
import { formatDateTime } from '../../utils/format.js';
import { DashboardCard } from './dashboard-card.js';

const NUMBERS = [
  { key: 'succeeded', label: 'Succeeded', color: 'green' },
  { key: 'failed', label: 'Failed', color: 'red' },
  { key: 'missed', label: 'Missed', color: 'orange' },
  { key: 'running', label: 'Running', color: 'blue' },
] as const;

/**
 * Scheduled backups since 18:00 the evening before: the morning's "did the schedule work?".
 * Backups run by hand are left out (they show in the 24 h failures and the tasks).
 */
export function LastNightCard({ lastNight }: { lastNight: Dashboard['lastNight'] }) {
  return (
    <DashboardCard headingId="last-night-heading" title="Last night" link={{ to: '/tasks', label: 'All tasks' }} testId="dashboard-last-night">
      <SimpleGrid cols={{ base: 2, sm: 4, md: 2, xl: 4 }}>
        {NUMBERS.map(({ key, label, color }) => {
          const value = lastNight[key];
          return (
            <Stack key={key} gap={0} role="group" aria-label={`${label}: ${value}`}>
              <Text fw={700} size="xl" c={value > 0 ? color : 'dimmed'} aria-hidden>
                {value}
              </Text>
              <Text size="sm" c="dimmed" aria-hidden>
                {label}
              </Text>
            </Stack>
          );
        })}
      </SimpleGrid>
      <Text size="xs" c="dimmed" mt="sm">
        {`Scheduled backups since ${formatDateTime(lastNight.since)}; backups run by hand are not counted`}
      </Text>
    </DashboardCard>
  );
}
