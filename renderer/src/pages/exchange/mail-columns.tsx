import type { MailMessageSummary } from '@common/api/m365-mail.js';
import { Anchor, Checkbox, Group, Text, Tooltip } from '@mantine/core';
import { IconFlag, IconPaperclip } from '@tabler/icons-react';
import { createColumnHelper } from '@tanstack/react-table';
import { formatAddress, formatAddressNames, formatAddresses } from '../../utils/exchange-format.js';
import { formatBytes, formatDateTime } from '../../utils/format.js';
import { SortHeader } from './sort-header.js';

const column = createColumnHelper<MailMessageSummary>();
const nowrap = { whiteSpace: 'nowrap' } as const;
const wrap = { overflowWrap: 'anywhere', wordBreak: 'break-word' } as const;

/** Selection, attachments, from, to, subject (opens the preview), date, size; the sortable ones sort on the server. */
export function mailColumns(onOpen: (message: MailMessageSummary) => void) {
  return [
    column.display({
      id: 'select',
      header: ({ table }) => (
        <Checkbox
          aria-label="Select all on this page"
          checked={table.getIsAllPageRowsSelected()}
          indeterminate={table.getIsSomePageRowsSelected()}
          onChange={table.getToggleAllPageRowsSelectedHandler()}
        />
      ),
      cell: ({ row }) => <Checkbox aria-label={`Select ${row.original.subject || '(no subject)'}`} checked={row.getIsSelected()} onChange={row.getToggleSelectedHandler()} />,
    }),
    column.display({
      id: 'attachments',
      header: () => <IconPaperclip size={14} aria-label="Attachments" />,
      cell: ({ row }) =>
        row.original.hasAttachments ? (
          <Tooltip label={row.original.attachmentNames.join(', ') || 'Has attachments'} multiline maw={320} withArrow>
            <IconPaperclip size={16} aria-label={`Attachments: ${row.original.attachmentNames.join(', ')}`} data-testid="has-attachments" />
          </Tooltip>
        ) : null,
    }),
    column.accessor((message) => formatAddress(message.from), {
      id: 'from',
      header: ({ column: col }) => <SortHeader column={col} label="From" />,
      cell: ({ row }) => (
        <Text size="sm" style={wrap} title={formatAddress(row.original.from)} fw={row.original.isRead ? undefined : 600}>
          {row.original.from === null ? '' : row.original.from.name?.trim() || row.original.from.address}
        </Text>
      ),
    }),
    column.accessor((message) => formatAddressNames(message.to), {
      id: 'to',
      header: 'To',
      enableSorting: false,
      cell: ({ row }) => (
        <Text size="sm" style={wrap} lineClamp={2} title={formatAddresses(row.original.to)}>
          {formatAddressNames(row.original.to)}
        </Text>
      ),
    }),
    column.accessor('subject', {
      header: ({ column: col }) => <SortHeader column={col} label="Subject" />,
      cell: ({ row }) => (
        <Group gap={4} wrap="nowrap">
          {row.original.flag === 'flagged' && <IconFlag size={14} color="var(--mantine-color-red-6)" aria-label="Flagged" />}
          <Anchor component="button" type="button" size="sm" onClick={() => onOpen(row.original)} style={{ ...wrap, textAlign: 'left' }} fw={row.original.isRead ? undefined : 600}>
            {row.original.subject || '(no subject)'}
          </Anchor>
        </Group>
      ),
    }),
    column.accessor((message) => message.receivedAt ?? message.sentAt ?? '', {
      id: 'date',
      header: ({ column: col }) => <SortHeader column={col} label="Received" />,
      cell: ({ row }) => (
        <Text size="sm" style={nowrap}>
          {formatDateTime(row.original.receivedAt ?? row.original.sentAt, '—')}
        </Text>
      ),
    }),
    column.accessor('size', {
      header: ({ column: col }) => <SortHeader column={col} label="Size" />,
      cell: ({ getValue }) => (
        <Text size="sm" style={nowrap}>
          {formatBytes(getValue())}
        </Text>
      ),
    }),
  ];
}
