import { Group, Skeleton, Text } from '@mantine/core';
import { useCatalogSizeQuery } from '../../api/history.queries.js';
import { useSession } from '../../auth/session-context.js';
import { QueryErrorAlert } from '../../components/query-error-alert.js';
import { formatBytes } from '../../utils/format.js';
import { CatalogSizeTable } from '../settings/catalog-size-table.js';
import { DashboardCard } from './dashboard-card.js';

const LARGEST = 5;

/** How big the catalog is, and its largest tables: history within limits keeps it flat (Settings → History). */
export function CatalogSizeCard() {
  const size = useCatalogSizeQuery();
  const { isAdmin } = useSession();
  return (
    <DashboardCard headingId="catalog-size-heading" title="Catalog size" testId="catalog-size" link={isAdmin ? { to: '/settings/history', label: 'History limits' } : undefined}>
      {size.isPending && <Skeleton h={120} />}
      {size.isError && <QueryErrorAlert title="Could not read the catalog's size" error={size.error} onRetry={() => void size.refetch()} />}
      {size.data && (
        <>
          <Group gap="xs" mb="xs" align="baseline">
            <Text fw={700} size="lg">
              {formatBytes(size.data.totalBytes)}
            </Text>
            <Text size="sm" c="dimmed">
              {`in use; ${formatBytes(size.data.freeBytes)} free inside its files`}
            </Text>
          </Group>
          <CatalogSizeTable size={size.data} limit={LARGEST} />
        </>
      )}
    </DashboardCard>
  );
}
