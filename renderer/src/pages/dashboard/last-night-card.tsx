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

/** Backups since 18:00 the evening before: the morning's "did last night work?". */
export function LastNightCard({ lastNight }: { lastNight: Dashboard['lastNight'] }) {
  return (
    <DashboardCard headingId="last-night-heading" title="Last night" link={{ to: '/tasks', label: 'All tasks' }} testId="dashboard-last-night">
      <SimpleGrid cols={{ base: 2, xs: 4 }}>
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
        {`Backups since ${formatDateTime(lastNight.since)}`}
      </Text>
    </DashboardCard>
  );
}
