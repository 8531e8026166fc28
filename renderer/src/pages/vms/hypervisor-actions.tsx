import type { Hypervisor } from '@common/api/index.js';
import { Button, Group, Text } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { IconRefresh } from '@tabler/icons-react';
import { useState } from 'react';
import { useRemoveHypervisorMutation, useSyncHypervisorMutation } from '../../api/hypervisors.queries.js';
import { useSession } from '../../auth/session-context.js';
import { ConfirmModal } from '../../components/confirm-modal.js';
import { RemoveMenu } from '../../components/remove-menu.js';
import { useFollowedTask } from '../../hooks/use-followed-task.js';

/**
 * "Sync" lists the host's VMs now (an INVENTORY_SYNC task). The button spins until the task
 * ends, then says how it went; 'hypervisor' and 'vm' events update the tables meanwhile.
 */
function SyncButton({ hypervisor }: { hypervisor: Hypervisor }) {
  const sync = useSyncHypervisorMutation();
  const { running, follow } = useFollowedTask((done) => {
    if (done.state === 'FINISHED' || done.state === 'FINISHED_WITH_WARNINGS') {
      notifications.show({ color: 'green', message: `Inventory of ${hypervisor.name} synced.` });
    } else {
      notifications.show({
        color: done.state === 'CANCELLED' ? 'gray' : 'red',
        title: `Sync of ${hypervisor.name} ${done.state === 'CANCELLED' ? 'cancelled' : 'failed'}`,
        message: done.error ?? `See task ${done.id}.`,
      });
    }
  });

  return (
    <Button
      size="xs"
      variant="default"
      leftSection={<IconRefresh size={14} aria-hidden />}
      loading={sync.isPending || running}
      onClick={() => sync.mutate(hypervisor.id, { onSuccess: (started) => follow(started.id) })}
      title={`List the VMs on ${hypervisor.name} now`}
    >
      Sync
    </Button>
  );
}

function RemoveHypervisorModal({ hypervisor, onClose }: { hypervisor: Hypervisor; onClose: () => void }) {
  const remove = useRemoveHypervisorMutation();
  const confirm = async () => {
    await remove.mutateAsync(hypervisor.id);
    notifications.show({ color: 'green', message: `Hypervisor ${hypervisor.name} removed.` });
    onClose();
  };
  return (
    <ConfirmModal
      title={`Remove hypervisor ${hypervisor.name}?`}
      size="lg"
      confirmLabel="Remove hypervisor"
      cancelLabel="Keep hypervisor"
      onConfirm={confirm}
      onClose={onClose}
    >
      <Text size="sm">
        {`Its ${hypervisor.vms} ${hypervisor.vms === 1 ? 'VM leaves' : 'VMs leave'} the inventory, and policies no longer back them up. The VMs on the host are not touched, and backups already stored stay in their destinations.`}
      </Text>
    </ConfirmModal>
  );
}

/** Sync for operators; removal, rarely used, behind a menu for administrators. */
export function HypervisorActions({ hypervisor }: { hypervisor: Hypervisor }) {
  const { isAdmin, canChange } = useSession();
  const [removing, setRemoving] = useState(false);
  if (!canChange) return null;
  return (
    <>
      <Group gap={4} wrap="nowrap" justify="flex-end">
        <SyncButton hypervisor={hypervisor} />
        {isAdmin && <RemoveMenu name={hypervisor.name} onRemove={() => setRemoving(true)} />}
      </Group>
      {removing && <RemoveHypervisorModal hypervisor={hypervisor} onClose={() => setRemoving(false)} />}
    </>
  );
}
