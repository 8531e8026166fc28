import type { DestinationSpace } from '@common/api/index.js';
import { Anchor, Group, Progress, Stack, Text } from '@mantine/core';
import { Link } from 'react-router-dom';
import { formatBytes } from '../../utils/format.js';
import { DashboardCard } from './dashboard-card.js';

/** Warn a month ahead: time to buy a disk or tighten retention. */
const WARN_DAYS = 30;

function forecast(d: DestinationSpace): { text: string; color: string } {
  if (d.freeBytes === null) return { text: 'Free space not known yet', color: 'dimmed' };
  if (d.growthBytesPerDay === null) return { text: 'Not enough history for a forecast', color: 'dimmed' };
  if (d.daysUntilFull === null) return { text: 'Not growing', color: 'dimmed' };
  const days = Math.floor(d.daysUntilFull);
  const growth = `grows ${formatBytes(d.growthBytesPerDay)}/day`;
  if (days > 3650) return { text: `Full in more than 10 years (${growth})`, color: 'dimmed' };
  return { text: `Full in about ${days} ${days === 1 ? 'day' : 'days'} (${growth})`, color: days < WARN_DAYS ? 'red' : 'dimmed' };
}

function DestinationRow({ d }: { d: DestinationSpace }) {
  const used = d.totalBytes !== null && d.freeBytes !== null && d.totalBytes > 0 ? ((d.totalBytes - d.freeBytes) / d.totalBytes) * 100 : null;
  const f = forecast(d);
  return (
    <Stack gap={4} component="li" style={{ listStyle: 'none' }} aria-label={`${d.destination}: ${d.freeBytes === null ? 'free space unknown' : `${formatBytes(d.freeBytes)} free`}. ${f.text}`}>
      <Group justify="space-between" wrap="nowrap" gap="xs">
        <Anchor component={Link} to={`/destinations/${encodeURIComponent(d.destination)}`} size="sm" fw={500}>
          {d.destination}
        </Anchor>
        <Text size="sm" aria-hidden>
          {d.freeBytes === null ? '—' : `${formatBytes(d.freeBytes)} free`}
          {d.totalBytes === null ? '' : ` of ${formatBytes(d.totalBytes)}`}
        </Text>
      </Group>
      {used !== null && <Progress value={used} color={used > 90 ? 'red' : used > 75 ? 'orange' : 'blue'} size="sm" aria-hidden />}
      <Text size="xs" c={f.color} aria-hidden>
        {f.text}
      </Text>
    </Stack>
  );
}

/** Space left on each destination, and when it runs out at the last 30 days' growth. */
export function SpaceCard({ space }: { space: DestinationSpace[] }) {
  return (
    <DashboardCard headingId="space-heading" title="Space left" link={{ to: '/destinations', label: 'All destinations' }} testId="dashboard-space">
      {space.length === 0 ? (
        <Text size="sm" c="dimmed">
          No destinations yet.
        </Text>
      ) : (
        <Stack gap="md" component="ul" p={0} m={0}>
          {space.map((d) => (
            <DestinationRow key={d.destination} d={d} />
          ))}
        </Stack>
      )}
    </DashboardCard>
  );
}
