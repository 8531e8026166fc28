import type { M365Backup, Mount } from '@common/api/index.js';
import type { ContactSummary, EventSummary } from '@common/api/m365-mail.js';
import { Badge, Button, Checkbox, Grid, Group, Pagination, Paper, ScrollArea, Skeleton, Stack, Text, TextInput } from '@mantine/core';
import { IconCalendarOff, IconSearch, IconUserOff } from '@tabler/icons-react';
import { createColumnHelper, getCoreRowModel, useReactTable, type ColumnDef, type RowSelectionState } from '@tanstack/react-table';
import { useMemo, useState, type ReactNode } from 'react';
import { useContactListQuery, useEventListQuery } from '../../api/exchange.queries.js';
import { DataTable } from '../../components/data-table.js';
import { dayEnd, dayStart } from '../../utils/day-range.js';
import { formatAddress, type ExchangePart } from '../../utils/exchange-format.js';
import { formatDateTime } from '../../utils/format.js';
import { BrowseErrorAlert } from '../mounts/browse-error.js';
import { ExchangeActions } from './exchange-actions.js';
import { ExchangeFolderTree } from './exchange-folder-tree.js';

const PAGE_SIZE = 100;
const nowrap = { whiteSpace: 'nowrap' } as const;
const wrap = { overflowWrap: 'anywhere', wordBreak: 'break-word' } as const;

function selectColumn<Row extends { path: string }>(name: (row: Row) => string): ColumnDef<Row> {
  return {
    id: 'select',
    header: ({ table }) => (
      <Checkbox aria-label="Select all on this page" checked={table.getIsAllPageRowsSelected()} indeterminate={table.getIsSomePageRowsSelected()} onChange={table.getToggleAllPageRowsSelectedHandler()} />
    ),
    cell: ({ row }) => <Checkbox aria-label={`Select ${name(row.original)}`} checked={row.getIsSelected()} onChange={row.getToggleSelectedHandler()} />,
  };
}

const eventColumn = createColumnHelper<EventSummary>();
const EVENT_TYPE: Record<EventSummary['eventType'], string | null> = { singleInstance: null, seriesMaster: 'series', exception: 'changed occurrence', occurrence: 'occurrence' };

const eventColumns: ColumnDef<EventSummary>[] = [
  selectColumn<EventSummary>((event) => event.subject || '(no subject)'),
  eventColumn.accessor('subject', {
    header: 'Subject',
    cell: ({ row }) => (
      <Group gap={6} wrap="nowrap">
        <Text size="sm" style={wrap}>
          {row.original.subject || '(no subject)'}
        </Text>
        {EVENT_TYPE[row.original.eventType] !== null && (
          <Badge size="xs" variant="light" color="gray">
            {EVENT_TYPE[row.original.eventType]}
          </Badge>
        )}
      </Group>
    ),
  }),
  eventColumn.accessor('start', {
    header: 'Start',
    cell: ({ row }) => <Text size="sm" style={nowrap}>{row.original.isAllDay ? `${formatDateTime(row.original.start, '—').slice(0, 10)} (all day)` : formatDateTime(row.original.start, '—')}</Text>,
  }),
  eventColumn.accessor('end', { header: 'End', cell: ({ getValue }) => <Text size="sm" style={nowrap}>{formatDateTime(getValue(), '—')}</Text> }),
  eventColumn.accessor('recurrence', { header: 'Repeats', cell: ({ getValue }) => <Text size="sm">{getValue() ?? ''}</Text> }),
  eventColumn.accessor('location', { header: 'Location', cell: ({ getValue }) => <Text size="sm" style={wrap}>{getValue() ?? ''}</Text> }),
  eventColumn.accessor((event) => formatAddress(event.organizer), { id: 'organizer', header: 'Organizer', cell: ({ getValue }) => <Text size="sm" style={wrap}>{getValue()}</Text> }),
];

const contactColumn = createColumnHelper<ContactSummary>();
const contactColumns: ColumnDef<ContactSummary>[] = [
  selectColumn<ContactSummary>((contact) => contact.displayName || '(no name)'),
  contactColumn.accessor('displayName', { header: 'Name', cell: ({ getValue }) => <Text size="sm" style={wrap}>{getValue() || '(no name)'}</Text> }),
  contactColumn.accessor((contact) => contact.emails.join(', '), { id: 'emails', header: 'E-mail', cell: ({ getValue }) => <Text size="sm" style={wrap}>{getValue()}</Text> }),
  contactColumn.accessor((contact) => contact.phones.join(', '), { id: 'phones', header: 'Phone', cell: ({ getValue }) => <Text size="sm" style={nowrap}>{getValue()}</Text> }),
  contactColumn.accessor('company', { header: 'Company', cell: ({ getValue }) => <Text size="sm" style={wrap}>{getValue() ?? ''}</Text> }),
  contactColumn.accessor((contact) => contact.folder.slice(contact.folder.lastIndexOf('/') + 1), { id: 'folder', header: 'Folder', cell: ({ getValue }) => <Text size="sm">{getValue()}</Text> }),
];

