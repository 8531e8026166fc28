import type { Role, User } from '@common/api/index.js';
import { Button, Modal, Select, Stack, Text } from '@mantine/core';
import { useForm } from '@mantine/form';
import { notifications } from '@mantine/notifications';
import { useUpdateUserMutation } from '../../api/users.queries.js';
import { DialogActions } from '../../components/dialog-actions.js';
import { FormError } from '../../components/form-error.js';
import { ROLE_OPTIONS } from './role-options.js';

export function ChangeRoleModal({ user, onClose }: { user: User; onClose: () => void }) {
  const update = useUpdateUserMutation();
  const form = useForm<{ role: Role }>({ mode: 'uncontrolled', initialValues: { role: user.role } });

  const submit = form.onSubmit(({ role }) => {
    if (role === user.role) {
      onClose();
      return;
    }
    update.mutate(
      { username: user.username, role },
      {
        onSuccess: (updated) => {
          notifications.show({ color: 'green', message: `${updated.username} is now ${updated.role}.` });
          onClose();
        },
      },
    );
  });

  return (
    <Modal opened onClose={onClose} title={`Change role of ${user.username}`}>
      <form onSubmit={submit} noValidate>
        <Stack>
          {/* The server refuses e.g. demoting the last admin; its reason is shown here. */}
          <FormError error={update.error} />
          <Text size="sm">The new role applies to their next request; they stay signed in.</Text>
          <Select label="Role" data={ROLE_OPTIONS} allowDeselect={false} data-autofocus key={form.key('role')} {...form.getInputProps('role')} />
          <DialogActions>
            <Button variant="default" onClick={onClose}>
              Cancel
            </Button>
            <Button type="submit" loading={update.isPending}>
              Save role
            </Button>
          </DialogActions>
        </Stack>
      </form>
    </Modal>
  );
}
