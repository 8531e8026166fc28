import type { M365ConnectionTest, M365Site, M365Tenant, M365User } from '@common/api/index.js';
import { Alert, Group, Paper, SimpleGrid, Skeleton, Stack, Tabs, Text, TextInput, Title } from '@mantine/core';
import { IconAlertCircle, IconArchive, IconBuilding, IconCloud, IconSearch, IconUsers } from '@tabler/icons-react';
import { getCoreRowModel, useReactTable, type ColumnDef } from '@tanstack/react-table';
import { useEffect, useMemo, useState } from 'react';
import { useLocation, useNavigate, useParams, useSearchParams } from 'react-router-dom';
import { isApiError } from '../api/api-error.js';
import { useM365SitesQuery, useM365TenantQuery, useM365UsersQuery } from '../api/m365.queries.js';
import { BackLink } from '../components/back-link.js';
import { DataTable } from '../components/data-table.js';
import { NodeLink } from '../components/node-link.js';
import { NotFoundState } from '../components/not-found-state.js';
import { PageHeader } from '../components/page-header.js';
import { QueryErrorAlert } from '../components/query-error-alert.js';
import { RelativeTime } from '../components/relative-time.js';
import { StatTile } from '../components/stat-tile.js';
import { ConnectionTestResult } from './m365/connection-test-result.js';
import { siteColumns, userColumns } from './m365/inventory-columns.js';
import { M365BackupsSection } from './m365/m365-backups-section.js';
import { TenantActions } from './m365/tenant-actions.js';
import { ConnectionBadge, SyncBadge } from './m365/tenant-badges.js';

/** Rows a table shows at once; a search narrows a large tenant down. */
const SHOWN = 500;

export function M365TenantPage() {
  const ref = useParams().tenant ?? '';
  const tenant = useM365TenantQuery(ref);
  if (isApiError(tenant.error, 404)) {
    return (
      <NotFoundState
        pageTitle="Tenant not found"
        title={`There is no Microsoft 365 tenant "${ref}"`}
        description="It may have been removed, or the link is wrong."
        back={{ to: '/m365', label: 'All tenants' }}
        goTo={{ to: '/m365', label: 'Go to Microsoft 365' }}
      />
    );
  }
  if (tenant.data === undefined) {
    if (tenant.isError) return <QueryErrorAlert title="Could not load the tenant" error={tenant.error} onRetry={() => void tenant.refetch()} />;
    return <Skeleton h={320} radius="md" aria-label="Loading the tenant" />;
  }
  return <TenantDetails tenant={tenant.data} />;
}

function TenantDetails({ tenant }: { tenant: M365Tenant }) {
  const navigate = useNavigate();
  const location = useLocation();
  // Adding the tenant started its first sync: the Sync button follows it, once (not again on a reload).
  const [started] = useState(() => (location.state as { syncTaskId?: number | null } | null)?.syncTaskId ?? null);
  useEffect(() => {
    if (location.state !== null) void navigate(location.pathname, { replace: true, state: null });
  }, []);
  const [test, setTest] = useState<M365ConnectionTest | null>(null);
  const ref = String(tenant.id);
  // The tab and the backups' filter live in the URL, so a user's backups can be linked to.
  const [params, setParams] = useSearchParams();
  const tab = params.get('tab') === 'backups' ? 'backups' : 'inventory';
  const subject = params.get('subject');
  const users = useM365UsersQuery(ref);
  const sites = useM365SitesQuery(ref);
  const show = (next: { tab: string; subject?: string | null }) =>
    setParams(
      [...(next.tab === 'backups' ? [['tab', 'backups']] : []), ...(next.tab === 'backups' && next.subject ? [['subject', next.subject]] : [])] as [string, string][],
      { replace: true },
    );
  return (
    <>
      <BackLink to="/m365" label="All tenants" />
      <PageHeader
        title={tenant.name}
        description={
          <Group gap="xs" component="span">
            <ConnectionBadge tenant={tenant} />
            <SyncBadge tenant={tenant} />
            <span>
              {`${tenant.tenantId}, app ${tenant.clientId} (${tenant.credentialKind === 'secret' ? 'client secret' : `certificate ${tenant.certificateThumbprint ?? ''}`}), through `}
              <NodeLink id={tenant.nodeId} name={tenant.node} />
            </span>
          </Group>
        }
        actions={<TenantActions tenant={tenant} following={started} onTested={setTest} onRemoved={() => void navigate('/m365')} />}
      />
      <Stack>
        {test !== null && <ConnectionTestResult test={test} />}
        {test === null && tenant.test !== null && !tenant.test.ok && (
          <Alert color="yellow" icon={<IconAlertCircle />} title="A permission is missing" role="alert">
            {tenant.test.message}
          </Alert>
        )}
        {tenant.syncState === 'failed' && tenant.syncMessage !== null && (
          <Alert color="red" icon={<IconAlertCircle />} title="The last sync failed" role="alert">
            {tenant.syncMessage}
          </Alert>
        )}
        <SimpleGrid cols={{ base: 1, xs: 2, md: 4 }}>
          <StatTile label="Users" value={tenant.users} icon={IconUsers} />
          <StatTile label="With OneDrive" value={tenant.drives} icon={IconCloud} />
          <StatTile label="Sites" value={tenant.sites} icon={IconBuilding} detail={<Text size="xs" c="dimmed">{`${tenant.libraries} document libraries`}</Text>} />
          <StatTile label="Last sync" value={<RelativeTime iso={tenant.lastSyncAt} never="Never" />} icon={IconSearch} />
        </SimpleGrid>
        <Tabs value={tab} onChange={(value) => show({ tab: value ?? 'inventory', subject })} keepMounted={false}>
          <Tabs.List mb="md">
            <Tabs.Tab value="inventory" leftSection={<IconUsers size={16} aria-hidden />}>
              Users and sites
            </Tabs.Tab>
            <Tabs.Tab value="backups" leftSection={<IconArchive size={16} aria-hidden />}>
              Backups
            </Tabs.Tab>
          </Tabs.List>
          <Tabs.Panel value="inventory">
            <Stack>
              <UsersSection tenant={ref} />
              <SitesSection tenant={ref} />
            </Stack>
          </Tabs.Panel>
          <Tabs.Panel value="backups">
            <M365BackupsSection tenant={ref} users={users.data ?? []} sites={sites.data ?? []} subject={subject} onSubject={(next) => show({ tab: 'backups', subject: next })} />
          </Tabs.Panel>
        </Tabs>
      </Stack>
    </>
  );
}

