import type { M365Backup, Mount } from '@common/api/index.js';
import { Anchor, Button, Group, Table, Text } from '@mantine/core';
import { IconCloud, IconRestore } from '@tabler/icons-react';
import { useState } from 'react';
import { Link } from 'react-router-dom';
import { useSession } from '../../auth/session-context.js';
import { formatBytes } from '../../utils/format.js';
import { NO_SHRINK } from '../../utils/styles.js';
import { exchangePartOf, exchangePartsOf } from '../../utils/exchange-format.js';
import { ExchangeRestoreModal, selectionWords } from '../exchange/exchange-restore-modal.js';
import { M365RestoreModal } from '../m365/m365-restore-modal.js';
import { explorerSearch } from './explorer-path.js';

/** What a user's Exchange parts are, beside their folder's name. */
const PART_WORDS: Record<string, string> = { mail: 'Mailbox', calendar: 'Calendars', contacts: 'Contacts' };

/**
 * The root of a Microsoft 365 backup's mount: one folder per drive (a user's OneDrive, "drive";
 * a site's libraries by name), with what the backup holds of each and a restore of all of it.
 */
export function DriveTable({ mount, backup }: { mount: Mount; backup: M365Backup | undefined }) {
  const { canChange } = useSession();
  const [restoring, setRestoring] = useState<string | null>(null);
  const exchange: readonly string[] = exchangePartsOf(backup);
  const restoringPart = restoring === null || !exchange.includes(restoring) ? null : exchangePartOf(restoring);
  const drives = backup?.parts ?? mount.filesystems.map((filesystem) => ({ name: filesystem.name, files: null, folders: null, bytes: filesystem.size }));
  if (drives.length === 0) {
    return (
      <Text size="sm" c="dimmed" p="md">
        This backup holds no drive.
      </Text>
    );
  }
  return (
    <>
      <Table.ScrollContainer minWidth={560}>
        <Table striped highlightOnHover verticalSpacing="sm" aria-label="Drives">
          <Table.Thead>
            <Table.Tr>
              <Table.Th scope="col">Drive</Table.Th>
              <Table.Th scope="col">Files</Table.Th>
              <Table.Th scope="col">Folders</Table.Th>
              <Table.Th scope="col">Size</Table.Th>
              {canChange && backup !== undefined && <Table.Th scope="col" aria-label="Actions" />}
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {drives.map((drive) => (
              <Table.Tr key={drive.name}>
                <Table.Td>
                  <Group gap={6} wrap="nowrap">
                    <IconCloud size={16} aria-hidden />
                    {mount.state === 'MOUNTED' ? (
                      <Anchor component={Link} to={{ search: explorerSearch(drive.name) }} size="sm" fw={500}>
                        {drive.name}
                      </Anchor>
                    ) : (
                      <Text size="sm">{drive.name}</Text>
                    )}
                    {backup?.subject.kind === 'user' && (drive.name === 'drive' || exchange.includes(drive.name)) && (
                      <Text size="xs" c="dimmed">
                        {PART_WORDS[drive.name] ?? 'OneDrive'}
                      </Text>
                    )}
                  </Group>
                </Table.Td>
                <Table.Td>
                  <Text size="sm">{drive.files?.toLocaleString() ?? '—'}</Text>
                </Table.Td>
                <Table.Td>
                  <Text size="sm">{drive.folders?.toLocaleString() ?? '—'}</Text>
                </Table.Td>
                <Table.Td>
                  <Text size="sm" style={{ whiteSpace: 'nowrap' }}>
                    {formatBytes(drive.bytes)}
                  </Text>
                </Table.Td>
                {canChange && backup !== undefined && (
                  <Table.Td>
                    <Group justify="flex-end">
                      <Button
                        size="xs"
                        variant="default"
                        leftSection={<IconRestore size={14} aria-hidden />}
                        onClick={() => setRestoring(drive.name)}
                        aria-label={`Restore all of ${drive.name} to Microsoft 365`}
                        style={NO_SHRINK}
                      >
                        Restore to Microsoft 365…
                      </Button>
                    </Group>
                  </Table.Td>
                )}
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Table.ScrollContainer>
      {restoring !== null && backup !== undefined && restoringPart === null && <M365RestoreModal backup={backup} paths={[restoring]} onClose={() => setRestoring(null)} />}
      {restoring !== null && backup !== undefined && restoringPart !== null && (
        <ExchangeRestoreModal backup={backup} part={restoringPart} paths={[restoring]} what={selectionWords(restoringPart, [restoring], false)} onClose={() => setRestoring(null)} />
      )}
    </>
  );
}
