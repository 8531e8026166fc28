import { DestinationNameSchema, type Destination } from '@common/api/index.js';
import { Button, Modal, Stack, Text, TextInput } from '@mantine/core';
import { useForm } from '@mantine/form';
import { notifications } from '@mantine/notifications';
import { z } from 'zod';
import { useRenameDestinationMutation } from '../../api/destinations.queries.js';
import { DialogActions } from '../../components/dialog-actions.js';
import { FormError } from '../../components/form-error.js';
import { formLevelError, serverFieldError } from '../../utils/server-field-error.js';
import { plainResolver } from '../../utils/form-validation.js';

const RenameSchema = z.object({ name: DestinationNameSchema });
const FIELDS = ['name'] as const;

export function RenameDestinationModal({ destination, onClose }: { destination: Destination; onClose: () => void }) {
  const rename = useRenameDestinationMutation();
  const form = useForm<{ name: string }>({
    mode: 'uncontrolled',
    initialValues: { name: destination.name },
    validate: plainResolver(RenameSchema),
  });

  const submit = form.onSubmit(({ name }) => {
    if (name === destination.name) {
      onClose();
      return;
    }
    rename.mutate(
      { id: destination.id, name },
      {
        onSuccess: (renamed) => {
          notifications.show({ color: 'green', message: `Destination ${destination.name} is now called ${renamed.name}.` });
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
    <Modal opened onClose={onClose} title={`Rename ${destination.name}`}>
      <form onSubmit={submit} noValidate>
        <Stack>
          <FormError error={formLevelError(rename.error, FIELDS)} />
          <TextInput label="Name" autoComplete="off" data-autofocus key={form.key('name')} {...form.getInputProps('name')} />
          <Text size="sm" c="dimmed">
            Only the name in this catalog changes; the repository and its backups are not touched.
          </Text>
          <DialogActions>
            <Button variant="default" onClick={onClose}>
              Cancel
            </Button>
            <Button type="submit" loading={rename.isPending}>
              Save
            </Button>
          </DialogActions>
        </Stack>
      </form>
    </Modal>
  );
}
