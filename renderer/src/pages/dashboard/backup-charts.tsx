import type { Dashboard } from '@common/api/index.js';
import { Alert, Box, VisuallyHidden, useMantineTheme } from '@mantine/core';
import { IconInfoCircle } from '@tabler/icons-react';
import { useMemo } from 'react';
import { Area, AreaChart, Bar, BarChart, CartesianGrid, Legend, Tooltip, XAxis, YAxis } from 'recharts';
import { binaryByteTicks, formatBytes } from '../../utils/format.js';

const dayLabel = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short' });
const longDay = new Intl.DateTimeFormat(undefined, { weekday: 'short', day: 'numeric', month: 'short', year: 'numeric' });
const TOOLTIP_STYLE = { background: 'var(--mantine-color-body)', borderColor: 'var(--mantine-color-default-border)' };

/** "2025-05-12" is a calendar day on the server's clock: shown as that day, not shifted by time zones. */
function calendarDay(day: string): Date {
  const [year, month, date] = day.split('-').map(Number);
  return new Date(year ?? 1970, (month ?? 1) - 1, date ?? 1);
}

const BACKUPS_LABEL = 'Backups per day, last 30 days';

/** Succeeded, failed and missed backups per day, stacked, so a bad night stands out in red. */
export function DailyBackupsChart({ daily }: { daily: Dashboard['daily'] }) {
  const theme = useMantineTheme();
  const points = useMemo(() => daily.map((day) => ({ ...day, label: dayLabel.format(calendarDay(day.day)), long: longDay.format(calendarDay(day.day)) })), [daily]);
  const totals = daily.reduce((sum, day) => ({ succeeded: sum.succeeded + day.succeeded, failed: sum.failed + day.failed, missed: sum.missed + day.missed }), {
    succeeded: 0,
    failed: 0,
    missed: 0,
  });
  if (totals.succeeded + totals.failed + totals.missed === 0) {
    return (
      <Alert color="gray" variant="light" icon={<IconInfoCircle />}>
        No backup in the last 30 days yet. Each backup, and each scheduled run that was missed, adds to its day here.
      </Alert>
    );
  }
  return (
    <Box role="figure" aria-label={BACKUPS_LABEL} data-testid="daily-backups-chart">
      <VisuallyHidden>{`In the last 30 days: ${totals.succeeded} backups succeeded, ${totals.failed} failed, ${totals.missed} scheduled runs were missed.`}</VisuallyHidden>
      <BarChart data={points} responsive style={{ width: '100%', height: 240 }} margin={{ top: 10, right: 16, bottom: 0, left: 0 }} title={BACKUPS_LABEL}>
        <CartesianGrid strokeDasharray="3 3" strokeOpacity={0.4} vertical={false} />
        <XAxis dataKey="label" fontSize={12} minTickGap={16} />
        <YAxis allowDecimals={false} width={40} fontSize={12} />
        <Tooltip
          labelFormatter={(_label, payload) => (payload[0]?.payload as { long?: string } | undefined)?.long ?? ''}
          contentStyle={TOOLTIP_STYLE}
          cursor={{ fillOpacity: 0.15 }}
        />
        <Legend />
        <Bar dataKey="succeeded" name="Succeeded" stackId="day" fill={theme.colors.green[6]} isAnimationActive={false} maxBarSize={24} />
        <Bar dataKey="failed" name="Failed" stackId="day" fill={theme.colors.red[6]} isAnimationActive={false} maxBarSize={24} />
        <Bar dataKey="missed" name="Missed" stackId="day" fill={theme.colors.orange[5]} isAnimationActive={false} maxBarSize={24} />
      </BarChart>
    </Box>
  );
}

const STORAGE_LABEL = 'Stored size per day, last 30 days';

/** Over every destination: what the backups take on disk against the data they cover. */
export function StoredSizeChart({ storage }: { storage: Dashboard['storage'] }) {
  const theme = useMantineTheme();
  const points = useMemo(
    () => storage.map((day) => ({ stored: day.storedBytes, logical: day.logicalBytes, label: dayLabel.format(calendarDay(day.day)), long: longDay.format(calendarDay(day.day)) })),
    [storage],
  );
  const last = points.at(-1);
  if (last === undefined || points.every((point) => point.stored === 0 && point.logical === 0)) {
    return (
      <Alert color="gray" variant="light" icon={<IconInfoCircle />}>
        Nothing stored yet. Once backups are stored, the space they take on the destinations is drawn here day by day.
      </Alert>
    );
  }
  const ticks = binaryByteTicks(Math.max(...points.map((point) => Math.max(point.stored, point.logical))));
  const storedColor = theme.colors.indigo[6];
  const logicalColor = theme.colors.teal[5];
  return (
    <Box role="figure" aria-label={STORAGE_LABEL} data-testid="stored-size-chart">
      <VisuallyHidden>{`Today: ${formatBytes(last.stored)} stored on the destinations for ${formatBytes(last.logical)} of backed-up data.`}</VisuallyHidden>
      <AreaChart data={points} responsive style={{ width: '100%', height: 240 }} margin={{ top: 10, right: 16, bottom: 0, left: 8 }} title={STORAGE_LABEL}>
        <CartesianGrid strokeDasharray="3 3" strokeOpacity={0.4} />
        <XAxis dataKey="label" fontSize={12} minTickGap={16} />
        <YAxis ticks={ticks} domain={[0, Math.max(1, ticks.at(-1) ?? 0)]} tickFormatter={(value: number) => formatBytes(value)} width={80} fontSize={12} />
        <Tooltip
          labelFormatter={(_label, payload) => (payload[0]?.payload as { long?: string } | undefined)?.long ?? ''}
          formatter={(value, name) => [formatBytes(Number(value)), name]}
          contentStyle={TOOLTIP_STYLE}
        />
        <Legend />
        <Area type="linear" dataKey="logical" name="Logical (backed-up data)" stroke={logicalColor} fill={logicalColor} fillOpacity={0.12} isAnimationActive={false} />
        <Area type="linear" dataKey="stored" name="Stored on disk" stroke={storedColor} fill={storedColor} fillOpacity={0.3} isAnimationActive={false} />
      </AreaChart>
    </Box>
  );
}
