import { PasswordSchema, type User } from '@common/api/index.js';
import { Button, Modal, PasswordInput, Stack } from '@mantine/core';
import { useForm } from '@mantine/form';
import { notifications } from '@mantine/notifications';
import { z } from 'zod';
import { useUpdateUserMutation } from '../../api/users.queries.js';
import { DialogActions } from '../../components/dialog-actions.js';
import { FormError } from '../../components/form-error.js';
import { formLevelError, serverFieldError } from '../../utils/server-field-error.js';
import { plainResolver } from '../../utils/form-validation.js';

const ResetPasswordSchema = z
  .object({ password: PasswordSchema, confirmPassword: z.string() })
  .refine((values) => values.password === values.confirmPassword, {
    path: ['confirmPassword'],
    message: 'The passwords do not match',
  });
type ResetPassword = z.infer<typeof ResetPasswordSchema>;
const FIELDS = ['password'] as const;

export function ResetPasswordModal({ user, onClose }: { user: User; onClose: () => void }) {
  const update = useUpdateUserMutation();
  const form = useForm<ResetPassword>({
    mode: 'uncontrolled',
    initialValues: { password: '', confirmPassword: '' },
    validate: plainResolver(ResetPasswordSchema),
  });

  const submit = form.onSubmit(({ password }) => {
    update.mutate(
      { username: user.username, password },
      {
        onSuccess: () => {
          notifications.show({ color: 'green', message: `Password of ${user.username} changed.` });
          onClose();
        },
        onError: (error) => {
          const fieldError = serverFieldError(error, FIELDS);
          if (fieldError !== null) form.setFieldError(fieldError.field, fieldError.message);
        },
      },
    );
  });

  return (
    <Modal opened onClose={onClose} title={`Reset password of ${user.username}`}>
      <form onSubmit={submit} noValidate>
        <Stack>
          <FormError error={formLevelError(update.error, FIELDS)} />
          <PasswordInput
            label="New password"
            description="At least 8 characters"
            autoComplete="new-password"
            data-autofocus
            key={form.key('password')}
            {...form.getInputProps('password')}
          />
          <PasswordInput
            label="Confirm new password"
            autoComplete="new-password"
            key={form.key('confirmPassword')}
            {...form.getInputProps('confirmPassword')}
          />
          <DialogActions>
            <Button variant="default" onClick={onClose}>
              Cancel
            </Button>
            <Button type="submit" loading={update.isPending}>
              Reset password
            </Button>
          </DialogActions>
        </Stack>
      </form>
    </Modal>
  );
}
