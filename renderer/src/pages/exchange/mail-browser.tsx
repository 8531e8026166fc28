import type { M365Backup, Mount } from '@common/api/index.js';
import { MAIL_SORT_KEYS, type MailMessageSummary, type MailSearchQuery } from '@common/api/m365-mail.js';
import { Grid, Group, Pagination, Paper, ScrollArea, Skeleton, Stack, Text } from '@mantine/core';
import { IconMailOff } from '@tabler/icons-react';
import { getCoreRowModel, useReactTable, type RowSelectionState, type SortingState } from '@tanstack/react-table';
import { useMemo, useState } from 'react';
import { useMailSearchQuery } from '../../api/exchange.queries.js';
import { DataTable } from '../../components/data-table.js';
import { mailFolderLabel, mailSearchCriteria, type MailSearchForm } from '../../utils/exchange-format.js';
import { BrowseErrorAlert } from '../mounts/browse-error.js';
import { ExchangeActions } from './exchange-actions.js';
import { ExchangeFolderTree } from './exchange-folder-tree.js';
import { mailColumns } from './mail-columns.js';
import { MailPreview } from './mail-preview.js';
import { MailSearchBar } from './mail-search-bar.js';

const PAGE_SIZE = 50;
type MailSortKey = (typeof MAIL_SORT_KEYS)[number];
const isSortKey = (key: string | undefined): key is MailSortKey => (MAIL_SORT_KEYS as readonly string[]).includes(key ?? '');

/**
 * The mailbox of a backup: its folders on the left; on the right a search across every folder,
 * the messages of the folder (or the search) a page at a time, sorted on the server, and the
 * message opened. Everything listed comes from the backup's metadata; only the message opened
 * is read.
 */
export function MailBrowser({ mount, backup }: { mount: Mount; backup: M365Backup | undefined }) {
  const [folder, setFolder] = useState('mail');
  const [search, setSearch] = useState<MailSearchForm | null>(null);
  const [sorting, setSorting] = useState<SortingState>([{ id: 'date', desc: true }]);
  const [page, setPage] = useState(1);
  const [rowSelection, setRowSelection] = useState<RowSelectionState>({});
  const [open, setOpen] = useState<string | null>(null);

  const restart = () => {
    setPage(1);
    setRowSelection({});
  };
  const sort = sorting[0];
  const criteria = search === null ? null : mailSearchCriteria(search);
  const query: MailSearchQuery = {
    // A search reaches across the whole mailbox (the server searches "mail" and every folder below it).
    path: criteria === null ? folder : 'mail',
    ...(criteria !== null && 'criteria' in criteria ? criteria.criteria : {}),
    sort: isSortKey(sort?.id) ? sort.id : 'date',
    order: sort?.desc === false ? 'asc' : 'desc',
    offset: (page - 1) * PAGE_SIZE,
    limit: PAGE_SIZE,
  };
  const messages = useMailSearchQuery(mount.id, query, mount.state === 'MOUNTED');
  const rows = useMemo(() => messages.data?.messages ?? [], [messages.data]);
  const columns = useMemo(() => mailColumns((message: MailMessageSummary) => setOpen(message.path)), []);
  const table = useReactTable({
    data: rows,
    columns,
    getCoreRowModel: getCoreRowModel(),
    getRowId: (message) => message.path,
    manualSorting: true,
    manualPagination: true,
    enableSortingRemoval: false,
    enableMultiSort: false,
    state: { sorting, rowSelection },
    onSortingChange: (updater) => {
      setSorting(updater);
      restart();
    },
    onRowSelectionChange: setRowSelection,
  });
  const selected = table.getSelectedRowModel().rows.map((row) => row.original.path);
  const total = messages.data?.total ?? 0;
  const where = search === null ? mailFolderLabel(folder) : 'every folder';

  return (
    <Grid gap="md">
      <Grid.Col span={{ base: 12, md: 4, lg: 3 }}>
        <Paper withBorder radius="md" p="xs">
          <ScrollArea.Autosize mah="75vh" type="auto">
            <ExchangeFolderTree
              mountId={mount.id}
              enabled={mount.state === 'MOUNTED'}
              root="mail"
              rootLabel="All mail"
              label="Mail folders"
              current={search === null ? folder : ''}
              onSelect={(path) => {
                setFolder(path);
                setSearch(null);
                restart();
              }}
            />
          </ScrollArea.Autosize>
        </Paper>
      </Grid.Col>
      <Grid.Col span={{ base: 12, md: 8, lg: 9 }}>
        <Stack gap="md">
          <Paper withBorder radius="md" p="md" component="section" aria-label="Messages">
            <Stack gap="sm">
              <MailSearchBar
                // A new search bar per folder: choosing a folder clears the search.
                key={search === null ? `folder:${folder}` : 'search'}
                active={search}
                onSearch={(form) => {
                  setSearch(form);
                  restart();
                }}
              />
              <ExchangeActions mountId={mount.id} backup={backup} part="mail" selected={selected} scope={search === null ? folder : null} onClear={() => setRowSelection({})} />
              {messages.isError && <BrowseErrorAlert error={messages.error} path={query.path} />}
              {messages.data === undefined && messages.isPending && <Skeleton h={240} radius="md" aria-label="Loading the messages" />}
              {messages.data !== undefined && rows.length === 0 && (
                <Group gap="xs" c="dimmed" p="md">
                  <IconMailOff size={18} aria-hidden />
                  <Text size="sm" c="dimmed">
                    {search === null ? 'No message in this folder.' : 'No message matches: every folder of the backup was searched.'}
                  </Text>
                </Group>
              )}
              {rows.length > 0 && (
                <div aria-busy={messages.isFetching} data-testid="mail-table">
                  <DataTable table={table} label={search === null ? `Messages in ${where}` : 'Messages found'} minWidth={780} onRowClick={(message) => setOpen(message.path)} />
                </div>
              )}
              {messages.data !== undefined && (
                <Group justify="space-between">
                  <Text size="sm" c="dimmed" data-testid="mail-count">
                    {`${total} ${total === 1 ? 'message' : 'messages'} ${search === null ? `in ${where}` : 'found in every folder'}`}
                  </Text>
                  {total > PAGE_SIZE && (
                    <Pagination
                      total={Math.ceil(total / PAGE_SIZE)}
                      value={page}
                      onChange={(next) => {
                        setPage(next);
                        setRowSelection({});
                      }}
                      size="sm"
                      aria-label="Pages of messages"
                    />
                  )}
                </Group>
              )}
            </Stack>
          </Paper>
          {open !== null && <MailPreview key={open} mountId={mount.id} path={open} onClose={() => setOpen(null)} />}
        </Stack>
      </Grid.Col>
    </Grid>
  );
}
