import type { Status } from '@common/api/index.js';
import { Badge, Paper, SimpleGrid, Skeleton, Stack, Text } from '@mantine/core';
import {
  IconClock,
  IconDatabase,
  IconDeviceDesktop,
  IconListCheck,
  IconLock,
  IconServer,
  IconStack2,
  IconTopologyStar3,
  IconUsers,
} from '@tabler/icons-react';
import { useStatusQuery } from '../api/health.queries.js';
import { useVmsQuery } from '../api/vms.queries.js';
import { FingerprintValue } from '../components/fingerprint-value.js';
import { HealthBadge } from '../components/health-badge.js';
import { PageHeader } from '../components/page-header.js';
import { QueryErrorAlert } from '../components/query-error-alert.js';
import { StatTile } from '../components/stat-tile.js';
import { formatDateTime, formatDuration } from '../utils/format.js';
import { countVms } from '../utils/vm-format.js';
import { BackupOverview } from './dashboard/backup-overview.js';
import { RecentTasksCard } from './dashboard/recent-tasks-card.js';

export function DashboardPage() {
  const status = useStatusQuery();
  return (
    <>
      <PageHeader
        title="Dashboard"
        description={status.data ? `Updated ${formatDateTime(new Date(status.dataUpdatedAt).toISOString())}` : undefined}
      />
      <Stack>
        {/* What backups did and will do comes first: it is what people open the dashboard for. */}
        <BackupOverview />
        {status.isPending && <DashboardSkeleton />}
        {status.isError && (
          <QueryErrorAlert title="Could not load the server status" error={status.error} onRetry={() => void status.refetch()} />
        )}
        {status.data && <StatusTiles status={status.data} />}
      </Stack>
    </>
  );
}

/** Shown once there are VMs: how many, and how many no policy protects. */
function VmsTile() {
  const vms = useVmsQuery();
  if (!vms.isSuccess) return null;
  const { total, unprotected } = countVms(vms.data);
  if (total === 0) return null;
  return (
    <StatTile
      label="Virtual machines"
      icon={IconDeviceDesktop}
      value={total}
      detail={
        <Text size="sm" c={unprotected > 0 ? 'orange' : 'dimmed'}>
          {unprotected === 0 ? 'All protected by a policy' : `${unprotected} unprotected`}
        </Text>
      }
      to="/vms"
      linkLabel={`Virtual machines: ${total} (${unprotected} unprotected)`}
    />
  );
}

function StatusTiles({ status }: { status: Status }) {
  const { catalog } = status;
  return (
    <Stack>
      <SimpleGrid cols={{ base: 1, sm: 2, lg: 3 }}>
        <StatTile
          label="Server"
          icon={IconServer}
          value={`vPlus ${status.version}`}
          detail={<HealthBadge ok={status.status === 'ok'} okLabel="Running" badLabel="Degraded" />}
        />
        <StatTile
          label="Catalog"
          icon={IconDatabase}
          value={`${catalog.engine} ${catalog.version}`}
          detail={
            <>
              <Badge variant="outline" color="gray">
                {catalog.mode === 'managed' ? 'Managed' : 'Remote'}
              </Badge>
              <HealthBadge ok={catalog.ok} />
            </>
          }
        />
        <StatTile
          label="Uptime"
          icon={IconClock}
          value={formatDuration(status.uptimeSeconds)}
          detail={<Text size="sm" c="dimmed">Since {formatDateTime(status.startedAt)}</Text>}
        />
        <StatTile
          label="Nodes"
          icon={IconTopologyStar3}
          value={`${status.nodes.online} of ${status.nodes.total} online`}
          detail={status.nodes.total === 0 ? <Text size="sm" c="dimmed">No nodes enrolled yet</Text> : undefined}
          to="/nodes"
          linkLabel={`Nodes: ${status.nodes.online}/${status.nodes.total} online`}
        />
        <StatTile
          label="Tasks"
          icon={IconListCheck}
          value={`${status.tasks.running} running`}
          detail={<Text size="sm" c="dimmed">{status.tasks.queued} queued</Text>}
          to="/tasks"
          linkLabel={`Tasks: ${status.tasks.running} running, ${status.tasks.queued} queued`}
        />
        <VmsTile />
        <StatTile label="Users" icon={IconUsers} value={status.users} />
        <StatTile
          label="Migrations"
          icon={IconStack2}
          value={status.migrations.length}
          detail={<Text size="sm" c="dimmed">{latestMigration(status.migrations)}</Text>}
        />
      </SimpleGrid>
      <RecentTasksCard />
      <Paper withBorder p="md" radius="md" role="group" aria-labelledby="tls-heading">
        <Text id="tls-heading" size="xs" c="dimmed" tt="uppercase" fw={700} mb="xs">
          <IconLock size={14} aria-hidden style={{ verticalAlign: 'middle', marginRight: 6 }} />
          TLS certificate fingerprint (SHA-256)
        </Text>
        <FingerprintValue fingerprint={status.tlsFingerprint} />
      </Paper>
    </Stack>
  );
}

/** Migration names are dated, so the last in sorted order is the schema's current version. */
function latestMigration(migrations: readonly string[]): string {
  const latest = [...migrations].sort().at(-1);
  return latest === undefined ? 'None applied' : `Latest: ${latest}`;
}

function DashboardSkeleton() {
  return (
    <SimpleGrid cols={{ base: 1, sm: 2, lg: 3 }} aria-busy="true" aria-label="Loading server status">
      {Array.from({ length: 7 }, (_, index) => (
        <Skeleton key={index} h={110} radius="md" />
      ))}
    </SimpleGrid>
  );
}
