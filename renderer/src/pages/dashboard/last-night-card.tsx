import type { Dashboard } from '@common/api/index.js';
import { Anchor, Group, Paper, SimpleGrid, Stack, Text } from '@mantine/core';
import { Link } from 'react-router-dom';
import { formatDateTime } from '../../utils/format.js';

const NUMBERS = [
  { key: 'succeeded', label: 'Succeeded', color: 'green' },
  { key: 'failed', label: 'Failed', color: 'red' },
  { key: 'missed', label: 'Missed', color: 'orange' },
  { key: 'running', label: 'Running', color: 'blue' },
] as const;

/** Backups since 18:00 the evening before: the morning's "did last night work?". */
export function LastNightCard({ lastNight }: { lastNight: Dashboard['lastNight'] }) {
  return (
    <Paper withBorder p="md" radius="md" role="group" aria-labelledby="last-night-heading" data-testid="dashboard-last-night">
      <Group justify="space-between" mb="sm">
        <Text id="last-night-heading" size="xs" c="dimmed" tt="uppercase" fw={700}>
          Last night
        </Text>
        <Anchor component={Link} to="/tasks" size="sm">
          All tasks
        </Anchor>
      </Group>
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
    </Paper>
  );
}
