import type { Mount } from '@common/api/index.js';
import { StatusBadge } from '../../components/status-badge.js';
import { MOUNT_STATE_LOOK } from '../../utils/mount-format.js';

/** A mount's state; a failed one says why on hover or focus. */
export function MountStateBadge({ mount, size = 'sm' }: { mount: Pick<Mount, 'state' | 'error'>; size?: 'sm' | 'lg' }) {
  const look = MOUNT_STATE_LOOK[mount.state];
  return <StatusBadge label={look.label} color={look.color} size={size} message={mount.state === 'FAILED' ? mount.error : null} data-state={mount.state} />;
}