interface PimLayoutProps {
  mount: Mount;
  backup: M365Backup | undefined;
  part: Exclude<ExchangePart, 'mail'>;
  folder: string;
  onFolder: (path: string) => void;
  selected: readonly string[];
  onClear: () => void;
  children: ReactNode;
}

function PimLayout({ mount, backup, part, folder, onFolder, selected, onClear, children }: PimLayoutProps) {
  const calendar = part === 'calendar';
  return (
    <Grid gap="md">
      <Grid.Col span={{ base: 12, md: 4, lg: 3 }}>
        <Paper withBorder radius="md" p="xs">
          <ScrollArea.Autosize mah="75vh" type="auto">
            <ExchangeFolderTree
              mountId={mount.id}
              enabled={mount.state === 'MOUNTED'}
              root={part}
              rootLabel={calendar ? 'All calendars' : 'All contacts'}
              label={calendar ? 'Calendars' : 'Contact folders'}
              current={folder}
              onSelect={onFolder}
            />
          </ScrollArea.Autosize>
        </Paper>
      </Grid.Col>
      <Grid.Col span={{ base: 12, md: 8, lg: 9 }}>
        <Paper withBorder radius="md" p="md" component="section" aria-label={calendar ? 'Events' : 'Contacts'}>
          <Stack gap="sm">
            <ExchangeActions mountId={mount.id} backup={backup} part={part} selected={selected} scope={folder} onClear={onClear} />
            {children}
          </Stack>
        </Paper>
      </Grid.Col>
    </Grid>
  );
}

function Pager({ total, page, onPage, what }: { total: number; page: number; onPage: (page: number) => void; what: [string, string] }) {
  return (
    <Group justify="space-between">
      <Text size="sm" c="dimmed" data-testid="item-count">{`${total} ${total === 1 ? what[0] : what[1]}`}</Text>
      {total > PAGE_SIZE && <Pagination total={Math.ceil(total / PAGE_SIZE)} value={page} onChange={onPage} size="sm" aria-label={`Pages of ${what[1]}`} />}
    </Group>
  );
}

/** The events of the backup's calendars (or of one), by words and days; series show how they repeat. */
export function CalendarList({ mount, backup }: { mount: Mount; backup: M365Backup | undefined }) {
  const [folder, setFolder] = useState('calendar');
  const [draft, setDraft] = useState({ q: '', after: '', before: '' });
  const [filter, setFilter] = useState(draft);
  const [page, setPage] = useState(1);
  const [rowSelection, setRowSelection] = useState<RowSelectionState>({});
  const query = {
    path: folder,
    ...(filter.q.trim() === '' ? {} : { q: filter.q.trim() }),
    ...(filter.after === '' ? {} : { after: dayStart(filter.after) }),
    ...(filter.before === '' ? {} : { before: dayEnd(filter.before) }),
    offset: (page - 1) * PAGE_SIZE,
    limit: PAGE_SIZE,
  };
  const events = useEventListQuery(mount.id, query, mount.state === 'MOUNTED');
  const rows = useMemo(() => events.data?.events ?? [], [events.data]);
  const table = useReactTable({ data: rows, columns: eventColumns, getCoreRowModel: getCoreRowModel(), getRowId: (event) => event.path, state: { rowSelection }, onRowSelectionChange: setRowSelection });
  const restart = () => {
    setPage(1);
    setRowSelection({});
  };
  return (
    <PimLayout
      mount={mount}
      backup={backup}
      part="calendar"
      folder={folder}
      onFolder={(path) => {
        setFolder(path);
        restart();
      }}
      selected={table.getSelectedRowModel().rows.map((row) => row.original.path)}
      onClear={() => setRowSelection({})}
    >
      <form
        role="search"
        aria-label="Search events"
        onSubmit={(event) => {
          event.preventDefault();
          setFilter(draft);
          restart();
        }}
      >
        <Group gap="xs" align="flex-end" wrap="wrap">
          <TextInput style={{ flex: 1, minWidth: 220 }} label="Search" placeholder="Subject, location or organizer" leftSection={<IconSearch size={16} aria-hidden />} value={draft.q} onChange={(event) => setDraft({ ...draft, q: event.currentTarget.value })} />
          <TextInput label="From" type="date" value={draft.after} max={draft.before || undefined} onChange={(event) => setDraft({ ...draft, after: event.currentTarget.value })} w={160} />
          <TextInput label="To" type="date" value={draft.before} min={draft.after || undefined} onChange={(event) => setDraft({ ...draft, before: event.currentTarget.value })} w={160} />
          <Button type="submit">Search</Button>
        </Group>
      </form>
      {events.isError && <BrowseErrorAlert error={events.error} path={folder} />}
      {events.data === undefined && events.isPending && <Skeleton h={200} radius="md" aria-label="Loading the events" />}
      {events.data !== undefined && rows.length === 0 && (
        <Group gap="xs" c="dimmed" p="md">
          <IconCalendarOff size={18} aria-hidden />
          <Text size="sm" c="dimmed">
            No event here matches.
          </Text>
        </Group>
      )}
      {rows.length > 0 && (
        <div aria-busy={events.isFetching}>
          <DataTable table={table} label="Events" minWidth={900} />
        </div>
      )}
      {events.data !== undefined && (
        <Pager
          total={events.data.total}
          page={page}
          onPage={(next) => {
            setPage(next);
            setRowSelection({});
          }}
          what={['event', 'events']}
        />
      )}
    </PimLayout>
  );
}

