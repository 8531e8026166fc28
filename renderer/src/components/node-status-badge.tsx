import type { Node } from '@common/api/index.js';
import { NODE_STATUS_COLORS, NODE_STATUS_LABELS } from '../utils/task-labels.js';
import { StatusBadge } from './status-badge.js';

/** The status, with the server's reason (why offline, what failed) one hover or focus away. */
export function NodeStatusBadge({ node, size = 'sm' }: { node: Pick<Node, 'status' | 'statusMessage'>; size?: 'sm' | 'lg' }) {
  return (
    <StatusBadge
      label={NODE_STATUS_LABELS[node.status]}
      color={NODE_STATUS_COLORS[node.status]}
      variant={node.status === 'online' ? 'light' : 'outline'}
      size={size}
      message={node.statusMessage}
      data-status={node.status}
    />
  );
}
