import { RepositoryPasswordSchema, type Destination } from '@common/api/index.js';
import { Alert, Button, Group, Modal, Stack, Text } from '@mantine/core';
import { useForm } from '@mantine/form';
import { notifications } from '@mantine/notifications';
import { IconKey } from '@tabler/icons-react';
import { z } from 'zod';
import { useResetDestinationPasswordMutation } from '../../api/destinations.queries.js';
import { FormError } from '../../components/form-error.js';
import { plainResolver } from '../../utils/form-validation.js';
import { formLevelError, serverFieldError } from '../../utils/server-field-error.js';
import { RecoveryKeyFields, RecoveryKeyFieldSchema } from './recovery-key-fields.js';

const ResetFormSchema = z
  .object({ recoveryKey: RecoveryKeyFieldSchema, password: RepositoryPasswordSchema, confirmPassword: z.string() })
  .refine((values) => values.password === values.confirmPassword, { path: ['confirmPassword'], message: 'The passwords do not match' });
type ResetForm = z.infer<typeof ResetFormSchema>;
const FIELDS = ['recoveryKey', 'password'] as const;

/**
 * "Reset password with recovery key": the catalog's password no longer opens the destination's
 * repository (lost, or changed from another server). Its node opens the repository with the
 * recovery key and sets the new password in place of the old one; the server keeps the new one
 * and checks the destination with it before answering.
 */
export function ResetPasswordModal({ destination, onClose }: { destination: Destination; onClose: () => void }) {
  const reset = useResetDestinationPasswordMutation();
  const form = useForm<ResetForm>({
    mode: 'controlled',
    initialValues: { recoveryKey: '', password: '', confirmPassword: '' },
    validate: plainResolver(ResetFormSchema),
  });

  const submit = form.onSubmit(({ recoveryKey, password }) => {
    reset.mutate(
      { id: destination.id, request: { recoveryKey, password } },
      {
        onSuccess: (after) => {
          notifications.show(
            after.status === 'ok'
              ? { color: 'green', message: `The new password of ${after.name} is set, and the destination works with it. The old password no longer opens it.` }
              : { color: 'yellow', message: `The new password of ${after.name} is set, but the check with it says: ${after.statusMessage ?? after.status}` },
          );
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
    <Modal opened onClose={onClose} title="Reset password with recovery key" size="lg" closeOnClickOutside={!reset.isPending}>
      <form onSubmit={submit} noValidate>
        <Stack>
          <FormError error={formLevelError(reset.error, FIELDS)} />
          <Alert color="blue" icon={<IconKey />} title={`A new password for ${destination.name}`}>
            {`Node ${destination.node} opens the repository at ${destination.path} with its recovery key and sets the new password in place of the old one: the old password will no longer open it (nor will it on any other server that uses this repository). The recovery key keeps working; no backup is re-encrypted.`}
          </Alert>
          <RecoveryKeyFields form={form} />
          {reset.isPending && (
            <Text size="sm" c="dimmed" role="status">
              {`Setting the new password on ${destination.node}, then checking ${destination.name} with it…`}
            </Text>
          )}
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose} disabled={reset.isPending}>
              Cancel
            </Button>
            <Button type="submit" loading={reset.isPending}>
              Reset password
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}
