import { SimpleGrid, Skeleton } from '@mantine/core';
import { lazy, Suspense, type ReactNode } from 'react';
import { useDashboardQuery } from '../../api/policies.queries.js';
import { useSession } from '../../auth/session-context.js';
import { QueryErrorAlert } from '../../components/query-error-alert.js';
import { CoverageCard } from './coverage-card.js';
import { DashboardCard } from './dashboard-card.js';
import { GettingStartedCard } from './getting-started-card.js';
import { LastNightCard } from './last-night-card.js';
import { NextRunsCard } from './next-runs-card.js';
import { ProblemsCard } from './problems-card.js';
import { SpaceCard } from './space-card.js';

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

/**
 * The dashboard's answers, most urgent first: what is left to set up (admins), what failed in
 * the last 24 h, which VMs are not backed up, how long the space lasts; then the schedule's
 * next and last runs and 30 days of history.
 */
export function BackupOverview() {
  const { isAdmin } = useSession();
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
  const { nextRuns, lastNight, daily, storage, setup, problems, coverage, space } = dashboard.data;
  return (
    <>
      {isAdmin && <GettingStartedCard setup={setup} />}
      <SimpleGrid cols={{ base: 1, md: 2 }}>
        <ProblemsCard problems={problems} />
        <CoverageCard coverage={coverage} />
      </SimpleGrid>
      <SimpleGrid cols={{ base: 1, md: 3 }}>
        <SpaceCard space={space} />
        <LastNightCard lastNight={lastNight} />
        <NextRunsCard runs={nextRuns} />
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
