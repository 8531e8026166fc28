import type { Backup } from '@common/api/index.js';
import { ActionIcon, Button, Group, Menu, Stack, Text, Tooltip } from '@mantine/core';
import { IconDots, IconFolderSearch, IconNetwork } from '@tabler/icons-react';
import { useState } from 'react';
import { useNavigate } from 'react-router-dom';
import { errorMessage } from '../../api/api-error.js';
import { useStartMountMutation } from '../../api/mounts.queries.js';
import { NO_SHRINK } from '../../utils/styles.js';
import { IscsiExportModal } from './iscsi-export-modal.js';

const UNMOUNTABLE: Record<Exclude<Backup['status'], 'available'>, string> = {
  damaged: 'This backup is damaged: verify found chunks that cannot be read, so its files cannot be browsed.',
  missing: 'This backup is missing from its destination, so there is nothing to browse.',
  removed: 'This backup was pruned from its destination.',
};

interface BackupMountActionsProps {
  backup: Backup;
  /** The VM's disk names as the inventory knows them, offered for the iSCSI export. */
  diskHints?: readonly string[];
}

/**
 * "Browse files" (opens a mount, then its explorer) and "Export over iSCSI…" for one backup.
 * Only an available backup can be opened; the others say why on hover or focus.
 */
export function BackupMountActions({ backup, diskHints = [] }: BackupMountActionsProps) {
  const navigate = useNavigate();
  const start = useStartMountMutation();
  const [iscsi, setIscsi] = useState(false);
  const reason = backup.status === 'available' ? null : UNMOUNTABLE[backup.status];

  const browse = () => {
    if (reason !== null) return;
    start.mutate(backup.id, { onSuccess: (mount) => void navigate(`/mounts/${mount.id}`) });
  };

  const button = (
    <Button
      size="xs"
      variant="default"
      leftSection={<IconFolderSearch size={14} aria-hidden />}
      loading={start.isPending}
      // data-disabled, not disabled: a disabled button gets no hover or focus, so no tooltip.
      data-disabled={reason !== null || undefined}
      aria-disabled={reason !== null || undefined}
      onClick={browse}
      style={NO_SHRINK}
    >
      Browse files
    </Button>
  );

  return (
    <Stack gap={4} align="flex-end">
      <Group gap={4} wrap="nowrap">
        {reason === null ? button : <Tooltip label={reason} multiline maw={320} withArrow>{button}</Tooltip>}
        <Menu position="bottom-end" withinPortal>
          <Menu.Target>
            <Tooltip label="More actions">
              <ActionIcon variant="subtle" color="gray" aria-label={`More actions for the backup of ${new Date(backup.createdAt).toLocaleString()}`}>
                <IconDots size={16} aria-hidden />
              </ActionIcon>
            </Tooltip>
          </Menu.Target>
          <Menu.Dropdown>
            <Menu.Item leftSection={<IconNetwork size={14} aria-hidden />} disabled={reason !== null} onClick={() => setIscsi(true)}>
              Export over iSCSI…
            </Menu.Item>
          </Menu.Dropdown>
        </Menu>
      </Group>
      {start.isError && (
        <Text size="xs" c="red" role="alert" maw={280} ta="right">
          {errorMessage(start.error)}
        </Text>
      )}
      {iscsi && <IscsiExportModal backup={backup} diskHints={diskHints} onClose={() => setIscsi(false)} />}
    </Stack>
  );
}
