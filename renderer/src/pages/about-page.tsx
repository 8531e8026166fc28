import type { Status } from '@common/api/index.js';
import { Badge, Paper, SimpleGrid, Skeleton, Stack, Text } from '@mantine/core';
import { IconClock, IconDatabase, IconLock, IconServer, IconStack2, IconUsers } from '@tabler/icons-react';
import { useStatusQuery } from '../api/health.queries.js';
import { ApiDocsLink } from '../components/api-docs-link.js';
import { FingerprintValue } from '../components/fingerprint-value.js';
import { HealthBadge } from '../components/health-badge.js';
import { PageHeader } from '../components/page-header.js';
import { QueryErrorAlert } from '../components/query-error-alert.js';
import { StatTile } from '../components/stat-tile.js';
import { formatDateTime, formatDuration } from '../utils/format.js';

/** Migration names are dated, so the last in sorted order is the schema's current version. */
function latestMigration(migrations: readonly string[]): string {
  const latest = [...migrations].sort().at(-1);
  return latest === undefined ? 'None applied' : `Latest: ${latest}`;
}

function AboutTiles({ status }: { status: Status }) {
  const { catalog } = status;
  return (
    <Stack>
      <SimpleGrid cols={{ base: 1, sm: 2, lg: 3 }}>
        <StatTile label="Server" icon={IconServer} value={`vPlus ${status.version}`} detail={<HealthBadge ok={status.status === 'ok'} okLabel="Running" badLabel="Degraded" />} />
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
        <StatTile label="Uptime" icon={IconClock} value={formatDuration(status.uptimeSeconds)} detail={<Text size="sm" c="dimmed">Since {formatDateTime(status.startedAt)}</Text>} />
        <StatTile label="Migrations" icon={IconStack2} value={status.migrations.length} detail={<Text size="sm" c="dimmed">{latestMigration(status.migrations)}</Text>} />
        <StatTile label="Users" icon={IconUsers} value={status.users} />
      </SimpleGrid>
      <Paper withBorder p="md" radius="md" role="group" aria-labelledby="tls-heading">
        <Text id="tls-heading" size="xs" c="dimmed" tt="uppercase" fw={700} mb="xs">
          <IconLock size={14} aria-hidden style={{ verticalAlign: 'middle', marginRight: 6 }} />
          TLS certificate fingerprint (SHA-256)
        </Text>
        <FingerprintValue fingerprint={status.tlsFingerprint} />
      </Paper>
      <ApiDocsLink />
    </Stack>
  );
}

/** The technical details (versions, catalog, uptime, certificate) that support and upgrades ask for. */
export function AboutPage() {
  const status = useStatusQuery();
  return (
    <>
      <PageHeader title="About" description="This server's version, catalog, uptime and certificate." />
      {status.isPending && <Skeleton h={220} radius="md" aria-label="Loading server details" />}
      {status.isError && <QueryErrorAlert title="Could not load the server status" error={status.error} onRetry={() => void status.refetch()} />}
      {status.data && <AboutTiles status={status.data} />}
    </>
  );
}
