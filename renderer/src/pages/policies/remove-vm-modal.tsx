import type { Policy } from '@common/api/index.js';
import { Button, Group, Modal, Stack, Text } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { usePolicyVmsMutation } from '../../api/policies.queries.js';
import { FormError } from '../../components/form-error.js';

type PolicyVm = Policy['vms'][number];

export function RemoveVmModal({ policy, vm, onClose }: { policy: Policy; vm: PolicyVm; onClose: () => void }) {
  const unassign = usePolicyVmsMutation();
  const confirm = () =>
    unassign.mutate(
      { id: policy.id, action: 'unassign', vms: [vm.id] },
      {
        onSuccess: () => {
          notifications.show({ color: 'green', message: `${vm.name} removed from ${policy.name}.` });
          onClose();
        },
      },
    );
  return (
    <Modal opened onClose={onClose} title={`Remove ${vm.name} from ${policy.name}?`}>
      <Stack>
        <FormError error={unassign.error} />
        <Text size="sm">This policy no longer backs it up. Its backups stay and can still be restored.</Text>
        {vm.source === 'auto' && (
          <Text size="sm" c="dimmed">
            It joined through the policy&apos;s rules: while it still matches them, the next inventory sync or policy change puts it back.
            An exclude pattern keeps it out for good.
          </Text>
        )}
        <Group justify="flex-end">
          <Button variant="default" onClick={onClose} data-autofocus>
            Cancel
          </Button>
          <Button color="red" loading={unassign.isPending} onClick={confirm}>
            Remove from policy
          </Button>
        </Group>
      </Stack>
    </Modal>
  );
}
