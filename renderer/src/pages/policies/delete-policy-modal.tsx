import type { Policy } from '@common/api/index.js';
import { Text } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { useDeletePolicyMutation } from '../../api/policies.queries.js';
import { ConfirmModal } from '../../components/confirm-modal.js';

export function DeletePolicyModal({ policy, onClose, onDeleted }: { policy: Policy; onClose: () => void; onDeleted: () => void }) {
  const remove = useDeletePolicyMutation();
  const confirm = async () => {
    await remove.mutateAsync(policy.id);
    notifications.show({ color: 'green', message: `Policy ${policy.name} deleted.` });
    onDeleted();
  };
  const vms = policy.vms.length;
  return (
    <ConfirmModal title={`Delete policy ${policy.name}?`} confirmLabel="Delete policy" onConfirm={confirm} onClose={onClose}>
      <Text size="sm">
        {vms === 0
          ? 'It has no VMs. Its run history goes with it.'
          : `Its ${vms} ${vms === 1 ? 'VM is' : 'VMs are'} no longer backed up by it: another policy whose rules match takes them, otherwise they are unprotected. Its run history goes with it.`}
      </Text>
      <Text size="sm">The backups it made stay on {policy.destination ?? 'their destination'} and can still be restored.</Text>
    </ConfirmModal>
  );
}
