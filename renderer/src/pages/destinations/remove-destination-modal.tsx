import type { Destination } from '@common/api/index.js';
import { Button, Group, List, Modal, Stack, Text } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { useState } from 'react';
import { isApiError } from '../../api/api-error.js';
import { useRemoveDestinationMutation } from '../../api/destinations.queries.js';
import { FormError } from '../../components/form-error.js';

/**
 * Removal only forgets the destination; the repository stays on disk. With backups listed in
 * the catalog the server refuses (409) unless forced, so the dialog says what forcing means.
 */
export function RemoveDestinationModal({ destination, onClose, onRemoved }: { destination: Destination; onClose: () => void; onRemoved?: () => void }) {
  const remove = useRemoveDestinationMutation();
  // The list may be older than the catalog: a 409 means there are backups after all.
  const [refused, setRefused] = useState(false);
  const hasBackups = destination.backups > 0 || refused;

  const confirm = () =>
    remove.mutate(
      { id: destination.id, force: hasBackups },
      {
        onSuccess: () => {
          notifications.show({ color: 'green', message: `Destination ${destination.name} removed from the catalog; its data stays at ${destination.path}.` });
          onClose();
          onRemoved?.();
        },
        onError: (error) => {
          if (isApiError(error, 409)) setRefused(true);
        },
      },
    );

  const backupsText =
    destination.backups > 0 ? `${destination.backups} ${destination.backups === 1 ? 'backup' : 'backups'}` : 'backups';

  return (
    <Modal opened onClose={onClose} title={`Remove destination ${destination.name}?`} size="lg">
      <Stack>
        <List size="sm" spacing={4}>
          <List.Item>
            Only this server forgets the destination. The repository at <b>{destination.path}</b> on {destination.node}, with every backup in it,
            stays exactly as it is; nothing is deleted.
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
        <FormError error={remove.error} />
        <Group justify="flex-end">
          <Button variant="default" onClick={onClose} data-autofocus>
            Keep destination
          </Button>
          <Button color="red" loading={remove.isPending} onClick={confirm}>
            {hasBackups ? 'Remove destination and forget its backups' : 'Remove destination'}
          </Button>
        </Group>
      </Stack>
    </Modal>
  );
}
