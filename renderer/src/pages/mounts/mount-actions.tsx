import { MAX_MOUNT_IDLE_SECONDS, type Mount } from '@common/api/index.js';
import { Button, Group, Stack, Text } from '@mantine/core';
import { IconClockPlus, IconPlugConnectedX } from '@tabler/icons-react';
import { useState } from 'react';
import { errorMessage } from '../../api/api-error.js';
import { useCloseMountMutation, useExtendMountMutation } from '../../api/mounts.queries.js';
import { ConfirmModal } from '../../components/confirm-modal.js';
import { useInventoryVm } from '../../hooks/use-inventory-vm.js';
import { formatDateTime } from '../../utils/format.js';
import { isActiveMount } from '../../utils/mount-format.js';
import { NO_SHRINK } from '../../utils/styles.js';

const EXTEND_SECONDS = 2 * 60 * 60;

/** "+2 h": the new idle timeout is what is left now plus two hours, within the server's bound. */
export function extendedIdleSeconds(mount: Pick<Mount, 'expiresAt'>, nowMs: number): number {
  const expires = mount.expiresAt === null ? Number.NaN : Date.parse(mount.expiresAt);
  const left = Number.isNaN(expires) ? 0 : Math.max(0, Math.round((expires - nowMs) / 1000));
  return Math.min(MAX_MOUNT_IDLE_SECONDS, left + EXTEND_SECONDS);
}

function describe(mount: Mount, vmName: string | undefined): string {
  return `${vmName ?? mount.vm}, backup of ${formatDateTime(mount.backupCreatedAt)}`;
}

/** Extend (+2 h) and Close for an open mount; a refusal is told next to the buttons. */
export function MountActions({ mount, size = 'xs' }: { mount: Mount; size?: 'xs' | 'sm' }) {
  const extend = useExtendMountMutation();
  const close = useCloseMountMutation();
  const [confirming, setConfirming] = useState(false);
  const vm = useInventoryVm(mount.vm);
  if (!isActiveMount(mount.state)) return null;

  return (
    <Stack gap={4} align="flex-end">
      <Group gap="xs" wrap="nowrap">
        {mount.state === 'MOUNTED' && (
          <Button
            size={size}
            variant="default"
            leftSection={<IconClockPlus size={14} aria-hidden />}
            loading={extend.isPending}
            onClick={() => extend.mutate({ id: mount.id, idleSeconds: extendedIdleSeconds(mount, Date.now()) })}
            title="Keep the mount open two hours longer"
            style={NO_SHRINK}
          >
            Extend (+2 h)
          </Button>
        )}
        <Button
          size={size}
          variant="light"
          color="red"
          leftSection={<IconPlugConnectedX size={14} aria-hidden />}
          onClick={() => setConfirming(true)}
          style={NO_SHRINK}
        >
          Close
        </Button>
      </Group>
      {extend.isError && (
        <Text size="sm" c="red" role="alert" maw={360} ta="right">
          {errorMessage(extend.error)}
        </Text>
      )}
      {confirming && (
        <ConfirmModal
          title="Close this mount?"
          confirmLabel="Close mount"
          onClose={() => setConfirming(false)}
          onConfirm={async () => {
            await close.mutateAsync(mount.id);
            setConfirming(false);
          }}
        >
          <Text size="sm">
            {`${describe(mount, vm?.name)} on ${mount.node}: ${mount.kind === 'iscsi' ? 'the iSCSI export ends and initiators lose the disk' : 'downloads and restores from it stop'}. The backup itself is not changed.`}
          </Text>
        </ConfirmModal>
      )}
    </Stack>
  );
}
