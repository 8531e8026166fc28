import { Paper, Skeleton, Table } from '@mantine/core';
import type { ReactNode } from 'react';
import { useStatusQuery } from '../../api/health.queries.js';
import { ApiDocsLink } from '../../components/api-docs-link.js';
import { FingerprintValue } from '../../components/fingerprint-value.js';
import { PathText } from '../../components/path-text.js';
import { QueryErrorAlert } from '../../components/query-error-alert.js';
import { formatDateTime } from '../../utils/format.js';

export function ServerInfoPanel() {
  const status = useStatusQuery();
  if (status.isPending) return <Skeleton h={220} radius="md" />;
  if (status.isError) {
    return <QueryErrorAlert title="Could not load the server details" error={status.error} onRetry={() => void status.refetch()} />;
  }
  const { data } = status;
  const rows: Array<[string, ReactNode]> = [
    ['Version', data.version],
    ['Catalog', `${data.catalog.engine} ${data.catalog.version} (${data.catalog.mode})`],
    ['TLS certificate fingerprint', <FingerprintValue key="fp" fingerprint={data.tlsFingerprint} />],
    ['Data directory', <PathText key="dir" path={data.dataDir} code />],
    ['Started', formatDateTime(data.startedAt)],
  ];

  return (
    <Paper withBorder radius="md" p="md">
      <Table variant="vertical" layout="fixed" withRowBorders aria-label="Server details">
        <Table.Tbody>
          {rows.map(([label, value]) => (
            <Table.Tr key={label}>
              <Table.Th w={240}>{label}</Table.Th>
              <Table.Td>{value}</Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      <ApiDocsLink mt="md" />
    </Paper>
  );
}
