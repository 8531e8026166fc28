import type { Node } from '@common/api/index.js';
import { List, Text } from '@mantine/core';
import { useNavigate } from 'react-router-dom';
import { useRemoveNodeMutation } from '../../api/nodes.queries.js';
import { ConfirmModal } from '../../components/confirm-modal.js';

/** Removal is a task (uninstall, then forget the node); the user is taken to it to watch. */
export function RemoveNodeModal({ node, onClose }: { node: Node; onClose: () => void }) {
  const remove = useRemoveNodeMutation();
  const navigate = useNavigate();
  const manual = node.installMethod === 'manual';

  const confirm = async () => {
    const task = await remove.mutateAsync(node);
    onClose();
    void navigate(`/tasks/${task.id}`);
  };

  // A refusal is shown inside the dialog, which stays open (Cancel closes it).
  return (
    <ConfirmModal title={`Remove node ${node.name}?`} confirmLabel="Remove node" cancelLabel="Keep node" onConfirm={confirm} onClose={onClose}>
      <List size="sm" spacing={4}>
        {manual ? (
          <List.Item>The node was enrolled by hand: its files stay on {node.host}; stop the service there.</List.Item>
        ) : (
          <List.Item>The node service is stopped and uninstalled from {node.host}.</List.Item>
        )}
        <List.Item>Its credential stops working; it can no longer connect to this server.</List.Item>
      </List>
      <Text size="sm" c="dimmed">
        You can install a node on that host again later.
      </Text>
    </ConfirmModal>
  );
}
