import type { Node } from '@common/api/index.js';
import { Button, Group, List, Modal, Stack, Text } from '@mantine/core';
import { useNavigate } from 'react-router-dom';
import { useRemoveNodeMutation } from '../../api/nodes.queries.js';

/** Removal is a task (uninstall, then forget the node); the user is taken to it to watch. */
export function RemoveNodeModal({ node, onClose }: { node: Node; onClose: () => void }) {
  const remove = useRemoveNodeMutation();
  const navigate = useNavigate();
  const manual = node.installMethod === 'manual';

  // Failures are toasted by the mutation cache (meta.errorTitle); the dialog stays open to retry.
  const confirm = () =>
    remove.mutate(node, {
      onSuccess: (task) => {
        onClose();
        void navigate(`/tasks/${task.id}`);
      },
    });

  return (
    <Modal opened onClose={onClose} title={`Remove node ${node.name}?`}>
      <Stack>
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
        <Group justify="flex-end">
          <Button variant="default" onClick={onClose} data-autofocus>
            Keep node
          </Button>
          <Button color="red" loading={remove.isPending} onClick={confirm}>
            Remove node
          </Button>
        </Group>
      </Stack>
    </Modal>
  );
}
