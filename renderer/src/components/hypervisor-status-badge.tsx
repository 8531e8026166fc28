import type { Hypervisor } from '@common/api/index.js';
import { Badge, Tooltip } from '@mantine/core';
import { NO_SHRINK } from '../utils/styles.js';
import { HYPERVISOR_STATUS_COLORS, HYPERVISOR_STATUS_LABELS } from '../utils/vm-format.js';

/** The last sync's outcome, with the node's reason (libvirt not reachable…) one hover or focus away. */
export function HypervisorStatusBadge({ hypervisor, size = 'sm' }: { hypervisor: Pick<Hypervisor, 'status' | 'statusMessage'>; size?: 'sm' | 'lg' }) {
  const message = hypervisor.statusMessage === '' ? null : hypervisor.statusMessage;
  const badge = (
    <Badge
      component="span"
      color={HYPERVISOR_STATUS_COLORS[hypervisor.status]}
      variant={hypervisor.status === 'ok' ? 'light' : 'outline'}
      size={size}
      style={NO_SHRINK}
      data-status={hypervisor.status}
      tabIndex={message === null ? undefined : 0}
      aria-description={message ?? undefined}
    >
      {HYPERVISOR_STATUS_LABELS[hypervisor.status]}
    </Badge>
  );
  if (message === null) return badge;
  return (
    <Tooltip label={message} multiline maw={360} withArrow>
      {badge}
    </Tooltip>
  );
}
