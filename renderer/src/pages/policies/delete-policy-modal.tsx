import type { Policy } from '@common/api/index.js';
import { Button, Group, Modal, Stack, Text } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { useDeletePolicyMutation } from '../../api/policies.queries.js';
import { FormError } from '../../components/form-error.js';

export function DeletePolicyModal({ policy, onClose, onDeleted }: { policy: Policy; onClose: () => void; onDeleted: () => void }) {
  const remove = useDeletePolicyMutation();
  const confirm = () =>
    remove.mutate(policy.id, {
      onSuccess: () => {
        notifications.show({ color: 'green', message: `Policy ${policy.name} deleted.` });
        onDeleted();
      },
    });
  const vms = policy.vms.length;
  return (
    <Modal opened onClose={onClose} title={`Delete policy ${policy.name}?`}>
      <Stack>
        <FormError error={remove.error} />
        <Text size="sm">
          {vms === 0
            ? 'It has no VMs. Its run history goes with it.'
            : `Its ${vms} ${vms === 1 ? 'VM is' : 'VMs are'} no longer backed up by it: another policy whose rules match takes them, otherwise they are unprotected. Its run history goes with it.`}
        </Text>
        <Text size="sm">The backups it made stay on {policy.destination ?? 'their destination'} and can still be restored.</Text>
        <Group justify="flex-end">
          <Button variant="default" onClick={onClose} data-autofocus>
            Cancel
          </Button>
          <Button color="red" loading={remove.isPending} onClick={confirm}>
            Delete policy
          </Button>
        </Group>
      </Stack>
    </Modal>
  );
}
