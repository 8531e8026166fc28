import type { Destination } from '@common/api/index.js';
import { Badge, Tooltip } from '@mantine/core';
import { DESTINATION_STATUS_COLORS, DESTINATION_STATUS_LABELS } from '../utils/destination-format.js';
import { NO_SHRINK } from '../utils/styles.js';

/** The status, with the node's reason (path missing, share not mounted…) one hover or focus away. */
export function DestinationStatusBadge({
  destination,
  size = 'sm',
}: {
  destination: Pick<Destination, 'status' | 'statusMessage'>;
  size?: 'sm' | 'lg';
}) {
  const message = destination.statusMessage === '' ? null : destination.statusMessage;
  const badge = (
    <Badge
      component="span"
      color={DESTINATION_STATUS_COLORS[destination.status]}
      variant={destination.status === 'ok' ? 'light' : 'outline'}
      size={size}
      style={NO_SHRINK}
      data-status={destination.status}
      // Focusable only when there is a reason to read, so keyboard users reach the tooltip.
      tabIndex={message === null ? undefined : 0}
      aria-description={message ?? undefined}
    >
      {DESTINATION_STATUS_LABELS[destination.status]}
    </Badge>
  );
  if (message === null) return badge;
  return (
    <Tooltip label={message} multiline maw={360} withArrow>
      {badge}
    </Tooltip>
  );
}
