import type { M365Backup } from '@common/api/index.js';
import { Badge, Group, List, Stack, Text, Tooltip, VisuallyHidden } from '@mantine/core';
import { createColumnHelper } from '@tanstack/react-table';
import { BackupTypeBadge } from '../../components/backup-type-badge.js';
import { RelativeTime } from '../../components/relative-time.js';
import { formatBytes, formatDateTime } from '../../utils/format.js';
import { M365BackupActions } from './m365-backup-actions.js';

const column = createColumnHelper<M365Backup>();
const nowrap = { whiteSpace: 'nowrap' } as const;

/** Its warnings on hover (a drive that could not be read, files skipped…); none: nothing shown. */
function WarningsBadge({ warnings }: { warnings: readonly string[] }) {
  if (warnings.length === 0) return null;
  const label = `${warnings.length} ${warnings.length === 1 ? 'warning' : 'warnings'}`;
  return (
    <Tooltip
      multiline
      maw={420}
      withArrow
      label={
        <List size="xs" spacing={2}>
          {warnings.slice(0, 10).map((warning, index) => (
            <List.Item key={index}>{warning}</List.Item>
          ))}
        </List>
      }
    >
      <Badge component="span" size="sm" color="yellow" variant="light" tabIndex={0} data-testid="m365-backup-warnings" aria-label={`${label}: ${warnings.join('; ')}`}>
        {label}
      </Badge>
    </Tooltip>
  );
}

export const m365BackupColumns = [
  column.accessor((backup) => backup.subject.name, {
    id: 'subject',
    header: 'Subject',
    cell: ({ row }) => {
      const { subject, parts } = row.original;
      return (
        <Stack gap={0}>
          <Text size="sm" fw={500} style={{ overflowWrap: 'anywhere' }}>
            {subject.name}
          </Text>
          <Text size="xs" c="dimmed">
            {subject.kind === 'user' ? 'OneDrive' : `Site · ${parts.map((part) => part.name).join(', ') || 'no library'}`}
          </Text>
        </Stack>
      );
    },
  }),
  column.accessor('createdAt', {
    header: 'When',
    cell: ({ row }) => (
      <Stack gap={0}>
        <Text size="sm" style={nowrap}>
          {formatDateTime(row.original.createdAt)}
        </Text>
        <RelativeTime iso={row.original.createdAt} size="xs" />
      </Stack>
    ),
  }),
  column.accessor('kind', {
    header: 'Type',
    cell: ({ row }) => (
      <Group gap={4} wrap="nowrap">
        <BackupTypeBadge type={row.original.kind} size="xs" />
        {row.original.status === 'removed' && (
          <Badge component="span" size="xs" color="gray" variant="outline">
            Removed
          </Badge>
        )}
      </Group>
    ),
  }),
  column.accessor('items', {
    header: 'Items',
    cell: ({ row }) => (
      <Text size="sm" style={nowrap} title={`${row.original.files} files, ${row.original.items - row.original.files} folders`}>
        {`${row.original.files.toLocaleString()} files`}
      </Text>
    ),
  }),
  column.accessor('bytes', { header: 'Size', cell: (info) => <Text size="sm" style={nowrap}>{formatBytes(info.getValue())}</Text> }),
  column.accessor('storedBytes', {
    header: 'Stored',
    cell: ({ row }) => (
      <Stack gap={0}>
        <Text size="sm" style={nowrap}>
          {formatBytes(row.original.storedBytes)}
        </Text>
        <Text size="xs" c="dimmed" style={nowrap}>
          {`on ${row.original.destination}`}
        </Text>
      </Stack>
    ),
  }),
  column.accessor((backup) => backup.warnings.length, { id: 'warnings', header: 'Warnings', cell: ({ row }) => <WarningsBadge warnings={row.original.warnings} /> }),
  column.display({
    id: 'actions',
    header: () => <VisuallyHidden>Actions</VisuallyHidden>,
    cell: ({ row }) => <M365BackupActions backup={row.original} />,
  }),
];
