import type { Backup } from '@common/api/index.js';
import { ActionIcon, Button, Group, Menu, Text, Tooltip } from '@mantine/core';
import { IconCopy, IconNote, IconRestore, IconSettings, IconShieldLock, IconShieldOff, IconTrash } from '@tabler/icons-react';
import { useState } from 'react';
import { useNavigate } from 'react-router-dom';
import { errorMessage } from '../../api/api-error.js';
import { useUpdateBackupMutation } from '../../api/backups.queries.js';
import { useSession } from '../../auth/session-context.js';
import { useInventoryVm } from '../../hooks/use-inventory-vm.js';
import { NO_SHRINK } from '../../utils/styles.js';
import { BackupMountActions } from '../mounts/backup-mount-actions.js';
import { backupLabel } from './backup-label.js';
import { CopyBackupModal } from './backup-copies.js';
import { BackupNotesModal } from './backup-notes-modal.js';
import { DeleteBackupModal } from './delete-backup-modal.js';

/** Restore, Browse files (and iSCSI), and Manage: protect, notes, delete. Viewers see none of them. */
export function BackupActions({ backup }: { backup: Backup }) {
  const { canChange } = useSession();
  const navigate = useNavigate();
  const vm = useInventoryVm(backup.vm);
  const update = useUpdateBackupMutation();
  const [dialog, setDialog] = useState<'notes' | 'delete' | 'copy' | null>(null);
  if (!canChange) return null;
  const label = backupLabel(backup);
  const gone = backup.status === 'removed';

  return (
    <Group gap="xs" wrap="nowrap" justify="flex-end" align="flex-start">
      {vm !== undefined && (backup.status === 'available' || (backup.copies ?? []).some((c) => c.state === 'ok')) && (
        <Button size="xs" variant="default" leftSection={<IconRestore size={14} aria-hidden />} onClick={() => void navigate(`/vms/${vm.id}?restore=${backup.id}`)} style={NO_SHRINK}>
          Restore
        </Button>
      )}
      <BackupMountActions backup={backup} diskHints={vm?.disks.map((disk) => disk.target)} />
      <Menu position="bottom-end" withinPortal>
        <Menu.Target>
          <Tooltip label="Protect, notes, copy, delete">
            <ActionIcon variant="subtle" color="gray" aria-label={`Manage ${label}`} loading={update.isPending}>
              <IconSettings size={16} aria-hidden />
            </ActionIcon>
          </Tooltip>
        </Menu.Target>
        <Menu.Dropdown>
          <Menu.Item
            leftSection={backup.protected ? <IconShieldOff size={14} aria-hidden /> : <IconShieldLock size={14} aria-hidden />}
            disabled={gone}
            onClick={() => update.mutate({ id: backup.id, change: { protected: !backup.protected } })}
          >
            {backup.protected ? 'Unprotect' : 'Protect from retention'}
          </Menu.Item>
          <Menu.Item leftSection={<IconNote size={14} aria-hidden />} onClick={() => setDialog('notes')}>
            {backup.notes === null ? 'Add notes…' : 'Edit notes…'}
          </Menu.Item>
          <Menu.Item leftSection={<IconCopy size={14} aria-hidden />} disabled={backup.status !== 'available'} onClick={() => setDialog('copy')}>
            Copy to…
          </Menu.Item>
          <Menu.Divider />
          <Menu.Item color="red" leftSection={<IconTrash size={14} aria-hidden />} disabled={gone && !(backup.copies ?? []).some((c) => c.state === 'ok')} onClick={() => setDialog('delete')}>
            Delete…
          </Menu.Item>
        </Menu.Dropdown>
      </Menu>
      {update.isError && (
        <Text size="xs" c="red" role="alert" maw={240}>
          {errorMessage(update.error)}
        </Text>
      )}
      {dialog === 'notes' && <BackupNotesModal backup={backup} onClose={() => setDialog(null)} />}
      {dialog === 'copy' && <CopyBackupModal backup={backup} onClose={() => setDialog(null)} />}
      {dialog === 'delete' && <DeleteBackupModal backup={backup} vmPolicy={vm?.policy ?? null} onClose={() => setDialog(null)} />}
    </Group>
  );
}
