import type { Destination } from '@common/api/index.js';
import { Alert, Anchor, Badge, Group, Paper, SimpleGrid, Skeleton, Stack, Text, Title } from '@mantine/core';
import {
  IconAlertCircle,
  IconArchive,
  IconArrowsMinimize,
  IconCopy,
  IconDatabase,
  IconDeviceFloppy,
  IconInfoCircle,
  IconLock,
  IconLockOpen,
  IconStack2,
} from '@tabler/icons-react';
import { getCoreRowModel, useReactTable } from '@tanstack/react-table';
import { lazy, Suspense, useMemo } from 'react';
import { Link, useNavigate, useParams } from 'react-router-dom';
import { isApiError } from '../api/api-error.js';
import { useBackupsQuery } from '../api/backups.queries.js';
import { useDestinationQuery } from '../api/destinations.queries.js';
import { useTasksQuery } from '../api/tasks.queries.js';
import { BackLink } from '../components/back-link.js';
import { DataTable } from '../components/data-table.js';
import { DestinationStatusBadge } from '../components/destination-status-badge.js';
import { NotFoundState } from '../components/not-found-state.js';
import { PageHeader } from '../components/page-header.js';
import { PathText } from '../components/path-text.js';
import { QueryErrorAlert } from '../components/query-error-alert.js';
import { RelativeTime } from '../components/relative-time.js';
import { StatTile } from '../components/stat-tile.js';
import { describeFreeSpace, formatRatio, isTaskOfDestination } from '../utils/destination-format.js';
import { formatBytes } from '../utils/format.js';
import { backupColumns } from './backups/backup-columns.js';
import { DestinationActions } from './destinations/destination-actions.js';
import { FreeSpace } from './destinations/destination-columns.js';
import { taskColumns } from './tasks/task-columns.js';

// The chart library is most of the UI's weight; it loads when a destination's page opens.
const UsageChart = lazy(async () => ({ default: (await import('./destinations/usage-chart.js')).UsageChart }));

const RECENT_TASKS = 10;
/** Destination tasks are picked from the newest tasks of all kinds (the API has no destination filter). */
const TASK_WINDOW = 200;
// The destination is the page's subject; columns repeating it would be noise.
const recentTaskColumns = taskColumns.filter((column) => column.id !== 'subject');
const destinationBackupColumns = backupColumns.filter((column) => column.id !== 'destination');

export function DestinationDetailsPage() {
  const ref = useParams().destination ?? '';
  const destination = useDestinationQuery(ref);

  if (isApiError(destination.error, 404)) {
    return (
      <NotFoundState
        pageTitle="Destination not found"
        title={`There is no destination "${ref}"`}
        description="It may have been removed from the catalog (its data stays where it was), or the link is wrong."
        back={{ to: '/destinations', label: 'All destinations' }}
        goTo={{ to: '/destinations', label: 'Go to destinations' }}
      />
    );
  }
  if (destination.data === undefined) {
    if (destination.isError) {
      return <QueryErrorAlert title="Could not load the destination" error={destination.error} onRetry={() => void destination.refetch()} />;
    }
    return <Skeleton h={320} radius="md" aria-label="Loading the destination" />;
  }
  return <DestinationDetails destination={destination.data} />;
}

function DestinationDetails({ destination }: { destination: Destination }) {
  const navigate = useNavigate();
  const free = describeFreeSpace(destination);
  return (
    <>
      <BackLink to="/destinations" label="All destinations" />
      <PageHeader
        title={destination.name}
        description={
          <Group gap="xs" component="span">
            <DestinationStatusBadge destination={destination} />
            <Badge
              component="span"
              variant="outline"
              color={destination.encrypted ? 'teal' : 'gray'}
              leftSection={destination.encrypted ? <IconLock size={12} aria-hidden /> : <IconLockOpen size={12} aria-hidden />}
            >
              {destination.encrypted ? 'Encrypted' : 'Not encrypted'}
            </Badge>
            {destination.s3 ? (
              <span style={{ minWidth: 0 }}>
                {`s3://${destination.s3.bucket}${destination.s3.prefix ? `/${destination.s3.prefix}` : ''}`} through{' '}
                <Anchor component={Link} to={`/nodes/${destination.nodeId}`} size="sm">
                  {destination.node}
                </Anchor>
              </span>
            ) : (
              <span style={{ minWidth: 0 }}>
                <PathText path={destination.path} /> on{' '}
                <Anchor component={Link} to={`/nodes/${destination.nodeId}`} size="sm">
                  {destination.node}
                </Anchor>
              </span>
            )}
          </Group>
        }
        actions={<DestinationActions destination={destination} onRemoved={() => void navigate('/destinations')} />}
      />
      <Stack>
        {destination.status === 'error' && destination.statusMessage !== null && (
          <Alert color="red" icon={<IconAlertCircle />} title="The destination has a problem" role="alert">
            {destination.statusMessage}
            {destination.encrypted && /password/i.test(destination.statusMessage) && (
              <Text size="sm" mt="xs">
                Password lost, or changed from another server? Reset password (above, for administrators) sets a new one with the recovery key.
              </Text>
            )}
          </Alert>
        )}
        {destination.s3 && <S3Place s3={destination.s3} />}
        <SimpleGrid cols={{ base: 1, xs: 2, md: 3, xl: 6 }}>
          <StatTile label="Backups" value={destination.backups} icon={IconArchive} />
          <StatTile label="Stored" value={formatBytes(destination.storedBytes)} icon={IconDeviceFloppy} detail={<Text size="xs" c="dimmed">on disk, after dedup and compression</Text>} />
          <StatTile label="Logical" value={formatBytes(destination.logicalBytes)} icon={IconDatabase} detail={<Text size="xs" c="dimmed">backed-up data, all backups</Text>} />
          <StatTile label="Dedup ratio" value={formatRatio(destination.dedupRatio)} icon={IconCopy} />
          <StatTile label="Compression ratio" value={formatRatio(destination.compressionRatio)} icon={IconArrowsMinimize} />
          <StatTile
            label="Free space"
            value={destination.freeBytes === null ? '—' : formatBytes(destination.freeBytes)}
            icon={IconStack2}
            detail={
              free === null ? (
                <Text size="xs" c="dimmed">{destination.s3 ? 'Not known for a bucket' : 'Not measured yet'}</Text>
              ) : (
                <FreeSpace destination={destination} width={140} />
              )
            }
          />
        </SimpleGrid>
        <Group gap={4}>
          <Text size="xs" c="dimmed">
            Numbers as of the last task on this destination:
          </Text>
          <RelativeTime iso={destination.lastCheckedAt} size="xs" never="never checked" />
        </Group>
        <Paper withBorder radius="md" p="md">
          <Title order={2} size="h4" mb="sm">
            Stored size over time
          </Title>
          <Suspense fallback={<Skeleton h={280} aria-label="Loading the chart" />}>
            <UsageChart destinationId={destination.id} />
          </Suspense>
        </Paper>
        <DestinationRecentTasks destination={destination} />
        <DestinationBackups destination={destination} />
      </Stack>
    </>
  );
}

