import { Alert, Box, Skeleton, Text, VisuallyHidden, useMantineTheme } from '@mantine/core';
import { IconInfoCircle } from '@tabler/icons-react';
import { useMemo } from 'react';
import { Area, AreaChart, CartesianGrid, Legend, Tooltip, XAxis, YAxis } from 'recharts';
import { useDestinationUsageQuery } from '../../api/destinations.queries.js';
import { QueryErrorAlert } from '../../components/query-error-alert.js';
import { binaryByteTicks, formatBytes, formatDateTime } from '../../utils/format.js';

const CHART_LABEL = 'Stored size over time';
const HOUR_MS = 3_600_000;
const withSeconds = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
const timeOfDay = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dayOfYear = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short' });

interface ChartPoint {
  at: number;
  stored: number;
  logical: number;
  backups: number;
}

/** Stored (after dedup and compression) against logical size, one point per destination task. */
export function UsageChart({ destinationId }: { destinationId: number }) {
  const usage = useDestinationUsageQuery(destinationId);
  const theme = useMantineTheme();
  const points = useMemo<ChartPoint[]>(
    () =>
      (usage.data ?? [])
        .map((point) => ({ at: Date.parse(point.at), stored: point.storedBytes, logical: point.logicalBytes, backups: point.backups }))
        .filter((point) => Number.isFinite(point.at)),
    [usage.data],
  );

  if (usage.isPending) return <Skeleton h={280} aria-label="Loading the usage history" />;
  if (usage.isError) return <QueryErrorAlert title="Could not load the usage history" error={usage.error} onRetry={() => void usage.refetch()} />;
  if (points.length === 0) {
    return (
      <Alert color="gray" variant="light" icon={<IconInfoCircle />}>
        No usage recorded yet. Every task on this destination (check, backup, verify, prune, garbage collection) adds a point.
      </Alert>
    );
  }

  const first = points[0] as ChartPoint;
  const last = points.at(-1) as ChartPoint;
  // A single point still needs a width of time around it.
  const domain: [number, number] = first.at === last.at ? [first.at - HOUR_MS, last.at + HOUR_MS] : [first.at, last.at];
  const span = domain[1] - domain[0];
  const tickFormat = span < HOUR_MS ? withSeconds : span < 2 * 24 * HOUR_MS ? timeOfDay : dayOfYear;
  const formatTick = (value: number): string => tickFormat.format(new Date(value));
  const ticks = binaryByteTicks(Math.max(...points.map((point) => Math.max(point.stored, point.logical))));
  const storedColor = theme.colors.indigo[6];
  const logicalColor = theme.colors.teal[5];

  return (
    <Box role="figure" aria-label={CHART_LABEL} data-testid="usage-chart">
      <VisuallyHidden>
        {`${points.length} measurements. Latest, ${formatDateTime(new Date(last.at).toISOString())}: ${formatBytes(last.stored)} stored for ${formatBytes(last.logical)} of backed-up data in ${last.backups} backups.`}
      </VisuallyHidden>
      <AreaChart
        data={points}
        responsive
        style={{ width: '100%', height: 280 }}
        margin={{ top: 10, right: 16, bottom: 0, left: 8 }}
        title={CHART_LABEL}
      >
        <CartesianGrid strokeDasharray="3 3" strokeOpacity={0.4} />
        <XAxis dataKey="at" type="number" scale="time" domain={domain} tickFormatter={formatTick} minTickGap={24} fontSize={12} />
        <YAxis ticks={ticks} domain={[0, Math.max(1, ticks.at(-1) ?? 0)]} tickFormatter={(value: number) => formatBytes(value)} width={80} fontSize={12} />
        <Tooltip
          labelFormatter={(value) => formatDateTime(new Date(Number(value)).toISOString())}
          formatter={(value, name) => [formatBytes(Number(value)), name]}
          contentStyle={{ background: 'var(--mantine-color-body)', borderColor: 'var(--mantine-color-default-border)' }}
        />
        <Legend />
        <Area
          // Sizes change at tasks and hold in between: steps, not curves that invent values.
          type="stepAfter"
          dataKey="logical"
          name="Logical (backed-up data)"
          stroke={logicalColor}
          fill={logicalColor}
          fillOpacity={0.12}
          dot={points.length < 3}
          isAnimationActive={false}
        />
        <Area
          type="stepAfter"
          dataKey="stored"
          name="Stored on disk"
          stroke={storedColor}
          fill={storedColor}
          fillOpacity={0.3}
          dot={points.length < 3}
          isAnimationActive={false}
        />
      </AreaChart>
      <Text size="xs" c="dimmed" ta="right">
        One point per task on this destination
      </Text>
    </Box>
  );
}
