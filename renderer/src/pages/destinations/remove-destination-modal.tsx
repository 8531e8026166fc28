import type { Destination } from '@common/api/index.js';
import { List, Text } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { useState } from 'react';
import { isApiError } from '../../api/api-error.js';
import { useRemoveDestinationMutation } from '../../api/destinations.queries.js';
import { ConfirmModal } from '../../components/confirm-modal.js';
import { PathText } from '../../components/path-text.js';

/**
 * Removal only forgets the destination; the repository stays on disk. With backups listed in
 * the catalog the server refuses (409) unless forced, so the dialog says what forcing means.
 */
export function RemoveDestinationModal({ destination, onClose, onRemoved }: { destination: Destination; onClose: () => void; onRemoved?: () => void }) {
  const remove = useRemoveDestinationMutation();
  // The list may be older than the catalog: a 409 means there are backups after all.
  const [refused, setRefused] = useState(false);
  const hasBackups = destination.backups > 0 || refused;

  const confirm = async () => {
    try {
      await remove.mutateAsync({ id: destination.id, force: hasBackups });
    } catch (error) {
      if (isApiError(error, 409)) setRefused(true);
      throw error;
    }
    notifications.show({ color: 'green', message: `Destination ${destination.name} removed from the catalog; its data stays at ${destination.path}.` });
    onClose();
    onRemoved?.();
  };

  const backupsText =
    destination.backups > 0 ? `${destination.backups} ${destination.backups === 1 ? 'backup' : 'backups'}` : 'backups';

  return (
    <ConfirmModal
      title={`Remove destination ${destination.name}?`}
      size="lg"
      confirmLabel={hasBackups ? 'Remove destination and forget its backups' : 'Remove destination'}
      cancelLabel="Keep destination"
      onConfirm={confirm}
      onClose={onClose}
    >
      <List size="sm" spacing={4}>
        <List.Item>
          Only this server forgets the destination. The repository at{' '}
          <b>
            <PathText path={destination.path} />
          </b>{' '}
          on {destination.node}, with every backup in it, stays exactly as it is; nothing is deleted.
        </List.Item>
        <List.Item>To use it again, add it again with the same path (and password), then re-import its backups.</List.Item>
        {hasBackups && (
          <List.Item>
            <Text span size="sm" fw={600}>
              The catalog lists {backupsText} on it.
            </Text>{' '}
            They are forgotten too: they leave the Backups page and cannot be restored from this server until the destination is added and
            re-imported.
          </List.Item>
        )}
      </List>
    </ConfirmModal>
  );
}