function DestinationRecentTasks({ destination }: { destination: Destination }) {
  const navigate = useNavigate();
  const tasks = useTasksQuery({ limit: TASK_WINDOW });
  const rows = useMemo(
    () => (tasks.data?.tasks ?? []).filter((task) => isTaskOfDestination(task, destination)).slice(0, RECENT_TASKS),
    [tasks.data, destination],
  );
  const table = useReactTable({
    data: rows,
    columns: recentTaskColumns,
    getCoreRowModel: getCoreRowModel(),
    getRowId: (task) => String(task.id),
  });
  return (
    <Paper withBorder radius="md" p="md">
      <Title order={2} size="h4" mb="sm">
        Recent tasks
      </Title>
      {tasks.isPending && <Skeleton h={120} />}
      {tasks.isError && <QueryErrorAlert title="Could not load the destination's tasks" error={tasks.error} onRetry={() => void tasks.refetch()} />}
      {tasks.isSuccess && rows.length === 0 && (
        <Alert color="gray" variant="light" icon={<IconInfoCircle />}>
          No recent task on this destination.
        </Alert>
      )}
      {rows.length > 0 && (
        <DataTable table={table} label={`Recent tasks of ${destination.name}`} minWidth={900} onRowClick={(task) => void navigate(`/tasks/${task.id}`)} />
      )}
    </Paper>
  );
}

function DestinationBackups({ destination }: { destination: Destination }) {
  const backups = useBackupsQuery({ destination: String(destination.id) });
  const rows = useMemo(() => [...(backups.data ?? [])].sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt)), [backups.data]);
  const table = useReactTable({
    data: rows,
    columns: destinationBackupColumns,
    getCoreRowModel: getCoreRowModel(),
    getRowId: (backup) => String(backup.id),
  });
  return (
    <Paper withBorder radius="md" p="md">
      <Group justify="space-between" mb="sm">
        <Title order={2} size="h4">
          Backups
        </Title>
        {rows.length > 0 && (
          <Anchor component={Link} to={`/backups?destination=${destination.id}`} size="sm">
            Open in Backups
          </Anchor>
        )}
      </Group>
      {backups.isPending && <Skeleton h={120} />}
      {backups.isError && <QueryErrorAlert title="Could not load the backups" error={backups.error} onRetry={() => void backups.refetch()} />}
      {backups.isSuccess && rows.length === 0 && (
        <Alert color="gray" variant="light" icon={<IconInfoCircle />}>
          The catalog lists no backup on this destination. Backups appear after a backup to it, or after a re-import of the backups it
          already holds.
        </Alert>
      )}
      {rows.length > 0 && <DataTable table={table} label={`Backups on ${destination.name}`} minWidth={800} />}
    </Paper>
  );
}

/** Where an S3 destination is: endpoint, bucket, prefix, addressing, keys, CA and object lock. */
function S3Place({ s3 }: { s3: NonNullable<Destination['s3']> }) {
  const rows: [string, string][] = [
    ['Endpoint', s3.endpoint ?? `AWS S3 (${s3.region})`],
    ['Region', s3.region],
    ['Bucket', s3.bucket],
    ['Prefix', s3.prefix === '' ? '— (the bucket\'s root)' : s3.prefix],
    ['Addressing', s3.forcePathStyle ? 'Path-style' : 'Virtual-host'],
    ['Access key', s3.accessKeyId],
    ['Trusted CA', s3.customCa ? 'A private CA' : 'The system\'s CAs'],
    ['Object lock', s3.lock ? `${s3.lock.mode === 'compliance' ? 'Compliance' : 'Governance'}, ${s3.lock.days} day${s3.lock.days === 1 ? '' : 's'}` : 'Off'],
  ];
  return (
    <Paper withBorder p="md" data-testid="s3-place">
      <Title order={2} size="h4" mb="xs">
        S3-compatible bucket
      </Title>
      <SimpleGrid cols={{ base: 1, sm: 2, lg: 4 }} spacing="xs">
        {rows.map(([label, value]) => (
          <div key={label}>
            <Text size="xs" c="dimmed">
              {label}
            </Text>
            <Text size="sm" style={{ overflowWrap: 'anywhere' }}>
              {value}
            </Text>
          </div>
        ))}
      </SimpleGrid>
    </Paper>
  );
}
