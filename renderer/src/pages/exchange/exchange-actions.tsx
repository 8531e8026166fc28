import type { M365Backup } from '@common/api/index.js';
import { Button, Group, Menu, Text } from '@mantine/core';
import { IconChevronDown, IconCloudUpload, IconDownload, IconX } from '@tabler/icons-react';
import { useState } from 'react';
import { useSession } from '../../auth/session-context.js';
import { exportFormatsFor, exportUrl, type ExchangePart } from '../../utils/exchange-format.js';
import { ExchangeRestoreModal, selectionWords } from './exchange-restore-modal.js';

interface ExchangeActionsProps {
  mountId: number;
  backup: M365Backup | undefined;
  part: ExchangePart;
  /** The rows selected (messages, events, contacts). */
  selected: readonly string[];
  /** What the actions take when nothing is selected: the folder shown ("mail/Inbox"), or the part itself; null: nothing (search results are taken by selecting them). */
  scope: string | null;
  onClear: () => void;
}

/**
 * Restore… and Export for the rows selected, or for the folder shown when none is. Exports are
 * plain links, so the browser streams them to disk. Viewers see neither: the server refuses
 * them any content of a backup.
 */
export function ExchangeActions({ mountId, backup, part, selected, scope, onClear }: ExchangeActionsProps) {
  const { canChange } = useSession();
  const [restoring, setRestoring] = useState(false);
  const items = selected.length > 0;
  const paths = items ? selected : scope === null ? [] : [scope];
  const what = selectionWords(part, paths, items);
  const formats = exportFormatsFor(part, paths);
  const none = paths.length === 0;

  return (
    <Group justify="space-between" wrap="wrap" gap="xs" data-testid="exchange-actions">
      <Text size="sm" c={items ? undefined : 'dimmed'} data-testid="selection-count">
        {items ? `${selected.length} selected` : none ? 'Select what was found to restore or export it.' : `Nothing selected: the actions take ${what}.`}
      </Text>
      {canChange && (
        <Group gap="xs">
          {items && (
            <Button variant="subtle" size="xs" leftSection={<IconX size={14} aria-hidden />} onClick={onClear}>
              Clear selection
            </Button>
          )}
          <Menu position="bottom-end" withinPortal>
            <Menu.Target>
              <Button size="xs" variant="default" leftSection={<IconDownload size={14} aria-hidden />} rightSection={<IconChevronDown size={14} aria-hidden />} title={none ? undefined : `Export ${what}`} disabled={none}>
                Export
              </Button>
            </Menu.Target>
            <Menu.Dropdown>
              <Menu.Label>{`Export ${what} as`}</Menu.Label>
              {formats.map(({ format, label }) => (
                <Menu.Item key={format} component="a" href={exportUrl(mountId, format, paths)} download>
                  {label}
                </Menu.Item>
              ))}
            </Menu.Dropdown>
          </Menu>
          <Button size="xs" leftSection={<IconCloudUpload size={14} aria-hidden />} disabled={backup === undefined || none} onClick={() => setRestoring(true)}>
            Restore…
          </Button>
        </Group>
      )}
      {restoring && backup !== undefined && <ExchangeRestoreModal backup={backup} part={part} paths={paths} what={what} onClose={() => setRestoring(false)} />}
    </Group>
  );
}
