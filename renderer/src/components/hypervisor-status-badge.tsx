import type { Hypervisor } from '@common/api/index.js';
import { CheckStatusBadge } from './check-status-badge.js';

/** The last sync's outcome, with the node's reason (libvirt not reachable…) one hover or focus away. */
export function HypervisorStatusBadge({ hypervisor, size = 'sm' }: { hypervisor: Pick<Hypervisor, 'status' | 'statusMessage'>; size?: 'sm' | 'lg' }) {
  return <CheckStatusBadge item={hypervisor} unknownLabel="Not synced" size={size} />;
}
