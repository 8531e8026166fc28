import { StatusBadge } from './status-badge.js';

export type CheckStatus = 'ok' | 'error' | 'unknown';

const COLORS: Record<CheckStatus, string> = { ok: 'green', error: 'red', unknown: 'gray' };

/**
 * The outcome of the last check of something a node looks after (a destination, a
 * hypervisor), with the node's reason one hover or focus away.
 */
export function CheckStatusBadge({
  item,
  unknownLabel,
  size = 'sm',
}: {
  item: { status: CheckStatus; statusMessage: string | null };
  /** What "never checked" is called for this kind of thing ("Not checked", "Not synced"). */
  unknownLabel: string;
  size?: 'sm' | 'lg';
}) {
  return (
    <StatusBadge
      label={item.status === 'ok' ? 'OK' : item.status === 'error' ? 'Error' : unknownLabel}
      color={COLORS[item.status]}
      variant={item.status === 'ok' ? 'light' : 'outline'}
      size={size}
      message={item.statusMessage}
      data-status={item.status}
    />
  );
}
