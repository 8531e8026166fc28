import type { Policy } from '@common/api/index.js';
import { Text } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { usePolicyVmsMutation } from '../../api/policies.queries.js';
import { ConfirmModal } from '../../components/confirm-modal.js';

type PolicyVm = Policy['vms'][number];

export function RemoveVmModal({ policy, vm, onClose }: { policy: Policy; vm: PolicyVm; onClose: () => void }) {
  const unassign = usePolicyVmsMutation();
  const confirm = async () => {
    await unassign.mutateAsync({ id: policy.id, action: 'unassign', vms: [vm.id] });
    notifications.show({ color: 'green', message: `${vm.name} removed from ${policy.name}.` });
    onClose();
  };
  return (
    <ConfirmModal title={`Remove ${vm.name} from ${policy.name}?`} confirmLabel="Remove from policy" onConfirm={confirm} onClose={onClose}>
      <Text size="sm">This policy no longer backs it up. Its backups stay and can still be restored.</Text>
      {vm.source === 'auto' && (
        <Text size="sm" c="dimmed">
          It joined through the policy&apos;s rules: while it still matches them, the next inventory sync or policy change puts it back.
          An exclude pattern keeps it out for good.
        </Text>
      )}
    </ConfirmModal>
  );
}
