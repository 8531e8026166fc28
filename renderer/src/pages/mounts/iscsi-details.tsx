import type { IscsiInfo } from '@common/api/index.js';
import { Paper, Table, Text, Title } from '@mantine/core';
import { CopyableCode } from '../../components/copyable-code.js';

/** An iSCSI export's connection details; the CHAP password was shown once, when it started. */
export function IscsiDetails({ iscsi }: { iscsi: IscsiInfo }) {
  const initiators = [...iscsi.initiatorNames, ...iscsi.initiatorAddresses];
  return (
    <Paper withBorder radius="md" p="md" component="section" aria-labelledby="iscsi-heading">
      <Title order={2} size="h4" mb="sm" id="iscsi-heading">
        iSCSI export
      </Title>
      <Table variant="vertical" layout="fixed" withTableBorder>
        <Table.Tbody>
          <Row label="Disk" value={iscsi.disk} />
          <Row label="Portal" value={iscsi.portal} />
          <Row label="Target" value={iscsi.target} />
          <Row label="LUN" value={String(iscsi.lun)} />
          <Row label="CHAP user" value={iscsi.chapUser} />
          <Table.Tr>
            <Table.Th w={160}>Allowed initiators</Table.Th>
            <Table.Td>
              <Text size="sm" ff="monospace" style={{ overflowWrap: 'anywhere' }}>
                {initiators.join(', ')}
              </Text>
            </Table.Td>
          </Table.Tr>
        </Table.Tbody>
      </Table>
      <Text size="xs" c="dimmed" mt="xs">
        The CHAP password was shown once, when the export started; the server does not keep it. Lost it? Close this export and
        start a new one.
      </Text>
    </Paper>
  );
}

function Row({ label, value }: { label: string; value: string }) {
  return (
    <Table.Tr>
      <Table.Th w={160}>{label}</Table.Th>
      <Table.Td>
        <CopyableCode value={value} copyLabel={`Copy ${label.toLowerCase()}`} />
      </Table.Td>
    </Table.Tr>
  );
}
