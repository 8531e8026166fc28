import { CreateUserSchema, type CreateUser } from '@common/api/index.js';
import { Button, Modal, PasswordInput, Select, Stack, TextInput } from '@mantine/core';
import { useForm } from '@mantine/form';
import { notifications } from '@mantine/notifications';
import { useCreateUserMutation } from '../../api/users.queries.js';
import { DialogActions } from '../../components/dialog-actions.js';
import { FormError } from '../../components/form-error.js';
import { formLevelError, serverFieldError } from '../../utils/server-field-error.js';
import { ROLE_OPTIONS } from './role-options.js';
import { plainResolver } from '../../utils/form-validation.js';

const FIELDS = ['username', 'password', 'role'] as const;

export function AddUserModal({ onClose }: { onClose: () => void }) {
  const create = useCreateUserMutation();
  const form = useForm<CreateUser>({
    mode: 'uncontrolled',
    initialValues: { username: '', password: '', role: 'operator' },
    validate: plainResolver(CreateUserSchema),
  });

  const submit = form.onSubmit((values) => {
    create.mutate(values, {
      onSuccess: (user) => {
        notifications.show({ color: 'green', message: `User ${user.username} added as ${user.role}.` });
        onClose();
      },
      onError: (error) => {
        const fieldError = serverFieldError(error, FIELDS);
        if (fieldError !== null) form.setFieldError(fieldError.field, fieldError.message);
      },
    });
  });

  return (
    <Modal opened onClose={onClose} title="Add user">
      <form onSubmit={submit} noValidate>
        <Stack>
          <FormError error={formLevelError(create.error, FIELDS)} />
          <TextInput label="Username" autoComplete="off" data-autofocus key={form.key('username')} {...form.getInputProps('username')} />
          <PasswordInput
            label="Password"
            description="At least 8 characters. Share it safely; they can sign in with it right away."
            autoComplete="new-password"
            key={form.key('password')}
            {...form.getInputProps('password')}
          />
          <Select label="Role" data={ROLE_OPTIONS} allowDeselect={false} key={form.key('role')} {...form.getInputProps('role')} />
          <DialogActions>
            <Button variant="default" onClick={onClose}>
              Cancel
            </Button>
            <Button type="submit" loading={create.isPending}>
              Add user
            </Button>
          </DialogActions>
        </Stack>
      </form>
    </Modal>
  );
}
