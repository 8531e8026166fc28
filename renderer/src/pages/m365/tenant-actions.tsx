import type { M365ConnectionTest, M365Tenant } from '@common/api/index.js';
import { Button, Group, Text } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { useQueryClient } from '@tanstack/react-query';
import { IconPlugConnected, IconRefresh } from '@tabler/icons-react';
import { useState } from 'react';
import { errorMessage } from '../../api/api-error.js';
import { refreshM365, useRemoveM365TenantMutation, useSyncM365TenantMutation, useTestM365TenantMutation } from '../../api/m365.queries.js';
import { useSession } from '../../auth/session-context.js';
import { ConfirmModal } from '../../components/confirm-modal.js';
import { RemoveMenu } from '../../components/remove-menu.js';
import { useFollowedTask } from '../../hooks/use-followed-task.js';

/**
 * "Sync now" lists the tenant's users and sites (an M365_SYNC task). The button spins until the
 * task ends (also one started elsewhere, e.g. by adding the tenant), then says how it went and
 * fetches the inventory again.
 */
function SyncButton({ tenant, following }: { tenant: M365Tenant; following: number | null }) {
  const queryClient = useQueryClient();
  const sync = useSyncM365TenantMutation();
  const { running, follow } = useFollowedTask((done) => {
    refreshM365(queryClient);
    if (done.state === 'FINISHED') notifications.show({ color: 'green', message: `Users and sites of ${tenant.name} synced.` });
    else {
      notifications.show({
        color: done.state === 'FAILED' ? 'red' : 'yellow',
        title: `Sync of ${tenant.name} ${done.state === 'FAILED' ? 'failed' : done.state === 'CANCELLED' ? 'cancelled' : 'finished with warnings'}`,
        message: done.error ?? (done.warnings.join('; ') || `See task ${done.id}.`),
      });
    }
  }, following);

  return (
    <Button
      size="xs"
      variant="default"
      leftSection={<IconRefresh size={14} aria-hidden />}
      loading={sync.isPending || running}
      onClick={() => sync.mutate(tenant.id, { onSuccess: (started) => follow(started.id) })}
      aria-label={`Sync ${tenant.name} now`}
    >
      Sync now
    </Button>
  );
}

function RemoveTenantModal({ tenant, onClose, onRemoved }: { tenant: M365Tenant; onClose: () => void; onRemoved?: () => void }) {
  const remove = useRemoveM365TenantMutation();
  const confirm = async () => {
    await remove.mutateAsync(tenant.id);
    notifications.show({ color: 'green', message: `Tenant ${tenant.name} removed.` });
    onClose();
    onRemoved?.();
  };
  return (
    <ConfirmModal title={`Remove tenant ${tenant.name}?`} size="lg" confirmLabel="Remove tenant" cancelLabel="Keep tenant" onConfirm={confirm} onClose={onClose}>
      <Text size="sm">
        {`Its credential is deleted from vPlus, and its ${tenant.users} users and ${tenant.sites} sites leave the inventory. Nothing in Microsoft 365 is touched; remove the app registration there if it is no longer needed.`}
      </Text>
    </ConfirmModal>
  );
}

interface TenantActionsProps {
  tenant: M365Tenant;
  /** A sync started elsewhere (adding the tenant) that the button follows. */
  following?: number | null;
  /** Test connection's answer, for the page to show. */
  onTested?: (test: M365ConnectionTest) => void;
  onRemoved?: () => void;
  /** The list's row: Sync only. */
  compact?: boolean;
}

/** Sync and Test for operators; removal, rarely used, behind a menu for administrators. */
export function TenantActions({ tenant, following = null, onTested, onRemoved, compact = false }: TenantActionsProps) {
  const { isAdmin, canChange } = useSession();
  const test = useTestM365TenantMutation();
  const [removing, setRemoving] = useState(false);
  if (!canChange) return null;
  const runTest = () =>
    test.mutate(tenant.id, {
      onSuccess: (result) => onTested?.(result),
      onError: (error) => notifications.show({ color: 'red', title: `Test connection of ${tenant.name} failed`, message: errorMessage(error), autoClose: false }),
    });
  return (
    <>
      <Group gap={4} wrap="nowrap" justify="flex-end">
        <SyncButton tenant={tenant} following={following} />
        {!compact && (
          <Button size="xs" variant="default" leftSection={<IconPlugConnected size={14} aria-hidden />} loading={test.isPending} onClick={runTest}>
            Test connection
          </Button>
        )}
        {isAdmin && <RemoveMenu name={tenant.name} onRemove={() => setRemoving(true)} />}
      </Group>
      {removing && <RemoveTenantModal tenant={tenant} onClose={() => setRemoving(false)} {...(onRemoved ? { onRemoved } : {})} />}
    </>
  );
}
