import type { M365Site, M365User } from '@common/api/index.js';
import { Group, Paper, Select, Skeleton, Text, Title } from '@mantine/core';
import { IconArchive } from '@tabler/icons-react';
import { getCoreRowModel, useReactTable } from '@tanstack/react-table';
import { useMemo } from 'react';
import { useM365BackupPageQuery, type M365BackupFilter } from '../../api/m365.queries.js';
import { CursorPager } from '../../components/cursor-pager.js';
import { DataTable } from '../../components/data-table.js';
import { QueryErrorAlert } from '../../components/query-error-alert.js';
import { useCursorPages } from '../../hooks/use-cursor-pages.js';
import { m365BackupColumns } from './m365-backup-columns.js';

/** Backups a page shows; older ones are a page away. */
const PAGE_SIZE = 50;

/** The filter's value for a user or a site ("user:12", "site:3"), as the tenant page's URL keeps it. */
export const subjectFilterValue = (kind: 'user' | 'site', id: number): string => `${kind}:${id}`;

/** The API's filter for the tenant and the chosen subject. */
export function backupFilterOf(tenant: string, subject: string | null): M365BackupFilter {
  const match = subject === null ? null : /^(user|site):(\d+)$/.exec(subject);
  if (match === null) return { tenant };
  return match[1] === 'user' ? { tenant, user: match[2] } : { tenant, site: match[2] };
}

/** Users with a OneDrive (or a backup of one) and the sites, as the subject filter's choices. */
function subjectOptions(users: readonly M365User[], sites: readonly M365Site[]) {
  const userItems = users
    .filter((user) => user.hasDrive || user.lastBackupAt !== null)
    .map((user) => ({ value: subjectFilterValue('user', user.id), label: user.upn }))
    .sort((a, b) => a.label.localeCompare(b.label));
  const siteItems = sites.map((site) => ({ value: subjectFilterValue('site', site.id), label: site.displayName || site.name || '(root site)' })).sort((a, b) => a.label.localeCompare(b.label));
  return [
    { group: 'Users', items: userItems },
    { group: 'Sites', items: siteItems },
  ].filter((group) => group.items.length > 0);
}

interface M365BackupsSectionProps {
  /** The tenant's id, as the API's filter takes it. */
  tenant: string;
  users: readonly M365User[];
  sites: readonly M365Site[];
  /** The chosen user or site ("user:12"), or null for all. */
  subject: string | null;
  onSubject: (subject: string | null) => void;
}

/**
 * The tenant's Microsoft 365 backups, newest first, a page at a time (the server pages by
 * cursor), for all its users and sites or one of them; each can be browsed or restored.
 */
export function M365BackupsSection({ tenant, users, sites, subject, onSubject }: M365BackupsSectionProps) {
  const filter = backupFilterOf(tenant, subject);
  const pages = useCursorPages(JSON.stringify(filter));
  const backups = useM365BackupPageQuery(filter, pages.cursor, PAGE_SIZE);
  const rows = useMemo(() => backups.data?.backups ?? [], [backups.data]);
  const table = useReactTable({ data: rows, columns: m365BackupColumns, getCoreRowModel: getCoreRowModel(), getRowId: (backup) => String(backup.id) });
  const options = useMemo(() => subjectOptions(users, sites), [users, sites]);
  const count = rows.length;

  return (
    <Paper withBorder radius="md" p="md" component="section" aria-labelledby="m365-backups-heading">
      <Group justify="space-between" mb="sm">
        <Title order={2} size="h4" id="m365-backups-heading">
          Backups
        </Title>
        <Select
          size="xs"
          w={300}
          aria-label="Backups of"
          placeholder="All users and sites"
          data={options}
          value={subject}
          onChange={onSubject}
          searchable
          clearable
          nothingFoundMessage="No user or site of that name"
        />
      </Group>
      {backups.isPending && <Skeleton h={160} />}
      {backups.isError && <QueryErrorAlert title="Could not load the backups" error={backups.error} onRetry={() => void backups.refetch()} />}
      {backups.isSuccess && count === 0 && pages.page === 1 && (
        <Group gap="xs" c="dimmed">
          <IconArchive size={18} aria-hidden />
          <Text size="sm" c="dimmed">
            {`${subject === null ? 'No backup yet.' : 'No backup of this user or site yet.'} “Back up now” on a user with a OneDrive or on a site (Users and sites) stores one in a destination, and it is listed here.`}
          </Text>
        </Group>
      )}
      {count > 0 && (
        <div aria-busy={backups.isFetching}>
          <DataTable table={table} label="Microsoft 365 backups" minWidth={1100} />
        </div>
      )}
      {backups.isSuccess && (
        <>
          <CursorPager pages={pages} nextCursor={backups.data.nextCursor} shown={count} what={count === 1 ? 'backup' : 'backups'} busy={backups.isFetching} />
          {count > 0 && pages.page === 1 && backups.data.nextCursor === null && (
            <Text size="xs" c="dimmed" mt="xs">{`${count} ${count === 1 ? 'backup' : 'backups'}`}</Text>
          )}
        </>
      )}
    </Paper>
  );
}
