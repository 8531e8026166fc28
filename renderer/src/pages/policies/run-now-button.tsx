import type { Policy, PolicyRun } from '@common/api/index.js';
import { Button, Menu, Text } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { IconChevronDown, IconPlayerPlay } from '@tabler/icons-react';
import type { ReactNode } from 'react';
import { useRunPolicyMutation, type RunBackupType } from '../../api/policies.queries.js';
import { useSession } from '../../auth/session-context.js';
import { NO_SHRINK } from '../../utils/styles.js';

function startedMessage(policy: Pick<Policy, 'name' | 'kind'>, run: PolicyRun): string {
  if (run.message !== null && run.message !== '') return `Policy ${policy.name}: ${run.message}.`;
  const what = policy.kind === 'snapshot' ? 'a snapshot' : 'backup';
  return `Policy ${policy.name} started: ${run.vms} ${run.vms === 1 ? 'VM' : 'VMs'} queued for ${what}.`;
}

/**
 * "Run now" for operators and administrators. A backup policy asks which backup:
 * incremental (full where a VM has nothing to follow yet) or full; a snapshot policy takes a
 * snapshot of each of its VMs at once. The run then moves live in the policy's run history.
 */
export function RunNowButton({ policy, size = 'sm' }: { policy: Pick<Policy, 'id' | 'name' | 'kind'>; size?: 'xs' | 'sm' }) {
  const { canChange } = useSession();
  const run = useRunPolicyMutation();
  if (!canChange) return null;

  const start = (backupType: RunBackupType | undefined) =>
    run.mutate(
      backupType === undefined ? { id: policy.id } : { id: policy.id, backupType },
      { onSuccess: (started) => notifications.show({ color: started.state === 'failed' ? 'red' : 'blue', message: startedMessage(policy, started) }) },
    );

  const button = (props: { rightSection?: ReactNode; onClick?: () => void; title?: string }) => (
    <Button
      size={size}
      variant={size === 'xs' ? 'default' : 'filled'}
      leftSection={<IconPlayerPlay size={size === 'xs' ? 14 : 16} aria-hidden />}
      loading={run.isPending}
      aria-label={size === 'xs' ? `Run ${policy.name} now` : undefined}
      style={NO_SHRINK}
      {...props}
    >
      Run now
    </Button>
  );

  if (policy.kind === 'snapshot') return button({ onClick: () => start(undefined), title: `Take a snapshot of every VM of ${policy.name} now` });

  return (
    <Menu position="bottom-end" withinPortal>
      <Menu.Target>{button({ rightSection: <IconChevronDown size={size === 'xs' ? 12 : 14} aria-hidden /> })}</Menu.Target>
      <Menu.Dropdown>
        <Menu.Label>Back up every VM of {policy.name}</Menu.Label>
        <Menu.Item onClick={() => start('incremental')}>
          <Text size="sm">Incremental backup</Text>
          <Text size="xs" c="dimmed">
            Only what changed; full where a VM has no backup to follow
          </Text>
        </Menu.Item>
        <Menu.Item onClick={() => start('full')}>
          <Text size="sm">Full backup</Text>
          <Text size="xs" c="dimmed">
            Read every disk in full
          </Text>
        </Menu.Item>
      </Menu.Dropdown>
    </Menu>
  );
}