function UsersSection({ tenant }: { tenant: string }) {
  const users = useM365UsersQuery(tenant);
  return (
    <InventorySection<M365User>
      title="Users"
      query={users}
      columns={userColumns}
      rowId={(u) => String(u.id)}
      matches={(u, text) => u.upn.toLowerCase().includes(text) || u.displayName.toLowerCase().includes(text)}
      empty="No users listed yet: they appear after the tenant's first sync."
    />
  );
}

function SitesSection({ tenant }: { tenant: string }) {
  const sites = useM365SitesQuery(tenant);
  return (
    <InventorySection<M365Site>
      title="Sites"
      query={sites}
      columns={siteColumns}
      rowId={(s) => String(s.id)}
      matches={(s, text) => `${s.displayName} ${s.name} ${s.url ?? ''}`.toLowerCase().includes(text)}
      empty="No SharePoint sites listed yet: they appear after the tenant's first sync."
    />
  );
}

interface InventorySectionProps<Row> {
  title: string;
  query: { data: Row[] | undefined; isError: boolean; error: unknown; refetch: () => unknown };
  // TanStack's column helpers type each column by its value; the table takes them all.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  columns: ColumnDef<Row, any>[];
  rowId: (row: Row) => string;
  matches: (row: Row, text: string) => boolean;
  empty: string;
}

/** A table of the tenant's users or sites, with a search that narrows it. */
function InventorySection<Row>({ title, query, columns, rowId, matches, empty }: InventorySectionProps<Row>) {
  const [search, setSearch] = useState('');
  const all = useMemo(() => query.data ?? [], [query.data]);
  const found = useMemo(() => (search.trim() === '' ? all : all.filter((row) => matches(row, search.trim().toLowerCase()))), [all, search]);
  // The table's data must keep its identity between renders: a new array each time re-renders it without end.
  const shown = useMemo(() => found.slice(0, SHOWN), [found]);
  const table = useReactTable({ data: shown, columns, getCoreRowModel: getCoreRowModel(), getRowId: rowId });
  const id = `m365-${title.toLowerCase()}-heading`;
  return (
    <Paper withBorder radius="md" p="md" component="section" aria-labelledby={id}>
      <Group justify="space-between" mb="sm">
        <Title order={2} size="h4" id={id}>
          {`${title} (${all.length})`}
        </Title>
        <TextInput size="xs" placeholder="Search" aria-label={`Search ${title.toLowerCase()}`} leftSection={<IconSearch size={14} aria-hidden />} value={search} onChange={(e) => setSearch(e.currentTarget.value)} />
      </Group>
      {query.isError && <QueryErrorAlert title={`Could not load the ${title.toLowerCase()}`} error={query.error} onRetry={() => void query.refetch()} />}
      {query.data === undefined && !query.isError && <Skeleton h={120} />}
      {query.data !== undefined && all.length === 0 && (
        <Text size="sm" c="dimmed">
          {empty}
        </Text>
      )}
      {all.length > 0 && <DataTable table={table} label={title} />}
      {found.length > SHOWN && (
        <Text size="xs" c="dimmed" mt="xs">
          {`Showing ${SHOWN} of ${found.length}; search to narrow them down.`}
        </Text>
      )}
    </Paper>
  );
}
