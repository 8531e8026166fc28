import type { AuditEntry } from '@common/api/index.js';
import { Badge, Text, Tooltip } from '@mantine/core';
import { createColumnHelper } from '@tanstack/react-table';
import { formatDateTime, formatDetails } from '../../utils/format.js';
import { NO_SHRINK } from '../../utils/styles.js';

const column = createColumnHelper<AuditEntry>();

export const auditColumns = [
  column.accessor('at', {
    header: 'Time',
    cell: (info) => (
      <Text size="sm" style={{ whiteSpace: 'nowrap' }}>
        {formatDateTime(info.getValue())}
      </Text>
    ),
  }),
  column.accessor('actor', { header: 'Actor' }),
  column.accessor('action', {
    header: 'Action',
    cell: (info) => (
      <Badge variant="light" color="gray" tt="none" style={NO_SHRINK}>
        {info.getValue()}
      </Badge>
    ),
  }),
  column.accessor('target', { header: 'Target', cell: (info) => info.getValue() ?? '—' }),
  column.display({
    id: 'details',
    header: 'Details',
    cell: ({ row }) => <AuditDetails entry={row.original} />,
  }),
];

function AuditDetails({ entry }: { entry: AuditEntry }) {
  const details = formatDetails(entry.details);
  const text = [details, entry.ip === null ? '' : `from ${entry.ip}`].filter((part) => part !== '').join(' · ');
  if (text === '') return <Text size="sm" c="dimmed">—</Text>;
  // Long JSON would stretch the table; the full text stays one hover away.
  return (
    <Tooltip label={text} multiline maw={480} openDelay={300}>
      <Text size="sm" c="dimmed" lineClamp={1} maw={360}>
        {text}
      </Text>
    </Tooltip>
  );
}
