import type { Mount } from '@common/api/index.js';
import { Anchor, Group, Table, Text } from '@mantine/core';
import { IconDatabase, IconFolderOff } from '@tabler/icons-react';
import { Link } from 'react-router-dom';
import { formatBytes } from '../../utils/format.js';
import { explorerSearch } from './explorer-path.js';

const KIND_LABELS: Record<string, string> = { partition: 'Partition', disk: 'Whole disk', lv: 'LVM volume' };

/** The mount's root: one folder per filesystem found in the backup; the unreadable ones greyed, with why. */
export function FilesystemTable({ mount }: { mount: Mount }) {
  if (mount.filesystems.length === 0) {
    return (
      <Text size="sm" c="dimmed" p="md">
        {mount.state === 'MOUNTING' ? 'Looking for filesystems in the backup…' : 'No filesystem was found on the disks of this backup.'}
      </Text>
    );
  }
  return (
    <Table.ScrollContainer minWidth={720}>
      <Table striped highlightOnHover verticalSpacing="sm" aria-label="Filesystems">
        <Table.Thead>
          <Table.Tr>
            <Table.Th scope="col">Name</Table.Th>
            <Table.Th scope="col">Type</Table.Th>
            <Table.Th scope="col">Label</Table.Th>
            <Table.Th scope="col">Size</Table.Th>
            <Table.Th scope="col">On</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {mount.filesystems.map((filesystem) => {
            const dimmed = filesystem.readable ? undefined : 'dimmed';
            return (
              <Table.Tr key={filesystem.name} data-readable={filesystem.readable} style={filesystem.readable ? undefined : { opacity: 0.7 }}>
                <Table.Td>
                  <Group gap={6} wrap="nowrap" align="flex-start">
                    {filesystem.readable ? <IconDatabase size={16} aria-hidden /> : <IconFolderOff size={16} aria-hidden />}
                    <div>
                      {filesystem.readable && mount.state === 'MOUNTED' ? (
                        <Anchor component={Link} to={{ search: explorerSearch(filesystem.name) }} size="sm" fw={500}>
                          {filesystem.name}
                        </Anchor>
                      ) : (
                        <Text size="sm" c={dimmed}>
                          {filesystem.name}
                        </Text>
                      )}
                      {!filesystem.readable && (
                        <Text size="xs" c="dimmed" style={{ overflowWrap: 'anywhere' }}>
                          {filesystem.reason ?? 'Cannot be read'}
                        </Text>
                      )}
                    </div>
                  </Group>
                </Table.Td>
                <Table.Td>
                  <Text size="sm" c={dimmed}>
                    {filesystem.type ?? 'unknown'}
                  </Text>
                </Table.Td>
                <Table.Td>
                  <Text size="sm" c={dimmed} style={{ overflowWrap: 'anywhere' }}>
                    {filesystem.label ?? '—'}
                  </Text>
                </Table.Td>
                <Table.Td>
                  <Text size="sm" c={dimmed} style={{ whiteSpace: 'nowrap' }}>
                    {formatBytes(filesystem.size)}
                  </Text>
                </Table.Td>
                <Table.Td>
                  <Text size="sm" c={dimmed}>
                    {`${KIND_LABELS[filesystem.kind] ?? filesystem.kind} of ${filesystem.disk}`}
                  </Text>
                </Table.Td>
              </Table.Tr>
            );
          })}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}
