import type { User } from '@common/api/index.js';
import { Text } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { useDeleteUserMutation } from '../../api/users.queries.js';
import { ConfirmModal } from '../../components/confirm-modal.js';

export function DeleteUserModal({ user, onClose }: { user: User; onClose: () => void }) {
  const remove = useDeleteUserMutation();

  const confirm = async () => {
    await remove.mutateAsync(user.username);
    notifications.show({ color: 'green', message: `User ${user.username} deleted.` });
    onClose();
  };

  // A refusal is shown inside the dialog, which stays open (Cancel closes it).
  return (
    <ConfirmModal title={`Delete user ${user.username}?`} confirmLabel="Delete user" onConfirm={confirm} onClose={onClose}>
      <Text size="sm">
        {user.username} will be signed out everywhere and can no longer sign in. The audit log keeps a record of what they did.
      </Text>
    </ConfirmModal>
  );
}
