import type { Backup } from '@common/api/index.js';
import { Paper, Skeleton, Stack, Text } from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { IconArchive } from '@tabler/icons-react';
import { useMemo, useState } from 'react';
import { useSearchParams } from 'react-router-dom';
import { useBackupPageQuery } from '../api/backups.queries.js';
import { useDestinationsQuery } from '../api/destinations.queries.js';
import type { BackupListFilter } from '../api/query-keys.js';
import { useVmsQuery } from '../api/vms.queries.js';
import { CursorPager } from '../components/cursor-pager.js';
import { EmptyState } from '../components/empty-state.js';
import { PageHeader } from '../components/page-header.js';
import { QueryErrorAlert } from '../components/query-error-alert.js';
import { useCursorPages } from '../hooks/use-cursor-pages.js';
import { BackupFilters, FILTER_KEYS, type BackupFilterValues } from './backups/backup-filters.js';
import { BackupGroup } from './backups/backup-group.js';

/** A YYYY-MM-DD day (the browser's time zone) as the instant it starts, `days` later. */
function dayStart(day: string, days = 0): string | undefined {
  const [y, m, d] = day.split('-').map(Number);
  if (!y || !m || !d) return undefined;
  return new Date(y, m - 1, d + days).toISOString();
}

function readFilters(params: URLSearchParams): BackupFilterValues {
  const state = params.get('state');
  return {
    vm: params.get('vm') || null,
    destination: params.get('destination') || null,
    state: state === 'available' || state === 'damaged' || state === 'missing' || state === 'removed' || state === 'protected' ? state : null,
    from: params.get('from') || null,
    to: params.get('to') || null,
    search: params.get('q') ?? '',
  };
}

/** Backups a page shows: a year of 1,000 VMs' backups is read a page at a time, newest first. */
const PAGE_SIZE = 100;

/** Newest first within a VM; VMs by their newest backup. */
function groupByVm(backups: readonly Backup[]): [string, Backup[]][] {
  const groups = new Map<string, Backup[]>();
  for (const backup of [...backups].sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt) || b.id - a.id)) {
    const list = groups.get(backup.vm) ?? [];
    list.push(backup);
    groups.set(backup.vm, list);
  }
  return [...groups.entries()];
}

/**
 * Every backup the catalog lists, a page at a time (the server filters, orders and pages, so
 * a year of backups costs what one page does), each page grouped by VM, with the filters kept
 * in the URL (so a filtered view can be linked).
 */
export function BackupsPage() {
  const [params, setParams] = useSearchParams();
  const values = readFilters(params);
  // Typing is shown at once; the list follows when the typing pauses.
  const [search, setSearch] = useState(values.search);
  const [debounced] = useDebouncedValue(search, 300);
  const destinations = useDestinationsQuery();
  const vms = useVmsQuery();

  const filter: BackupListFilter = {
    ...(values.destination !== null ? { destination: values.destination } : {}),
    ...(values.vm !== null ? { vm: values.vm } : {}),
    ...(values.state !== null && values.state !== 'protected' ? { status: values.state } : {}),
    ...(values.state === 'protected' ? { protected: true } : {}),
    ...(values.from !== null ? { from: dayStart(values.from) } : {}),
    ...(values.to !== null ? { to: dayStart(values.to, 1) } : {}),
    ...(debounced.trim() !== '' ? { search: debounced.trim() } : {}),
  };
  // Another filter starts again from the newest page.
  const pages = useCursorPages(JSON.stringify(filter));
  const backups = useBackupPageQuery(filter, pages.cursor, PAGE_SIZE);
  const groups = useMemo(() => groupByVm(backups.data?.backups ?? []), [backups.data]);

  // Replace, not push: filter changes should not fill the back button's history.
  const change = (update: Partial<BackupFilterValues>) => {
    const next = { ...values, ...update, search: update.search ?? search };
    if (update.search !== undefined) setSearch(update.search);
    const entries: [string, string][] = [];
    if (next.vm) entries.push(['vm', next.vm]);
    if (next.destination) entries.push(['destination', next.destination]);
    if (next.state) entries.push(['state', next.state]);
    if (next.from) entries.push(['from', next.from]);
    if (next.to) entries.push(['to', next.to]);
    if (next.search) entries.push(['q', next.search]);
    setParams(entries, { replace: true });
  };
  const clear = () => {
    setSearch('');
    const kept = [...params.entries()].filter(([key]) => !(FILTER_KEYS as readonly string[]).includes(key));
    setParams(kept, { replace: true });
  };

  const destinationOptions = (destinations.data ?? []).map((d) => ({ value: String(d.id), label: d.name }));
  // A filter on a destination that has since been removed must still show (and be clearable).
  if (values.destination !== null && !destinationOptions.some((o) => o.value === values.destination)) {
    destinationOptions.push({ value: values.destination, label: `Destination ${values.destination}` });
  }
  const vmOptions = useMemo(() => [...new Map((vms.data ?? []).map((vm) => [vm.uuid, { value: vm.uuid, label: vm.name }])).values()].sort((a, b) => a.label.localeCompare(b.label)), [vms.data]);
  const vmChoices = values.vm !== null && !vmOptions.some((o) => o.value === values.vm) ? [...vmOptions, { value: values.vm, label: values.vm }] : vmOptions;
  const filtered = Object.keys(filter).length > 0;
  const count = backups.data?.backups.length ?? 0;
  const pager = <CursorPager pages={pages} nextCursor={backups.data?.nextCursor} shown={count} what={count === 1 ? 'backup' : 'backups'} busy={backups.isFetching} />;

  return (
    <>
      <PageHeader
        title="Backups"
        description="Every restore point, grouped by VM, newest first: protect the ones to keep whatever retention says, note why they matter, browse their files or restore them."
      />
      <BackupFilters values={{ ...values, search }} vms={vmChoices} destinations={destinationOptions} onChange={change} onClear={clear} />
      {backups.isPending && <Skeleton h={240} radius="md" />}
      {backups.isError && <QueryErrorAlert title="Could not load backups" error={backups.error} onRetry={() => void backups.refetch()} />}
      {backups.isSuccess && count === 0 && pages.page > 1 && pager}
      {backups.isSuccess && count === 0 && pages.page === 1 && (
        <EmptyState
          icon={IconArchive}
          title={filtered ? 'No backups match these filters' : 'No backups yet'}
          description={
            filtered
              ? 'Widen the date range, pick another VM, destination or state, or clear the filters.'
              : 'Backups appear here once a backup has run, or after a re-import of a destination that already holds backups (Destinations → Re-import). Each VM is listed with its restore points.'
          }
        />
      )}
      {count > 0 && (
        <Stack gap="md" aria-busy={backups.isFetching}>
          <Text size="sm" c="dimmed" aria-live="polite">
            {`${count} ${count === 1 ? 'backup' : 'backups'} of ${groups.length} ${groups.length === 1 ? 'VM' : 'VMs'} on this page`}
          </Text>
          {groups.map(([vm, list]) => (
            <BackupGroup key={vm} vm={vm} backups={list} />
          ))}
          <Paper withBorder radius="md" p={0}>
            {pager}
          </Paper>
        </Stack>
      )}
    </>
  );
}
