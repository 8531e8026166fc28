import type { Vm } from '@common/api/index.js';
import { Switch, Table, Text, Tooltip } from '@mantine/core';
import { useUpdateVmExclusionsMutation } from '../../api/vms.queries.js';
import { useSession } from '../../auth/session-context.js';
import { PathText } from '../../components/path-text.js';
import { formatBytes } from '../../utils/format.js';

/**
 * The VM's disks as its host last reported them. Operators exclude a disk from backups (a
 * scratch or swap disk) with its switch; the change is saved at once.
 */
export function VmDisksTable({ vm }: { vm: Vm }) {
  const { canChange } = useSession();
  const update = useUpdateVmExclusionsMutation();
  const included = vm.disks.filter((disk) => !disk.excluded).length;

  const toggle = (target: string, exclude: boolean) => {
    const excluded = new Set(vm.disks.filter((disk) => disk.excluded).map((disk) => disk.target));
    if (exclude) excluded.add(target);
    else excluded.delete(target);
    update.mutate({ vm, excludedDisks: [...excluded].sort() });
  };

  if (vm.disks.length === 0) {
    return (
      <Text size="sm" c="dimmed">
        The host reports no disk for this VM.
      </Text>
    );
  }

  return (
    <Table.ScrollContainer minWidth={760}>
      <Table striped verticalSpacing="sm" aria-label={`Disks of ${vm.name}`}>
        <Table.Thead>
          <Table.Tr>
            <Table.Th scope="col">Disk</Table.Th>
            <Table.Th scope="col">Path</Table.Th>
            <Table.Th scope="col">Format</Table.Th>
            <Table.Th scope="col">Virtual size</Table.Th>
            <Table.Th scope="col">Allocated</Table.Th>
            <Table.Th scope="col">Exclude from backups</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {vm.disks.map((disk) => {
            // The last disk backed up cannot be excluded too: a backup of nothing is not a backup.
            const lastIncluded = !disk.excluded && included === 1;
            const control = (
              <Switch
                aria-label="Exclude from backups"
                checked={disk.excluded}
                disabled={!canChange || lastIncluded}
                onChange={(event) => toggle(disk.target, event.currentTarget.checked)}
                data-disk={disk.target}
              />
            );
            return (
              <Table.Tr key={disk.target} data-disk={disk.target}>
                <Table.Td>
                  <Text size="sm" fw={500} ff="monospace">
                    {disk.target}
                  </Text>
                </Table.Td>
                <Table.Td>
                  <Text size="sm" ff="monospace" c={disk.path === null ? 'dimmed' : undefined}>
                    {disk.path === null ? '—' : <PathText path={disk.path} />}
                  </Text>
                </Table.Td>
                <Table.Td>{disk.format ?? '—'}</Table.Td>
                <Table.Td style={{ whiteSpace: 'nowrap' }}>{formatBytes(disk.virtualBytes)}</Table.Td>
                <Table.Td style={{ whiteSpace: 'nowrap' }}>{disk.allocatedBytes === null ? '—' : formatBytes(disk.allocatedBytes)}</Table.Td>
                <Table.Td>
                  {lastIncluded && canChange ? (
                    <Tooltip label="At least one disk must be backed up">
                      <span style={{ display: 'inline-block' }}>{control}</span>
                    </Tooltip>
                  ) : (
                    control
                  )}
                </Table.Td>
              </Table.Tr>
            );
          })}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}
