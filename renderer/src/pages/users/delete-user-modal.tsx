import type { User } from '@common/api/index.js';
import { Button, Group, Modal, Stack, Text } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { useDeleteUserMutation } from '../../api/users.queries.js';

export function DeleteUserModal({ user, onClose }: { user: User; onClose: () => void }) {
  const remove = useDeleteUserMutation();

  // Failures are toasted by the mutation cache (meta.errorTitle); the dialog stays open to retry.
  const confirm = () =>
    remove.mutate(user.username, {
      onSuccess: () => {
        notifications.show({ color: 'green', message: `User ${user.username} deleted.` });
        onClose();
      },
    });

  return (
    <Modal opened onClose={onClose} title={`Delete user ${user.username}?`}>
      <Stack>
        <Text size="sm">
          {user.username} will be signed out everywhere and can no longer sign in. The audit log keeps a record of what they did.
        </Text>
        <Group justify="flex-end">
          <Button variant="default" onClick={onClose} data-autofocus>
            Cancel
          </Button>
          <Button color="red" loading={remove.isPending} onClick={confirm}>
            Delete user
          </Button>
        </Group>
      </Stack>
    </Modal>
  );
}
