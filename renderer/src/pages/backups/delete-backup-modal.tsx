import type { Backup } from '@common/api/index.js';
import { Alert, Checkbox, List, Stack, Text } from '@mantine/core';
import { useState } from 'react';
import { IconShieldLock } from '@tabler/icons-react';
import { useDeleteBackupMutation } from '../../api/backups.queries.js';
import { usePoliciesQuery } from '../../api/policies.queries.js';
import { ConfirmModal } from '../../components/confirm-modal.js';
import { formatBytes } from '../../utils/format.js';
import { describeRetention } from '../../utils/policy-format.js';
import { backupLabel } from './backup-label.js';

/** The retention rules that would otherwise decide this backup's fate: the VM's policy's, on this destination. */
function RetentionRules({ backup, vmPolicy }: { backup: Backup; vmPolicy: string | null }) {
  const policies = usePoliciesQuery();
  if (policies.isPending) return <Text size="sm">Reading the retention rules…</Text>;
  const onDestination = (policies.data ?? []).filter((p) => p.kind === 'backup' && p.destinationId === backup.destinationId && p.retention !== null);
  const own = onDestination.find((p) => p.name === vmPolicy);
  return (
    <Stack gap={4} data-testid="delete-retention-rules">
      <Text size="sm" fw={500}>
        Retention on {backup.destination}
      </Text>
      {own ? (
        <Text size="sm">{`Policy ${own.name} (this VM's): ${describeRetention(own.retention)}. Deleting removes this backup now, whatever those rules would keep.`}</Text>
      ) : (
        <Text size="sm">{`No policy's retention covers this VM's backups on ${backup.destination}: without deleting it, this backup stays until it is removed by hand.`}</Text>
      )}
      {onDestination.length > (own ? 1 : 0) && (
        <List size="sm">
          {onDestination
            .filter((p) => p !== own)
            .map((p) => (
              <List.Item key={p.id}>{`Policy ${p.name} (other VMs): ${describeRetention(p.retention)}`}</List.Item>
            ))}
        </List>
      )}
    </Stack>
  );
}

/** Deletes one backup from its destination and the catalog, after saying what applies to it. */
export function DeleteBackupModal({ backup, vmPolicy, onClose }: { backup: Backup; vmPolicy: string | null; onClose: () => void }) {
  const remove = useDeleteBackupMutation();
  const copies = (backup.copies ?? []).filter((c) => c.state === 'ok');
  const [keepCopies, setKeepCopies] = useState(false);
  return (
    <ConfirmModal title={`Delete ${backupLabel(backup)}?`} confirmLabel="Delete backup" onConfirm={() => remove.mutateAsync({ id: backup.id, keepCopies }).then(onClose)} onClose={onClose}>
      <Text size="sm">
        {`The ${backup.type ?? ''} backup of ${backup.vmName ?? backup.vm} on ${backup.destination} (${formatBytes(backup.logicalBytes)} of disks) is removed from the destination and the catalog; it cannot be restored afterwards. Its space comes back at the destination's next garbage collection, less what other backups share.`.replace('The  backup', 'The backup')}
      </Text>
      {copies.length > 0 && (
        <Stack gap={4} data-testid="delete-copies">
          <Text size="sm">{`Its ${copies.length === 1 ? 'copy' : 'copies'} on ${copies.map((c) => c.destination).join(', ')} ${keepCopies ? 'stay, each listed from then on as a backup of its destination.' : 'are deleted too: a backup is deleted everywhere.'}`}</Text>
          <Checkbox label={`Keep the ${copies.length === 1 ? 'copy' : 'copies'}: delete it from ${backup.destination} only`} checked={keepCopies} onChange={(event) => setKeepCopies(event.currentTarget.checked)} />
        </Stack>
      )}
      {backup.protected && (
        <Alert color="violet" icon={<IconShieldLock size={16} aria-hidden />} title="This backup is protected">
          A protected backup cannot be deleted. Unprotect it first if it really should go.
        </Alert>
      )}
      <RetentionRules backup={backup} vmPolicy={vmPolicy} />
    </ConfirmModal>
  );
}
