import type { Status } from '@common/api/index.js';
import { SimpleGrid, Skeleton, Stack, Text } from '@mantine/core';
import { IconDeviceDesktop, IconListCheck, IconTopologyStar3 } from '@tabler/icons-react';
import { useStatusQuery } from '../api/health.queries.js';
import { useVmsQuery } from '../api/vms.queries.js';
import { PageHeader } from '../components/page-header.js';
import { QueryErrorAlert } from '../components/query-error-alert.js';
import { StatTile } from '../components/stat-tile.js';
import { formatDateTime } from '../utils/format.js';
import { countVms } from '../utils/vm-format.js';
import { BackupOverview } from './dashboard/backup-overview.js';
import { CatalogSizeCard } from './dashboard/catalog-size-card.js';
import { RecentTasksCard } from './dashboard/recent-tasks-card.js';

/** What needs attention first, then what is running; versions, catalog and uptime are on the About page. */
export function DashboardPage() {
  const status = useStatusQuery();
  return (
    <>
      <PageHeader
        title="Dashboard"
        description={status.data ? `Updated ${formatDateTime(new Date(status.dataUpdatedAt).toISOString())}` : undefined}
      />
      <Stack>
        <BackupOverview />
        {status.isPending && <DashboardSkeleton />}
        {status.isError && (
          <QueryErrorAlert title="Could not load the server status" error={status.error} onRetry={() => void status.refetch()} />
        )}
        {status.data && <ActivityTiles status={status.data} />}
        <RecentTasksCard />
        <CatalogSizeCard />
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
          {unprotected === 0 ? 'All in a policy' : `${unprotected} in no policy`}
        </Text>
      }
      to="/vms"
      linkLabel={`Virtual machines: ${total} (${unprotected} in no policy)`}
    />
  );
}

function ActivityTiles({ status }: { status: Status }) {
  return (
    <SimpleGrid cols={{ base: 1, sm: 2, lg: 3 }}>
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
    </SimpleGrid>
  );
}

function DashboardSkeleton() {
  return (
    <SimpleGrid cols={{ base: 1, sm: 2, lg: 3 }} aria-busy="true" aria-label="Loading server status">
      {Array.from({ length: 3 }, (_, index) => (
        <Skeleton key={index} h={110} radius="md" />
      ))}
    </SimpleGrid>
  );
}
