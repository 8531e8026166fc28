import type { Node } from '@common/api/index.js';
import { Badge, Tooltip } from '@mantine/core';
import { NO_SHRINK } from '../utils/styles.js';
import { NODE_STATUS_COLORS, NODE_STATUS_LABELS } from '../utils/task-labels.js';

/** The status, with the server's reason (why offline, what failed) one hover or focus away. */
export function NodeStatusBadge({ node, size = 'sm' }: { node: Pick<Node, 'status' | 'statusMessage'>; size?: 'sm' | 'lg' }) {
  const badge = (
    <Badge
      // A span, so the badge may sit inside running text (a page's description line).
      component="span"
      color={NODE_STATUS_COLORS[node.status]}
      variant={node.status === 'online' ? 'light' : 'outline'}
      size={size}
      style={NO_SHRINK}
      data-status={node.status}
      // Focusable only when there is a reason to read, so keyboard users reach the tooltip.
      tabIndex={node.statusMessage === null ? undefined : 0}
      aria-description={node.statusMessage ?? undefined}
    >
      {NODE_STATUS_LABELS[node.status]}
    </Badge>
  );
  if (node.statusMessage === null || node.statusMessage === '') return badge;
  return (
    <Tooltip label={node.statusMessage} multiline maw={360} withArrow>
      {badge}
    </Tooltip>
  );
}
