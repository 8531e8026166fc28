import { SimpleGrid, Skeleton } from '@mantine/core';
import { lazy, Suspense, type ReactNode } from 'react';
import { useDashboardQuery } from '../../api/policies.queries.js';
import { QueryErrorAlert } from '../../components/query-error-alert.js';
import { DashboardCard } from './dashboard-card.js';
import { LastNightCard } from './last-night-card.js';
import { NextRunsCard } from './next-runs-card.js';

// The chart library is most of the UI's weight; the charts load after the numbers show.
const DailyBackupsChart = lazy(async () => ({ default: (await import('./backup-charts.js')).DailyBackupsChart }));
const StoredSizeChart = lazy(async () => ({ default: (await import('./backup-charts.js')).StoredSizeChart }));

function ChartCard({ id, title, children }: { id: string; title: string; children: ReactNode }) {
  return (
    <DashboardCard headingId={id} title={title}>
      <Suspense fallback={<Skeleton h={240} aria-label="Loading the chart" />}>{children}</Suspense>
    </DashboardCard>
  );
}

/** What the policies did and will do: next runs, last night, 30 days of backups and of stored size. */
export function BackupOverview() {
  const dashboard = useDashboardQuery();
  if (dashboard.isPending) {
    return (
      <SimpleGrid cols={{ base: 1, md: 2 }} aria-busy="true" aria-label="Loading the backup overview">
        <Skeleton h={180} radius="md" />
        <Skeleton h={180} radius="md" />
      </SimpleGrid>
    );
  }
  if (dashboard.isError) {
    return <QueryErrorAlert title="Could not load the backup overview" error={dashboard.error} onRetry={() => void dashboard.refetch()} />;
  }
  const { nextRuns, lastNight, daily, storage } = dashboard.data;
  return (
    <>
      <SimpleGrid cols={{ base: 1, md: 2 }}>
        <NextRunsCard runs={nextRuns} />
        <LastNightCard lastNight={lastNight} />
      </SimpleGrid>
      <SimpleGrid cols={{ base: 1, md: 2 }}>
        <ChartCard id="daily-backups-heading" title="Backups per day (30 days)">
          <DailyBackupsChart daily={daily} />
        </ChartCard>
        <ChartCard id="stored-size-heading" title="Stored size (30 days)">
          <StoredSizeChart storage={storage} />
        </ChartCard>
      </SimpleGrid>
    </>
  );
}
