import type { Destination } from '@common/api/index.js';
import { CheckStatusBadge } from './check-status-badge.js';

/** The status, with the node's reason (path missing, share not mounted…) one hover or focus away. */
export function DestinationStatusBadge({ destination, size = 'sm' }: { destination: Pick<Destination, 'status' | 'statusMessage'>; size?: 'sm' | 'lg' }) {
  return <CheckStatusBadge item={destination} unknownLabel="Not checked" size={size} />;
}
