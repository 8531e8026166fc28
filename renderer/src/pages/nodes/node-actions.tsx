import type { Node } from '@common/api/index.js';
import { ActionIcon, Button, Group, Tooltip } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { IconActivityHeartbeat, IconCircleArrowUp, IconFileText, IconRefresh, IconTrash, type Icon } from '@tabler/icons-react';
import { useState } from 'react';
import { useNavigate } from 'react-router-dom';
import { useRestartNodeMutation, useUpgradeNodeMutation } from '../../api/nodes.queries.js';
import { useCreateNodeCheckMutation } from '../../api/tasks.queries.js';
import { useSession } from '../../auth/session-context.js';
import { NO_SHRINK } from '../../utils/styles.js';
import { nodeActionRules, type NodeAction } from './node-action-rules.js';
import { NodeLogModal } from './node-log-modal.js';
import { RemoveNodeModal } from './remove-node-modal.js';

const LOOK: Record<NodeAction, { label: string; icon: Icon; color?: string }> = {
  check: { label: 'Check', icon: IconActivityHeartbeat },
  log: { label: 'Show log', icon: IconFileText },
  upgrade: { label: 'Upgrade', icon: IconCircleArrowUp },
  restart: { label: 'Restart', icon: IconRefresh },
  remove: { label: 'Remove', icon: IconTrash, color: 'red' },
};
const ORDER: readonly NodeAction[] = ['check', 'log', 'upgrade', 'restart', 'remove'];

interface NodeActionsProps {
  node: Node;
  /**
   * 'row': in a table row, the main action (Check) labelled and the others as icons with
   * tooltips; 'buttons': every action labelled, on the node's own page.
   */
  variant?: 'row' | 'buttons';
}

/** The action a node's row shows with its name: checking that the node works. */
const ROW_ACTION: NodeAction = 'check';

/**
 * A node's actions, each shown only to roles that may use it. Actions that start a task
 * (check, upgrade, remove) take the user to that task to watch it.
 */
export function NodeActions({ node, variant = 'buttons' }: NodeActionsProps) {
  const session = useSession();
  const navigate = useNavigate();
  const [dialog, setDialog] = useState<'log' | 'remove' | null>(null);
  const check = useCreateNodeCheckMutation();
  const upgrade = useUpgradeNodeMutation();
  const restart = useRestartNodeMutation();

  const rules = nodeActionRules(node, session);
  const openTask = ({ id }: { id: number }) => void navigate(`/tasks/${id}`);
  const run: Record<NodeAction, () => void> = {
    check: () => check.mutate({ node: String(node.id) }, { onSuccess: openTask }),
    log: () => setDialog('log'),
    upgrade: () => upgrade.mutate(node, { onSuccess: openTask }),
    restart: () =>
      restart.mutate(node, {
        onSuccess: () => notifications.show({ color: 'green', message: `Node ${node.name} restarted; it reconnects in a moment.` }),
      }),
    remove: () => setDialog('remove'),
  };
  const pending: Record<NodeAction, boolean> = {
    check: check.isPending,
    log: false,
    upgrade: upgrade.isPending,
    restart: restart.isPending,
    remove: false,
  };

  const visible = ORDER.filter((action) => rules[action].visible);
  if (visible.length === 0) return null;

  return (
    <>
      <Group gap={variant === 'row' ? 2 : 'xs'} wrap="nowrap" justify={variant === 'row' ? 'flex-end' : undefined}>
        {visible.map((action) => {
          const { label, icon: ActionIconGlyph, color } = LOOK[action];
          const reason = rules[action].disabledReason;
          const name = `${label} ${node.name}`;
          const small = variant === 'row';
          if (small && action !== ROW_ACTION) {
            return (
              <Tooltip key={action} label={reason === null ? label : `${label}: ${reason}`} multiline maw={280}>
                <ActionIcon
                  variant="subtle"
                  color={color ?? 'gray'}
                  aria-label={name}
                  aria-description={reason ?? undefined}
                  data-disabled={reason !== null || undefined}
                  // aria-disabled rather than disabled, so the tooltip with the reason still shows.
                  aria-disabled={reason !== null}
                  loading={pending[action]}
                  onClick={reason === null ? run[action] : undefined}
                >
                  <ActionIconGlyph size={18} aria-hidden />
                </ActionIcon>
              </Tooltip>
            );
          }
          const button = (
            <Button
              key={action}
              size={small ? 'xs' : 'sm'}
              mr={small ? 6 : undefined}
              style={small ? NO_SHRINK : undefined}
              variant={action === 'remove' ? 'light' : 'default'}
              color={color}
              leftSection={<ActionIconGlyph size={small ? 14 : 16} aria-hidden />}
              aria-label={name}
              aria-description={reason ?? undefined}
              data-disabled={reason !== null || undefined}
              aria-disabled={reason !== null}
              loading={pending[action]}
              onClick={reason === null ? run[action] : undefined}
            >
              {label}
            </Button>
          );
          return reason === null ? (
            button
          ) : (
            <Tooltip key={action} label={reason} multiline maw={280}>
              {button}
            </Tooltip>
          );
        })}
      </Group>
      {dialog === 'log' && <NodeLogModal node={node} onClose={() => setDialog(null)} />}
      {dialog === 'remove' && <RemoveNodeModal node={node} onClose={() => setDialog(null)} />}
    </>
  );
}
