import type { Node } from '@common/api/index.js';
import { Button, Group, Modal, Stack, Text } from '@mantine/core';
import { IconRefresh } from '@tabler/icons-react';
import { useNodeLogQuery } from '../../api/nodes.queries.js';
import { LogView } from '../../components/log-view.js';
import { QueryErrorAlert } from '../../components/query-error-alert.js';

const LINES = 200;

/** The node service's own log (journal or log file), fetched over SSH for remote nodes. */
export function NodeLogModal({ node, onClose }: { node: Node; onClose: () => void }) {
  const log = useNodeLogQuery(String(node.id), LINES);
  const lines = (log.data?.lines ?? []).map((text, index) => ({ key: index, text }));

  return (
    <Modal opened onClose={onClose} title={`Log of node ${node.name}`} size="xl">
      <Stack>
        <Group justify="space-between">
          <Text size="sm" c="dimmed">
            The last {LINES} lines of the node service's log.
          </Text>
          <Button
            variant="default"
            size="xs"
            leftSection={<IconRefresh size={14} aria-hidden />}
            loading={log.isFetching}
            onClick={() => void log.refetch()}
          >
            Refresh
          </Button>
        </Group>
        {log.isError && <QueryErrorAlert title="Could not read the log" error={log.error} />}
        {!log.isError && (
          <LogView lines={lines} label={`Log of node ${node.name}`} height={460} empty={log.isPending ? 'Reading the log…' : 'The log is empty.'} />
        )}
      </Stack>
    </Modal>
  );
}
