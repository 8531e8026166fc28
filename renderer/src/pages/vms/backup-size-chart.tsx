import type { Backup } from '@common/api/index.js';
import { Box, Text, VisuallyHidden, useMantineTheme } from '@mantine/core';
import { useMemo } from 'react';
import { Bar, BarChart, CartesianGrid, Legend, Tooltip, XAxis, YAxis } from 'recharts';
import { binaryByteTicks, formatBytes, formatDateTime, formatShortDuration } from '../../utils/format.js';
import { BACKUP_TYPE_LABELS } from '../../utils/vm-format.js';
import type { BackupRun } from './use-backup-runs.js';

const CHART_LABEL = 'Backup sizes over time';
/** More bars than this get too thin to read; the table below has them all. */
const MAX_BARS = 40;
const dayAndTime = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' });

interface ChartPoint {
  key: number;
  label: string;
  at: string;
  type: string;
  logical: number;
  /** Null where the catalog or the tasks do not know; the bar is then left out. */
  read: number | null;
  stored: number | null;
  duration: number | null;
}

interface BackupSizeChartProps {
  /** The VM's backups, any order. */
  backups: readonly Backup[];
  /** How each backup ran (bytes read, duration), by repository backup id, where known. */
  runs: ReadonlyMap<string, BackupRun>;
}

/**
 * A group of bars per backup, oldest on the left: the VM's disk data it covers (logical), what
 * it read from the disks (all allocated data for a full, only the changed extents for an
 * incremental) and, where the catalog knows it, what it took on the destination. A full
 * backup stands out against the small incrementals after it.
 */
export function BackupSizeChart({ backups, runs }: BackupSizeChartProps) {
  const theme = useMantineTheme();
  const points = useMemo<ChartPoint[]>(
    () =>
      [...backups]
        .sort((a, b) => Date.parse(a.createdAt) - Date.parse(b.createdAt))
        .slice(-MAX_BARS)
        .map((backup) => ({
          key: backup.id,
          label: dayAndTime.format(new Date(backup.createdAt)),
          at: backup.createdAt,
          type: backup.type === null ? 'Backup' : BACKUP_TYPE_LABELS[backup.type],
          logical: backup.logicalBytes,
          read: runs.get(backup.repoBackupId)?.bytesRead ?? null,
          stored: backup.storedBytes,
          duration: runs.get(backup.repoBackupId)?.seconds ?? null,
        })),
    [backups, runs],
  );
  const last = points.at(-1);
  if (last === undefined) return null;

  const ticks = binaryByteTicks(Math.max(...points.map((point) => Math.max(point.logical, point.read ?? 0, point.stored ?? 0))));
  const logicalColor = theme.colors.teal[5];
  const readColor = theme.colors.orange[6];
  const storedColor = theme.colors.indigo[6];
  const anyRead = points.some((point) => point.read !== null);
  const anyStored = points.some((point) => point.stored !== null);
  const parts = [`${formatBytes(last.logical)} of disk data`];
  if (last.read !== null) parts.push(`${formatBytes(last.read)} read`);
  if (last.stored !== null) parts.push(`${formatBytes(last.stored)} stored`);
  if (last.duration !== null) parts.push(`in ${formatShortDuration(last.duration)}`);

  return (
    <Box role="figure" aria-label={CHART_LABEL} data-testid="backup-size-chart">
      <VisuallyHidden>
        {`${points.length} ${points.length === 1 ? 'backup' : 'backups'}. Latest, ${formatDateTime(last.at)}: ${last.type.toLowerCase()}, ${parts.join(', ')}.`}
      </VisuallyHidden>
      <BarChart data={points} responsive style={{ width: '100%', height: 240 }} margin={{ top: 10, right: 16, bottom: 0, left: 8 }} title={CHART_LABEL}>
        <CartesianGrid strokeDasharray="3 3" strokeOpacity={0.4} vertical={false} />
        <XAxis dataKey="label" fontSize={12} minTickGap={16} />
        <YAxis ticks={ticks} domain={[0, Math.max(1, ticks.at(-1) ?? 0)]} tickFormatter={(value: number) => formatBytes(value)} width={80} fontSize={12} />
        <Tooltip
          labelFormatter={(_label, payload) => {
            const point = payload[0]?.payload as ChartPoint | undefined;
            if (point === undefined) return '';
            return `${formatDateTime(point.at)} · ${point.type}${point.duration === null ? '' : ` · took ${formatShortDuration(point.duration)}`}`;
          }}
          formatter={(value, name) => [formatBytes(Number(value)), name]}
          contentStyle={{ background: 'var(--mantine-color-body)', borderColor: 'var(--mantine-color-default-border)' }}
          cursor={{ fillOpacity: 0.15 }}
        />
        <Legend />
        <Bar dataKey="logical" name="Disk data (logical)" fill={logicalColor} isAnimationActive={false} maxBarSize={28} />
        {anyRead && <Bar dataKey="read" name="Read from the disks" fill={readColor} isAnimationActive={false} maxBarSize={28} />}
        {anyStored && <Bar dataKey="stored" name="Stored" fill={storedColor} isAnimationActive={false} maxBarSize={28} />}
      </BarChart>
      {backups.length > MAX_BARS && (
        <Text size="xs" c="dimmed" ta="right">
          {`The newest ${MAX_BARS} of ${backups.length} backups`}
        </Text>
      )}
    </Box>
  );
}
