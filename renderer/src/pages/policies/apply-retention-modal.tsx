import type { Policy } from '@common/api/index.js';
import { Anchor, Text } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { Link } from 'react-router-dom';
import { useApplyRetentionMutation } from '../../api/policies.queries.js';
import { useSession } from '../../auth/session-context.js';
import { ConfirmModal } from '../../components/confirm-modal.js';
import { describeRetention } from '../../utils/policy-format.js';

/** Retention removes backups: it is confirmed, with the rules it applies in plain words. */
export function ApplyRetentionModal({ policy, onClose }: { policy: Policy; onClose: () => void }) {
  const { isAdmin } = useSession();
  const apply = useApplyRetentionMutation();
  const confirm = async () => {
    const run = await apply.mutateAsync(policy.id);
    notifications.show({ color: 'blue', message: run.message ?? `Retention of ${policy.name} started: prune, then garbage collection on ${policy.destination ?? 'the destination'}.` });
    onClose();
  };
  // A refusal is shown inside the dialog, which stays open (Cancel closes it).
  return (
    <ConfirmModal title={`Apply the retention of ${policy.name} now?`} confirmLabel="Apply retention" onConfirm={confirm} onClose={onClose}>
      <Text size="sm">
        {`${describeRetention(policy.retention)} of each VM in this policy. Their other backups on ${policy.destination ?? 'the destination'} are removed and the space they alone used is reclaimed.`}
      </Text>
      {isAdmin && (
        <Text size="sm" c="dimmed">
          The policy&apos;s <Anchor component={Link} to={`/policies/${policy.id}/edit`} size="sm">edit page</Anchor> previews which backups
          would go.
        </Text>
      )}
    </ConfirmModal>
  );
}