/** The contacts of the backup (or of one folder), found by name, e-mail, phone or company. */
export function ContactList({ mount, backup }: { mount: Mount; backup: M365Backup | undefined }) {
  const [folder, setFolder] = useState('contacts');
  const [draft, setDraft] = useState('');
  const [q, setQ] = useState('');
  const [page, setPage] = useState(1);
  const [rowSelection, setRowSelection] = useState<RowSelectionState>({});
  const query = { path: folder, ...(q === '' ? {} : { q }), offset: (page - 1) * PAGE_SIZE, limit: PAGE_SIZE };
  const contacts = useContactListQuery(mount.id, query, mount.state === 'MOUNTED');
  const rows = useMemo(() => contacts.data?.contacts ?? [], [contacts.data]);
  const table = useReactTable({ data: rows, columns: contactColumns, getCoreRowModel: getCoreRowModel(), getRowId: (contact) => contact.path, state: { rowSelection }, onRowSelectionChange: setRowSelection });
  const restart = () => {
    setPage(1);
    setRowSelection({});
  };
  return (
    <PimLayout
      mount={mount}
      backup={backup}
      part="contacts"
      folder={folder}
      onFolder={(path) => {
        setFolder(path);
        restart();
      }}
      selected={table.getSelectedRowModel().rows.map((row) => row.original.path)}
      onClear={() => setRowSelection({})}
    >
      <form
        role="search"
        aria-label="Search contacts"
        onSubmit={(event) => {
          event.preventDefault();
          setQ(draft.trim());
          restart();
        }}
      >
        <Group gap="xs" wrap="nowrap">
          <TextInput style={{ flex: 1 }} aria-label="Search contacts" placeholder="Name, e-mail, phone or company" leftSection={<IconSearch size={16} aria-hidden />} value={draft} onChange={(event) => setDraft(event.currentTarget.value)} />
          <Button type="submit">Search</Button>
        </Group>
      </form>
      {contacts.isError && <BrowseErrorAlert error={contacts.error} path={folder} />}
      {contacts.data === undefined && contacts.isPending && <Skeleton h={200} radius="md" aria-label="Loading the contacts" />}
      {contacts.data !== undefined && rows.length === 0 && (
        <Group gap="xs" c="dimmed" p="md">
          <IconUserOff size={18} aria-hidden />
          <Text size="sm" c="dimmed">
            No contact here matches.
          </Text>
        </Group>
      )}
      {rows.length > 0 && (
        <div aria-busy={contacts.isFetching}>
          <DataTable table={table} label="Contacts" minWidth={800} />
        </div>
      )}
      {contacts.data !== undefined && (
        <Pager
          total={contacts.data.total}
          page={page}
          onPage={(next) => {
            setPage(next);
            setRowSelection({});
          }}
          what={['contact', 'contacts']}
        />
      )}
    </PimLayout>
  );
}
